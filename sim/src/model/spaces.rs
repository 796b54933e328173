//! Address spaces behind the gateway: crspace (and its aliases) in the [`CrStore`], the
//! semaphore spaces with lock-on-read semantics, and plain sparse storage for the rest
//! (ICMD, ICMD_EXT, NODNIC, expansion ROM, MAC, recovery...).

use std::collections::HashMap;

use super::crstore::CrStore;

pub const AS_ICMD_EXT: u32 = 0x1;
pub const AS_CR_SPACE: u32 = 0x2;
pub const AS_ICMD: u32 = 0x3;
pub const AS_ND_CRSPACE: u32 = 0x6;
pub const AS_SCAN_CRSPACE: u32 = 0x7;
pub const AS_SEMAPHORE: u32 = 0xa;
pub const AS_PCI_CRSPACE: u32 = 0x102;
pub const AS_PCI_SCAN_CRSPACE: u32 = 0x107;
pub const AS_PCI_GLOBAL_SEMAPHORE: u32 = 0x10a;

/// Largest address the gateway can carry (bits 29:0).
pub const GW_ADDR_MASK: u32 = 0x3fff_ffff;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpaceKind {
    /// Backed by the crspace store (64 MiB).
    Cr,
    /// Lock-on-read semaphores: reading 0 takes the lock (reads 0, becomes 1); writing a
    /// non-zero value to a free one takes it with that value; writing 0 frees it; other
    /// writes are ignored.
    Semaphore,
    /// Plain sparse dword storage (unwritten dwords read 0).
    Plain,
}

pub(crate) fn kind(space: u32) -> SpaceKind {
    match space {
        AS_CR_SPACE | AS_ND_CRSPACE | AS_SCAN_CRSPACE | AS_PCI_CRSPACE | AS_PCI_SCAN_CRSPACE => {
            SpaceKind::Cr
        }
        AS_SEMAPHORE | AS_PCI_GLOBAL_SEMAPHORE => SpaceKind::Semaphore,
        _ => SpaceKind::Plain,
    }
}

/// Whether `addr` (already < 2^30) lies inside `space`.
pub(crate) fn in_range(space: u32, addr: u32) -> bool {
    match kind(space) {
        SpaceKind::Cr => CrStore::contains(addr),
        _ => addr <= GW_ADDR_MASK,
    }
}

/// Storage for the non-crspace spaces.
#[derive(Default)]
pub(crate) struct Spaces {
    sparse: HashMap<(u32, u32), u32>,
    /// The ICMD interface in AS_ICMD (see [`super::icmd`]).
    icmd: Option<super::icmd::Icmd>,
    /// The tools HCR in crspace (see [`super::hcr`]), when configured.
    hcr: Option<super::hcr::Hcr>,
}

impl Spaces {
    /// Spaces with an ICMD interface for a device whose 0xf0014 reads `hw_id_reg`.
    pub fn with_icmd(hw_id_reg: u32) -> Spaces {
        Spaces {
            sparse: HashMap::new(),
            icmd: Some(super::icmd::Icmd::new(hw_id_reg)),
            hcr: None,
        }
    }

    /// Add a tools HCR (with or without a CR mailbox) for a device whose 0xf0014 reads
    /// `hw_id_reg`.
    pub fn with_hcr(mut self, hw_id_reg: u32, cr_mbox: bool) -> Spaces {
        self.hcr = Some(super::hcr::Hcr::new(hw_id_reg, cr_mbox));
        self
    }

    /// Attach the device's firmware model to its ICMD access registers.
    pub fn set_firmware(&mut self, fw: super::firmware::Firmware) {
        if let Some(i) = self.icmd.as_mut() {
            i.set_firmware(fw);
        }
    }

    /// The device's firmware model, if any.
    pub fn firmware_mut(&mut self) -> Option<&mut super::firmware::Firmware> {
        self.icmd.as_mut().and_then(|i| i.firmware_mut())
    }

    /// A crspace dword read (address < 64 MiB) with the side effects of the registers
    /// modelled there (tools HCR).
    /// ACCESS_REGISTER on the ICMD model's registers (status 4, bad parameter, without one).
    pub fn access_register(&mut self, mbox: &mut [u32]) -> u32 {
        self.icmd.as_mut().map_or(4, |i| i.access_register(mbox))
    }

