//! Crspace through the memory BAR: sysfs `resource0` mapped (64 MiB, `MAP_SHARED`), dwords
//! stored big-endian, one volatile load/store per dword (mtcr_api.md §5).
//!
//! * Offsets outside the map are EINVAL. An unaligned single read returns the dword the offset
//!   lies in, and an unaligned single write stores the value's 4 big-endian bytes at the
//!   offset (straddling two dwords), as the stock library's plain load/store do; blocks must be
//!   aligned.
//! * At open the hardware-id register 0xf0014 is read: 0xbadacce5 (UAR BAR mapped) or
//!   0xffffffff (memory access disabled) make the path unusable ([`Error::Unsupported`]; the
//!   selector then falls back to config space).
//! * ConnectX-3 family (signature 0xa00190 or low 16 bits 0x1f5/0x1f7), unless the
//!   environment has `CONNECTX_FLUSH=0`: after a write, the next read first flushes posted
//!   writes — under the stock `_mem` flock, write 0 to 0xf0380 and wait (bounded, 100 ms) until
//!   it reads back 0.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lock::{lock_opt, LockFile};
use super::{is_crspace, Access};
use crate::access::PathKind;
use crate::chips;
use crate::defs::HW_ID_ADDR;
use crate::error::{Error, Result};
use crate::pci::{Bdf, SysfsRoot};

/// Size of the mapping (`MTCR_MAP_SIZE`).
pub const MAP_SIZE: usize = 0x400_0000;
/// Flush register of the ConnectX-3 ordering workaround.
pub const CONNECTX_FLUSH_ADDR: u32 = 0xf0380;
const FLUSH_TIMEOUT: Duration = Duration::from_millis(100);

