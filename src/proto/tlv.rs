//! The TLVs in front of a register in an access-register mailbox (`packets_layout.h`), and
//! the SMP semaphore-lock command (`mtcr_ib_res_mgt.c`), as plain structs with their packed
//! big-endian layouts ([`crate::proto::packets`] bit numbering).
//!
//! Operation TLV, 16 bytes:
//! `Type` bits 0..5, `len` 5..16 (dwords), `dr` 16, `status` 17..24, `reserved0` 24..32,
//! `register_id` 32..48, `r` 48, `method` 49..56, `class` 56..64, `tid` 64..128 (in host
//! byte order, as upstream's library stores it: [`crate::proto::packets::push64`]).
//! Register TLV header, 4 bytes: `Type` 0..5, `len` 5..16 (dwords, header included),
//! `reserved0` 16..32.

use crate::proto::packets::{pop, pop32, pop64, push, push32, push64};

/// ICMD opcode of the access-register command (`FLASH_REG_ACCESS`), as a u16 opcode.
pub(crate) const REG_ACCESS_OPCODE: u16 = crate::defs::FLASH_REG_ACCESS as u16;
/// Operation TLV (16 bytes) + register TLV header (4 bytes) in front of a register
/// (`REGISTER_HEADERS_SIZE`).
pub(crate) const REG_HEADERS: usize = crate::defs::REGISTER_HEADERS_SIZE as usize;

/// TLV types.
pub(crate) const TLV_OPERATION: u8 = 1;
pub(crate) const TLV_REG: u8 = 3;
/// Operation TLV size in dwords / bytes; register TLV header size in bytes.
pub(crate) const TLV_OPERATION_SIZE_DWORDS: u16 = 4;
pub(crate) const TLV_OPERATION_SIZE_BYTES: usize = 16;
pub(crate) const REG_TLV_HEADER_SIZE_BYTES: usize = 4;
/// `MAD_CLASS_1_REG_ACCESS`: the class of an access-register operation TLV.
pub(crate) const MAD_CLASS_1_REG_ACCESS: u8 = 1;

/// The fields of an operation TLV.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct OperationTlv {
    pub reserved0: u8,
    pub status: u8,
    pub dr: u8,
    pub len: u16,
    pub tlv_type: u8,
    pub tlv_class: u8,
    pub method: u8,
    pub r: u8,
    pub register_id: u16,
    pub tid: u64,
}

impl OperationTlv {
    /// An access-register operation for `reg_id` with `method` (`init_operation_tlv`).
    pub(crate) fn new(reg_id: u16, method: u8) -> Self {
        OperationTlv {
            tlv_type: TLV_OPERATION,
            tlv_class: MAD_CLASS_1_REG_ACCESS,
            len: TLV_OPERATION_SIZE_DWORDS,
            method,
            register_id: reg_id,
            ..Default::default()
        }
    }

    /// Write the 16 packed bytes into `buf[..16]`; returns 16. Fields wider than their slot
    /// are truncated to it.
    pub(crate) fn pack(&self, buf: &mut [u8]) -> u32 {
        push(buf, 24, 8, self.reserved0.into());
        push(buf, 17, 7, self.status.into());
        push(buf, 16, 1, self.dr.into());
        push(buf, 5, 11, self.len.into());
        push(buf, 0, 5, self.tlv_type.into());
        push(buf, 56, 8, self.tlv_class.into());
        push(buf, 49, 7, self.method.into());
        push(buf, 48, 1, self.r.into());
        push(buf, 32, 16, self.register_id.into());
        push64(buf, 64, self.tid);
        TLV_OPERATION_SIZE_BYTES as u32
    }

    /// Read the fields from `buf[..16]`.
    pub(crate) fn unpack(buf: &[u8]) -> Self {
        OperationTlv {
            reserved0: pop(buf, 24, 8) as u8,
            status: pop(buf, 17, 7) as u8,
            dr: pop(buf, 16, 1) as u8,
            len: pop(buf, 5, 11) as u16,
            tlv_type: pop(buf, 0, 5) as u8,
            tlv_class: pop(buf, 56, 8) as u8,
            method: pop(buf, 49, 7) as u8,
            r: pop(buf, 48, 1) as u8,
            register_id: pop(buf, 32, 16) as u16,
            tid: pop64(buf, 64),
        }
    }

