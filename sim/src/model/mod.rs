//! STAND-IN written by the runtime helper so the runtime builds and can be exercised before
//! the model branch lands; replaced wholesale by the model helper's implementation (merge:
//! take theirs). Only the legacy 0x58/0x5c window and the crspace store are modelled here.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::config::{DeviceConfig, Faults};

/// A failure as the kernel would report it to the caller (an errno value, positive).
pub type Errno = i32;

/// Counters kept per device (all monotonic). Serialized to JSON by `--stats`.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct CounterSnapshot {
    pub config_reads: u64,
    pub config_writes: u64,
    pub vpd_reads: u64,
    pub vpd_writes: u64,
    pub ioctls: std::collections::BTreeMap<String, u64>,
    pub ioctls_total: u64,
    pub mmaps: u64,
    pub interleaved_transactions: u64,
    pub gateway_reads: u64,
    pub gateway_writes: u64,
}

/// One simulated PCI function.
pub struct SimDevice {
    cfg: DeviceConfig,
    cr: CrStore,
    addr: AtomicU32,
    faults: Mutex<Faults>,
    counters: Mutex<CounterSnapshot>,
    accesses: AtomicU64,
}

impl SimDevice {
    pub fn new(cfg: &DeviceConfig, crspace: CrStore) -> Result<Arc<SimDevice>, String> {
        let m = cfg.model_info();
        crspace.write(0xf0014, m.hw_id_reg);
        for (a, v) in cfg.initial_registers()? {
            crspace.write(a, v);
        }
        Ok(Arc::new(SimDevice {
            cfg: cfg.clone(),
            cr: crspace,
            addr: AtomicU32::new(0),
            faults: Mutex::new(cfg.faults.clone()),
            counters: Mutex::new(CounterSnapshot::default()),
            accesses: AtomicU64::new(0),
        }))
    }
    pub fn bdf(&self) -> &str {
        &self.cfg.bdf
    }
    pub fn config(&self) -> &DeviceConfig {
        &self.cfg
    }
    pub fn config_size(&self) -> u64 {
        if self.faults.lock().truncated_config {
            64
        } else {
            4096
        }
    }
    fn gate(&self) -> Result<(), Errno> {
        let n = self.accesses.fetch_add(1, Ordering::Relaxed) + 1;
        let f = self.faults.lock();
        if f.eio_after != 0 && n >= f.eio_after {
            return Err(libc::EIO);
        }
        Ok(())
    }
    fn cfg_dword(&self, off: u32) -> u32 {
        let m = self.cfg.model_info();
        match off {
            0x00 => 0x15b3 | (u32::from(m.pci_device_id) << 16),
            0x04 => 0x0010_0006,
            0x08 => m.class << 8,
            0x2c => 0x15b3 | (u32::from(m.subsystem_device) << 16),
            0x58 => self.addr.load(Ordering::Relaxed),
            0x5c => self.cr.read(self.addr.load(Ordering::Relaxed)),
            _ => 0,
        }
    }
    pub fn config_read(&self, offset: u64, buf: &mut [u8], _pid: u32) -> Result<usize, Errno> {
        self.gate()?;
        self.counters.lock().config_reads += 1;
        let size = self.config_size();
        if offset >= size {
            return Ok(0);
        }
        let n = buf.len().min((size - offset) as usize);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            let o = offset as u32 + i as u32;
            *b = self.cfg_dword(o & !3).to_le_bytes()[(o & 3) as usize];
        }
        Ok(n)
    }
    pub fn config_write(&self, offset: u64, data: &[u8], _pid: u32) -> Result<usize, Errno> {
        self.gate()?;
        self.counters.lock().config_writes += 1;
        if data.len() == 4 {
            let v = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
            match offset {
                0x58 => self.addr.store(v, Ordering::Relaxed),
                0x5c => self.cr.write(self.addr.load(Ordering::Relaxed), v),
                _ => {}
            }
        }
        Ok(data.len())
    }
    pub fn vpd_file_read(&self, _offset: u64, _buf: &mut [u8]) -> Result<usize, Errno> {
        Ok(0)
    }
    pub fn vpd_file_write(&self, _offset: u64, data: &[u8]) -> Result<usize, Errno> {
        Ok(data.len())
    }
    pub fn vpd_size(&self) -> u64 {
        0
    }
    pub fn cr_read(&self, _space: u32, addr: u32) -> Result<u32, Errno> {
        self.gate()?;
        Ok(self.cr.read(addr))
    }
    pub fn cr_write(&self, _space: u32, addr: u32, value: u32) -> Result<(), Errno> {
        self.gate()?;
        self.cr.write(addr, value);
        Ok(())
    }
    pub fn space_supported(&self, space: u32) -> bool {
        self.cfg.spaces.contains(&space)
    }
    pub fn vsec_offset(&self) -> Option<u32> {
        None
    }
    pub fn hw_id(&self) -> u32 {
        self.cr.read(0xf0014)
    }
    pub fn set_faults(&self, f: Faults) {
        *self.faults.lock() = f;
    }
    pub fn faults(&self) -> Faults {
        self.faults.lock().clone()
    }
    pub fn count_ioctl(&self, name: &str) {
        let mut c = self.counters.lock();
        *c.ioctls.entry(name.to_string()).or_default() += 1;
        c.ioctls_total += 1;
    }
    pub fn count_mmap(&self) {
        self.counters.lock().mmaps += 1;
    }
    pub fn counters(&self) -> CounterSnapshot {
        self.counters.lock().clone()
    }
}

/// The crspace backing store (big-endian dwords in a shared file mapping).
pub struct CrStore {
    base: *mut u8,
    _file: Option<std::fs::File>,
}

// SAFETY: accesses go through AtomicU32 on a mapping owned for the store's life.
unsafe impl Send for CrStore {}
unsafe impl Sync for CrStore {}

impl CrStore {
    pub const SIZE: usize = 0x400_0000;

    pub fn from_file(f: std::fs::File) -> Result<CrStore, String> {
        use std::os::fd::AsRawFd;
        f.set_len(Self::SIZE as u64).map_err(|e| e.to_string())?;
        // SAFETY: shared mapping of our file, checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                Self::SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error().to_string());
        }
        Ok(CrStore {
            base: p.cast(),
            _file: Some(f),
        })
    }
    fn cell(&self, addr: u32) -> &AtomicU32 {
        let off = (addr as usize & !3) & (Self::SIZE - 1);
        // SAFETY: aligned, inside the mapping.
        unsafe { &*(self.base.add(off) as *const AtomicU32) }
    }
    pub fn read(&self, addr: u32) -> u32 {
        u32::from_be(self.cell(addr).load(Ordering::Relaxed))
    }
    pub fn write(&self, addr: u32, v: u32) {
        self.cell(addr).store(v.to_be(), Ordering::Relaxed)
    }
}