/// The mapping itself: one volatile load or store per dword, through `&self`, so that it can
/// be shared with a lock-free single-dword path (see [`Access::shared_window`]).
pub struct Window {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned by this value (unmapped on drop) and is device memory: every
// access is one aligned volatile load or store, which any thread may do at any time (the
// stock library does the same without a lock).
unsafe impl Send for Window {}
// SAFETY: as above; `&Window` only allows aligned volatile dword loads and stores.
unsafe impl Sync for Window {}

impl Drop for Window {
    fn drop(&mut self) {
        // SAFETY: base/len describe a mapping created in `Mmio::from_file`, not yet unmapped.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

impl Window {
    /// The dword at `addr` when it is aligned and inside the map.
    #[inline]
    fn slot(&self, addr: u32) -> Option<*mut u32> {
        let a = addr as usize;
        if a & 3 != 0 || a.checked_add(4).is_none_or(|end| end > self.len) {
            return None;
        }
        // SAFETY: a + 4 <= len, inside the mapping.
        Some(unsafe { self.base.as_ptr().add(a) }.cast::<u32>())
    }

    fn outside(&self, addr: u32) -> Error {
        Error::Io {
            context: format!(
                "crspace offset {addr:#x} outside the {:#x}-byte map",
                self.len
            ),
            source: std::io::Error::from_raw_os_error(libc::EINVAL),
        }
    }

    /// Read the dword at `addr` (host order); an unaligned `addr` reads the dword it lies in
    /// (stock indexes the map by `addr / 4`). None when outside the map.
    #[inline]
    pub fn get(&self, addr: u32) -> Option<u32> {
        let p = self.slot(addr & !3)?;
        // SAFETY: aligned pointer inside a live mapping; volatile because it is device memory.
        let v = u32::from_be(unsafe { std::ptr::read_volatile(p) });
        log::trace!("mmio read {addr:#x} -> {v:#010x}");
        Some(v)
    }

    /// Write the dword at `addr`; false (nothing written) when any of its 4 bytes is outside
    /// the map. An unaligned `addr` gets the value's 4 big-endian bytes at `addr..addr + 4`,
    /// across two dwords, as stock's unaligned store does.
    #[inline]
    pub fn set(&self, addr: u32, v: u32) -> bool {
        if addr & 3 != 0 {
            return self.set_unaligned(addr, v);
        }
        let Some(p) = self.slot(addr) else {
            return false;
        };
        log::trace!("mmio write {addr:#x} <- {v:#010x}");
        // SAFETY: as in `get`.
        unsafe { std::ptr::write_volatile(p, v.to_be()) };
        true
    }

    #[cold]
    fn set_unaligned(&self, addr: u32, v: u32) -> bool {
        let a = addr as usize;
        if a.checked_add(4).is_none_or(|end| end > self.len) {
            return false;
        }
        log::trace!("mmio unaligned write {addr:#x} <- {v:#010x}");
        for (i, b) in v.to_be_bytes().into_iter().enumerate() {
            // SAFETY: a + i < a + 4 <= len: inside the live mapping; byte stores need no
            // alignment; volatile because it is device memory.
            unsafe { std::ptr::write_volatile(self.base.as_ptr().add(a + i), b) };
        }
        true
    }

    /// Read the dword at `addr` (host order).
    pub fn load(&self, addr: u32) -> Result<u32> {
        self.get(addr).ok_or_else(|| self.outside(addr))
    }

    /// Write the dword at `addr`.
    pub fn store(&self, addr: u32, v: u32) -> Result<()> {
        if self.set(addr, v) {
            Ok(())
        } else {
            Err(self.outside(addr))
        }
    }

    /// Address of the last dword of an `n`-dword block at `addr` when the whole block is
    /// aligned and inside the map (n > 0); None otherwise.
    fn block_range(&self, addr: u32, n: usize) -> Option<u32> {
        if n == 0 || addr & 3 != 0 {
            return None;
        }
        let end = (addr as usize).checked_add(n.checked_mul(4)?)?;
        (end <= self.len).then(|| (end - 4) as u32)
    }

    /// Read `out.len()` dwords from `addr` when the whole block is aligned and inside the map
    /// (else nothing is read and the result is false).
    pub fn load_block(&self, addr: u32, out: &mut [u32]) -> bool {
        let Some(last) = self.block_range(addr, out.len()) else {
            return false;
        };
        // SAFETY: addr..=last lies inside the live mapping (block_range), aligned.
        let p = unsafe { self.base.as_ptr().add(addr as usize) }.cast::<u32>();
        for (i, slot) in out.iter_mut().enumerate() {
            // SAFETY: as above.
            *slot = u32::from_be(unsafe { std::ptr::read_volatile(p.add(i)) });
        }
        log::trace!("mmio read block {addr:#x}..={last:#x}");
        true
    }

    /// Write `data` at `addr` when the whole block is aligned and inside the map (else nothing
    /// is written and the result is false).
    pub fn store_block(&self, addr: u32, data: &[u32]) -> bool {
        let Some(last) = self.block_range(addr, data.len()) else {
            return false;
        };
        // SAFETY: as in `load_block`.
        let p = unsafe { self.base.as_ptr().add(addr as usize) }.cast::<u32>();
        for (i, v) in data.iter().enumerate() {
            // SAFETY: as above.
            unsafe { std::ptr::write_volatile(p.add(i), v.to_be()) };
        }
        log::trace!("mmio write block {addr:#x}..={last:#x}");
        true
    }
}

/// A mapped `resource0`.
pub struct Mmio {
    map: Arc<Window>,
    _file: File,
    path: PathBuf,
    flush: bool,
    need_flush: bool,
    lock: Option<LockFile>,
    signature: u32,
    kind: PathKind,
}

/// Whether the hw-id signature says memory access is unusable.
pub fn signature_unusable(sig: u32) -> bool {
    sig == 0xbada_cce5 || sig == 0xffff_ffff
}

/// Whether the signature is a ConnectX-3 family device (flush workaround).
pub fn signature_needs_flush(sig: u32) -> bool {
    sig == chips::CONNECTX3_OLD_SIGNATURE || chips::is_connectx3_hw_id((sig & 0xffff) as u16)
}

/// Open the memory path of `bdf`: `file` (the `resource0` the name designates), else the
/// function's sysfs `resource0`, mapped, with the function's `_mem` lock file.
pub fn open(root: &SysfsRoot, bdf: Bdf, file: Option<&Path>) -> Result<Mmio> {
    let path = match file {
        Some(f) => f.to_path_buf(),
        None => root.device_dir(bdf).join("resource0"),
    };
    let lock = LockFile::open_or_warn(&root.lock_dir, bdf, "mem");
    Mmio::open(&path, lock)
}

impl Mmio {
    /// Map `path` (a `resource0`), check the signature. `lock` is the `_mem` lock file used by
    /// the ConnectX flush.
    pub fn open(path: &Path, lock: Option<LockFile>) -> Result<Mmio> {
        let file = super::open_rw_sync(
            path,
            "BAR access refused: run as root; kernel lockdown forbids it",
        )?;
        Self::from_file(file, path, lock, PathKind::SysfsMemory)
    }

    /// Map an already open file (`resource0`, or a driver node bound to BAR0) and check the
    /// signature; `kind` is what [`Access::kind`] reports.
    pub fn from_file(
        file: std::fs::File,
        path: &Path,
        lock: Option<LockFile>,
        kind: PathKind,
    ) -> Result<Mmio> {
        let size = file
            .metadata()
            .map_err(|e| Error::io(format!("stat {}", path.display()), e))?
            .len();
        if size != 0 && size < MAP_SIZE as u64 {
            return Err(Error::Unsupported(format!(
                "{} is {size:#x} bytes, smaller than the {MAP_SIZE:#x}-byte crspace BAR",
                path.display()
            )));
        }
        // SAFETY: fresh shared mapping of a file we hold open; checked for MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                MAP_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            let e = std::io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => Error::Permission(format!(
                    "mmap {}: {e} (kernel lockdown forbids BAR mapping)",
                    path.display()
                )),
                _ => Error::io(format!("mmap {}", path.display()), e),
            });
        }
        let base = NonNull::new(p.cast::<u8>())
            .ok_or_else(|| Error::io("mmap", std::io::Error::from_raw_os_error(libc::ENOMEM)))?;
        let mut m = Mmio {
            map: Arc::new(Window {
                base,
                len: MAP_SIZE,
            }),
            _file: file,
            path: path.to_path_buf(),
            flush: false,
            need_flush: false,
            lock,
            signature: 0,
            kind,
        };
        let sig = m.load(HW_ID_ADDR)?;
        m.signature = sig;
        if signature_unusable(sig) {
            return Err(Error::Unsupported(format!(
                "memory access through {} disabled (signature {sig:#010x})",
                path.display()
            )));
        }
        let env_off = std::env::var("CONNECTX_FLUSH").is_ok_and(|v| v == "0");
        m.flush = signature_needs_flush(sig) && !env_off;
        log::debug!(
            "mapped {} (signature {sig:#010x}, ConnectX flush {})",
            path.display(),
            m.flush
        );
        Ok(m)
    }


    fn load(&self, addr: u32) -> Result<u32> {
        self.map.load(addr)
    }

    fn store(&self, addr: u32, v: u32) -> Result<()> {
        self.map.store(addr, v)
    }

    fn do_flush(&mut self) -> Result<()> {
        let _g = lock_opt(&self.lock)?;
        self.store(CONNECTX_FLUSH_ADDR, 0)?;
        let start = Instant::now();
        while self.load(CONNECTX_FLUSH_ADDR)? != 0 {
            if start.elapsed() >= FLUSH_TIMEOUT {
                return Err(Error::Timeout(format!(
                    "ConnectX flush register {CONNECTX_FLUSH_ADDR:#x} did not clear"
                )));
            }
            std::hint::spin_loop();
        }
        Ok(())
    }
}