    /// The `OperationTlv_dump` text: one `OperationTlv::<field>: <decimal>` line per field.
    pub(crate) fn dump(&self) -> String {
        format!(
            "OperationTlv::reserved0: {}\nOperationTlv::status: {}\nOperationTlv::dr: {}\n\
             OperationTlv::len: {}\nOperationTlv::Type: {}\nOperationTlv::class: {}\n\
             OperationTlv::method: {}\nOperationTlv::r: {}\nOperationTlv::register_id: {}\n\
             OperationTlv::tid: {}\n",
            self.reserved0,
            self.status,
            self.dr,
            self.len,
            self.tlv_type,
            self.tlv_class,
            self.method,
            self.r,
            self.register_id,
            self.tid
        )
    }
}

/// The fields of a register TLV header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RegTlv {
    pub reserved0: u16,
    pub len: u16,
    pub tlv_type: u8,
}

impl RegTlv {
    /// The header of a register of `reg_size` bytes (`init_reg_tlv`): length in dwords,
    /// header included, rounded down; the arithmetic wraps as the stock 32-bit code does.
    pub(crate) fn new(reg_size: u32) -> Self {
        RegTlv {
            reserved0: 0,
            len: (reg_size.wrapping_add(REG_TLV_HEADER_SIZE_BYTES as u32) >> 2) as u16,
            tlv_type: TLV_REG,
        }
    }

    /// Write the 4 packed bytes into `buf[..4]`; returns 4.
    pub(crate) fn pack(&self, buf: &mut [u8]) -> u32 {
        push(buf, 16, 16, self.reserved0.into());
        push(buf, 5, 11, self.len.into());
        push(buf, 0, 5, self.tlv_type.into());
        REG_TLV_HEADER_SIZE_BYTES as u32
    }

    /// Read the fields from `buf[..4]`.
    pub(crate) fn unpack(buf: &[u8]) -> Self {
        RegTlv {
            reserved0: pop(buf, 16, 16) as u16,
            len: pop(buf, 5, 11) as u16,
            tlv_type: pop(buf, 0, 5) as u8,
        }
    }

    /// The `reg_tlv_dump` text.
    pub(crate) fn dump(&self) -> String {
        format!(
            "reg_tlv::reserved0: {}\nreg_tlv::len: {}\nreg_tlv::Type: {}\n",
            self.reserved0, self.len, self.tlv_type
        )
    }
}

/// The SMP semaphore-lock command (attribute `SMP_SEMAPHOE_LOCK_CMD`), 12 bytes:
/// `is_lease` bit 0, `lease_time_exponent` 8..16, `semaphore_max_addr` 24..32,
/// `op` 46..48, `semaphore_addr` 48..64, `lock_key` 64..96.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SemaphoreLockCmd {
    pub semaphore_max_addr: u8,
    pub lease_time_exponent: u8,
    pub is_lease: u8,
    pub semaphore_addr: u16,
    pub op: u8,
    pub lock_key: u32,
}

/// Packed size of [`SemaphoreLockCmd`].
pub(crate) const SEMAPHORE_LOCK_CMD_SIZE: usize = 12;

impl SemaphoreLockCmd {
    /// Write the packed command into `buf[..12]`.
    pub(crate) fn pack(&self, buf: &mut [u8]) {
        push(buf, 24, 8, self.semaphore_max_addr.into());
        push(buf, 8, 8, self.lease_time_exponent.into());
        push(buf, 0, 1, self.is_lease.into());
        push(buf, 48, 16, self.semaphore_addr.into());
        push(buf, 46, 2, self.op.into());
        push32(buf, 64, self.lock_key);
    }

