//! Synthetic firmware images in the layout the tools call "FS4" (ConnectX-5 and later), and
//! a checker that reads them back.
//!
//! What the tools look at (see `sim/FIRMWARE.md` for the full picture), all fields big-endian
//! dwords with bit 31 the most significant bit:
//!
//! * the image start: a 16-byte magic pattern at one of the candidate offsets (0, 64 KiB,
//!   128 KiB, ... 32 MiB), followed at +0x10 by the boot version dword (image format version
//!   in bits 31:24: 1 = FS4);
//! * +0x18: sixteen HW pointers of 8 bytes (pointer dword, then a dword whose low 16 bits are
//!   the hardware CRC of the 6 bytes before them): boot record, BOOT2, ITOC, tools area, ...,
//!   IMAGE_INFO (entry 10), ..., hashes table (entry 15);
//! * the tools area (64 bytes: area version, binary version, log2 of the image slot size,
//!   software CRC of the first 15 dwords in the last dword);
//! * BOOT2: dword 1 is its size N in dwords, the block is N + 4 dwords long and its last
//!   dword is the software CRC of the others;
//! * the ITOC: a 32-byte header ("ITOC" and three fixed signature dwords, version, CRC of the
//!   first 7 dwords) followed by 32-byte entries (type, size in dwords, flash address, CRC
//!   kind and section CRC, entry CRC), ended by an entry of type 0xff;
//! * the device data: a DTOC with the same format ("DTOC") in the last 4 KiB of the file or
//!   flash, whose entries point at absolute addresses: MFG_INFO (PSID and GUIDs as burnt at
//!   manufacturing), DEV_INFO (signature "mDevInfo", current GUIDs / MACs, device VSD), VPD_R0.

use super::crc::{hw_crc16, sw_crc16_bytes};

/// The magic pattern that marks an FS4 image start.
pub const FS4_MAGIC: [u32; 4] = [0x4d54_4657, 0xabcd_ef00, 0xfade_1234, 0x5678_dead];
/// Offsets where the tools look for an image start.
pub const IMAGE_START_CANDIDATES: [u32; 11] = [
    0, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000, 0x800000, 0x1000000,
    0x2000000,
];
/// TOC header signature dwords 1..3 (dword 0 is "ITOC" or "DTOC").
pub const TOC_SIGNATURE: [u32; 3] = [0x0408_1516, 0x2342_cafa, 0xbaca_fe00];
pub const ITOC_ASCII: u32 = 0x4954_4f43;
pub const DTOC_ASCII: u32 = 0x4454_4f43;
/// DEV_INFO signature ("mDevInfo" and the TOC's random dwords).
pub const DEV_INFO_SIGNATURE: [u32; 4] = [0x6d44_6576, 0x496e_666f, 0x2342_cafa, 0xbaca_fe00];

pub const SECTOR: usize = 0x1000;
const HW_PTRS_OFF: usize = 0x18;
const HW_PTR_COUNT: usize = 16;
const TOOLS_AREA_OFF: usize = 0x500;
const BOOT2_OFF: usize = 0x1000;
const ITOC_OFF: usize = 0x2000;
const TOC_ENTRY: usize = 32;

/// HW pointer slots (index into the 16 entries).
pub mod hw_ptr {
    pub const BOOT_RECORD: usize = 0;
    pub const BOOT2: usize = 1;
    pub const TOC: usize = 2;
    pub const TOOLS: usize = 3;
    pub const IMAGE_INFO: usize = 10;
    pub const HASHES_TABLE: usize = 15;
}

/// Section types used here (the tools' numbering).
pub mod sect {
    pub const PCI_CODE: u8 = 0x02;
    pub const MAIN_CODE: u8 = 0x03;
    pub const HW_BOOT_CFG: u8 = 0x08;
    pub const HW_MAIN_CFG: u8 = 0x09;
    pub const IMAGE_INFO: u8 = 0x10;
    pub const DBG_FW_INI: u8 = 0x30;
    pub const IMAGE_SIGNATURE_256: u8 = 0xa0;
    pub const PUBLIC_KEYS_2048: u8 = 0xa1;
    pub const MFG_INFO: u8 = 0xe0;
    pub const DEV_INFO: u8 = 0xe1;
    pub const VPD_R0: u8 = 0xe3;
    pub const END: u8 = 0xff;
}

/// Where a section's CRC lives (ITOC entry field `crc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrcKind {
    /// In the ITOC entry (`section_crc`).
    InEntry = 0,
    /// No CRC.
    None = 1,
    /// In the low 16 bits of the section's last dword (computed over the others).
    InSection = 2,
}

impl CrcKind {
    fn from_bits(v: u32) -> Option<CrcKind> {
        Some(match v {
            0 => CrcKind::InEntry,
            1 => CrcKind::None,
            2 => CrcKind::InSection,
            _ => return None,
        })
    }
}

/// A device the image is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    /// Hardware device id (crspace 0xf0014 bits 15:0), e.g. 0x20d for ConnectX-5.
    pub hw_id: u16,
    /// PCI device id, e.g. 4119 (0x1017) for ConnectX-5.
    pub pci_device_id: u16,
}

impl Device {
    pub const CONNECTX5: Device = Device {
        hw_id: 0x20d,
        pci_device_id: 4119,
    };
    pub const CONNECTX4: Device = Device {
        hw_id: 0x209,
        pci_device_id: 4115,
    };
    pub const CONNECTX6: Device = Device {
        hw_id: 0x20f,
        pci_device_id: 4123,
    };
}

