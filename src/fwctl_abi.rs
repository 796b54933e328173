//! The types and numbers of `fwctrl_ioctl.h` (mstflint v4.36): the Linux fwctl character
//! device's ioctl structures (`/dev/fwctl/fwctlN`) and the mlx5 user-memory buffer of
//! `mfile.umem_buff`. Layouts are the kernel uAPI's (x86_64), checked at compile time.
//! tools/genheaders writes them into `fwctrl_ioctl.h`.
// Some numbers are there only for the header (tools/genheaders reads this file).
#![allow(non_camel_case_types, dead_code)]

use std::mem::{offset_of, size_of};
use std::os::raw::c_void;

/// `FWCTL_METHOD_READ` / `FWCTL_METHOD_WRITE`: register-access direction of the fwctl path.
pub const FWCTL_METHOD_READ: u32 = 1;
pub const FWCTL_METHOD_WRITE: u32 = 0;
/// Environment variable that turns on the fwctl path's debug prints.
pub const FWCTL_ENV_VAR_DEBUG: &str = "FWCTL_DEBUG";

/// ioctl type of the fwctl device.
pub const FWCTL_TYPE: u32 = 0x9a;

/// fwctl command numbers (`_IO(FWCTL_TYPE, n)`).
pub const FWCTL_CMD_BASE: u32 = 0;
pub const FWCTL_CMD_INFO: u32 = 0;
pub const FWCTL_CMD_RPC: u32 = 1;
pub const FWCTL_CMD_RSC_DESTROY: u32 = 2;
pub const FWCTL_CMD_RSC_UMEM_REG: u32 = 3;

/// The fwctl ioctl request numbers: `_IO(FWCTL_TYPE, FWCTL_CMD_*)` (no direction or size bits).
pub const FWCTL_INFO: u32 = (FWCTL_TYPE << 8) | FWCTL_CMD_INFO;
pub const FWCTL_RPC: u32 = (FWCTL_TYPE << 8) | FWCTL_CMD_RPC;
pub const FWCTL_RSC_DESTROY: u32 = (FWCTL_TYPE << 8) | FWCTL_CMD_RSC_DESTROY;
pub const FWCTL_RSC_UMEM_REG: u32 = (FWCTL_TYPE << 8) | FWCTL_CMD_RSC_UMEM_REG;

/// `enum fwctl_device_type` (`fwctl_info.out_device_type`).
pub type fwctl_device_type = u32;
pub const FWCTL_DEVICE_TYPE_ERROR: fwctl_device_type = 0;
pub const FWCTL_DEVICE_TYPE_MLX5: fwctl_device_type = 1;

/// `enum fwctl_rpc_scope` (`fwctl_rpc.scope`).
pub type fwctl_rpc_scope = u32;
pub const FWCTL_RPC_CONFIGURATION: fwctl_rpc_scope = 0;
pub const FWCTL_RPC_DEBUG_READ_ONLY: fwctl_rpc_scope = 1;
pub const FWCTL_RPC_DEBUG_WRITE: fwctl_rpc_scope = 2;
pub const FWCTL_RPC_DEBUG_WRITE_FULL: fwctl_rpc_scope = 3;

/// `enum fwctl_umem_flags` (`fwctl_rsc_umem_reg.flags`).
pub type fwctl_umem_flags = u32;
/// Create a memory key.
pub const FWCTL_UMEM_FLAG_MKEY: fwctl_umem_flags = 1;
/// Create a memory key with DMA Device Direct.
pub const FWCTL_UMEM_FLAG_MCDD: fwctl_umem_flags = 2;

/// `struct fwctl_info`, the argument of `FWCTL_INFO`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct fwctl_info {
    /// sizeof(struct fwctl_info)
    pub size: u32,
    /// Must be 0.
    pub flags: u32,
    /// A `fwctl_device_type`.
    pub out_device_type: u32,
    /// In: size of the buffer at `out_device_data`; out: the kernel's size.
    pub device_data_len: u32,
    /// User address of the device-data buffer.
    pub out_device_data: u64,
}

/// `struct fwctl_rpc`, the argument of `FWCTL_RPC`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct fwctl_rpc {
    /// sizeof(struct fwctl_rpc)
    pub size: u32,
    /// A `fwctl_rpc_scope`.
    pub scope: u32,
    pub in_len: u32,
    pub out_len: u32,
    /// User address of the request.
    pub r#in: u64,
    /// User address of the response buffer.
    pub out: u64,
}

/// `struct mlx5_umem_buff`: a user buffer registered with the device (`mfile.umem_buff`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mlx5_umem_buff {
    pub buff: *mut c_void,
    pub size: usize,
    pub umem_id: u32,
    pub umem_mkey: u32,
    pub rsc_id: u32,
}

/// `struct fwctl_rsc_umem_reg`, the argument of `FWCTL_RSC_UMEM_REG`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct fwctl_rsc_umem_reg {
    pub size: u32,
    pub flags: u64,
    /// User address of the buffer.
    pub addr: u64,
    /// Length of the buffer.
    pub len: u64,
    /// Out: the device's umem id.
    pub umem_id: u32,
    /// Out: the device's memory key.
    pub mkey_id: u32,
    /// Out: the fwctl resource id.
    pub rsc_id: u32,
}

/// `struct fwctl_rsc_destroy`, the argument of `FWCTL_RSC_DESTROY`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct fwctl_rsc_destroy {
    pub size: u32,
    pub flags: u64,
    pub r#type: u32,
    /// The fwctl resource id.
    pub rsc_id: u32,
}

macro_rules! check_offsets {
    ($t:ty, $size:expr; $($field:ident @ $off:expr),* $(,)?) => {
        const _: () = assert!(size_of::<$t>() == $size);
        $( const _: () = assert!(offset_of!($t, $field) == $off); )*
    };
}

check_offsets!(fwctl_info, 24; size @ 0, flags @ 4, out_device_type @ 8, device_data_len @ 12,
    out_device_data @ 16);
check_offsets!(fwctl_rpc, 32; size @ 0, scope @ 4, in_len @ 8, out_len @ 12, r#in @ 16, out @ 24);
check_offsets!(mlx5_umem_buff, 32; buff @ 0, size @ 8, umem_id @ 16, umem_mkey @ 20, rsc_id @ 24);
check_offsets!(fwctl_rsc_umem_reg, 48; size @ 0, flags @ 8, addr @ 16, len @ 24, umem_id @ 32,
    mkey_id @ 36, rsc_id @ 40);
check_offsets!(fwctl_rsc_destroy, 24; size @ 0, flags @ 8, r#type @ 16, rsc_id @ 20);
const _: () = assert!(FWCTL_INFO == 0x9a00 && FWCTL_RPC == 0x9a01);
const _: () = assert!(FWCTL_RSC_DESTROY == 0x9a02 && FWCTL_RSC_UMEM_REG == 0x9a03);
