//! VPD: the image built from the configuration and the VPD capability protocol.
//!
//! Image: large resource 0x82 (identifier string), 0x90 VPD-R (configured keywords, then
//! "RV" whose first byte makes the sum of all bytes from offset 0 through it zero), an
//! optional 0x91 VPD-W (configured keywords plus an "RW" filler) and the 0x78 end tag. The
//! RV (or, with a VPD-W section, the RW) length is chosen so that the image is a whole
//! number of dwords; the file size is the image size.
//!
//! Writes (sysfs file, driver, capability) store bytes only inside the VPD-W section's body;
//! bytes elsewhere are silently left unchanged, as a device with a read-only VPD-R does.

use std::ops::Range;

use crate::config::VpdConfig;

/// Capability address register flag (bit 15 of the word at cap+2).
pub const VPD_FLAG: u16 = 0x8000;
/// Address bits the capability carries (15) with the dword alignment the protocol uses.
pub const VPD_ADDR_MASK: u32 = 0x7ffc;

pub(crate) struct Vpd {
    image: Vec<u8>,
    writable: Range<usize>,
    /// Capability address word (address | flag) and data register.
    cap_addr: u16,
    cap_data: u32,
}

fn push_kw(out: &mut Vec<u8>, k: &str, v: &[u8]) -> Result<(), String> {
    if k.len() != 2 || !k.is_ascii() {
        return Err(format!("VPD keyword {k:?} must be 2 ASCII characters"));
    }
    let len = u8::try_from(v.len()).map_err(|_| format!("VPD keyword {k} value too long"))?;
    out.extend_from_slice(k.as_bytes());
    out.push(len);
    out.extend_from_slice(v);
    Ok(())
}

fn push_large(out: &mut Vec<u8>, tag: u8, body: &[u8]) -> Result<(), String> {
    let len = u16::try_from(body.len()).map_err(|_| "VPD section too long".to_string())?;
    out.push(tag);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
    Ok(())
}

/// Build the image; returns it and the writable byte range (VPD-W body, maybe empty).
pub fn build_image(cfg: &VpdConfig) -> Result<(Vec<u8>, Range<usize>), String> {
    let mut img = Vec::new();
    push_large(&mut img, 0x82, cfg.id.as_bytes())?;
    let mut ro = Vec::new();
    for (k, v) in &cfg.ro {
        if k == "RV" {
            return Err("VPD: \"RV\" is added by the simulator".into());
        }
        push_kw(&mut ro, k, v.as_bytes())?;
    }
    // Layout after the RO keywords: "RV" len csum pad... [0x91 ... "RW" len fill...] 0x78
    let mut rw = Vec::new();
    for (k, v) in &cfg.rw {
        if k == "RW" {
            return Err("VPD: \"RW\" is added by the simulator".into());
        }
        push_kw(&mut rw, k, v.as_bytes())?;
    }
    let has_w = !cfg.rw.is_empty();
    // Total without padding: id + (3 + ro + 3 + 1) + [3 + rw + 3 + RW_MIN] + 1.
    const RW_MIN: usize = 4;
    let base = img.len() + 3 + ro.len() + 4 + if has_w { 3 + rw.len() + 3 + RW_MIN } else { 0 } + 1;
    let pad = (4 - base % 4) % 4;
    // RV: checksum byte + reserved bytes.
    let rv_reserved = if has_w { 0 } else { pad };
    let mut r_body = ro;
    r_body.extend_from_slice(b"RV");
    r_body.push(u8::try_from(1 + rv_reserved).expect("small"));
    let csum_pos_in_body = r_body.len();
    r_body.push(0);
    r_body.resize(r_body.len() + rv_reserved, 0);
    let r_start = img.len();
    push_large(&mut img, 0x90, &r_body)?;
    let csum_pos = r_start + 3 + csum_pos_in_body;
    let sum: u8 = img[..csum_pos].iter().fold(0u8, |a, b| a.wrapping_add(*b));
    img[csum_pos] = 0u8.wrapping_sub(sum);
    let mut writable = img.len()..img.len();
    if has_w {
        let fill = RW_MIN + pad;
        rw.extend_from_slice(b"RW");
        rw.push(u8::try_from(fill).expect("small"));
        rw.resize(rw.len() + fill, 0);
        let w_start = img.len();
        push_large(&mut img, 0x91, &rw)?;
        writable = w_start + 3..img.len();
    }
    img.push(0x78);
    debug_assert_eq!(img.len() % 4, 0);
    Ok((img, writable))
}