/// Everything a generated image says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageParams {
    /// Firmware version major.minor.subminor (e.g. 16.35.1012).
    pub fw_version: (u16, u16, u16),
    /// Release date (year, month, day), stored BCD as the tools print it in hex.
    pub release_date: (u16, u8, u8),
    /// PSID (up to 16 characters).
    pub psid: String,
    /// Product description (IMAGE_INFO, up to 256 characters).
    pub description: String,
    /// Part number (IMAGE_INFO `name`, up to 64 characters).
    pub part_number: String,
    /// PRS name (IMAGE_INFO, up to 128 characters).
    pub prs_name: String,
    /// Product version string (empty: none).
    pub product_version: String,
    /// Image VSD (IMAGE_INFO, up to 208 characters).
    pub image_vsd: String,
    /// Device VSD (DEV_INFO).
    pub device_vsd: String,
    /// Base GUID and how many GUIDs are allocated.
    pub base_guid: u64,
    pub num_guids: u8,
    /// Base MAC (48 bits) and how many MACs are allocated.
    pub base_mac: u64,
    pub num_macs: u8,
    pub device: Device,
    /// IMAGE_INFO `mcc_en`: the image may be updated through MCC/MCDA.
    pub mcc_en: bool,
    /// log2 of the image slot size (tools area); the second slot of a failsafe flash starts
    /// at 1 << this.
    pub log2_slot_size: u8,
    /// Size of the MAIN_CODE section in bytes (multiple of 4).
    pub main_code_size: usize,
    /// Carry an (unsigned: all-zero) IMAGE_SIGNATURE_256 and a PUBLIC_KEYS_2048 section, as
    /// released images do: the tools burn only such images through the firmware-controlled
    /// update (without them an image counts as "no signatures", burnt through the flash).
    pub signature_sections: bool,
}

impl Default for ImageParams {
    fn default() -> Self {
        ImageParams {
            fw_version: (16, 35, 1012),
            release_date: (2024, 3, 14),
            psid: "MT_0000000008".into(),
            description: "ConnectX-5 EN network interface card; 100GbE dual-port QSFP28; \
                          PCIe3.0 x16; tall bracket; ROHS R6 (simulated)"
                .into(),
            part_number: "MCX516A-CCA_Ax".into(),
            prs_name: "mtcr_sim_cx5_synthetic.prs".into(),
            product_version: String::new(),
            image_vsd: String::new(),
            device_vsd: String::new(),
            base_guid: 0xb8ce_f603_00a1_b2c0,
            num_guids: 8,
            base_mac: 0xb8ce_f6a1_b2c0,
            num_macs: 8,
            device: Device::CONNECTX5,
            mcc_en: true,
            log2_slot_size: 20,
            main_code_size: 0x8000,
            signature_sections: true,
        }
    }
}

/// Parse "MAJOR.MINOR.SUBMINOR".
pub fn parse_version(s: &str) -> Result<(u16, u16, u16), String> {
    let parts: Vec<&str> = s.split('.').collect();
    let bad = || format!("bad firmware version {s:?} (want MAJOR.MINOR.SUBMINOR)");
    if parts.len() != 3 {
        return Err(bad());
    }
    let n = |p: &str| p.parse::<u16>().map_err(|_| bad());
    Ok((n(parts[0])?, n(parts[1])?, n(parts[2])?))
}

/// Parse "YYYY-MM-DD".
pub fn parse_date(s: &str) -> Result<(u16, u8, u8), String> {
    let bad = || format!("bad date {s:?} (want YYYY-MM-DD)");
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() != 3 {
        return Err(bad());
    }
    let y: u16 = parts[0].parse().map_err(|_| bad())?;
    let m: u8 = parts[1].parse().map_err(|_| bad())?;
    let d: u8 = parts[2].parse().map_err(|_| bad())?;
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok((y, m, d))
}

fn bcd(v: u32) -> u32 {
    let mut out = 0;
    let mut shift = 0;
    let mut v = v;
    loop {
        out |= (v % 10) << shift;
        v /= 10;
        shift += 4;
        if v == 0 {
            return out;
        }
    }
}

fn unbcd(v: u32) -> u32 {
    let mut out = 0;
    let mut mul = 1;
    let mut v = v;
    while v != 0 {
        out += (v & 0xf) * mul;
        v >>= 4;
        mul *= 10;
    }
    out
}

pub(crate) fn put32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

pub(crate) fn get32(buf: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]])
}

fn put_str(buf: &mut [u8], off: usize, max: usize, s: &str) {
    let b = s.as_bytes();
    let n = b.len().min(max);
    buf[off..off + n].copy_from_slice(&b[..n]);
}

fn get_str(buf: &[u8], off: usize, max: usize) -> String {
    let s = &buf[off..off + max];
    let end = s.iter().position(|&c| c == 0).unwrap_or(max);
    String::from_utf8_lossy(&s[..end]).into_owned()
}

/// Deterministic filler for code sections (xorshift, seeded by the version and the type).
fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_be_bytes());
    }
    out.truncate(len);
    out
}

/// One section: type, CRC kind, content.
struct Section {
    ty: u8,
    crc: CrcKind,
    data: Vec<u8>,
}

