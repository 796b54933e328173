//! VPD through the sysfs `vpd` file (mtcr_api.md §1.3): a pread at the offset; an unaligned
//! offset reads the two aligned dwords around it (as stock) and returns the 4 bytes asked.
//! Bytes past the end of the file read as 0 (stock accepts a short read).
//! Writing VPD is not offered on this path (stock returns ME_UNSUPPORTED_OPERATION).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Read 4 bytes of VPD at `offset` from the sysfs `vpd` file at `path`.
pub fn read4(path: &Path, offset: u32) -> Result<[u8; 4]> {
    let f = File::open(path).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => Error::NotSupported(format!(
            "no VPD file {} (device without VPD capability)",
            path.display()
        )),
        _ => Error::io(format!("open {}", path.display()), e),
    })?;
    let aligned = offset & !3;
    let skip = (offset - aligned) as usize;
    let mut buf = [0u8; 8];
    // The dword the offset lies in must yield at least one byte; whatever lies past the end of
    // the file reads as 0 (the kernel's `vpd` file may end inside it, e.g. one byte after the
    // end tag). For an unaligned offset the next dword is read on a best-effort basis, as
    // stock does (its result is not checked there).
    let got = read_full(&f, &mut buf[..4], aligned)
        .map_err(|e| Error::io(format!("pread {} at {aligned:#x}", path.display()), e))?;
    if got == 0 {
        return Err(Error::io(
            format!("pread {} at {offset:#x}", path.display()),
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "beyond the end of VPD"),
        ));
    }
    if skip != 0 && got == 4 {
        let _ = read_full(&f, &mut buf[4..], aligned + 4);
    }
    let mut out = [0u8; 4];
    out.copy_from_slice(&buf[skip..skip + 4]);
    Ok(out)
}

/// Read into `buf` at `at` until it is full or the file ends; the byte count.
fn read_full(f: &File, buf: &mut [u8], at: u32) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read_at(&mut buf[got..], u64::from(at) + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// VPD writes through sysfs are not supported (the C API returns ME_UNSUPPORTED_OPERATION).
pub fn write4(_path: &Path, offset: u32, _data: [u8; 4]) -> Result<()> {
    Err(Error::NotSupported(format!(
        "VPD write at {offset:#x}: not supported on the sysfs path"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::tests_support::FakeSys;

    #[test]
    fn aligned_and_unaligned() {
        let fs = FakeSys::new("vpd");
        let p = fs.base.join("vpd");
        std::fs::write(&p, (0u8..32).collect::<Vec<u8>>()).unwrap();
        assert_eq!(read4(&p, 0).unwrap(), [0, 1, 2, 3]);
        assert_eq!(read4(&p, 8).unwrap(), [8, 9, 10, 11]);
        assert_eq!(read4(&p, 5).unwrap(), [5, 6, 7, 8]);
        assert_eq!(read4(&p, 27).unwrap(), [27, 28, 29, 30]);
        assert_eq!(read4(&p, 28).unwrap(), [28, 29, 30, 31]);
        // Past the end: zeros, as long as the dword the offset lies in has a byte.
        assert_eq!(read4(&p, 29).unwrap(), [29, 30, 31, 0]);
        assert_eq!(read4(&p, 31).unwrap(), [31, 0, 0, 0]);
        assert!(read4(&p, 32).is_err());
        assert!(read4(&p, 33).is_err());
        // A file ending inside a dword (the kernel's vpd file ends one byte after the end tag).
        std::fs::write(&p, (0u8..30).collect::<Vec<u8>>()).unwrap();
        assert_eq!(read4(&p, 28).unwrap(), [28, 29, 0, 0]);
        assert_eq!(read4(&p, 27).unwrap(), [27, 28, 29, 0]);
        assert_eq!(read4(&p, 29).unwrap(), [29, 0, 0, 0]);
        assert_eq!(
            read4(&fs.base.join("none"), 0).unwrap_err().errno(),
            libc::EOPNOTSUPP
        );
        assert_eq!(write4(&p, 0, [0; 4]).unwrap_err().errno(), libc::EOPNOTSUPP);
    }
}
