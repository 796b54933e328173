//! The ICMD interface in address space AS_ICMD (3) behind the VSEC gateway ("VCR" layout):
//! ctrl @0x0 (opcode 31:16, status 15:8, exmb bit 1, busy bit 0), max mailbox size @0x1000
//! (read-only, 0x340), syndrome @0x1008, mailbox @0x100000 (0x340 bytes). The ICMD semaphore
//! is dword 0 of AS_SEMAPHORE (write your id, read it back; handled by [`super::spaces`]).
//!
//! Writing ctrl with the busy bit set while idle runs the command at once; the busy bit then
//! stays visible for `busy_polls` more ctrl reads (sim knob, to exercise polling). Opcode
//! 0x9001 (ACCESS_REGISTER) runs [`Registers::access`]; 0x8400 (QUERY_CAP) answers no
//! capabilities; any other opcode ends with status 1 (INVALID_OPCODE).
//!
//! The memory path shows the same interface at the same addresses in crspace (ctrl shared
//! with the semaphore at 0x0): [`super::spaces::Spaces::bar_read`], [`on_bar`].
//!
//! Sim-only knobs in the same space (not on real hardware; the tests set them through the
//! gateway): 0x2000 = busy polls per command (0xffffffff: stuck busy), 0x2004 = number of
//! following access-register commands that answer DEV_BUSY.

use super::crstore::CrStore;
use super::registers::Registers;

pub const ICMD_CTRL: u32 = 0x0;
pub const ICMD_MBOX_SIZE_ADDR: u32 = 0x1000;
pub const ICMD_SYNDROME_ADDR: u32 = 0x1008;
pub const ICMD_MAILBOX: u32 = 0x10_0000;
pub const ICMD_MAX_CMD_SIZE: u32 = 0x340;
pub const ICMD_KNOB_BUSY_POLLS: u32 = 0x2000;
pub const ICMD_KNOB_DEV_BUSY: u32 = 0x2004;
pub const OPCODE_ACCESS_REGISTER: u32 = 0x9001;
/// ICMD_QUERY_CAP: the general capabilities (8 bytes).
pub const OPCODE_QUERY_CAP: u32 = 0x8400;

/// BAR pages holding the ICMD dwords the memory path serves (ctrl and semaphore, mailbox
/// size and syndrome, mailbox).
pub const BAR_ICMD_PAGES: [u32; 3] = [0x0, 0x1000, ICMD_MAILBOX];

/// Whether `addr` is one of the ICMD dwords the memory path shows (not the sim knobs).
pub fn on_bar(addr: u32) -> bool {
    matches!(addr, ICMD_CTRL | ICMD_MBOX_SIZE_ADDR | ICMD_SYNDROME_ADDR)
        || (ICMD_MAILBOX..ICMD_MAILBOX + ICMD_MAX_CMD_SIZE).contains(&addr)
}

/// Crspace address whose bit 31 reads 1 while the firmware's static configuration is not
/// done (per HW id, as the stock ICMD code checks it). The model keeps it clear.
pub fn static_cfg_not_done_addr(hw_id: u32) -> Option<u32> {
    match hw_id & 0xffff {
        0x209 | 0x20b => Some(0xb0004),
        0x20d => Some(0xb5e04),
        0x20f | 0x212 | 0x214 | 0x216 | 0x218 => Some(0xb5f04),
        0x21e | 0x224 => Some(0xa0304),
        _ => None,
    }
}

/// Clear the "static configuration not done" bit after the seed pattern filled crspace.
pub fn prepare_crspace(cr: &CrStore, hw_id: u32) {
    if let Some(a) = static_cfg_not_done_addr(hw_id) {
        cr.write(a, cr.read(a) & !(1 << 31));
    }
}

pub(crate) struct Icmd {
    ctrl: u32,
    syndrome: u32,
    mailbox: Vec<u32>,
    busy_polls: u32,
    busy_left: u32,
    regs: Registers,
}

impl Icmd {
    pub fn new(hw_id_reg: u32) -> Icmd {
        Icmd {
            ctrl: 0,
            syndrome: 0,
            mailbox: vec![0; (ICMD_MAX_CMD_SIZE / 4) as usize],
            busy_polls: 0,
            busy_left: 0,
            regs: Registers::new(hw_id_reg),
        }
    }