impl Section {
    fn new(ty: u8, crc: CrcKind, mut data: Vec<u8>) -> Section {
        data.resize(data.len().div_ceil(4) * 4, 0);
        if crc == CrcKind::InSection {
            let n = data.len();
            let c = sw_crc16_bytes(&data[..n - 4]);
            put32(&mut data, n - 4, u32::from(c));
        }
        Section { ty, crc, data }
    }
}

/// A 32-byte TOC entry for `s` at byte address `addr`.
fn toc_entry(s: &Section, addr: usize) -> [u8; TOC_ENTRY] {
    let mut e = [0u8; TOC_ENTRY];
    let size_dw = (s.data.len() / 4) as u32;
    put32(
        &mut e,
        0,
        u32::from(s.ty) << 24 | (size_dw & 0x3f_ffff) << 2,
    );
    put32(&mut e, 0x14, (addr as u32) & 0x7fff_fffc);
    let sect_crc = if s.crc == CrcKind::InEntry {
        u32::from(sw_crc16_bytes(&s.data))
    } else {
        0
    };
    put32(&mut e, 0x18, (s.crc as u32) << 16 | sect_crc);
    let c = sw_crc16_bytes(&e[..28]);
    put32(&mut e, 0x1c, u32::from(c));
    e
}

/// A TOC header ("ITOC" / "DTOC") for `n` entries.
fn toc_header(first: u32, n: usize) -> [u8; TOC_ENTRY] {
    let mut h = [0u8; TOC_ENTRY];
    put32(&mut h, 0, first);
    for (i, s) in TOC_SIGNATURE.iter().enumerate() {
        put32(&mut h, 4 + 4 * i, *s);
    }
    put32(&mut h, 0x10, 1 << 24 | 1);
    put32(&mut h, 0x14, n as u32 & 0xff);
    let c = sw_crc16_bytes(&h[..28]);
    put32(&mut h, 0x1c, u32::from(c));
    h
}

fn uid_entry(buf: &mut [u8], off: usize, uid: u64, num: u8, step: u8) {
    put32(buf, off, u32::from(step) << 8 | u32::from(num));
    put32(buf, off + 8, (uid >> 32) as u32);
    put32(buf, off + 12, uid as u32);
}

fn image_info(p: &ImageParams) -> Vec<u8> {
    let mut b = vec![0u8; 1024];
    // major 0, minor 3 (name / description / prs_name at their fixed places).
    put32(&mut b, 0, 3 << 16 | u32::from(p.mcc_en) << 8);
    let (maj, min, sub) = p.fw_version;
    put32(&mut b, 0x4, u32::from(maj) << 16);
    put32(&mut b, 0x8, u32::from(min) << 16 | u32::from(sub));
    // Build time 12:00:00 (BCD, like the date).
    put32(&mut b, 0xc, 0x12 << 8);
    let (y, m, d) = p.release_date;
    put32(
        &mut b,
        0x10,
        bcd(u32::from(y)) << 16 | bcd(u32::from(m)) << 8 | bcd(u32::from(d)),
    );
    put32(
        &mut b,
        0x1c,
        u32::from(p.device.pci_device_id) << 16 | 0x15b3,
    );
    put32(&mut b, 0x20, 0x15b3);
    put_str(&mut b, 0x24, 16, &p.psid);
    put32(&mut b, 0x34, 0x15b3);
    put_str(&mut b, 0x38, 208, &p.image_vsd);
    // image_size: log_step, max_size.
    put32(&mut b, 0x108, u32::from(p.log2_slot_size));
    put32(&mut b, 0x10c, 1 << p.log2_slot_size);
    put32(&mut b, 0x118, u32::from(p.device.hw_id));
    put_str(&mut b, 0x1c0, 16, &p.product_version);
    put_str(&mut b, 0x1d0, 256, &p.description);
    put_str(&mut b, 0x340, 64, &p.part_number);
    put_str(&mut b, 0x380, 128, &p.prs_name);
    b
}

fn mfg_info(p: &ImageParams) -> Vec<u8> {
    let mut b = vec![0u8; 320];
    put_str(&mut b, 0, 16, &p.psid);
    // guids_override_en = 1 (current GUIDs in DEV_INFO), format version 1.0.
    put32(&mut b, 0x1c, 1 << 24 | 1);
    uid_entry(&mut b, 0x20, p.base_guid, p.num_guids, 1);
    uid_entry(&mut b, 0x30, p.base_mac, p.num_macs, 1);
    b
}

fn dev_info(p: &ImageParams) -> Vec<u8> {
    let mut b = vec![0u8; 512];
    for (i, s) in DEV_INFO_SIGNATURE.iter().enumerate() {
        put32(&mut b, 4 * i, *s);
    }
    // Format version 2.0.
    put32(&mut b, 0x10, 2 << 8);
    uid_entry(&mut b, 0x20, p.base_guid, p.num_guids, 1);
    uid_entry(&mut b, 0x30, p.base_mac, p.num_macs, 1);
    put32(&mut b, 0x6c, 0x15b3);
    put_str(&mut b, 0x70, 208, &p.device_vsd);
    b
}

