//! [`ConfigIo`] over a config-space file (`/sys/bus/pci/devices/BDF/config` or
//! `/proc/bus/pci/...`), opened `O_RDWR | O_SYNC`: exactly one 4-byte `pread`/`pwrite` per
//! dword, nothing else per access.
//!
//! [`open`] opens the config path of a function: this file, then the VSEC gateway over it
//! when the device has a usable functional VSEC, else the legacy window.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::gateway::{self, Gateway, Tuning};
use super::legacy::Legacy;
use super::lock::LockFile;
use super::{Access, ConfigIo};
use crate::error::{Error, Result};
use crate::pci::{Bdf, SysfsRoot};

/// Config-space files to try for `bdf`: `file` (a name that allows only it), else sysfs
/// `config`, else procfs (with domain, and without it in domain 0).
fn candidates(root: &SysfsRoot, bdf: Bdf, file: Option<&Path>) -> Vec<PathBuf> {
    if let Some(f) = file {
        return vec![f.to_path_buf()];
    }
    let b = bdf;
    let mut v = vec![root.device_dir(b).join("config")];
    v.push(root.proc.join(format!(
        "bus/pci/{:04x}:{:02x}/{:02x}.{:x}",
        b.domain, b.bus, b.dev, b.func
    )));
    if b.domain == 0 {
        v.push(
            root.proc
                .join(format!("bus/pci/{:02x}/{:02x}.{:x}", b.bus, b.dev, b.func)),
        );
    }
    v
}

/// Open the config path of `bdf` (see the module docs). `file`: the config file the name
/// designates, if any; `lock_suffix`: the lock file's suffix ("config" or "mem": stock keeps
/// the one of the first path tried); `clear_semaphore`, `tuning`: for the gateway.
pub fn open(
    root: &SysfsRoot,
    bdf: Bdf,
    file: Option<&Path>,
    lock_suffix: &str,
    clear_semaphore: bool,
    tuning: Tuning,
) -> Result<Box<dyn Access>> {
    let mut io = None;
    let mut first_err = None;
    for p in candidates(root, bdf, file) {
        match SysfsConfig::open(&p) {
            Ok(c) => {
                io = Some(c);
                break;
            }
            Err(e) => {
                log::debug!("{}: {e}", p.display());
                // Keep the most telling error: anything but "file not found".
                let replace = first_err
                    .as_ref()
                    .is_none_or(|f: &Error| f.errno() == libc::ENODEV && e.errno() != libc::ENODEV);
                if replace {
                    first_err = Some(e);
                }
            }
        }
    }
    let Some(mut io) = io else {
        return Err(first_err.unwrap_or_else(|| Error::NoDevice("no config space file".into())));
    };
    let lock = LockFile::open_or_warn(&root.lock_dir, bdf, lock_suffix);
    let hdr = gateway::find_vsec(&mut io)?;
    match hdr {
        Some(h) if h.vsc_type == gateway::VSC_TYPE_FUNCTIONAL => {
            match Gateway::new(io, h.addr, lock, clear_semaphore, tuning) {
                Ok(gw) if gw.is_usable() => Ok(Box::new(gw)),
                Ok(gw) => {
                    log::info!(
                        "{bdf}: VSEC at {:#x} lacks the minimum spaces (mask {:#x}): using the \
                         legacy window",
                        h.addr,
                        gw.cap_mask()
                    );
                    let (io, lock) = gw.into_inner();
                    Ok(Box::new(Legacy::new(io, lock)?))
                }
                Err((e, _)) => Err(e),
            }
        }
        other => {
            log::debug!("{bdf}: no functional VSEC ({other:?}): legacy window");
            Ok(Box::new(Legacy::new(io, lock)?))
        }
    }
}

/// Config space must show at least this much for the vendor capability to be reachable.
pub const MIN_CONFIG_SIZE: u64 = 0x100;

/// An open config-space file.
#[derive(Debug)]
pub struct SysfsConfig {
    file: File,
    path: PathBuf,
}

fn truncated_msg(path: &Path, size: u64) -> String {
    format!(
        "config space truncated to {size} bytes ({}): the vendor capability is not visible; \
         run as root with CAP_SYS_ADMIN (outside a restricted container), or load a kernel \
         driver (mstflint_access)",
        path.display()
    )
}

impl SysfsConfig {
    /// Open `path` read-write (O_SYNC). A file shorter than 0x100 bytes is refused with a
    /// clear message (unprivileged readers and some containers see only 64 bytes).
    pub fn open(path: &Path) -> Result<SysfsConfig> {
        let file = super::open_rw_sync(
            path,
            "run as root; under kernel lockdown load a kernel driver such as mstflint_access",
        )?;
        let size = file
            .metadata()
            .map_err(|e| Error::io(format!("stat {}", path.display()), e))?
            .len();
        // procfs reports 256 or 4096; sysfs 256 or 4096 (64 when the caller is restricted
        // in a simulator). Size 0 means "unknown" (some procfs versions): accept.
        if size != 0 && size < MIN_CONFIG_SIZE {
            return Err(Error::Permission(truncated_msg(path, size)));
        }
        Ok(SysfsConfig {
            file,
            path: path.to_path_buf(),
        })
    }

    fn check(&self, off: u32) -> Result<()> {
        if off & 3 != 0 {
            return Err(Error::InvalidArgument(format!(
                "config offset {off:#x} not dword aligned"
            )));
        }
        Ok(())
    }
}

