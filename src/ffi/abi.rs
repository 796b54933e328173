//! The public C structures of `mtcr_com_defs.h` and `mtcr_mf.h`, laid out exactly as mstflint
//! v4.36 (x86_64, LP64), with upstream's struct tags and typedef names: `mfile` (2672 bytes),
//! `dev_info` (6208), `vf_info` (536), `icmd_params` (88), `gearbox_info` (2080), `struct
//! mtcr_page_info` (144), ... Every size and every field offset is checked at compile time below
//! (reference: mtcr_api.md §1.9; the same numbers in ctest/layout.c and ctest/mf_types.c).
//!
//! The one layout-neutral difference from the stock headers: `dev_info`'s anonymous union of
//! `pci`/`usb`/`ib`/`remote` is exposed as its largest member `pci` only (a named struct
//! `dev_info_pci`; the other members have no use on Linux user-space builds).
#![allow(non_camel_case_types, non_snake_case)]

use std::mem::{offset_of, size_of};
use std::os::raw::{c_char, c_int, c_uchar, c_uint, c_ulong, c_ulonglong, c_ushort, c_void};

use crate::defs::{
    gearbox_connection_t, gearbox_type, mtcr_status_e, DType, MType, Mdevs, DEV_NAME_SZ,
    MACCESS_LAST_REG_METHOD, MAX_PAGES_SIZE,
};
use crate::fwctl_abi::mlx5_umem_buff;

/// `MIB_Private`: in-band state (a placeholder in builds without in-band, as upstream's).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct mib_private_t {
    pub dummy: c_int,
}

/// `MIB_Private`
pub type MIB_Private = mib_private_t;

/// `icmd_params`: ICMD interface state (`mfile.icmd`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct icmd_params_t {
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
    pub icmd_ready: mtcr_status_e,
    pub syndrome: c_int,
    pub syndrome_addr: c_int,
}

/// `icmd_params`
pub type icmd_params = icmd_params_t;

/// `ctx_params`: the firmware-context (UEFI) callbacks of `mfile.context`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ctx_params_t {
    pub fw_cmd_context: *mut c_void,
    pub fw_cmd_func: *mut c_void,
    pub fw_cmd_dma: *mut c_void,
}

/// `ctx_params`
pub type ctx_params = ctx_params_t;

/// `io_region`: an I/O port range of an LPC device (`mfile.iorw_regions`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_region_t {
    pub start: c_uint,
    pub end: c_uint,
}

/// `io_region`
pub type io_region = io_region_t;

/// `tools_hcr_params` (`mfile.hcr_params`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct tools_hcr_params_t {
    /// Whether the tools HCR's CR mailbox works: 0 unknown, 1 yes, -1 no.
    pub supp_cr_mbox: c_int,
}

/// `tools_hcr_params`
pub type tools_hcr_params = tools_hcr_params_t;

/// `access_reg_params` (`mfile.acc_reg_params`): cached maximum register size per access
/// method (indexed by `maccess_reg_method_t`, `MACCESS_LAST_REG_METHOD` entries).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct access_reg_params_t {
    pub max_reg_size: [c_int; 3],
}

/// `access_reg_params`
pub type access_reg_params = access_reg_params_t;

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

/// The PCI part of a `dev_info` (`dev_info.pci`).
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
    pub r#type: Mdevs,
    pub dev_name: [c_char; DEV_NAME_SZ],
    pub ul_mode: c_int,
    pub pci: dev_info_pci,
}

/// `dev_info`
pub type dev_info = dev_info_t;

/// `dma_lib_hdl`: an opaque DMA-library handle (never defined, as upstream).
pub struct dma_lib_hdl_t {
    _opaque: [u8; 0],
}

/// `dma_lib_hdl`
pub type dma_lib_hdl = dma_lib_hdl_t;

/// One DMA page of `struct mtcr_page_info`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct mtcr_page_addresses {
    pub dma_address: u64,
    pub virtual_address: u64,
}