/// A small VPD image (identifier string, VPD-R with PN and a checksum, end tag).
fn vpd_r0(p: &ImageParams) -> Vec<u8> {
    let id = b"ConnectX-5 (simulated)";
    let mut v = vec![0x82, id.len() as u8, 0];
    v.extend_from_slice(id);
    let pn = p.part_number.as_bytes();
    let pn = &pn[..pn.len().min(24)];
    let body_len = 3 + pn.len() + 4;
    v.extend_from_slice(&[0x90, body_len as u8, 0, b'P', b'N', pn.len() as u8]);
    v.extend_from_slice(pn);
    v.extend_from_slice(&[b'R', b'V', 1]);
    let sum = v.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    v.push(0u8.wrapping_sub(sum));
    v.push(0x78);
    v
}

/// The firmware's configuration file (what `mstflint dc` prints).
pub fn fw_ini(p: &ImageParams) -> String {
    let (maj, min, sub) = p.fw_version;
    format!(
        "[PS_INFO]\nName = {}\nDescription = {}\n\n[ADAPTER]\nPSID = {}\npcie_gen = 3\n\
         port_count = 2\n\n[FW]\nversion = {maj}.{min}.{sub}\n; synthetic image written by mtcr-sim\n",
        p.part_number, p.description, p.psid
    )
}

/// `data` as a zlib stream of stored (uncompressed) deflate blocks.
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut chunks = data.chunks(0xffff).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let n = c.len() as u16;
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&(b << 16 | a).to_be_bytes());
    out
}

fn code_sections(p: &ImageParams) -> Vec<Section> {
    let (maj, min, sub) = p.fw_version;
    let seed = u64::from(maj) << 32 | u64::from(min) << 16 | u64::from(sub);
    let mut v = vec![
        Section::new(
            sect::HW_BOOT_CFG,
            CrcKind::InEntry,
            filler(0x100, seed ^ 0x08),
        ),
        Section::new(
            sect::PCI_CODE,
            CrcKind::InEntry,
            filler(0x1000, seed ^ 0x02),
        ),
        Section::new(
            sect::MAIN_CODE,
            CrcKind::InEntry,
            filler(p.main_code_size.max(4), seed ^ 0x03),
        ),
        Section::new(
            sect::HW_MAIN_CFG,
            CrcKind::InEntry,
            filler(0x400, seed ^ 0x09),
        ),
        Section::new(sect::IMAGE_INFO, CrcKind::InEntry, image_info(p)),
        Section::new(
            sect::DBG_FW_INI,
            CrcKind::InEntry,
            zlib_stored(fw_ini(p).as_bytes()),
        ),
    ];
    if p.signature_sections {
        // Signature (keypair UUID, signature: 0x140 bytes) and public keys (0x900 bytes).
        v.push(Section::new(
            sect::IMAGE_SIGNATURE_256,
            CrcKind::InEntry,
            vec![0; 0x140],
        ));
        v.push(Section::new(
            sect::PUBLIC_KEYS_2048,
            CrcKind::InEntry,
            vec![0; 0x900],
        ));
    }
    v
}

fn dev_sections(p: &ImageParams) -> Vec<Section> {
    vec![
        Section::new(sect::MFG_INFO, CrcKind::InEntry, mfg_info(p)),
        Section::new(sect::DEV_INFO, CrcKind::InSection, dev_info(p)),
        // The second DEV_INFO copy (no signature: not in use): the tools write an update
        // there, then retire the first.
        Section::new(sect::DEV_INFO, CrcKind::InSection, vec![0xff; 512]),
        Section::new(sect::VPD_R0, CrcKind::InEntry, vpd_r0(p)),
    ]
}

