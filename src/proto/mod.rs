//! The protocols spoken over crspace: ICMD, the tools HCR, register access (PRM access
//! registers over either), and the packet / TLV layouts they carry.

pub mod icmd;
pub(crate) mod packets;
pub mod reg_access;
pub(crate) mod tlv;
pub mod tools_hcr;
