//! The public C structures of `mtcr.h`, laid out exactly as mstflint v4.36 (x86_64, LP64):
//! `mfile` (2672 bytes), `dev_info` (6208), `vf_info` (536), `struct mtcr_page_info` (144),
//! `struct icmd_params` (88). Every size and every field offset the tools read is checked at
//! compile time below (reference: mtcr_api.md §1.9).
//!
//! Differences from the stock header, all layout-neutral:
//! * `dev_info`'s anonymous union of `pci`/`usb`/`ib`/`remote` is exposed as its largest member
//!   `pci` only (the other members are not used on Linux user-space builds);
//! * the gearbox block (`gb_info`), the user page list, the MFT core object and the
//!   fw-context pointers are reserved byte areas of the stock size: nothing here uses them.
#![allow(non_camel_case_types, non_snake_case)]

use std::mem::{offset_of, size_of};
use std::os::raw::{c_char, c_int, c_uint, c_ulong, c_void};

use crate::types::{DType, MType, DEV_NAME_SZ, MAX_PAGES_SIZE};

/// `struct icmd_params`: ICMD interface state (kept zero until ICMD support lands).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct icmd_params {
    pub icmd_opened: c_int,
    pub took_semaphore: c_int,
    pub ctrl_addr: c_int,
    pub cmd_addr: c_int,
    pub cmd_ptr_bitlen: c_int,
    pub version_addr: c_int,
    pub version_bit_offset: c_int,
    pub version_bitlen: c_int,
    pub max_cmd_size: u32,
    pub semaphore_addr: c_int,
    pub static_cfg_not_done_addr: c_int,
    pub static_cfg_not_done_offs: c_int,
    pub lock_key: u32,
    pub ib_semaphore_lock_supported: c_int,
    pub dma_pa: u64,
    pub dma_size: u32,
    pub dma_icmd: c_int,
    pub icmd_ready: c_int,
    pub syndrome: c_int,
    pub syndrome_addr: c_int,
}

/// One virtual function of a `dev_info` (`dev_info.pci.virtfn_arr[i]`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vf_info_t {
    /// "DDDD:BB:DD.F"
    pub dev_name: [c_char; DEV_NAME_SZ],
    pub domain: u16,
    pub bus: u8,
    pub dev: u8,
    pub func: u8,
    /// NULL-terminated array of network interface names, or NULL.
    pub net_devs: *mut *mut c_char,
    /// NULL-terminated array of RDMA device names, or NULL.
    pub ib_devs: *mut *mut c_char,
}

/// `vf_info`
pub type vf_info = vf_info_t;

/// The PCI part of a `dev_info`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dev_info_pci {
    pub domain: u16,
    pub bus: u8,
    pub dev: u8,
    pub func: u8,
    pub dev_id: u16,
    pub vend_id: u16,
    pub class_id: u32,
    pub subsys_id: u16,
    pub subsys_vend_id: u16,
    /// "DDDD:BB:DD.F"
    pub cr_dev: [c_char; DEV_NAME_SZ],
    /// "/sys/bus/pci/devices/DDDD:BB:DD.F/config"
    pub conf_dev: [c_char; DEV_NAME_SZ],
    /// NULL-terminated array of network interface names.
    pub net_devs: *mut *mut c_char,
    /// NULL-terminated array of RDMA device names ("mlx5_0", ...).
    pub ib_devs: *mut *mut c_char,
    /// NUMA node as sysfs prints it, or "NA".
    pub numa_node: [c_char; 4096],
    /// `virtfn_count` entries, or NULL.
    pub virtfn_arr: *mut vf_info,
    pub virtfn_count: u16,
    /// fwctl node of the function ("" when none).
    pub fwctl_dev: [c_char; DEV_NAME_SZ],
}

/// One enumerated device (`mdevices_info`), also `mfile.dinfo`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dev_info_t {
    /// MDEVS_TAVOR_CR for PCI functions.
    pub r#type: u32,
    pub dev_name: [c_char; DEV_NAME_SZ],
    pub ul_mode: c_int,
    pub pci: dev_info_pci,
}

/// `dev_info`
pub type dev_info = dev_info_t;

/// One DMA page of `struct mtcr_page_info`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct page_addresses {
    pub dma_address: u64,
    pub virtual_address: u64,
}

/// `struct mtcr_page_info` (`get_dma_pages`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct mtcr_page_info {
    pub page_amount: c_uint,
    pub page_pointer_start: c_ulong,
    pub page_addresses_array: [page_addresses; MAX_PAGES_SIZE],
}

