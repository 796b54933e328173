//! The FUSE filesystem: one flat directory holding, per device, `<bdf>.config` and
//! `<bdf>.vpd`, and per root port `<bdf>.config`, each bind-mounted later onto the sysfs
//! directory. Files are opened
//! with direct I/O so every pread/pwrite reaches the model (in order), with the caller's pid.

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use fuser::{
    FileAttr, FileType, Filesystem, KernelConfig, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyWrite, Request,
};

use crate::model::{SimBridge, SimDevice};

const ROOT: u64 = 1;
/// Attributes are never cached: sizes change with fault knobs (truncated config).
const TTL: Duration = Duration::from_secs(0);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FileKind {
    Config,
    Vpd,
}

/// Inode number of a device file.
pub fn ino_of(dev_index: usize, kind: FileKind) -> u64 {
    2 + 2 * dev_index as u64 + u64::from(kind == FileKind::Vpd)
}

/// Inodes of the root ports' `config` files start here (far above any device's).
const BRIDGE_INO: u64 = 1 << 32;

/// Inode number of a root port's `config`.
pub fn bridge_ino(bridge_index: usize) -> u64 {
    BRIDGE_INO + bridge_index as u64
}

/// File name of a device file inside the FUSE mount.
pub fn name_of(bdf: &str, kind: FileKind) -> String {
    match kind {
        FileKind::Config => format!("{bdf}.config"),
        FileKind::Vpd => format!("{bdf}.vpd"),
    }
}

pub struct SimFs {
    devices: Vec<Arc<SimDevice>>,
    bridges: Vec<Arc<SimBridge>>,
    /// Scratch buffer for reads (avoids an allocation per request).
    buf: Vec<u8>,
}

impl SimFs {
    pub fn new(devices: Vec<Arc<SimDevice>>, bridges: Vec<Arc<SimBridge>>) -> SimFs {
        SimFs {
            devices,
            bridges,
            buf: Vec::with_capacity(4096),
        }
    }

    fn bridge(&self, ino: u64) -> Option<&Arc<SimBridge>> {
        let j = ino.checked_sub(BRIDGE_INO)?;
        self.bridges.get(usize::try_from(j).ok()?)
    }

    fn file(&self, ino: u64) -> Option<(&Arc<SimDevice>, FileKind)> {
        if ino >= BRIDGE_INO {
            return None;
        }
        let idx = ino.checked_sub(2)? / 2;
        let dev = self.devices.get(idx as usize)?;
        let kind = if ino & 1 == 0 {
            FileKind::Config
        } else {
            FileKind::Vpd
        };
        Some((dev, kind))
    }