/// pread/pwrite retried when a signal interrupts them (nothing was transferred then).
trait RetryIo {
    fn read_at_retry(&self, buf: &mut [u8], off: u32) -> io::Result<usize>;
    fn write_at_retry(&self, buf: &[u8], off: u32) -> io::Result<usize>;
}

impl RetryIo for File {
    fn read_at_retry(&self, buf: &mut [u8], off: u32) -> io::Result<usize> {
        loop {
            match self.read_at(buf, off as u64) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    fn write_at_retry(&self, buf: &[u8], off: u32) -> io::Result<usize> {
        loop {
            match self.write_at(buf, off as u64) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}

impl ConfigIo for SysfsConfig {
    fn read_dword(&mut self, off: u32) -> Result<u32> {
        self.check(off)?;
        let mut b = [0u8; 4];
        let n = self
            .file
            .read_at_retry(&mut b, off)
            .map_err(|e| Error::io(format!("pread config {off:#x}"), e))?;
        if n != 4 {
            if n == 0 && off >= 0x40 {
                // The kernel gives unprivileged readers only the first 64 bytes.
                return Err(Error::Permission(truncated_msg(&self.path, off as u64)));
            }
            return Err(Error::io(
                format!("pread config {off:#x}"),
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("short read ({n} of 4 bytes)"),
                ),
            ));
        }
        let v = u32::from_le_bytes(b);
        log::trace!("config read {off:#x} -> {v:#010x}");
        Ok(v)
    }

    /// One pread of `4 * n` bytes: the kernel reads the dwords in ascending order.
    fn read_dwords(&mut self, off: u32, out: &mut [u32]) -> Result<()> {
        self.check(off)?;
        let mut b = [0u8; 16];
        let len = 4 * out.len();
        if len > b.len() {
            // Only short runs of registers are read at once.
            for (i, v) in out.iter_mut().enumerate() {
                *v = self.read_dword(off + 4 * i as u32)?;
            }
            return Ok(());
        }
        let n = self
            .file
            .read_at_retry(&mut b[..len], off)
            .map_err(|e| Error::io(format!("pread config {off:#x} ({len} bytes)"), e))?;
        if n != len {
            if n == 0 && off >= 0x40 {
                return Err(Error::Permission(truncated_msg(&self.path, off as u64)));
            }
            return Err(Error::io(
                format!("pread config {off:#x}"),
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("short read ({n} of {len} bytes)"),
                ),
            ));
        }
        for (i, v) in out.iter_mut().enumerate() {
            *v = u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
        }
        log::trace!("config read {off:#x} -> {out:08x?}");
        Ok(())
    }

    fn write_dword(&mut self, off: u32, v: u32) -> Result<()> {
        self.check(off)?;
        log::trace!("config write {off:#x} <- {v:#010x}");
        let n = self
            .file
            .write_at_retry(&v.to_le_bytes(), off)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => Error::Permission(format!(
                    "pwrite config {off:#x} ({}): {e}: the kernel refuses config-space writes \
                     (kernel lockdown / secure boot, or missing CAP_SYS_ADMIN); load a kernel \
                     driver (mstflint_access) or run privileged",
                    self.path.display()
                )),
                _ => Error::io(format!("pwrite config {off:#x}"), e),
            })?;
        if n != 4 {
            return Err(Error::io(
                format!("pwrite config {off:#x}"),
                io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write ({n} of 4 bytes)"),
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::tests_support::FakeSys;

    #[test]
    fn plain_file_roundtrip_and_truncation() {
        let fs = FakeSys::new("cfgfile");
        let p = fs.base.join("config");
        std::fs::write(&p, vec![0u8; 4096]).unwrap();
        let mut c = SysfsConfig::open(&p).unwrap();
        c.write_dword(0x44, 0x1234_5678).unwrap();
        assert_eq!(c.read_dword(0x44).unwrap(), 0x1234_5678);
        c.write_dword(0x48, 0x9abc_def0).unwrap();
        assert_eq!(c.read_dword_pair(0x44).unwrap(), (0x1234_5678, 0x9abc_def0));
        let mut three = [0u32; 3];
        c.read_dwords(0x40, &mut three).unwrap();
        assert_eq!(three, [0, 0x1234_5678, 0x9abc_def0]);
        let mut five = [0u32; 5];
        c.read_dwords(0x40, &mut five).unwrap();
        assert_eq!(five[1..3], [0x1234_5678, 0x9abc_def0]);
        let raw = std::fs::read(&p).unwrap();
        assert_eq!(&raw[0x44..0x48], &[0x78, 0x56, 0x34, 0x12], "little-endian");
        assert_eq!(c.read_dword(0x45).unwrap_err().errno(), libc::EINVAL);
        assert_eq!(c.read_dword(0x2000).unwrap_err().errno(), libc::EPERM);

        let t = fs.base.join("short");
        std::fs::write(&t, vec![0u8; 64]).unwrap();
        let e = SysfsConfig::open(&t).unwrap_err();
        assert!(e.to_string().contains("truncated to 64 bytes"), "{e}");
        assert_eq!(e.errno(), libc::EPERM);

        let e = SysfsConfig::open(&fs.base.join("absent")).unwrap_err();
        assert_eq!(e.errno(), libc::ENODEV);
    }
}