/// `mfile.user_page_list`: the page-aligned buffer `get_dma_pages` allocated, and its pages.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct page_list {
    pub page_list: *mut c_char,
    pub page_amount: c_int,
}

/// `struct mtcr_page_info` (`get_dma_pages`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct mtcr_page_info {
    pub page_amount: c_uint,
    pub page_pointer_start: c_ulong,
    pub page_addresses_array: [mtcr_page_addresses; MAX_PAGES_SIZE],
}

/// `struct mtcr_read_dword_from_config_space` (the kernel driver's config-read argument).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct mtcr_read_dword_from_config_space {
    pub offset: c_uint,
    pub data: c_uint,
}

/// `f_mpci_change` (`mfile.mpci_change`).
pub type f_mpci_change = Option<unsafe extern "C" fn(mf: *mut mfile)>;

/// `gearbox_info` (`mfile.gb_info`): gearbox / gearbox-manager addressing (zero here: this
/// library opens PCI functions only).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct gearbox_info_t {
    pub gb_type: gearbox_type,
    pub is_gearbox: u8,
    pub is_gb_mngr: u8,
    pub gearbox_index: c_int,
    pub ilne_card_id: c_int,
    pub gb_conn_type: gearbox_connection_t,
    pub gb_mngr_full_name: [c_char; DEV_NAME_SZ],
    pub gearbox_full_name: [c_char; DEV_NAME_SZ],
    pub i2c_secondary: c_uchar,
    pub addr_width: u8,
    pub device_orig_name: [c_char; DEV_NAME_SZ],
    pub device_real_name: [c_char; DEV_NAME_SZ],
    pub data_req_addr: u32,
    pub data_res_addr: u32,
}

/// `gearbox_info`
pub type gearbox_info = gearbox_info_t;

/// `cables_info` (`mfile.ext_info`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct cables_info_t {
    pub slave_addr_additional_offset: c_int,
}

/// `cables_info`
pub type cables_info = cables_info_t;

/// `struct mft_core_wrapper` (`mfile.mft_core_object`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mft_core_wrapper {
    pub config_space_access: *mut c_void,
    pub reg_access: *mut c_void,
    pub reset_access: *mut c_void,
}

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
    pub itype: DType,
    pub device_hw_id: u32,
    pub is_i2cm: c_int,
    pub is_vm: c_int,
    pub cr_access: c_int,
    pub ext_info: cables_info,
    pub i2c_secondary: c_uchar,
    pub gpio_en: c_int,
    pub iorw_regions: *mut io_region,
    pub regions_num: c_int,
    pub dev_name: *mut c_char,
    pub fd: c_int,
    pub res_fd: c_int,
    pub sock: c_int,
    pub is_mtserver_req: c_int,
    pub bar_virtual_addr: *mut c_void,
    pub big_endian: c_uint,
    pub cr_space_offset: c_uint,
    pub map_size: c_uint,
    pub bar0_gw_offset: c_uint,
    pub file_lock_descriptor: c_int,
    pub start_idx: c_ulonglong,
    pub ddr3_ptr: *mut c_void,
    pub ddr3_start_idx: c_ulonglong,
    pub ddr3_map_size: c_uint,
    pub mib: MIB_Private,
    pub ctx: *mut c_void,
    pub fallback_mf: *mut c_void,
    pub i2c_RESERVED: c_uint,
    pub i2c_smbus: c_int,
    pub flags: Mdevs,
    pub connectx_wa_slot: u32,
    pub connectx_wa_last_op_write: c_int,
    pub connectx_wa_stat: u32,
    pub connectx_wa_max_retries: u64,
    pub connectx_wa_num_of_writes: u64,
    pub connectx_wa_num_of_retry_writes: u64,
    pub server_ver_major: c_int,
    pub server_ver_minor: c_int,
    pub proto_type: c_uint,
    pub dinfo: *mut dev_info,
    pub icmd: icmd_params,
    pub context: ctx_params,
    pub old_mst: c_int,
    pub mst_version_major: c_ushort,
    pub mst_version_minor: c_uint,
    pub functional_vsec_supp: c_int,
    pub pxir_vsec_supp: c_uint,
    pub vsec_type: u8,
    pub icmd_support: mtcr_status_e,
    pub vsec_addr: u64,
    pub address_region_addr: u64,
    pub vsec_cap_mask: u32,
    pub address_space: c_int,
    pub multifunction: c_int,
    pub hcr_params: tools_hcr_params,
    pub acc_reg_params: access_reg_params,
    pub ul_ctx: *mut c_void,
    pub dl_context: *mut c_void,
    pub is_cable: c_int,
    pub cable_ctx: *mut c_void,
    pub linkx_chip_devid: c_uint,
    pub cable_chip_ctx: *mut c_void,
    pub mpci_change: f_mpci_change,
    pub gb_info: gearbox_info,
    pub user_page_list: page_list,
    pub dma_props: *mut c_void,
    pub mft_core_object: mft_core_wrapper,
    pub fwctl_env_var_debug: *mut c_char,
    pub fwctl_fd: c_int,
    pub is_remote: c_int,
    pub is_zombiefish: c_int,
    pub vsc_recovery_space_flash_control_vld: c_int,
    pub nvml_device: *mut c_void,
    pub umem_id: c_uint,
    pub umem_buff: *mut mlx5_umem_buff,
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

