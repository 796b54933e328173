//! The tools HCR of a ConnectX-3-family device (config `tools_hcr = true`), in crspace:
//!
//! * HCR, 7 dwords at 0x80780: in_param high / low, input_modifier, out_param high / low,
//!   token, command dword (opcode 11:0, opcode_modifier 15:12, e 22, go 23, status 31:24).
//!   Writing the command dword with go set runs the command at once; go then stays set for
//!   `busy_polls` more reads of the command dword (sim knob). While go is set, writes to the
//!   HCR are ignored.
//! * Tools semaphore at 0xf03bc: reading 0 takes it (the read returns 0, later reads 1);
//!   writing 0 frees it; writing another value takes it only when free.
//! * Mailbox of 288 bytes (72 dwords, host values of big-endian dwords): MBOX_WRITE (0x70)
//!   stores in_param low at dword `input_modifier` and in_param high at the next one;
//!   MBOX_READ (0x71) returns them the same way in out_param. The offset must be even and
//!   inside the mailbox (else status 3).
//! * ACCESS_REGISTER (0x3b) runs [`Registers::access`] on the mailbox (input_modifier 0) or,
//!   with `tools_hcr_cr_mbox = true`, on the CR mailbox at crspace 0xe0000 (input_modifier 1).
//!   Without a CR mailbox, writes to 0xe0000..0xe0120 are dropped (they read 0), so
//!   `tools_cmdif_is_cr_mbox_supported` sees no mailbox there.
//! * NOP (0x31) completes with status 0. Any other opcode: status 2 (bad opcode).
//!
//! Sim-only knobs (not on real hardware), crspace dwords: 0x807a0 = busy polls per command
//! (0xffffffff: go never clears), 0x807a4 = status the next command ends with (one shot;
//! 0 = none).
//!
//! Only accesses that reach the model see this behaviour (config-space gateways, in-kernel
//! accessors); stores through a `resource0` mapping go straight to the store, so clients use
//! the config path for the HCR, as mstflint does (`mpci_change`).

use super::crstore::CrStore;
use super::registers::Registers;

pub const HCR_ADDR: u32 = 0x80780;
pub const HCR_CMD: u32 = HCR_ADDR + 0x18;
pub const HCR_SEM: u32 = 0xf03bc;
pub const HCR_CR_MBOX: u32 = 0xe0000;
pub const HCR_MBOX_BYTES: u32 = 288;
pub const HCR_KNOB_BUSY_POLLS: u32 = 0x807a0;
pub const HCR_KNOB_STATUS: u32 = 0x807a4;

pub const HCR_OP_NOP: u32 = 0x31;
pub const HCR_OP_ACCESS_REG: u32 = 0x3b;
pub const HCR_OP_MBOX_WRITE: u32 = 0x70;
pub const HCR_OP_MBOX_READ: u32 = 0x71;

pub const HCR_STATUS_BAD_OP: u32 = 2;
pub const HCR_STATUS_BAD_PARAM: u32 = 3;

const GO: u32 = 1 << 23;
const MBOX_DWORDS: usize = (HCR_MBOX_BYTES / 4) as usize;

pub(crate) struct Hcr {
    cr_mbox: bool,
    mbox: Vec<u32>,
    busy_polls: u32,
    busy_left: u32,
    next_status: u32,
    regs: Registers,
}

fn in_cr_mbox(addr: u32) -> bool {
    (HCR_CR_MBOX..HCR_CR_MBOX + HCR_MBOX_BYTES).contains(&addr)
}

impl Hcr {
    pub fn new(hw_id_reg: u32, cr_mbox: bool) -> Hcr {
        Hcr {
            cr_mbox,
            mbox: vec![0; MBOX_DWORDS],
            busy_polls: 0,
            busy_left: 0,
            next_status: 0,
            regs: Registers::new(hw_id_reg),
        }
    }

    /// Idle HCR, free semaphore, zeroed CR mailbox after the seed pattern filled crspace.
    pub fn prepare(cr: &CrStore) {
        for a in (HCR_ADDR..HCR_ADDR + 0x1c).step_by(4) {
            cr.write(a, 0);
        }
        cr.write(HCR_SEM, 0);
        for a in (HCR_CR_MBOX..HCR_CR_MBOX + HCR_MBOX_BYTES).step_by(4) {
            cr.write(a, 0);
        }
    }

    /// A crspace read (`addr` dword aligned) through the model; `None` when the store answers.
    pub fn read(&mut self, cr: &CrStore, addr: u32) -> Option<u32> {
        match addr {
            HCR_SEM => {
                let v = cr.read(HCR_SEM);
                if v == 0 {
                    cr.write(HCR_SEM, 1);
                }
                Some(v)
            }
            HCR_CMD => {
                let v = cr.read(HCR_CMD);
                if self.busy_left > 0 && self.busy_left != u32::MAX {
                    self.busy_left -= 1;
                    if self.busy_left == 0 {
                        cr.write(HCR_CMD, v & !GO);
                    }
                }
                Some(v)
            }
            HCR_KNOB_BUSY_POLLS => Some(self.busy_polls),
            HCR_KNOB_STATUS => Some(self.next_status),
            _ => None,
        }
    }

