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
    /// The memory path (BAR) shows the ICMD interface at its VCR addresses (functional VSEC
    /// devices; see [`Self::bar_read`]).
    bar_icmd: bool,
    /// Dword 0 of the BAR last took (or re-took) the ICMD semaphore: its next read answers
    /// the semaphore's value, later reads the ICMD ctrl.
    bar_sem_echo: bool,
}

impl Spaces {
    /// Spaces with an ICMD interface for a device whose 0xf0014 reads `hw_id_reg`.
    pub fn with_icmd(hw_id_reg: u32) -> Spaces {
        Spaces {
            sparse: HashMap::new(),
            icmd: Some(super::icmd::Icmd::new(hw_id_reg)),
            hcr: None,
            bar_icmd: false,
            bar_sem_echo: false,
        }
    }

    /// Serve the ICMD interface on the memory path too ([`Self::bar_read`]) for a device
    /// whose 0xf0014 reads `hw_id_reg`, when it is an ICMD chip (one with a "static
    /// configuration not done" bit).
    pub fn with_bar_icmd(mut self, hw_id_reg: u32) -> Spaces {
        self.bar_icmd =
            self.icmd.is_some() && super::icmd::static_cfg_not_done_addr(hw_id_reg).is_some();
        self
    }

    /// BAR pages (offsets) whose accesses must reach [`Self::bar_read`] /
    /// [`Self::bar_write`] one by one; empty when the memory path is plain crspace.
    pub fn bar_trap_pages(&self) -> &'static [u32] {
        if self.bar_icmd {
            &super::icmd::BAR_ICMD_PAGES
        } else {
            &[]
        }
    }

    /// A dword read through the memory path (BAR offset < 64 MiB). With ICMD on the BAR, the
    /// ICMD interface's dwords sit at the addresses both libraries use there (the VCR layout
    /// of [`super::icmd`], spaces ignored): ctrl and the ICMD semaphore share dword 0 —
    /// after a write that takes the semaphore, the next read answers the semaphore's value
    /// (the taker checks it), later reads the ctrl; 0x1000 the mailbox size, 0x1008 the
    /// syndrome, 0x100000.. the mailbox. One model: the VSEC ICMD space and semaphore space
    /// see the same state. Other dwords: crspace.
    pub fn bar_read(&mut self, cr: &CrStore, addr: u32) -> u32 {
        let addr = addr & !3;
        if self.bar_icmd {
            if addr == super::icmd::ICMD_CTRL && self.bar_sem_echo {
                self.bar_sem_echo = false;
                return self.sem_value();
            }
            if super::icmd::on_bar(addr) {
                if let Some(v) = self.icmd.as_mut().and_then(|i| i.read(addr)) {
                    return v;
                }
            }
        }
        self.cr_read(cr, addr)
    }

    /// A dword write through the memory path (see [`Self::bar_read`]). On dword 0: 0 frees
    /// the ICMD semaphore; a non-zero value takes a free semaphore (or re-takes it with the
    /// holder's id); any other value is a ctrl write (the busy bit runs the command).
    pub fn bar_write(&mut self, cr: &CrStore, addr: u32, value: u32) {
        let addr = addr & !3;
        if self.bar_icmd && super::icmd::on_bar(addr) {
            if addr == super::icmd::ICMD_CTRL {
                let sem = self.sem_value();
                if value == 0 {
                    self.write(cr, AS_SEMAPHORE, 0, 0);
                    self.bar_sem_echo = false;
                    return;
                }
                if sem == 0 || sem == value {
                    self.write(cr, AS_SEMAPHORE, 0, value);
                    self.bar_sem_echo = true;
                    return;
                }
                self.bar_sem_echo = false;
            }
            if let Some(i) = self.icmd.as_mut() {
                i.write(addr, value);
            }
            return;
        }
        self.cr_write(cr, addr, value)
    }

    /// Current value of the ICMD semaphore (AS_SEMAPHORE dword 0) without taking it.
    fn sem_value(&self) -> u32 {
        self.sparse.get(&(AS_SEMAPHORE, 0)).copied().unwrap_or(0)
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

    /// ICMD through the BAR as the libraries drive it: semaphore and ctrl in dword 0, one
    /// model with the VSEC spaces.
    #[test]
    fn bar_icmd_sequence() {
        use super::super::icmd::*;
        let cr = CrStore::anonymous();
        cr.write(0x1000, 0xdac5_75c6);
        cr.write(0x4, 0x1234);
        let mut s = Spaces::with_icmd(0x20d);
        assert_eq!(
            s.bar_read(&cr, 0x1000),
            0xdac5_75c6,
            "plain crspace without"
        );
        assert!(s.bar_trap_pages().is_empty());
        assert!(Spaces::with_icmd(0x1f5)
            .with_bar_icmd(0x1f5)
            .bar_trap_pages()
            .is_empty());
        let mut s = s.with_bar_icmd(0x20d);
        assert_eq!(s.bar_trap_pages(), &[0x0, 0x1000, 0x10_0000]);
        assert_eq!(s.bar_read(&cr, ICMD_MBOX_SIZE_ADDR), 0x340);
        assert_eq!(s.bar_read(&cr, 0x4), 0x1234, "other dwords are crspace");
        // Take: write the id, read it back.
        s.bar_write(&cr, 0, 4321);
        assert_eq!(s.bar_read(&cr, 0), 4321);
        assert_eq!(s.sem_value(), 4321, "same semaphore as the VSEC's");
        // The ctrl: opcode, then go.
        let ctrl = s.bar_read(&cr, 0);
        assert_eq!(ctrl & 1, 0);
        s.bar_write(&cr, 0, 0x1234 << 16 | (ctrl & 0xffff));
        assert_eq!(s.bar_read(&cr, 0) & 1, 0, "not busy before go");
        s.bar_write(&cr, ICMD_MAILBOX, 0xabcd);
        assert_eq!(s.read(&cr, AS_ICMD, ICMD_MAILBOX), 0xabcd, "same mailbox");
        s.bar_write(&cr, 0, 0x1234 << 16 | 1);
        let c = s.bar_read(&cr, 0);
        assert_eq!(c & 1, 0);
        assert_eq!((c >> 8) & 0xff, 1, "invalid opcode");
        assert_eq!(s.read(&cr, AS_ICMD, ICMD_CTRL), c, "same ctrl");
        // Release.
        s.bar_write(&cr, 0, 0);
        assert_eq!(s.sem_value(), 0, "released");
        // Held through the VSEC: the BAR take fails (reads the ctrl, not its id).
        s.write(&cr, AS_SEMAPHORE, 0, 77);
        s.bar_write(&cr, 0, 0x9001 << 16);
        assert_ne!(
            s.bar_read(&cr, 0),
            0x9001 << 16,
            "not taken: the ctrl answers"
        );
        assert_eq!(s.sem_value(), 77);
        assert_eq!(
            s.bar_read(&cr, 0x10_0400),
            cr.read(0x10_0400),
            "past the mailbox"
        );
    }
}