fn align(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

/// The firmware image proper (what goes into an image slot): magic, HW pointers, tools area,
/// BOOT2, ITOC and the ITOC sections. Its length is the end of the last section.
pub fn build_slot(p: &ImageParams) -> Vec<u8> {
    let sections = code_sections(p);
    let mut addrs = Vec::new();
    let mut at = ITOC_OFF + SECTOR;
    for s in &sections {
        addrs.push(at);
        at = align(at + s.data.len(), SECTOR);
    }
    let last = addrs.last().copied().unwrap_or(at) + sections.last().map_or(0, |s| s.data.len());
    let mut img = vec![0xffu8; last];

    for (i, m) in FS4_MAGIC.iter().enumerate() {
        put32(&mut img, 4 * i, *m);
    }
    // Boot version: image format version 1 (FS4).
    put32(&mut img, 0x10, 1 << 24);
    put32(&mut img, 0x14, 0);

    // HW pointers.
    let mut ptrs = [0u32; HW_PTR_COUNT];
    ptrs[hw_ptr::BOOT2] = BOOT2_OFF as u32;
    ptrs[hw_ptr::TOC] = ITOC_OFF as u32;
    ptrs[hw_ptr::TOOLS] = TOOLS_AREA_OFF as u32;
    let info_idx = sections
        .iter()
        .position(|s| s.ty == sect::IMAGE_INFO)
        .expect("IMAGE_INFO");
    ptrs[hw_ptr::IMAGE_INFO] = addrs[info_idx] as u32;
    for (k, &ptr) in ptrs.iter().enumerate() {
        let off = HW_PTRS_OFF + 8 * k;
        put32(&mut img, off, ptr);
        let mut six = [0u8; 6];
        six[..4].copy_from_slice(&ptr.to_be_bytes());
        put32(&mut img, off + 4, u32::from(hw_crc16(&six)));
    }
    // Rest of the header up to the tools area: zero.
    img[HW_PTRS_OFF + 8 * HW_PTR_COUNT..TOOLS_AREA_OFF].fill(0);

    // Tools area: version 0.0, binary version 0.0 (always accepted), slot size.
    let mut tools = [0u8; 64];
    put32(&mut tools, 4, u32::from(p.log2_slot_size) << 16);
    let c = sw_crc16_bytes(&tools[..60]);
    put32(&mut tools, 60, u32::from(c));
    img[TOOLS_AREA_OFF..TOOLS_AREA_OFF + 64].copy_from_slice(&tools);

    // BOOT2: N = 0x3c dwords of payload size, N + 4 dwords in all, CRC last.
    let n = 0x3cusize;
    let mut boot2 = filler((n + 4) * 4, 0xb007_2000 ^ u64::from(p.fw_version.2));
    put32(&mut boot2, 0, 0);
    put32(&mut boot2, 4, n as u32);
    let c = sw_crc16_bytes(&boot2[..(n + 3) * 4]);
    put32(&mut boot2, (n + 3) * 4, u32::from(c));
    img[BOOT2_OFF..BOOT2_OFF + boot2.len()].copy_from_slice(&boot2);

    // ITOC.
    img[ITOC_OFF..ITOC_OFF + TOC_ENTRY].copy_from_slice(&toc_header(ITOC_ASCII, sections.len()));
    for (i, (s, &a)) in sections.iter().zip(&addrs).enumerate() {
        let off = ITOC_OFF + TOC_ENTRY * (i + 1);
        img[off..off + TOC_ENTRY].copy_from_slice(&toc_entry(s, a));
        img[a..a + s.data.len()].copy_from_slice(&s.data);
    }
    img
}

/// The device data area: sections then the DTOC in the last sector. `base` is the absolute
/// address of the area's first byte (the DTOC entries hold absolute addresses); the area is
/// `4 * SECTOR` bytes.
pub fn build_dev_data(p: &ImageParams, base: usize) -> Vec<u8> {
    dev_area(&dev_sections(p), base)
}

fn dev_area(sections: &[Section], base: usize) -> Vec<u8> {
    let mut area = vec![0xffu8; DEV_DATA_SIZE];
    let dtoc = DEV_DATA_SIZE - SECTOR;
    area[dtoc..dtoc + TOC_ENTRY].copy_from_slice(&toc_header(DTOC_ASCII, sections.len()));
    for (i, s) in sections.iter().enumerate() {
        let off = i * SECTOR;
        area[off..off + s.data.len()].copy_from_slice(&s.data);
        let e = dtoc + TOC_ENTRY * (i + 1);
        area[e..e + TOC_ENTRY].copy_from_slice(&toc_entry(s, base + off));
    }
    area
}

/// Size of the device data area (MFG_INFO, two DEV_INFO copies, VPD_R0, DTOC: one sector
/// each).
pub const DEV_DATA_SIZE: usize = 5 * SECTOR;

/// A firmware file: the image, padded to a sector, then the device data area.
pub fn build_file(p: &ImageParams) -> Vec<u8> {
    let mut img = build_slot(p);
    let base = align(img.len(), SECTOR);
    img.resize(base, 0xff);
    img.extend_from_slice(&build_dev_data(p, base));
    img
}

/// A flash of `size` bytes (erased 0xff): the image in slot 0, the device data area at the
/// top. Fails when the image and the device data do not fit.
pub fn build_flash(p: &ImageParams, size: usize) -> Result<Vec<u8>, String> {
    let slot = build_slot(p);
    let slot_size = 1usize << p.log2_slot_size;
    if slot.len() > slot_size || 2 * slot_size > size || size < DEV_DATA_SIZE {
        return Err(format!(
            "an image of {:#x} bytes with slots of {slot_size:#x} does not fit a flash of {size:#x} bytes",
            slot.len()
        ));
    }
    if slot_size + slot.len() > size - DEV_DATA_SIZE {
        return Err(format!(
            "flash of {size:#x} bytes: the second image slot would overlap the device data"
        ));
    }
    let mut f = vec![0xffu8; size];
    f[..slot.len()].copy_from_slice(&slot);
    let base = size - DEV_DATA_SIZE;
    f[base..].copy_from_slice(&build_dev_data(p, base));
    Ok(f)
}

/// A flash of `size` bytes from an image file (as [`build_file`] writes them): the file's
/// image in slot 0, its device data sections laid out again at the top of the flash.
pub fn flash_from_file(file: &[u8], size: usize) -> Result<Vec<u8>, String> {
    let info = check(file)?;
    let dev = info
        .dev
        .as_ref()
        .ok_or("the image has no device data (no DTOC at its end)")?;
    let slot = &file[info.start..info.start + info.image_size as usize];
    let slot_size = 1usize << info.log2_slot_size;
    if slot.len() > slot_size
        || 2 * slot_size > size
        || slot_size + slot.len() > size - DEV_DATA_SIZE
    {
        return Err(format!(
            "the image ({:#x} bytes, slots of {slot_size:#x}) does not fit a flash of {size:#x} bytes",
            slot.len()
        ));
    }
    if dev.dtoc.len() > DEV_DATA_SIZE / SECTOR - 1
        || dev.dtoc.iter().any(|e| e.size as usize > SECTOR)
    {
        return Err("the device data does not fit the model's device data area".into());
    }
    let sections: Vec<Section> = dev
        .dtoc
        .iter()
        .map(|e| {
            let a = e.addr as usize;
            Section::new(e.ty, e.crc, file[a..a + e.size as usize].to_vec())
        })
        .collect();
    let mut f = vec![0xffu8; size];
    f[..slot.len()].copy_from_slice(slot);
    let base = size - DEV_DATA_SIZE;
    f[base..].copy_from_slice(&dev_area(&sections, base));
    Ok(f)
}

/// Ways to spoil an image for negative tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spoil {
    /// A byte of MAIN_CODE flipped: its section CRC no longer matches.
    BadCrc,
    /// Cut in the middle of the ITOC sections.
    Truncated,
}

