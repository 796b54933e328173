//! A small in-process device for the driver-ABI unit tests (independent of the model).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::{forget_key, DriverDevice};
use crate::model::Errno;

static NEXT_KEY: AtomicUsize = AtomicUsize::new(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Gw(u32),
    Legacy,
    Mem,
    Gate,
}

pub struct FakeDev {
    pub loc: (u16, u8, u8, u8),
    pub device_id: u16,
    /// Functional VSEC at 0x40 (else none; `cap9` still puts a capability 9 there).
    pub vsec: bool,
    pub cap9: bool,
    pub vpd_cap: bool,
    pub spaces: Vec<u32>,
    pub sem_busy: bool,
    /// Crspace accesses fail with this errno from the `fail_after`-th on.
    pub fail: Option<(usize, Errno)>,
    pub cr: Mutex<HashMap<u32, u32>>,
    pub vpd: Mutex<Vec<u8>>,
    pub log: Mutex<Vec<(Access, u32, bool)>>,
    pub counts: Mutex<BTreeMap<String, u64>>,
    key: usize,
}

impl Drop for FakeDev {
    fn drop(&mut self) {
        forget_key(self.key);
    }
}

impl FakeDev {
    pub fn new() -> FakeDev {
        FakeDev {
            loc: (0, 5, 0, 0),
            device_id: 0x1017,
            vsec: true,
            cap9: true,
            vpd_cap: true,
            spaces: vec![0x1, 0x2, 0x3, 0x6, 0x7, 0xa],
            sem_busy: false,
            fail: None,
            cr: Mutex::new(HashMap::new()),
            vpd: Mutex::new((0..256u32).map(|i| i as u8).collect()),
            log: Mutex::new(Vec::new()),
            counts: Mutex::new(BTreeMap::new()),
            key: NEXT_KEY.fetch_add(1, Ordering::Relaxed) | (1 << 62),
        }
    }
    pub fn legacy() -> FakeDev {
        let mut d = FakeDev::new();
        d.vsec = false;
        d.cap9 = false;
        d
    }
    pub fn count(&self, name: &str) -> u64 {
        self.counts.lock().get(name).copied().unwrap_or(0)
    }
    pub fn set(&self, addr: u32, v: u32) {
        self.cr.lock().insert(addr, v);
    }
    pub fn get(&self, addr: u32) -> u32 {
        self.cr
            .lock()
            .get(&addr)
            .copied()
            .unwrap_or(addr ^ 0x5a5a_0000)
    }
    fn access(&self, a: Access, addr: u32, write: bool) -> Result<(), Errno> {
        let mut log = self.log.lock();
        log.push((a, addr, write));
        if let Some((n, e)) = self.fail {
            if log.len() >= n {
                return Err(e);
            }
        }
        if addr >= 0x400_0000 {
            return Err(libc::EINVAL);
        }
        Ok(())
    }
    fn gw_check(&self, space: u32) -> Result<(), Errno> {
        if self.sem_busy {
            return Err(libc::EBUSY);
        }
        if !self.vsec || !self.spaces.contains(&space) {
            return Err(libc::EINVAL);
        }
        Ok(())
    }
}

impl DriverDevice for FakeDev {
    fn location(&self) -> (u16, u8, u8, u8) {
        self.loc
    }
    fn gw_read(&self, space: u32, addr: u32) -> Result<u32, Errno> {
        self.gw_check(space)?;
        self.access(Access::Gw(space), addr, false)?;
        Ok(self.get(addr))
    }
    fn gw_write(&self, space: u32, addr: u32, value: u32) -> Result<(), Errno> {
        self.gw_check(space)?;
        self.access(Access::Gw(space), addr, true)?;
        self.set(addr, value);
        Ok(())
    }
    fn legacy_read(&self, addr: u32) -> Result<u32, Errno> {
        self.access(Access::Legacy, addr, false)?;
        Ok(self.get(addr))
    }
    fn legacy_write(&self, addr: u32, value: u32) -> Result<(), Errno> {
        self.access(Access::Legacy, addr, true)?;
        self.set(addr, value);
        Ok(())
    }
    fn mem_read(&self, addr: u32) -> Result<u32, Errno> {
        self.access(Access::Mem, addr, false)?;
        Ok(self.get(addr))
    }
    fn mem_write(&self, addr: u32, value: u32) -> Result<(), Errno> {
        self.access(Access::Mem, addr, true)?;
        self.set(addr, value);
        Ok(())
    }
    fn config_dword(&self, off: u32) -> Result<u32, Errno> {
        if !off.is_multiple_of(4) || off >= 4096 {
            return Err(libc::EINVAL);
        }
        // Capability chain: 0x40 VSEC (if cap9) -> 0x60 VPD (if vpd_cap) -> 0x70 PCIe.
        let after_vsec = if self.vpd_cap { 0x60 } else { 0x70 };
        Ok(match off {
            0x0 => 0x15b3 | (self.device_id as u32) << 16,
            0x4 => 0x0010_0006,
            0xc => 0x0080_0000, // multifunction header
            0x10 => 0xe000_000c,
            0x14 => 0x0000_0001,
            0x2c => 0x15b3 | 0x0007 << 16,
            0x34 => {
                if self.cap9 {
                    0x40
                } else {
                    after_vsec
                }
            }
            0x40 if self.cap9 => 0x09 | after_vsec << 8,
            0x60 if self.vpd_cap => 0x03 | 0x70 << 8,
            0x70 => 0x10,
            _ => 0,
        })
    }
    fn vpd_read4(&self, off: u32) -> Result<[u8; 4], Errno> {
        if !self.vpd_cap {
            return Err(libc::ENODEV);
        }
        let v = self.vpd.lock();
        let o = off as usize;
        v.get(o..o + 4)
            .map(|b| [b[0], b[1], b[2], b[3]])
            .ok_or(libc::ETIMEDOUT)
    }
    fn vpd_write4(&self, off: u32, data: [u8; 4]) -> Result<(), Errno> {
        if !self.vpd_cap {
            return Err(libc::ENODEV);
        }
        let mut v = self.vpd.lock();
        let o = off as usize;
        v.get_mut(o..o + 4)
            .map(|b| b.copy_from_slice(&data))
            .ok_or(libc::ETIMEDOUT)
    }
    fn vsec_offset(&self) -> Option<u32> {
        self.vsec.then_some(0x40)
    }
    fn space_supported(&self, space: u32) -> bool {
        self.vsec && self.spaces.contains(&space)
    }
    fn semaphore_busy(&self) -> bool {
        self.sem_busy
    }
    fn count_ioctl(&self, name: &str) {
        *self.counts.lock().entry(name.to_string()).or_default() += 1;
    }
    fn gate(&self) -> Result<(), Errno> {
        self.access(Access::Gate, 0, false)
    }
    fn state_key(&self) -> usize {
        self.key
    }
}