check_offsets!(icmd_params_t, 88;
    icmd_opened @ 0, took_semaphore @ 4, ctrl_addr @ 8, cmd_addr @ 12, cmd_ptr_bitlen @ 16,
    version_addr @ 20, version_bit_offset @ 24, version_bitlen @ 28, max_cmd_size @ 32,
    semaphore_addr @ 36, static_cfg_not_done_addr @ 40, static_cfg_not_done_offs @ 44,
    lock_key @ 48, ib_semaphore_lock_supported @ 52, dma_pa @ 56, dma_size @ 64, dma_icmd @ 68,
    icmd_ready @ 72, syndrome @ 76, syndrome_addr @ 80,
);

check_offsets!(mib_private_t, 4; dummy @ 0);
check_offsets!(ctx_params_t, 24; fw_cmd_context @ 0, fw_cmd_func @ 8, fw_cmd_dma @ 16);
check_offsets!(io_region_t, 8; start @ 0, end @ 4);
check_offsets!(tools_hcr_params_t, 4; supp_cr_mbox @ 0);
check_offsets!(access_reg_params_t, 12; max_reg_size @ 0);
// `max_reg_size[MACCESS_LAST_REG_METHOD]` upstream (a literal here: cbindgen writes typed
// constants after the structures).
const _: () = assert!(MACCESS_LAST_REG_METHOD == 3);
check_offsets!(cables_info_t, 4; slave_addr_additional_offset @ 0);
check_offsets!(mft_core_wrapper, 24; config_space_access @ 0, reg_access @ 8, reset_access @ 16);
check_offsets!(page_list, 16; page_list @ 0, page_amount @ 8);
check_offsets!(mtcr_read_dword_from_config_space, 8; offset @ 0, data @ 4);

check_offsets!(gearbox_info_t, 2080;
    gb_type @ 0, is_gearbox @ 4, is_gb_mngr @ 5, gearbox_index @ 8, ilne_card_id @ 12,
    gb_conn_type @ 16, gb_mngr_full_name @ 20, gearbox_full_name @ 532, i2c_secondary @ 1044,
    addr_width @ 1045, device_orig_name @ 1046, device_real_name @ 1558, data_req_addr @ 2072,
    data_res_addr @ 2076,
);

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

check_offsets!(mtcr_page_addresses, 16; dma_address @ 0, virtual_address @ 8);