/// Apply `spoil` to a file built by [`build_file`].
pub fn spoil(img: &mut Vec<u8>, how: Spoil) -> Result<(), String> {
    let info = check(img)?;
    let main = info
        .itoc
        .iter()
        .find(|e| e.ty == sect::MAIN_CODE)
        .ok_or("no MAIN_CODE section")?;
    match how {
        Spoil::BadCrc => {
            let a = info.start + main.addr as usize + main.size as usize / 2;
            img[a] ^= 0x5a;
        }
        Spoil::Truncated => {
            img.truncate(info.start + main.addr as usize + main.size as usize / 2);
        }
    }
    Ok(())
}

/// One TOC entry as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TocEntry {
    pub ty: u8,
    pub crc: CrcKind,
    /// Byte address (relative to the image start for the ITOC, absolute for the DTOC).
    pub addr: u32,
    /// Size in bytes.
    pub size: u32,
}

/// What [`check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// Image start (offset of the magic pattern).
    pub start: usize,
    pub fw_version: (u16, u16, u16),
    pub release_date: (u16, u8, u8),
    pub psid: String,
    pub description: String,
    pub part_number: String,
    pub hw_id: u16,
    pub pci_device_id: u16,
    pub mcc_en: bool,
    pub log2_slot_size: u8,
    /// End of the last ITOC section (relative to the start): the bytes a burn writes.
    pub image_size: u32,
    pub itoc: Vec<TocEntry>,
    /// Device data, when a valid DTOC is at the end.
    pub dev: Option<DevData>,
}

/// The device data sections as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevData {
    pub mfg_psid: String,
    pub base_guid: u64,
    pub num_guids: u8,
    pub base_mac: u64,
    pub num_macs: u8,
    pub device_vsd: String,
    pub dtoc: Vec<TocEntry>,
}

fn read_toc(buf: &[u8], at: usize, first: u32, base: usize) -> Result<Vec<TocEntry>, String> {
    let what = if first == ITOC_ASCII { "ITOC" } else { "DTOC" };
    let hdr = buf
        .get(at..at + TOC_ENTRY)
        .ok_or_else(|| format!("{what} header at {at:#x} is past the end"))?;
    if get32(hdr, 0) != first || (0..3).any(|i| get32(hdr, 4 + 4 * i) != TOC_SIGNATURE[i]) {
        return Err(format!("no {what} signature at {at:#x}"));
    }
    if get32(hdr, 0x1c) & 0xffff != u32::from(sw_crc16_bytes(&hdr[..28])) {
        return Err(format!("{what} header CRC wrong"));
    }
    let mut out = Vec::new();
    for i in 1..64 {
        let off = at + TOC_ENTRY * i;
        let e = buf
            .get(off..off + TOC_ENTRY)
            .ok_or_else(|| format!("{what} entry {i} is past the end"))?;
        let ty = e[0];
        if ty == sect::END {
            return Ok(out);
        }
        if get32(e, 0x1c) & 0xffff != u32::from(sw_crc16_bytes(&e[..28])) {
            return Err(format!("{what} entry {i} (type {ty:#x}) CRC wrong"));
        }
        let size = (get32(e, 0) >> 2 & 0x3f_ffff) * 4;
        let addr = get32(e, 0x14) & 0x7fff_fffc;
        let w6 = get32(e, 0x18);
        let kind = CrcKind::from_bits(w6 >> 16 & 7)
            .ok_or_else(|| format!("{what} entry {i}: unknown CRC kind"))?;
        let sa = base + addr as usize;
        let data = buf.get(sa..sa + size as usize).ok_or_else(|| {
            format!("{what} section {ty:#x} at {sa:#x} (+{size:#x}) is past the end")
        })?;
        // A DEV_INFO copy without its signature is not in use: its content is not checked.
        let unused_dev_info = ty == sect::DEV_INFO
            && (data.len() < 16 || (0..4).any(|i| get32(data, 4 * i) != DEV_INFO_SIGNATURE[i]));
        let ok = match kind {
            _ if unused_dev_info => true,
            CrcKind::None => true,
            CrcKind::InEntry => u32::from(sw_crc16_bytes(data)) == w6 & 0xffff,
            CrcKind::InSection => {
                size >= 4
                    && u32::from(sw_crc16_bytes(&data[..size as usize - 4]))
                        == get32(data, size as usize - 4) & 0xffff
            }
        };
        if !ok {
            return Err(format!("{what} section {ty:#x} at {sa:#x}: CRC wrong"));
        }
        out.push(TocEntry {
            ty,
            crc: kind,
            addr,
            size,
        });
    }
    Err(format!("{what} at {at:#x} has no end entry"))
}

