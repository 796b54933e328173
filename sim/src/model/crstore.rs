//! The crspace backing store: 64 MiB of big-endian dwords in a shared mapping.
//!
//! The runtime creates a file on a tmpfs, hands it to [`CrStore::from_file`] and serves the
//! same file as sysfs `resource0` (and for driver mmaps), so a client's `mmap` and the model
//! see the same bytes. Every model access is a single aligned 32-bit atomic load or store on
//! the mapping, so it is visible to other processes mapping the file.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};

/// Crspace backing store. Dwords are stored big-endian (as the BAR shows them).
pub struct CrStore {
    base: *mut u8,
    file: Option<File>,
}

// SAFETY: the mapping is owned by the store for its whole life and every access after
// construction goes through `AtomicU32`, so sharing between threads is sound.
unsafe impl Send for CrStore {}
unsafe impl Sync for CrStore {}

impl std::fmt::Debug for CrStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrStore")
            .field("base", &self.base)
            .field("file", &self.file)
            .finish()
    }
}

impl CrStore {
    /// 64 MiB, the size of a ConnectX crspace BAR as mtcr maps it.
    pub const SIZE: usize = 0x400_0000;

    /// Anonymous private memory (unit tests).
    pub fn anonymous() -> CrStore {
        Self::try_anonymous().expect("cannot map 64 MiB of anonymous memory")
    }

    fn try_anonymous() -> Result<CrStore, String> {
        // SAFETY: a fresh anonymous mapping; checked for MAP_FAILED below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                Self::SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(format!(
                "mmap anonymous crspace: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(CrStore {
            base: p.cast(),
            file: None,
        })
    }

    /// Map `f` (truncated/extended to [`Self::SIZE`]) shared, read-write. The file must be
    /// open for reading and writing.
    pub fn from_file(f: File) -> Result<CrStore, String> {
        f.set_len(Self::SIZE as u64)
            .map_err(|e| format!("crspace file: set_len: {e}"))?;
        // SAFETY: mapping a file we own the descriptor of; checked for MAP_FAILED below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                Self::SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                f.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(format!(
                "crspace file: mmap: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(CrStore {
            base: p.cast(),
            file: Some(f),
        })
    }

    /// The backing file (None for an anonymous store). The runtime bind-mounts or passes it.
    pub fn file(&self) -> Option<&File> {
        self.file.as_ref()
    }

    fn cell(&self, addr: u32) -> &AtomicU32 {
        let off = (addr as usize & !3) & (Self::SIZE - 1);
        // SAFETY: `off` is dword aligned and below SIZE, inside the live mapping; the
        // mapping is page aligned so the pointer is aligned for AtomicU32.
        unsafe { &*(self.base.add(off) as *const AtomicU32) }
    }

    /// Whether `addr` lies inside the store.
    pub fn contains(addr: u32) -> bool {
        (addr as usize) < Self::SIZE
    }

    /// The dword at `addr` (low two bits ignored; wraps modulo SIZE — callers check range),
    /// converted from big-endian to a host value.
    pub fn read(&self, addr: u32) -> u32 {
        u32::from_be(self.cell(addr).load(Ordering::SeqCst))
    }

    /// Store a host value at `addr` as big-endian.
    pub fn write(&self, addr: u32, value: u32) {
        self.cell(addr).store(value.to_be(), Ordering::SeqCst)
    }

    /// Raw bytes at `off` as a client mapping sees them (tests, diagnostics).
    pub fn raw_bytes(&self, off: usize, out: &mut [u8]) {
        for (i, b) in out.iter_mut().enumerate() {
            let a = off + i;
            let w = self.cell(a as u32).load(Ordering::SeqCst).to_ne_bytes();
            *b = w[a & 3];
        }
    }

    /// Fill every dword with [`seed_pattern`]. Only called before the store is shared.
    pub(crate) fn fill_pattern(&mut self, seed: u64) {
        let n = Self::SIZE / 4;
        // SAFETY: we hold `&mut self`, the mapping is SIZE bytes, aligned; nobody else in
        // this process can access it during the fill. (Another process may have the file
        // mapped, but the runtime starts clients only after the device is built.)
        let words = unsafe { std::slice::from_raw_parts_mut(self.base as *mut u32, n) };
        let k = seed_key(seed);
        for (i, w) in words.iter_mut().enumerate() {
            *w = pattern_with_key(k, (i as u32) << 2).to_be();
        }
    }
}

impl Drop for CrStore {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping created in the constructor.
        unsafe {
            libc::munmap(self.base.cast(), Self::SIZE);
        }
    }
}

fn seed_key(seed: u64) -> u32 {
    let x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((x >> 32) as u32) ^ (x as u32) ^ 0x5bd1_e995
}

#[inline]
fn pattern_with_key(k: u32, addr: u32) -> u32 {
    let mut x = addr ^ k;
    x = (x ^ (x >> 16)).wrapping_mul(0x7feb_352d);
    x = (x ^ (x >> 15)).wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    // Never produce the values mtcr's memory-path signature check treats specially.
    if x == 0xffff_ffff || x == 0xbada_cce5 || x == 0xbad0_cafe {
        x ^= 0x0101_0101;
    }
    x
}

/// The value an unwritten crspace dword at `addr` holds for a device with `seed` (low two
/// address bits ignored). Deterministic; tests of the library can compute expectations.
pub fn seed_pattern(seed: u64, addr: u32) -> u32 {
    pattern_with_key(seed_key(seed), addr & !3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom};

    #[test]
    fn big_endian_layout() {
        let s = CrStore::anonymous();
        s.write(0x100, 0x1122_3344);
        let mut b = [0u8; 4];
        s.raw_bytes(0x100, &mut b);
        assert_eq!(b, [0x11, 0x22, 0x33, 0x44]);
        assert_eq!(s.read(0x100), 0x1122_3344);
        assert_eq!(s.read(0x102), 0x1122_3344, "low address bits ignored");
    }

    #[test]
    fn pattern_is_deterministic_and_seed_dependent() {
        assert_eq!(seed_pattern(1, 0x40), seed_pattern(1, 0x40));
        assert_ne!(seed_pattern(1, 0x40), seed_pattern(2, 0x40));
        assert_ne!(seed_pattern(1, 0x40), seed_pattern(1, 0x44));
        let mut s = CrStore::anonymous();
        s.fill_pattern(7);
        for a in [0u32, 4, 0xf0014, 0x3ff_fffc] {
            assert_eq!(s.read(a), seed_pattern(7, a));
        }
    }

    #[test]
    fn file_mapping_is_shared() {
        let path = std::env::temp_dir().join(format!("crstore-test-{}", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        let s = CrStore::from_file(f).unwrap();
        assert_eq!(
            s.file().unwrap().metadata().unwrap().len(),
            CrStore::SIZE as u64
        );
        s.write(0xf0014, 0x0000_020d);
        // A second, independent mapping of the same file sees the write, big-endian.
        let f2 = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let s2 = CrStore::from_file(f2.try_clone().unwrap()).unwrap();
        assert_eq!(s2.read(0xf0014), 0x20d);
        s2.write(0x10, 0xdead_beef);
        assert_eq!(s.read(0x10), 0xdead_beef);
        // And so does plain file I/O.
        let mut r = f2;
        r.seek(SeekFrom::Start(0xf0014)).unwrap();
        let mut b = [0u8; 4];
        r.read_exact(&mut b).unwrap();
        assert_eq!(b, [0, 0, 2, 0x0d]);
        drop((s, s2));
        std::fs::remove_file(&path).unwrap();
    }
}