impl Vpd {
    pub fn new(cfg: &VpdConfig) -> Result<Vpd, String> {
        let (image, writable) = build_image(cfg)?;
        Ok(Vpd {
            image,
            writable,
            cap_addr: 0,
            cap_data: 0,
        })
    }

    pub fn size(&self) -> u64 {
        self.image.len() as u64
    }

    /// Sysfs `vpd` read: EOF at the image end.
    pub fn file_read(&self, off: u64, buf: &mut [u8]) -> usize {
        let len = self.image.len() as u64;
        if off >= len {
            return 0;
        }
        let n = buf.len().min((len - off) as usize);
        buf[..n].copy_from_slice(&self.image[off as usize..off as usize + n]);
        n
    }

    /// Sysfs `vpd` write (Linux: dword-aligned offset and length, inside the image).
    pub fn file_write(&mut self, off: u64, data: &[u8]) -> Result<usize, i32> {
        if off & 3 != 0 || data.len() & 3 != 0 {
            return Err(libc::EINVAL);
        }
        match off.checked_add(data.len() as u64) {
            Some(end) if end <= self.image.len() as u64 => {}
            _ => return Err(libc::EINVAL),
        }
        for (i, b) in data.iter().enumerate() {
            self.store(off as usize + i, *b);
        }
        Ok(data.len())
    }

    fn store(&mut self, pos: usize, b: u8) {
        if self.writable.contains(&pos) {
            self.image[pos] = b;
        }
    }

    /// Dword at `off` (masked as the capability does); bytes beyond the image read 0.
    pub fn read4(&self, off: u32) -> [u8; 4] {
        let o = (off & VPD_ADDR_MASK) as usize;
        let mut out = [0u8; 4];
        for (i, b) in out.iter_mut().enumerate() {
            *b = self.image.get(o + i).copied().unwrap_or(0);
        }
        out
    }

    pub fn write4(&mut self, off: u32, data: [u8; 4]) {
        let o = (off & VPD_ADDR_MASK) as usize;
        for (i, b) in data.iter().enumerate() {
            self.store(o + i, *b);
        }
    }

    /// The capability's address word (cap+2) and data register (cap+4).
    pub fn cap_addr(&self) -> u16 {
        self.cap_addr
    }
    pub fn cap_data(&self) -> u32 {
        self.cap_data
    }
    pub fn set_cap_data(&mut self, v: u32) {
        self.cap_data = v;
    }

    /// Write of the address word: F = 0 starts a read (data loaded, F then reads 1);
    /// F = 1 writes the data register (F then reads 0). Returns true for a write.
    pub fn cap_command(&mut self, word: u16) -> bool {
        let addr = (word as u32) & VPD_ADDR_MASK;
        if word & VPD_FLAG == 0 {
            self.cap_data = u32::from_le_bytes(self.read4(addr));
            self.cap_addr = addr as u16 | VPD_FLAG;
            false
        } else {
            self.write4(addr, self.cap_data.to_le_bytes());
            self.cap_addr = addr as u16;
            true
        }
    }
}

/// Keywords of a VPD image in order: (name, value).
pub type Keywords = Vec<(String, Vec<u8>)>;