    /// Give the access registers a flash and running firmware.
    pub fn set_firmware(&mut self, fw: super::firmware::Firmware) {
        self.regs.fw = Some(fw);
    }

    /// The firmware model behind the registers (reset / activation).
    pub fn firmware_mut(&mut self) -> Option<&mut super::firmware::Firmware> {
        self.regs.fw.as_mut()
    }

    /// ACCESS_REGISTER on a caller's mailbox with this interface's registers (fwctl).
    pub fn access_register(&mut self, mbox: &mut [u32]) -> u32 {
        self.regs.access(mbox)
    }

    fn mbox_index(addr: u32) -> Option<usize> {
        (ICMD_MAILBOX..ICMD_MAILBOX + ICMD_MAX_CMD_SIZE)
            .contains(&addr)
            .then(|| ((addr - ICMD_MAILBOX) / 4) as usize)
    }

    /// Read one dword of the ICMD space; `None` for addresses this model does not own.
    pub fn read(&mut self, addr: u32) -> Option<u32> {
        Some(match addr {
            ICMD_CTRL => {
                if self.busy_left > 0 {
                    if self.busy_left != u32::MAX {
                        self.busy_left -= 1;
                    }
                    self.ctrl | 1
                } else {
                    self.ctrl
                }
            }
            ICMD_MBOX_SIZE_ADDR => ICMD_MAX_CMD_SIZE,
            ICMD_SYNDROME_ADDR => self.syndrome,
            ICMD_KNOB_BUSY_POLLS => self.busy_polls,
            ICMD_KNOB_DEV_BUSY => self.regs.dev_busy,
            a => self.mailbox[Self::mbox_index(a)?],
        })
    }

    /// Write one dword; `false` for addresses this model does not own.
    pub fn write(&mut self, addr: u32, value: u32) -> bool {
        match addr {
            ICMD_CTRL => self.write_ctrl(value),
            ICMD_MBOX_SIZE_ADDR => {}
            ICMD_SYNDROME_ADDR => self.syndrome = value,
            ICMD_KNOB_BUSY_POLLS => {
                self.busy_polls = value;
                if value != u32::MAX && self.busy_left == u32::MAX {
                    self.busy_left = 0;
                }
            }
            ICMD_KNOB_DEV_BUSY => self.regs.dev_busy = value,
            a => match Self::mbox_index(a) {
                Some(i) => self.mailbox[i] = value,
                None => return false,
            },
        }
        true
    }

    fn write_ctrl(&mut self, value: u32) {
        if self.busy_left > 0 {
            // Busy: the firmware ignores the host.
            return;
        }
        // The host owns opcode (31:16) and exmb (bit 1); status (15:8) is the device's.
        self.ctrl = (value & 0xffff_0002) | (self.ctrl & 0xff00);
        if value & 1 == 0 {
            return;
        }
        let opcode = value >> 16;
        let status = if opcode == OPCODE_ACCESS_REGISTER {
            self.regs.access(&mut self.mailbox)
        } else if opcode == OPCODE_QUERY_CAP {
            // 8 bytes of capability bits, none set: no multi-host sync (mstfwreset asks),
            // no DMA ICMD, ...
            self.mailbox[..2].fill(0);
            0
        } else {
            1
        };
        self.syndrome = 0;
        self.ctrl = (self.ctrl & !0xff00) | (status & 0xff) << 8;
        self.busy_left = self.busy_polls;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_and_busy_polls() {
        let mut i = Icmd::new(0x20d);
        assert_eq!(i.read(ICMD_MBOX_SIZE_ADDR), Some(0x340));
        assert!(i.write(ICMD_KNOB_BUSY_POLLS, 2));
        i.write(ICMD_CTRL, 0x1234 << 16 | 1);
        assert_eq!(i.read(ICMD_CTRL).unwrap() & 1, 1);
        assert_eq!(i.read(ICMD_CTRL).unwrap() & 1, 1);
        let c = i.read(ICMD_CTRL).unwrap();
        assert_eq!(c & 1, 0);
        assert_eq!((c >> 8) & 0xff, 1, "invalid opcode");
        assert_eq!(i.read(0x5000), None);
        assert!(!i.write(0x5000, 1));
    }
}