impl Access for Mmio {
    fn kind(&self) -> PathKind {
        self.kind
    }

    fn addr_limit(&self, _space: u32) -> Option<u64> {
        Some(self.map.len as u64)
    }

    fn shared_window(&self) -> Option<Arc<Window>> {
        (!self.flush).then(|| Arc::clone(&self.map))
    }

    fn take_open_hw_id(&mut self) -> Option<u32> {
        Some(self.signature)
    }

    /// A BAR mapped through a driver node (MFT `mst_pci`): that node is `mfile.fd`.
    fn node_fd(&self) -> Option<i32> {
        self.kind.is_driver().then(|| self._file.as_raw_fd())
    }

    fn hot_reset(&mut self, arg: &mut super::driver::Arg) -> Result<i32> {
        if !self.kind.is_driver() {
            return Err(Error::io(
                "hot reset needs a kernel driver node (mstflint_access)",
                std::io::Error::from_raw_os_error(libc::EBADF),
            ));
        }
        super::driver::ioctl_file(
            &self._file,
            &self.path,
            "PCICONF_HOT_RESET",
            super::driver::PCICONF_HOT_RESET,
            arg,
        )
    }

    fn read4(&mut self, space: u32, addr: u32) -> Result<u32> {
        if !is_crspace(space) {
            return Err(Error::SpaceNotSupported(space));
        }
        if self.need_flush {
            self.do_flush()?;
            self.need_flush = false;
        }
        self.load(addr)
    }