    pub fn cr_read(&mut self, cr: &CrStore, addr: u32) -> u32 {
        let addr = addr & !3;
        if let Some(v) = self.hcr.as_mut().and_then(|h| h.read(cr, addr)) {
            return v;
        }
        cr.read(addr)
    }

    /// A crspace dword write (address < 64 MiB), through the modelled registers.
    pub fn cr_write(&mut self, cr: &CrStore, addr: u32, value: u32) {
        let addr = addr & !3;
        if self.hcr.as_mut().is_some_and(|h| h.write(cr, addr, value)) {
            return;
        }
        cr.write(addr, value)
    }

    /// Read a dword (low address bits ignored). Caller checked the range.
    pub fn read(&mut self, cr: &CrStore, space: u32, addr: u32) -> u32 {
        let addr = addr & !3;
        match kind(space) {
            SpaceKind::Cr => self.cr_read(cr, addr),
            SpaceKind::Semaphore => {
                let v = self.sparse.get(&(space, addr)).copied().unwrap_or(0);
                if v == 0 {
                    self.sparse.insert((space, addr), 1);
                }
                v
            }
            SpaceKind::Plain => {
                if space == AS_ICMD {
                    if let Some(v) = self.icmd.as_mut().and_then(|i| i.read(addr)) {
                        return v;
                    }
                }
                self.sparse.get(&(space, addr)).copied().unwrap_or(0)
            }
        }
    }

    pub fn write(&mut self, cr: &CrStore, space: u32, addr: u32, value: u32) {
        let addr = addr & !3;
        match kind(space) {
            SpaceKind::Cr => self.cr_write(cr, addr, value),
            SpaceKind::Semaphore => {
                let cur = self.sparse.get(&(space, addr)).copied().unwrap_or(0);
                if value == 0 {
                    self.sparse.remove(&(space, addr));
                } else if cur == 0 {
                    self.sparse.insert((space, addr), value);
                }
            }
            SpaceKind::Plain => {
                if space == AS_ICMD && self.icmd.as_mut().is_some_and(|i| i.write(addr, value)) {
                    return;
                }
                if value == 0 {
                    self.sparse.remove(&(space, addr));
                } else {
                    self.sparse.insert((space, addr), value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semaphore_space_semantics() {
        let cr = CrStore::anonymous();
        let mut s = Spaces::default();
        // Lock on read.
        assert_eq!(s.read(&cr, AS_SEMAPHORE, 0), 0);
        assert_eq!(s.read(&cr, AS_SEMAPHORE, 0), 1);
        s.write(&cr, AS_SEMAPHORE, 0, 0);
        // Take by writing an id and reading it back (ICMD style).
        s.write(&cr, AS_SEMAPHORE, 0, 1234);
        assert_eq!(s.read(&cr, AS_SEMAPHORE, 0), 1234);
        s.write(&cr, AS_SEMAPHORE, 0, 999);
        assert_eq!(s.read(&cr, AS_SEMAPHORE, 0), 1234, "held: other id ignored");
        s.write(&cr, AS_SEMAPHORE, 0, 0);
        assert_eq!(s.read(&cr, AS_SEMAPHORE, 0), 0);
        // Spaces are separate.
        assert_eq!(s.read(&cr, AS_PCI_GLOBAL_SEMAPHORE, 0), 0);
    }

    #[test]
    fn plain_and_cr() {
        let cr = CrStore::anonymous();
        let mut s = Spaces::default();
        s.write(&cr, AS_ICMD, 0x1000, 0x340);
        assert_eq!(s.read(&cr, AS_ICMD, 0x1000), 0x340);
        assert_eq!(s.read(&cr, AS_ICMD_EXT, 0x1000), 0);
        s.write(&cr, AS_ND_CRSPACE, 0x20, 5);
        assert_eq!(
            s.read(&cr, AS_CR_SPACE, 0x20),
            5,
            "ND crspace aliases crspace"
        );
        assert!(in_range(AS_CR_SPACE, 0x3ff_fffc));
        assert!(!in_range(AS_CR_SPACE, 0x400_0000));
        assert!(in_range(AS_ICMD, 0x3fff_fffc));
    }
}