/// `mfile.acc_reg_params`: cached maximum register size per access method.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct access_reg_params {
    pub max_reg_size: [c_int; 3],
}

/// `mfile.mpci_change`
pub type mpci_change_fn = Option<unsafe extern "C" fn(mf: *mut mfile)>;

/// An open device, `struct mfile_t` of mstflint v4.36 (2672 bytes). Fields that tools read are
/// kept up to date by the library (`tp`, `flags`, `dinfo`, `hw_dev_id`, `rev_id`,
/// `pci_device_id`, `functional_vsec_supp`, `pxir_vsec_supp`, `vsec_type`, `vsec_addr`,
/// `vsec_cap_mask`, `address_space`, `dev_name`, ...). `ul_ctx` points to the library's private
/// state: never change it. Allocate with `mopen*`, free with `mclose`.
#[repr(C)]
#[derive(Debug)]
pub struct mfile_t {
    pub hw_dev_id: u16,
    pub pci_device_id: u16,
    pub rev_id: u16,
    pub tp: MType,
    pub orig_tp: MType,
    pub res_tp: MType,
    pub dtype: DType,
    pub itype: c_int,
    pub device_hw_id: u32,
    pub is_i2cm: c_int,
    pub is_vm: c_int,
    pub cr_access: c_int,
    pub ext_info: c_int,
    pub i2c_secondary: u8,
    pub gpio_en: c_int,
    pub iorw_regions: *mut c_void,
    pub regions_num: c_int,
    pub dev_name: *mut c_char,
    pub fd: c_int,
    pub res_fd: c_int,
    pub sock: c_int,
    pub is_mtserver_req: c_int,
    pub bar_virtual_addr: *mut c_void,
    pub big_endian: c_int,
    pub cr_space_offset: u32,
    pub map_size: u32,
    pub bar0_gw_offset: u32,
    pub file_lock_descriptor: c_int,
    pub start_idx: u64,
    pub ddr3_ptr: *mut c_void,
    pub ddr3_start_idx: u64,
    pub ddr3_map_size: u32,
    pub mib: c_int,
    pub ctx: *mut c_void,
    pub fallback_mf: *mut c_void,
    pub i2c_RESERVED: c_int,
    pub i2c_smbus: c_int,
    pub flags: u32,
    pub connectx_wa_slot: u32,
    pub connectx_wa_last_op_write: c_int,
    pub connectx_wa_stat: u32,
    pub connectx_wa_max_retries: u64,
    pub connectx_wa_num_of_writes: u64,
    pub connectx_wa_num_of_retry_writes: u64,
    pub server_ver_major: c_int,
    pub server_ver_minor: c_int,
    pub proto_type: c_int,
    pub dinfo: *mut dev_info,
    pub icmd: icmd_params,
    pub context: [*mut c_void; 3],
    pub old_mst: c_int,
    pub mst_version_major: u16,
    pub mst_version_minor: u32,
    pub functional_vsec_supp: c_int,
    pub pxir_vsec_supp: c_int,
    pub vsec_type: u8,
    pub icmd_support: c_int,
    pub vsec_addr: u64,
    pub address_region_addr: u64,
    pub vsec_cap_mask: u32,
    pub address_space: c_int,
    pub multifunction: c_int,
    pub hcr_params: c_int,
    pub acc_reg_params: access_reg_params,
    pub ul_ctx: *mut c_void,
    pub dl_context: *mut c_void,
    pub is_cable: c_int,
    pub cable_ctx: *mut c_void,
    pub linkx_chip_devid: u32,
    pub cable_chip_ctx: *mut c_void,
    pub mpci_change: mpci_change_fn,
    pub gb_info: [u64; 260],
    pub user_page_list: [u64; 2],
    pub dma_props: *mut c_void,
    pub mft_core_object: [*mut c_void; 3],
    pub fwctl_env_var_debug: c_int,
    /// Padding of the stock layout (fwctl_fd is at 2632).
    pub reserved_2628: c_int,
    pub fwctl_fd: c_int,
    pub is_remote: c_int,
    pub is_zombiefish: c_int,
    pub vsc_recovery_space_flash_control_vld: c_int,
    pub nvml_device: *mut c_void,
    pub umem_id: u32,
    pub umem_buff: *mut c_void,
}

/// `mfile`
pub type mfile = mfile_t;