    /// A crspace write through the model; `false` when the store takes it as is.
    pub fn write(&mut self, cr: &CrStore, addr: u32, value: u32) -> bool {
        match addr {
            HCR_SEM => {
                if value == 0 || cr.read(HCR_SEM) == 0 {
                    cr.write(HCR_SEM, value);
                }
            }
            HCR_KNOB_BUSY_POLLS => {
                self.busy_polls = value;
                if self.busy_left == u32::MAX && value != u32::MAX {
                    self.busy_left = 0;
                    cr.write(HCR_CMD, cr.read(HCR_CMD) & !GO);
                }
            }
            HCR_KNOB_STATUS => self.next_status = value & 0xff,
            a if (HCR_ADDR..HCR_CMD).contains(&a) => {
                if !self.busy() {
                    cr.write(a, value);
                }
            }
            HCR_CMD => {
                if !self.busy() {
                    cr.write(HCR_CMD, value & !GO);
                    if value & GO != 0 {
                        self.execute(cr, value);
                    }
                }
            }
            a if in_cr_mbox(a) => {
                if self.cr_mbox {
                    cr.write(a, value);
                }
            }
            _ => return false,
        }
        true
    }

    fn busy(&self) -> bool {
        self.busy_left > 0
    }

    fn execute(&mut self, cr: &CrStore, cmd: u32) {
        let in_h = cr.read(HCR_ADDR);
        let in_l = cr.read(HCR_ADDR + 4);
        let modifier = cr.read(HCR_ADDR + 8);
        let mut out = (0u32, 0u32);
        let status = if self.next_status != 0 {
            std::mem::take(&mut self.next_status)
        } else {
            self.run(cr, cmd & 0xfff, modifier, (in_h, in_l), &mut out)
        };
        cr.write(HCR_ADDR + 0xc, out.0);
        cr.write(HCR_ADDR + 0x10, out.1);
        self.busy_left = self.busy_polls;
        let go = if self.busy() { GO } else { 0 };
        cr.write(
            HCR_CMD,
            (cmd & 0x00ff_ffff & !GO) | go | (status & 0xff) << 24,
        );
    }

    /// Run `opcode`; returns the status; `out` = (out_param high, out_param low).
    fn run(
        &mut self,
        cr: &CrStore,
        opcode: u32,
        modifier: u32,
        (in_h, in_l): (u32, u32),
        out: &mut (u32, u32),
    ) -> u32 {
        match opcode {
            HCR_OP_NOP => 0,
            HCR_OP_MBOX_WRITE | HCR_OP_MBOX_READ => {
                let i = modifier as usize;
                if !i.is_multiple_of(2) || i + 2 > MBOX_DWORDS {
                    return HCR_STATUS_BAD_PARAM;
                }
                if opcode == HCR_OP_MBOX_WRITE {
                    self.mbox[i] = in_l;
                    self.mbox[i + 1] = in_h;
                } else {
                    *out = (self.mbox[i + 1], self.mbox[i]);
                }
                0
            }
            HCR_OP_ACCESS_REG => match modifier {
                0 => self.access_reg_status(None),
                1 if self.cr_mbox => {
                    let mut m: Vec<u32> = (0..MBOX_DWORDS as u32)
                        .map(|i| cr.read(HCR_CR_MBOX + 4 * i))
                        .collect();
                    let st = self.access_reg_status(Some(&mut m));
                    for (i, v) in m.iter().enumerate() {
                        cr.write(HCR_CR_MBOX + 4 * i as u32, *v);
                    }
                    st
                }
                _ => HCR_STATUS_BAD_PARAM,
            },
            _ => HCR_STATUS_BAD_OP,
        }
    }