    fn attr(&self, ino: u64) -> Option<FileAttr> {
        let (kind, size, perm) = if ino == ROOT {
            (FileType::Directory, 0, 0o755)
        } else if self.bridge(ino).is_some() {
            (FileType::RegularFile, crate::model::CONFIG_SIZE, 0o644)
        } else {
            let (dev, k) = self.file(ino)?;
            match k {
                FileKind::Config => (FileType::RegularFile, dev.config_size(), 0o644),
                FileKind::Vpd => (FileType::RegularFile, dev.vpd_size(), 0o600),
            }
        };
        Some(FileAttr {
            ino,
            size,
            blocks: size.div_ceil(512),
            atime: UNIX_EPOCH,
            mtime: UNIX_EPOCH,
            ctime: UNIX_EPOCH,
            crtime: UNIX_EPOCH,
            kind,
            perm,
            nlink: if kind == FileType::Directory { 2 } else { 1 },
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }
}

impl Filesystem for SimFs {
    fn init(&mut self, _req: &Request<'_>, _config: &mut KernelConfig) -> Result<(), libc::c_int> {
        Ok(())
    }

    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        if parent != ROOT {
            return reply.error(libc::ENOENT);
        }
        let name = name.to_string_lossy();
        for (i, d) in self.devices.iter().enumerate() {
            for k in [FileKind::Config, FileKind::Vpd] {
                if name == name_of(d.bdf(), k) {
                    if let Some(a) = self.attr(ino_of(i, k)) {
                        return reply.entry(&TTL, &a, 0);
                    }
                }
            }
        }
        for (j, b) in self.bridges.iter().enumerate() {
            if name == name_of(b.bdf(), FileKind::Config) {
                if let Some(a) = self.attr(bridge_ino(j)) {
                    return reply.entry(&TTL, &a, 0);
                }
            }
        }
        reply.error(libc::ENOENT)
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        match self.attr(ino) {
            Some(a) => reply.attr(&TTL, &a),
            None => reply.error(libc::ENOENT),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn setattr(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<fuser::TimeOrNow>,
        _mtime: Option<fuser::TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        _fh: Option<u64>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<u32>,
        reply: ReplyAttr,
    ) {
        // sysfs files ignore truncation and attribute changes.
        match self.attr(ino) {
            Some(a) => reply.attr(&TTL, &a),
            None => reply.error(libc::ENOENT),
        }
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, _flags: i32, reply: ReplyOpen) {
        if self.file(ino).is_none() && self.bridge(ino).is_none() {
            return reply.error(libc::EISDIR);
        }
        reply.opened(0, fuser::consts::FOPEN_DIRECT_IO)
    }

    fn read(
        &mut self,
        req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyData,
    ) {
        if offset < 0 {
            return reply.error(libc::EINVAL);
        }
        if let Some(b) = self.bridge(ino) {
            let mut buf = vec![0u8; size as usize];
            return match b.config_read(offset as u64, &mut buf) {
                Ok(n) => reply.data(&buf[..n.min(buf.len())]),
                Err(e) => reply.error(e),
            };
        }
        let Some((dev, kind)) = self.file(ino) else {
            return reply.error(libc::ENOENT);
        };
        let dev = dev.clone();
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.resize(size as usize, 0);
        let r = match kind {
            FileKind::Config => dev.config_read(offset as u64, &mut buf, req.pid()),
            FileKind::Vpd => dev.vpd_file_read(offset as u64, &mut buf),
        };
        match r {
            Ok(n) => reply.data(&buf[..n.min(buf.len())]),
            Err(e) => reply.error(e),
        }
        self.buf = buf;
    }

    fn write(
        &mut self,
        req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        data: &[u8],
        _write_flags: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyWrite,
    ) {
        if offset < 0 {
            return reply.error(libc::EINVAL);
        }
        if let Some(b) = self.bridge(ino) {
            return match b.config_write(offset as u64, data) {
                Ok(n) => reply.written(n as u32),
                Err(e) => reply.error(e),
            };
        }
        let Some((dev, kind)) = self.file(ino) else {
            return reply.error(libc::ENOENT);
        };
        let r = match kind {
            FileKind::Config => dev.config_write(offset as u64, data, req.pid()),
            FileKind::Vpd => dev.vpd_file_write(offset as u64, data),
        };
        match r {
            Ok(n) => reply.written(n as u32),
            Err(e) => reply.error(e),
        }
    }

    fn flush(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, _lo: u64, reply: ReplyEmpty) {
        reply.ok()
    }

    fn opendir(&mut self, _req: &Request<'_>, ino: u64, _flags: i32, reply: ReplyOpen) {
        if ino != ROOT {
            return reply.error(libc::ENOTDIR);
        }
        reply.opened(0, 0)
    }

    fn readdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        mut reply: ReplyDirectory,
    ) {
        if ino != ROOT {
            return reply.error(libc::ENOTDIR);
        }
        let mut entries: Vec<(u64, FileType, String)> = vec![
            (ROOT, FileType::Directory, ".".into()),
            (ROOT, FileType::Directory, "..".into()),
        ];
        for (i, d) in self.devices.iter().enumerate() {
            for k in [FileKind::Config, FileKind::Vpd] {
                entries.push((ino_of(i, k), FileType::RegularFile, name_of(d.bdf(), k)));
            }
        }
        for (j, b) in self.bridges.iter().enumerate() {
            entries.push((
                bridge_ino(j),
                FileType::RegularFile,
                name_of(b.bdf(), FileKind::Config),
            ));
        }
        for (n, (ino, kind, name)) in entries.iter().enumerate().skip(offset.max(0) as usize) {
            if reply.add(*ino, (n + 1) as i64, *kind, name) {
                break;
            }
        }
        reply.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inode_numbers_are_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..4 {
            for k in [FileKind::Config, FileKind::Vpd] {
                assert!(seen.insert(ino_of(i, k)));
                assert!(ino_of(i, k) > ROOT);
            }
        }
        assert_eq!(name_of("0000:05:00.0", FileKind::Vpd), "0000:05:00.0.vpd");
    }
}