    /// Read the command from `buf[..12]`.
    pub(crate) fn unpack(buf: &[u8]) -> Self {
        SemaphoreLockCmd {
            semaphore_max_addr: pop(buf, 24, 8) as u8,
            lease_time_exponent: pop(buf, 8, 8) as u8,
            is_lease: pop(buf, 0, 1) as u8,
            semaphore_addr: pop(buf, 48, 16) as u16,
            op: pop(buf, 46, 2) as u8,
            lock_key: pop32(buf, 64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_tlv_layout() {
        let op = OperationTlv::new(0x9020, 1);
        let mut b = [0u8; 16];
        assert_eq!(op.pack(&mut b), 16);
        // the same bytes as the access-register mailbox the library sends
        let mbox = crate::proto::reg_access::build_mailbox(0x9020, 1, &[0; 4]);
        assert_eq!(&b[..], &mbox[..16]);
        assert_eq!(b[..8], [0x08, 0x04, 0x00, 0x00, 0x90, 0x20, 0x01, 0x01]);
        assert_eq!(OperationTlv::unpack(&b), op);

        let all = OperationTlv {
            reserved0: 0xa5,
            status: 0x7f,
            dr: 1,
            len: 0x7ff,
            tlv_type: 0x1f,
            tlv_class: 0xc3,
            method: 0x55,
            r: 1,
            register_id: 0xbeef,
            tid: 0x0102030405060708,
        };
        all.pack(&mut b);
        assert_eq!(b[..8], [0xff, 0xff, 0xff, 0xa5, 0xbe, 0xef, 0xd5, 0xc3]);
        assert_eq!(b[8..], 0x0102030405060708u64.to_ne_bytes());
        assert_eq!(OperationTlv::unpack(&b), all);
        let out = OperationTlv {
            status: 0x80,
            ..Default::default()
        };
        out.pack(&mut b);
        assert_eq!(OperationTlv::unpack(&b).status, 0);
        assert!(all
            .dump()
            .starts_with("OperationTlv::reserved0: 165\nOperationTlv::status: 127\n"));
        assert!(all
            .dump()
            .ends_with("OperationTlv::tid: 72623859790382856\n"));
    }

    #[test]
    fn reg_tlv_layout() {
        let r = RegTlv::new(8);
        assert_eq!(r.len, 3);
        let mut b = [0u8; 4];
        assert_eq!(r.pack(&mut b), 4);
        assert_eq!(b, [0x18, 0x03, 0x00, 0x00]);
        let mbox = crate::proto::reg_access::build_mailbox(0x9020, 1, &[0; 8]);
        assert_eq!(&b[..], &mbox[16..20]);
        assert_eq!(RegTlv::unpack(&b), r);
        assert_eq!(RegTlv::new(6).len, 2); // rounded down
        let r = RegTlv {
            reserved0: 0x1234,
            len: 0x7ff,
            tlv_type: 0x1f,
        };
        r.pack(&mut b);
        assert_eq!(b, [0xff, 0xff, 0x12, 0x34]);
        assert_eq!(RegTlv::unpack(&b), r);
        assert_eq!(
            r.dump(),
            "reg_tlv::reserved0: 4660\nreg_tlv::len: 2047\nreg_tlv::Type: 31\n"
        );
    }

    #[test]
    fn semaphore_lock_cmd_layout() {
        let c = SemaphoreLockCmd {
            semaphore_max_addr: 0x11,
            lease_time_exponent: 0x22,
            is_lease: 1,
            semaphore_addr: 0x3344,
            op: 3,
            lock_key: 0xdeadbeef,
        };
        let mut b = [0u8; SEMAPHORE_LOCK_CMD_SIZE];
        c.pack(&mut b);
        assert_eq!(
            b,
            [0x80, 0x22, 0x00, 0x11, 0x00, 0x03, 0x33, 0x44, 0xde, 0xad, 0xbe, 0xef]
        );
        assert_eq!(SemaphoreLockCmd::unpack(&b), c);
    }
}