    /// ACCESS_REGISTER on `m` (or the internal mailbox); the register status is in the TLV.
    fn access_reg_status(&mut self, m: Option<&mut Vec<u32>>) -> u32 {
        let m = match m {
            Some(m) => m,
            None => &mut self.mbox,
        };
        match self.regs.access(m) {
            0 => 0,
            _ => HCR_STATUS_BAD_PARAM,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(h: &mut Hcr, cr: &CrStore, op: u32, modifier: u32, in_param: u64) -> (u64, u32) {
        assert!(h.write(cr, HCR_ADDR, (in_param >> 32) as u32));
        assert!(h.write(cr, HCR_ADDR + 4, in_param as u32));
        assert!(h.write(cr, HCR_ADDR + 8, modifier));
        assert!(h.write(cr, HCR_CMD, op));
        assert!(h.write(cr, HCR_CMD, op | GO));
        let c = h.read(cr, HCR_CMD).unwrap();
        assert_eq!(c & GO, 0);
        let out = u64::from(cr.read(HCR_ADDR + 0xc)) << 32 | u64::from(cr.read(HCR_ADDR + 0x10));
        (out, c >> 24)
    }

    #[test]
    fn semaphore_locks_on_read() {
        let cr = CrStore::anonymous();
        Hcr::prepare(&cr);
        let mut h = Hcr::new(0x1f5, false);
        assert_eq!(h.read(&cr, HCR_SEM), Some(0));
        assert_eq!(h.read(&cr, HCR_SEM), Some(1));
        h.write(&cr, HCR_SEM, 7);
        assert_eq!(h.read(&cr, HCR_SEM), Some(1), "taken: other value ignored");
        h.write(&cr, HCR_SEM, 0);
        assert_eq!(h.read(&cr, HCR_SEM), Some(0));
    }

    #[test]
    fn mailbox_commands_and_statuses() {
        let cr = CrStore::anonymous();
        Hcr::prepare(&cr);
        let mut h = Hcr::new(0x1f5, false);
        assert_eq!(
            issue(&mut h, &cr, HCR_OP_MBOX_WRITE, 4, 0x1111_2222_3333_4444).1,
            0
        );
        assert_eq!(h.mbox[4..6], [0x3333_4444, 0x1111_2222]);
        assert_eq!(
            issue(&mut h, &cr, HCR_OP_MBOX_READ, 4, 0),
            (0x1111_2222_3333_4444, 0)
        );
        assert_eq!(
            issue(&mut h, &cr, HCR_OP_MBOX_READ, 3, 0).1,
            3,
            "odd offset"
        );
        assert_eq!(
            issue(&mut h, &cr, HCR_OP_MBOX_READ, 72, 0).1,
            3,
            "past the end"
        );
        assert_eq!(issue(&mut h, &cr, 0x123, 0, 0).1, 2, "bad opcode");
        assert_eq!(issue(&mut h, &cr, HCR_OP_NOP, 0, 0).1, 0);
        h.write(&cr, HCR_KNOB_STATUS, 9);
        assert_eq!(issue(&mut h, &cr, HCR_OP_NOP, 0, 0).1, 9, "forced status");
        assert_eq!(issue(&mut h, &cr, HCR_OP_NOP, 0, 0).1, 0, "one shot");
        assert_eq!(
            issue(&mut h, &cr, HCR_OP_ACCESS_REG, 1, 0).1,
            3,
            "no CR mailbox"
        );
        // Without a CR mailbox the region drops writes.
        assert!(h.write(&cr, HCR_CR_MBOX, 0x0bad_b00f));
        assert_eq!(cr.read(HCR_CR_MBOX), 0);
    }

    #[test]
    fn busy_polls_and_stuck_go() {
        let cr = CrStore::anonymous();
        Hcr::prepare(&cr);
        let mut h = Hcr::new(0x1f5, true);
        h.write(&cr, HCR_KNOB_BUSY_POLLS, 2);
        h.write(&cr, HCR_CMD, HCR_OP_NOP | GO);
        assert_ne!(h.read(&cr, HCR_CMD).unwrap() & GO, 0);
        h.write(&cr, HCR_ADDR, 0x55);
        assert_eq!(cr.read(HCR_ADDR), 0, "ignored while busy");
        assert_ne!(h.read(&cr, HCR_CMD).unwrap() & GO, 0);
        assert_eq!(h.read(&cr, HCR_CMD).unwrap() & GO, 0);
        h.write(&cr, HCR_KNOB_BUSY_POLLS, u32::MAX);
        h.write(&cr, HCR_CMD, HCR_OP_NOP | GO);
        for _ in 0..100 {
            assert_ne!(h.read(&cr, HCR_CMD).unwrap() & GO, 0);
        }
        h.write(&cr, HCR_KNOB_BUSY_POLLS, 0);
        assert_eq!(h.read(&cr, HCR_CMD).unwrap() & GO, 0, "unstuck");
    }

    #[test]
    fn access_register_through_both_mailboxes() {
        let cr = CrStore::anonymous();
        Hcr::prepare(&cr);
        let mut h = Hcr::new(0x0001_01f5, true);
        // MGIR GET: operation TLV, register TLV header (41 dwords), 160 bytes.
        let mut m = vec![0u32; MBOX_DWORDS];
        m[0] = 1 << 27 | 4 << 16;
        m[1] = 0x9020 << 16 | 1 << 8 | 1;
        m[4] = 3 << 27 | 41 << 16;
        for (i, v) in m.iter().enumerate() {
            h.write(&cr, HCR_CR_MBOX + 4 * i as u32, *v);
        }
        assert_eq!(issue(&mut h, &cr, HCR_OP_ACCESS_REG, 1, 0).1, 0);
        assert_eq!((cr.read(HCR_CR_MBOX) >> 8) & 0x7f, 0, "register status");
        assert_eq!(cr.read(HCR_CR_MBOX + 20) & 0xffff, 0x1f5);
        h.mbox.copy_from_slice(&m);
        assert_eq!(issue(&mut h, &cr, HCR_OP_ACCESS_REG, 0, 0).1, 0);
        assert_eq!(h.mbox[5] & 0xffff, 0x1f5);
    }
}