/// Check an image (a file or a whole flash) the way the tools verify one: magic pattern
/// (exactly one), HW pointer CRCs, tools area CRC, BOOT2 CRC, ITOC header, entry and section
/// CRCs, IMAGE_INFO format; then the DTOC in the last sector when one is there.
pub fn check(buf: &[u8]) -> Result<ImageInfo, String> {
    let starts: Vec<usize> = IMAGE_START_CANDIDATES
        .iter()
        .map(|&a| a as usize)
        .filter(|&a| a + 16 <= buf.len() && (0..4).all(|i| get32(buf, a + 4 * i) == FS4_MAGIC[i]))
        .collect();
    let start = match starts.as_slice() {
        [one] => *one,
        [] => return Err("no FS4 magic pattern".into()),
        _ => return Err(format!("{} image starts found", starts.len())),
    };
    let img = &buf[start..];
    if img.len() < TOOLS_AREA_OFF + 64 {
        return Err("image header truncated".into());
    }
    if get32(img, 0x10) >> 24 != 1 {
        return Err("image format version is not FS4".into());
    }
    let mut ptrs = [0u32; HW_PTR_COUNT];
    for (k, p) in ptrs.iter_mut().enumerate() {
        let off = HW_PTRS_OFF + 8 * k;
        *p = get32(img, off);
        let crc = get32(img, off + 4) & 0xffff;
        if crc != u32::from(hw_crc16(&img[off..off + 6])) {
            return Err(format!("HW pointer {k} CRC wrong"));
        }
    }
    let tools = ptrs[hw_ptr::TOOLS] as usize;
    let t = img
        .get(tools..tools + 64)
        .ok_or("tools area past the end")?;
    if get32(t, 60) & 0xffff != u32::from(sw_crc16_bytes(&t[..60])) {
        return Err("tools area CRC wrong".into());
    }
    let log2_slot_size = (get32(t, 4) >> 16) as u8;
    let b2 = ptrs[hw_ptr::BOOT2] as usize;
    let n = img
        .get(b2 + 4..b2 + 8)
        .map(|s| get32(s, 0) as usize)
        .ok_or("BOOT2 past the end")?;
    if !(4..=1 << 20).contains(&n) {
        return Err(format!("BOOT2 size {n:#x} out of range"));
    }
    let boot2 = img.get(b2..b2 + (n + 4) * 4).ok_or("BOOT2 past the end")?;
    if get32(boot2, (n + 3) * 4) != u32::from(sw_crc16_bytes(&boot2[..(n + 3) * 4])) {
        return Err("BOOT2 CRC wrong".into());
    }
    let itoc = read_toc(img, ptrs[hw_ptr::TOC] as usize, ITOC_ASCII, 0)?;
    let info = itoc
        .iter()
        .find(|e| e.ty == sect::IMAGE_INFO)
        .ok_or("no IMAGE_INFO section")?;
    let ii = &img[info.addr as usize..(info.addr + info.size) as usize];
    if ii.len() < 1024 {
        return Err("IMAGE_INFO too short".into());
    }
    if get32(ii, 0) >> 24 != 0 {
        return Err("unknown IMAGE_INFO format".into());
    }
    let date = get32(ii, 0x10);
    let image_size = itoc.iter().map(|e| e.addr + e.size).max().unwrap_or(0);
    let dev = if buf.len() >= start + image_size as usize + SECTOR {
        read_dev_data(buf).ok()
    } else {
        None
    };
    Ok(ImageInfo {
        start,
        fw_version: (
            (get32(ii, 4) >> 16) as u16,
            (get32(ii, 8) >> 16) as u16,
            get32(ii, 8) as u16,
        ),
        release_date: (
            unbcd(date >> 16) as u16,
            unbcd(date >> 8 & 0xff) as u8,
            unbcd(date & 0xff) as u8,
        ),
        psid: get_str(ii, 0x24, 16),
        description: get_str(ii, 0x1d0, 256),
        part_number: get_str(ii, 0x340, 64),
        hw_id: get32(ii, 0x118) as u16,
        pci_device_id: (get32(ii, 0x1c) >> 16) as u16,
        mcc_en: get32(ii, 0) >> 8 & 1 == 1,
        log2_slot_size,
        image_size,
        itoc,
        dev,
    })
}