    fn write4(&mut self, space: u32, addr: u32, v: u32) -> Result<()> {
        if !is_crspace(space) {
            return Err(Error::SpaceNotSupported(space));
        }
        self.store(addr, v)?;
        self.need_flush = self.flush;
        Ok(())
    }

    /// One bounds check and at most one flush for the whole block, then one volatile load
    /// per dword (no per-dword dispatch, logging or error plumbing).
    fn read_block(&mut self, space: u32, addr: u32, out: &mut [u32]) -> Result<()> {
        if !is_crspace(space) {
            return Err(Error::SpaceNotSupported(space));
        }
        if self.map.block_range(addr, out.len()).is_none() {
            // Some dword lies outside the map: per dword, for the exact partial count.
            for (i, slot) in out.iter_mut().enumerate() {
                let a = super::block_addr(addr, i)?;
                *slot = self.read4(space, a).map_err(|e| super::partial(i * 4, e))?;
            }
            return Ok(());
        }
        if self.need_flush {
            self.do_flush()?;
            self.need_flush = false;
        }
        let done = self.map.load_block(addr, out);
        debug_assert!(done);
        Ok(())
    }

    fn write_block(&mut self, space: u32, addr: u32, data: &[u32]) -> Result<()> {
        if !is_crspace(space) {
            return Err(Error::SpaceNotSupported(space));
        }
        if !self.map.store_block(addr, data) {
            for (i, v) in data.iter().enumerate() {
                let a = super::block_addr(addr, i)?;
                self.write4(space, a, *v)
                    .map_err(|e| super::partial(i * 4, e))?;
            }
            return Ok(());
        }
        self.need_flush = self.flush;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::tests_support::FakeSys;

    fn make(fs: &FakeSys, sig: u32) -> PathBuf {
        let p = fs.base.join("resource0");
        let f = File::create(&p).unwrap();
        f.set_len(MAP_SIZE as u64).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_at(&sig.to_be_bytes(), HW_ID_ADDR as u64).unwrap();
        p
    }

    #[test]
    fn big_endian_roundtrip_and_bounds() {
        let fs = FakeSys::new("mmio");
        let p = make(&fs, 0x20d);
        let mut m = Mmio::open(&p, None).unwrap();
        assert_eq!(m.read4(2, HW_ID_ADDR).unwrap(), 0x20d);
        m.write4(0, 0x100, 0x1122_3344).unwrap();
        assert_eq!(m.read4(0, 0x100).unwrap(), 0x1122_3344);
        let raw = std::fs::read(&p).unwrap();
        assert_eq!(&raw[0x100..0x104], &[0x11, 0x22, 0x33, 0x44]);
        assert_eq!(
            m.read4(2, MAP_SIZE as u32).unwrap_err().errno(),
            libc::EINVAL
        );
        assert_eq!(m.read4(2, MAP_SIZE as u32 - 4).unwrap(), 0);
        assert_eq!(m.read4(2, 0x102).unwrap(), 0x1122_3344);
        assert_eq!(m.read4(3, 0x100).unwrap_err().errno(), libc::EINVAL);
        let mut out = [0u32; 3];
        m.read_block(2, 0xfc, &mut out).unwrap();
        assert_eq!(out, [0, 0x1122_3344, 0]);
        let e = m.read_block(2, MAP_SIZE as u32 - 8, &mut out).unwrap_err();
        assert_eq!(e.done_bytes(), 8);
        // The shared window sees the same mapping, outlives the Mmio, and checks bounds.
        let w = m.shared_window().expect("plain BAR: lock-free window");
        assert_eq!(w.load(0x100).unwrap(), 0x1122_3344);
        w.store(0x104, 0x5566_7788).unwrap();
        assert_eq!(m.read4(2, 0x104).unwrap(), 0x5566_7788);
        drop(m);
        assert_eq!(w.load(HW_ID_ADDR).unwrap(), 0x20d);
        assert_eq!(w.load(MAP_SIZE as u32).unwrap_err().errno(), libc::EINVAL);
        // Unaligned (stock): a read gets the dword it lies in, a write straddles two dwords.
        assert_eq!(w.load(0x102).unwrap(), 0x1122_3344);
        w.store(0x102, 0xaabb_ccdd).unwrap();
        assert_eq!(w.load(0x100).unwrap(), 0x1122_aabb);
        assert_eq!(w.load(0x104).unwrap(), 0xccdd_7788);
        assert_eq!(
            w.load(MAP_SIZE as u32 - 2).unwrap(),
            w.load(MAP_SIZE as u32 - 4).unwrap()
        );
        assert_eq!(
            w.store(MAP_SIZE as u32 - 2, 1).unwrap_err().errno(),
            libc::EINVAL
        );
    }

    #[test]
    fn block_fast_path() {
        let fs = FakeSys::new("mmio-block");
        let p = make(&fs, 0x0001_01f5); // ConnectX-3: flush before the first read after a write
        let mut m = Mmio::open(&p, None).unwrap();
        let data: Vec<u32> = (0..64u32).map(|i| 0xa500_0000 | i).collect();
        m.write_block(2, 0x200, &data).unwrap();
        assert!(m.need_flush);
        let raw = std::fs::read(&p).unwrap();
        assert_eq!(&raw[0x204..0x208], &0xa500_0001u32.to_be_bytes());
        m.write4(2, CONNECTX_FLUSH_ADDR, 5).unwrap();
        let mut out = vec![0u32; 64];
        m.read_block(2, 0x200, &mut out).unwrap();
        assert_eq!(out, data);
        assert!(!m.need_flush);
        assert_eq!(m.read4(2, CONNECTX_FLUSH_ADDR).unwrap(), 0);
        // An unaligned block reads dword by dword, each the dword its address lies in (stock's
        // loop of single reads); other spaces and blocks running off the map keep their errors.
        m.read_block(2, 0x202, &mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(
            m.write_block(3, 0x200, &data).unwrap_err().errno(),
            libc::EINVAL
        );
        let e = m.write_block(2, MAP_SIZE as u32 - 12, &data).unwrap_err();
        assert_eq!(e.done_bytes(), 12);
        m.read_block(2, MAP_SIZE as u32 - 12, &mut out[..3])
            .unwrap();
        assert_eq!(out[..3], data[..3]);
    }

    #[test]
    fn bad_signatures_and_flush() {
        let fs = FakeSys::new("mmio-sig");
        for sig in [0xbada_cce5, 0xffff_ffff] {
            let p = make(&fs, sig);
            assert_eq!(Mmio::open(&p, None).err().unwrap().errno(), libc::ENOTSUP);
        }
        let p = make(&fs, 0x0001_01f5);
        let mut m = Mmio::open(&p, None).unwrap();
        assert!(m.flush);
        assert!(
            m.shared_window().is_none(),
            "writes need the flush: no bypass"
        );
        m.write4(2, CONNECTX_FLUSH_ADDR, 5).unwrap();
        // The flush writes 0 to the register before the read.
        assert_eq!(m.read4(2, CONNECTX_FLUSH_ADDR).unwrap(), 0);
        let small = fs.base.join("small");
        std::fs::write(&small, [0u8; 4096]).unwrap();
        assert_eq!(
            Mmio::open(&small, None).err().unwrap().errno(),
            libc::ENOTSUP
        );
    }
}