macro_rules! check_offsets {
    ($t:ty, $size:expr; $($field:ident @ $off:expr),* $(,)?) => {
        const _: () = assert!(size_of::<$t>() == $size);
        $( const _: () = assert!(offset_of!($t, $field) == $off); )*
    };
}

check_offsets!(mfile_t, 2672;
    hw_dev_id @ 0, pci_device_id @ 2, rev_id @ 4, tp @ 8, orig_tp @ 12, res_tp @ 16, dtype @ 20,
    itype @ 24, device_hw_id @ 28, is_i2cm @ 32, is_vm @ 36, cr_access @ 40, ext_info @ 44,
    i2c_secondary @ 48, gpio_en @ 52, iorw_regions @ 56, regions_num @ 64, dev_name @ 72, fd @ 80,
    res_fd @ 84, sock @ 88, is_mtserver_req @ 92, bar_virtual_addr @ 96, big_endian @ 104,
    cr_space_offset @ 108, map_size @ 112, bar0_gw_offset @ 116, file_lock_descriptor @ 120,
    start_idx @ 128, ddr3_ptr @ 136, ddr3_start_idx @ 144, ddr3_map_size @ 152, mib @ 156,
    ctx @ 160, fallback_mf @ 168, i2c_RESERVED @ 176, i2c_smbus @ 180, flags @ 184,
    connectx_wa_slot @ 188, connectx_wa_last_op_write @ 192, connectx_wa_stat @ 196,
    connectx_wa_max_retries @ 200, connectx_wa_num_of_writes @ 208,
    connectx_wa_num_of_retry_writes @ 216, server_ver_major @ 224, server_ver_minor @ 228,
    proto_type @ 232, dinfo @ 240, icmd @ 248, context @ 336, old_mst @ 360,
    mst_version_major @ 364, mst_version_minor @ 368, functional_vsec_supp @ 372,
    pxir_vsec_supp @ 376, vsec_type @ 380, icmd_support @ 384, vsec_addr @ 392,
    address_region_addr @ 400, vsec_cap_mask @ 408, address_space @ 412, multifunction @ 416,
    hcr_params @ 420, acc_reg_params @ 424, ul_ctx @ 440, dl_context @ 448, is_cable @ 456,
    cable_ctx @ 464, linkx_chip_devid @ 472, cable_chip_ctx @ 480, mpci_change @ 488,
    gb_info @ 496, user_page_list @ 2576, dma_props @ 2592, mft_core_object @ 2600,
    fwctl_env_var_debug @ 2624, fwctl_fd @ 2632, is_remote @ 2636, is_zombiefish @ 2640,
    vsc_recovery_space_flash_control_vld @ 2644, nvml_device @ 2648, umem_id @ 2656,
    umem_buff @ 2664,
);

check_offsets!(icmd_params, 88;
    icmd_opened @ 0, took_semaphore @ 4, ctrl_addr @ 8, cmd_addr @ 12, cmd_ptr_bitlen @ 16,
    version_addr @ 20, version_bit_offset @ 24, version_bitlen @ 28, max_cmd_size @ 32,
    semaphore_addr @ 36, static_cfg_not_done_addr @ 40, static_cfg_not_done_offs @ 44,
    lock_key @ 48, ib_semaphore_lock_supported @ 52, dma_pa @ 56, dma_size @ 64, dma_icmd @ 68,
    icmd_ready @ 72, syndrome @ 76, syndrome_addr @ 80,
);

check_offsets!(access_reg_params, 12; max_reg_size @ 0);

check_offsets!(dev_info_t, 6208; r#type @ 0, dev_name @ 4, ul_mode @ 516, pci @ 520);

// dev_info.pci.* at the absolute offsets of §1.9 (520 + field offset).
check_offsets!(dev_info_pci, 5688;
    domain @ 0, bus @ 2, dev @ 3, func @ 4, dev_id @ 6, vend_id @ 8, class_id @ 12,
    subsys_id @ 16, subsys_vend_id @ 18, cr_dev @ 20, conf_dev @ 532, net_devs @ 1048,
    ib_devs @ 1056, numa_node @ 1064, virtfn_arr @ 5160, virtfn_count @ 5168, fwctl_dev @ 5170,
);

check_offsets!(vf_info_t, 536;
    dev_name @ 0, domain @ 512, bus @ 514, dev @ 515, func @ 516, net_devs @ 520, ib_devs @ 528,
);

check_offsets!(mtcr_page_info, 144;
    page_amount @ 0, page_pointer_start @ 8, page_addresses_array @ 16,
);

check_offsets!(page_addresses, 16; dma_address @ 0, virtual_address @ 8);
