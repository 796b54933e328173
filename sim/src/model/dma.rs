//! Host memory as the simulated device sees it through DMA: the bus addresses a driver
//! handed out for pinned user pages (`GET_DMA_PAGES`), each mapped to the pinning process's
//! virtual pages (what the IOMMU / the kernel's `dma_map_page` stand for). The device reads
//! and writes them with `process_vm_readv` / `process_vm_writev` on that process, so a tool
//! that writes a component into its pages and sends MCDD gets it read by the "device".
//!
//! One table per device. A mapping lives from the pinning ioctl to the release ioctl (the
//! driver models call [`HostMemory::map`] / [`HostMemory::unmap`]); an access outside every
//! mapping, or to a process that is gone, fails (`EFAULT`), which the firmware reports as a
//! failed register access (the tools then fall back to MCDA).

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::Errno;

/// Page size of the pinned buffers (the drivers pin 4 KiB pages).
pub const DMA_PAGE: u64 = 4096;

/// Pages `bus .. bus + pages * 4 KiB` are the pinning process's `va ..`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaMapping {
    pub bus: u64,
    pub va: u64,
    pub pages: u32,
    /// The pinning process (as the simulator sees it; 0: unknown, nothing can be read).
    pub pid: i32,
}

impl DmaMapping {
    fn translate(&self, bus: u64, len: usize) -> Option<u64> {
        let end = self.bus + u64::from(self.pages) * DMA_PAGE;
        (bus >= self.bus && bus.checked_add(len as u64)? <= end).then(|| self.va + (bus - self.bus))
    }
}

/// The DMA-visible host memory of one device.
#[derive(Debug, Default)]
pub struct HostMemory {
    maps: Mutex<Vec<DmaMapping>>,
    pub(crate) reads: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) bytes: AtomicU64,
}

impl HostMemory {
    /// Record a pinned buffer; a mapping overlapping its bus range is replaced.
    pub fn map(&self, m: DmaMapping) {
        let mut maps = self.maps.lock();
        let end = m.bus + u64::from(m.pages) * DMA_PAGE;
        maps.retain(|o| o.bus + u64::from(o.pages) * DMA_PAGE <= m.bus || o.bus >= end);
        maps.push(m);
    }

    /// Forget the mapping starting at bus address `bus`.
    pub fn unmap(&self, bus: u64) {
        self.maps.lock().retain(|o| o.bus != bus);
    }

    /// The mappings now in place.
    pub fn mappings(&self) -> Vec<DmaMapping> {
        self.maps.lock().clone()
    }

    fn find(&self, bus: u64, len: usize) -> Result<(i32, u64), Errno> {
        self.maps
            .lock()
            .iter()
            .find_map(|m| m.translate(bus, len).map(|va| (m.pid, va)))
            .filter(|(pid, _)| *pid > 0)
            .ok_or(libc::EFAULT)
    }

    /// Whether `len` bytes at `bus` lie inside one mapping of a known process.
    pub fn can_access(&self, bus: u64, len: usize) -> bool {
        self.find(bus, len).is_ok()
    }

    /// A device read of `buf.len()` bytes at bus address `bus` (inside one mapping).
    pub fn read(&self, bus: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let (pid, va) = self.find(bus, buf.len())?;
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let remote = libc::iovec {
            iov_base: va as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: `local` describes `buf`, writable for its length; the remote range is only
        // read by the kernel in the other process (a bad address fails, it cannot fault here).
        let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
        if n < 0 || n as usize != buf.len() {
            return Err(libc::EFAULT);
        }
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// A device write of `data` at bus address `bus` (inside one mapping).
    pub fn write(&self, bus: u64, data: &[u8]) -> Result<(), Errno> {
        let (pid, va) = self.find(bus, data.len())?;
        let local = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        let remote = libc::iovec {
            iov_base: va as *mut libc::c_void,
            iov_len: data.len(),
        };
        // SAFETY: `local` describes `data`, only read; the kernel writes the other process's
        // range (a bad address fails with EFAULT).
        let n = unsafe { libc::process_vm_writev(pid, &local, 1, &remote, 1, 0) };
        if n < 0 || n as usize != data.len() {
            return Err(libc::EFAULT);
        }
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_this_process_through_a_mapping() {
        let mut pages = vec![0u8; 3 * DMA_PAGE as usize + 4096];
        // A page-aligned window of three pages inside the vector.
        let base = pages.as_mut_ptr() as u64;
        let va = (base + DMA_PAGE - 1) & !(DMA_PAGE - 1);
        let off = (va - base) as usize;
        pages[off + 4096..off + 4100].copy_from_slice(&[1, 2, 3, 4]);
        let hm = HostMemory::default();
        // SAFETY: getpid never fails.
        let pid = unsafe { libc::getpid() };
        hm.map(DmaMapping {
            bus: 0x1000_0000,
            va,
            pages: 3,
            pid,
        });
        let mut b = [0u8; 4];
        hm.read(0x1000_1000, &mut b).unwrap();
        assert_eq!(b, [1, 2, 3, 4]);
        hm.write(0x1000_2ffc, &[9, 8, 7, 6]).unwrap();
        assert_eq!(&pages[off + 0x2ffc..off + 0x3000], &[9, 8, 7, 6]);
        // Past the mapping, straddling its end, unmapped, no pid: EFAULT.
        assert_eq!(hm.read(0x1000_3000, &mut b), Err(libc::EFAULT));
        assert_eq!(hm.read(0x1000_2ffe, &mut b), Err(libc::EFAULT));
        assert_eq!(hm.reads.load(Ordering::Relaxed), 1);
        hm.unmap(0x1000_0000);
        assert_eq!(hm.read(0x1000_1000, &mut b), Err(libc::EFAULT));
        hm.map(DmaMapping {
            bus: 0x1000_0000,
            va,
            pages: 3,
            pid: 0,
        });
        assert_eq!(hm.read(0x1000_1000, &mut b), Err(libc::EFAULT));
    }
}