/// Read the device data through the DTOC in the last sector of `buf`.
pub fn read_dev_data(buf: &[u8]) -> Result<DevData, String> {
    if buf.len() < SECTOR {
        return Err("too small for a DTOC".into());
    }
    let dtoc = read_toc(buf, buf.len() - SECTOR, DTOC_ASCII, 0)?;
    let find = |ty: u8| {
        dtoc.iter()
            .find(|e| e.ty == ty)
            .map(|e| &buf[e.addr as usize..(e.addr + e.size) as usize])
            .ok_or_else(|| format!("no section {ty:#x} in the DTOC"))
    };
    let mfg = find(sect::MFG_INFO)?;
    let signed = |d: &[u8]| (0..4).all(|i| get32(d, 4 * i) == DEV_INFO_SIGNATURE[i]);
    let devs: Vec<&[u8]> = dtoc
        .iter()
        .filter(|e| e.ty == sect::DEV_INFO && e.size >= 512)
        .map(|e| &buf[e.addr as usize..(e.addr + e.size) as usize])
        .filter(|d| signed(d))
        .collect();
    let dev = match devs.as_slice() {
        [one] => *one,
        [] => return Err("no DEV_INFO with a valid signature".into()),
        _ => return Err("two valid DEV_INFO sections".into()),
    };
    let uid = |b: &[u8], off: usize| {
        (
            u64::from(get32(b, off + 8)) << 32 | u64::from(get32(b, off + 12)),
            get32(b, off) as u8,
        )
    };
    let (base_guid, num_guids) = uid(dev, 0x20);
    let (base_mac, num_macs) = uid(dev, 0x30);
    Ok(DevData {
        mfg_psid: get_str(mfg, 0, 16),
        base_guid,
        num_guids,
        base_mac,
        num_macs,
        device_vsd: get_str(dev, 0x70, 208),
        dtoc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_round_trip() {
        let p = ImageParams::default();
        let f = build_file(&p);
        assert_eq!(f.len() % SECTOR, 0);
        let i = check(&f).unwrap();
        assert_eq!(i.start, 0);
        assert_eq!(i.fw_version, (16, 35, 1012));
        assert_eq!(i.release_date, (2024, 3, 14));
        assert_eq!(i.psid, "MT_0000000008");
        assert_eq!(i.hw_id, 0x20d);
        assert_eq!(i.pci_device_id, 4119);
        assert!(i.mcc_en);
        assert_eq!(i.log2_slot_size, 20);
        assert_eq!(i.description, p.description);
        let d = i.dev.expect("device data");
        assert_eq!(d.base_guid, p.base_guid);
        assert_eq!(d.base_mac, p.base_mac);
        assert_eq!(d.mfg_psid, "MT_0000000008");
        assert_eq!(d.num_guids, 8);
        let types: Vec<u8> = i.itoc.iter().map(|e| e.ty).collect();
        assert_eq!(types, [0x08, 0x02, 0x03, 0x09, 0x10, 0x30, 0xa0, 0xa1]);
    }

    #[test]
    fn layout_facts() {
        let f = build_slot(&ImageParams::default());
        for (i, m) in FS4_MAGIC.iter().enumerate() {
            assert_eq!(get32(&f, 4 * i), *m);
        }
        assert_eq!(get32(&f, 0x10) >> 24, 1, "FS4 format version");
        assert_eq!(get32(&f, 0x18 + 8 * hw_ptr::TOC), ITOC_OFF as u32);
        assert_eq!(get32(&f, ITOC_OFF), ITOC_ASCII);
        // Every HW pointer carries a CRC, including the null ones.
        for k in 0..HW_PTR_COUNT {
            let off = 0x18 + 8 * k;
            assert_eq!(
                get32(&f, off + 4),
                u32::from(hw_crc16(&f[off..off + 6])),
                "pointer {k}"
            );
        }
        // Sections are sector aligned.
        let i = check(&f).unwrap();
        assert!(i.itoc.iter().all(|e| e.addr & (SECTOR as u32 - 1) == 0));
        assert!(i.dev.is_none(), "a bare slot has no device data");
    }

    #[test]
    fn flash_layout() {
        let p = ImageParams::default();
        let fl = build_flash(&p, 2 << 20).unwrap();
        let i = check(&fl).unwrap();
        assert_eq!(i.start, 0);
        assert!(i.dev.is_some());
        assert_eq!(fl[1 << 20], 0xff, "second slot erased");
        assert!(
            build_flash(&p, 1 << 20).is_err(),
            "two 1 MiB slots do not fit 1 MiB"
        );
    }

    #[test]
    fn spoiled_images_fail() {
        let p = ImageParams::default();
        let mut f = build_file(&p);
        spoil(&mut f, Spoil::BadCrc).unwrap();
        assert!(check(&f).unwrap_err().contains("CRC"), "{:?}", check(&f));
        let mut f = build_file(&p);
        spoil(&mut f, Spoil::Truncated).unwrap();
        assert!(check(&f).is_err());
        // Any flipped byte in the first sectors is caught.
        let good = build_file(&p);
        for off in [0x3, 0x10, 0x28, 0x504, 0x1010, 0x2004, 0x2030] {
            let mut f = good.clone();
            f[off] ^= 1;
            assert!(check(&f).is_err(), "flip at {off:#x} not caught");
        }
    }

    #[test]
    fn zlib_stored_stream() {
        // Empty input and a known small one (RFC 1950 / 1951 stored block, Adler-32).
        assert_eq!(
            zlib_stored(b""),
            [0x78, 0x01, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 1]
        );
        let z = zlib_stored(b"abc");
        assert_eq!(&z[..7], &[0x78, 0x01, 1, 3, 0, 0xfc, 0xff]);
        assert_eq!(&z[7..10], b"abc");
        assert_eq!(&z[10..], &0x024d0127u32.to_be_bytes());
        // Several blocks: only the last one is final.
        let big = vec![7u8; 0x1_0000];
        let z = zlib_stored(&big);
        assert_eq!(z[2], 0);
        assert_eq!(z[2 + 5 + 0xffff], 1);
    }

    #[test]
    fn params_parsing() {
        assert_eq!(parse_version("16.35.1012"), Ok((16, 35, 1012)));
        assert!(parse_version("16.35").is_err());
        assert!(parse_version("16.x.1").is_err());
        assert_eq!(parse_date("2024-03-14"), Ok((2024, 3, 14)));
        assert!(parse_date("2024-13-01").is_err());
        assert_eq!(bcd(2024), 0x2024);
        assert_eq!(unbcd(0x2024), 2024);
    }
}