/// Parse an image into (tag, keywords) for tests and diagnostics: returns the identifier
/// string and the keywords of the VPD-R and VPD-W sections in order.
pub fn parse_image(img: &[u8]) -> Result<(String, Keywords), String> {
    let mut id = String::new();
    let mut kws = Vec::new();
    let mut p = 0;
    loop {
        let tag = *img.get(p).ok_or("truncated")?;
        if tag == 0x78 {
            return Ok((id, kws));
        }
        if tag & 0x80 == 0 {
            return Err(format!("unexpected small tag {tag:#x} at {p}"));
        }
        let len = u16::from_le_bytes([
            *img.get(p + 1).ok_or("truncated")?,
            *img.get(p + 2).ok_or("truncated")?,
        ]) as usize;
        let body = img.get(p + 3..p + 3 + len).ok_or("truncated body")?;
        match tag {
            0x82 => id = String::from_utf8_lossy(body).into_owned(),
            0x90 | 0x91 => {
                let mut q = 0;
                while q + 3 <= body.len() {
                    let k = String::from_utf8_lossy(&body[q..q + 2]).into_owned();
                    let l = body[q + 2] as usize;
                    let v = body.get(q + 3..q + 3 + l).ok_or("truncated keyword")?;
                    kws.push((k, v.to_vec()));
                    q += 3 + l;
                }
            }
            _ => return Err(format!("unknown tag {tag:#x}")),
        }
        p += 3 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rv_checksum_ok(img: &[u8]) -> bool {
        // Find "RV" inside the 0x90 section and sum through its first data byte.
        let id_len = u16::from_le_bytes([img[1], img[2]]) as usize;
        let r = 3 + id_len;
        assert_eq!(img[r], 0x90);
        let rlen = u16::from_le_bytes([img[r + 1], img[r + 2]]) as usize;
        let body = &img[r + 3..r + 3 + rlen];
        let mut q = 0;
        while q < body.len() {
            if &body[q..q + 2] == b"RV" {
                let pos = r + 3 + q + 3;
                return img[..=pos].iter().fold(0u8, |a, b| a.wrapping_add(*b)) == 0;
            }
            q += 3 + body[q + 2] as usize;
        }
        false
    }

    #[test]
    fn default_image_is_valid() {
        let cfg = VpdConfig::default();
        let (img, w) = build_image(&cfg).unwrap();
        assert_eq!(img.len() % 4, 0);
        assert!(w.is_empty());
        assert!(rv_checksum_ok(&img));
        let (id, kws) = parse_image(&img).unwrap();
        assert_eq!(id, cfg.id);
        assert_eq!(kws[0], ("PN".to_string(), b"MCX515A-CCAT".to_vec()));
        assert_eq!(kws.last().unwrap().0, "RV");
        assert_eq!(kws.len(), cfg.ro.len() + 1);
    }

    #[test]
    fn image_with_rw_section() {
        for extra in 0..4 {
            let cfg = VpdConfig {
                id: format!("Card{}", "x".repeat(extra)),
                ro: vec![("PN".into(), "A".into())],
                rw: vec![("V1".into(), "hello".into())],
            };
            let (img, w) = build_image(&cfg).unwrap();
            assert_eq!(img.len() % 4, 0);
            assert!(rv_checksum_ok(&img));
            let (_, kws) = parse_image(&img).unwrap();
            let names: Vec<_> = kws.iter().map(|k| k.0.as_str()).collect();
            assert_eq!(names, ["PN", "RV", "V1", "RW"]);
            assert_eq!(img[w.start - 3], 0x91);
            assert_eq!(w.end, img.len() - 1);
        }
    }

    #[test]
    fn rejects_bad_keywords() {
        let mut cfg = VpdConfig::default();
        cfg.ro.push(("XYZ".into(), "1".into()));
        assert!(build_image(&cfg).is_err());
        let mut cfg = VpdConfig::default();
        cfg.ro.push(("V9".into(), "x".repeat(300)));
        assert!(build_image(&cfg).is_err());
    }

    #[test]
    fn writes_only_land_in_vpd_w() {
        let cfg = VpdConfig {
            rw: vec![("V1".into(), "abcd".into())],
            ..VpdConfig::default()
        };
        let mut v = Vpd::new(&cfg).unwrap();
        let before = v.image.clone();
        // Read-only area: silently unchanged.
        v.write4(0, [1, 2, 3, 4]);
        assert_eq!(v.image, before);
        // VPD-W body.
        let wpos = v.writable.start as u32 + 3; // data of V1
        let aligned = wpos & !3;
        let cur = v.read4(aligned);
        v.write4(aligned, [9, 9, 9, 9]);
        let after = v.read4(aligned);
        for i in 0..4 {
            let pos = aligned as usize + i;
            if v.writable.contains(&pos) {
                assert_eq!(after[i], 9);
            } else {
                assert_eq!(after[i], cur[i]);
            }
        }
        assert_eq!(v.file_write(1, &[0; 4]), Err(libc::EINVAL));
        assert_eq!(v.file_write(v.size(), &[0; 4]), Err(libc::EINVAL));
        assert_eq!(v.file_write(u64::MAX - 3, &[0; 4]), Err(libc::EINVAL));
    }

    #[test]
    fn cap_protocol() {
        let mut v = Vpd::new(&VpdConfig::default()).unwrap();
        assert!(!v.cap_command(4));
        assert_eq!(v.cap_addr(), 4 | VPD_FLAG);
        assert_eq!(v.cap_data().to_le_bytes(), v.read4(4));
        v.set_cap_data(0x1234_5678);
        assert!(v.cap_command(8 | VPD_FLAG));
        assert_eq!(v.cap_addr(), 8);
    }
}
