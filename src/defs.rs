//! Numbers shared by the Rust core and the C ABI: access types (`MType`), device types
//! (`DType`), enumeration masks (`MDEVS_*`), VSEC address spaces and their capability bits.
//! Values are mstflint's (v4.36 `mtcr_com_defs.h`); cbindgen copies them into
//! `include/mtcr_com_defs.h`.

/// Access type of an open device (`mfile.tp`), a bit mask.
pub type MType = u32;
pub const MST_ERROR: MType = 0x0;
pub const MST_FPGA: MType = 0x1;
pub const MST_MLNXOS: MType = 0x2;
pub const MST_LPC: MType = 0x4;
/// Memory-mapped BAR (crspace through resource0 or a driver's mapping).
pub const MST_PCI: MType = 0x8;
/// PCI configuration cycles (VSEC gateway or the old address/data window).
pub const MST_PCICONF: MType = 0x10;
pub const MST_USB: MType = 0x20;
pub const MST_IB: MType = 0x40;
pub const MST_FWCTL_CONTROL_DRIVER: MType = 0x80;
pub const MST_PPC: MType = 0x100;
pub const MST_USB_DIMAX: MType = 0x200;
pub const MST_FWCTX: MType = 0x400;
pub const MST_REMOTE: MType = 0x800;
pub const MST_DEV_I2C: MType = 0x1000;
pub const MST_CALBR: MType = 0x2000;
pub const MST_FPGA_ICMD: MType = 0x4000;
pub const MST_CABLE: MType = 0x8000;
pub const MST_FPGA_DRIVER: MType = 0x10000;
pub const MST_SOFTWARE: MType = 0x20000;
pub const MST_DRIVER_CONF: MType = 0x40000;
pub const MST_DRIVER_CR: MType = 0x80000;
pub const MST_LINKX_CHIP: MType = 0x100000;
pub const MST_BAR0_GW_PCI: MType = 0x200000;
pub const MST_NVML: MType = 0x400000;
pub const MST_VFIO_DEVICE: MType = 0x800000;
/// Every access type but cables, FPGAs and LinkX chips.
pub const MST_DEFAULT: MType = 0xffee3ffe;

/// `mtcr_access_method_t` aliases.
pub const MTCR_ACCESS_ERROR: u32 = 0;
pub const MTCR_ACCESS_MEMORY: u32 = MST_PCI;
pub const MTCR_ACCESS_CONFIG: u32 = MST_PCICONF;
pub const MTCR_ACCESS_INBAND: u32 = MST_IB;

/// Device type for `mopend`.
pub type DType = u32;
pub const MST_GAMLA: DType = 0;
pub const MST_EEPROM: DType = 0;
pub const MST_TAVOR: DType = 1;
pub const MST_ANAFA2: DType = 1;
pub const MST_DIMM: DType = 2;
pub const MST_NOADDR: DType = 3;

/// Device classes (`mfile.flags`, `dev_info.type`, `mdevices` mask): `Mdevs` (`enum Mdevs_t`).
pub type Mdevs = u32;
pub const MDEVS_GAMLA: Mdevs = 0x1;
pub const MDEVS_I2CM: Mdevs = 0x2;
pub const MDEVS_MEM: Mdevs = 0x4;
pub const MDEVS_TAVOR_DDR: Mdevs = 0x8;
pub const MDEVS_TAVOR_UAR: Mdevs = 0x10;
pub const MDEVS_TAVOR_CR: Mdevs = 0x20;
pub const MDEVS_REM: Mdevs = 0x80;
pub const MDEVS_PPC: Mdevs = 0x100;
pub const MDEVS_DEV_I2C: Mdevs = 0x200;
pub const MDEVS_IB: Mdevs = 0x400;
pub const MDEVS_MLNX_OS: Mdevs = 0x800;
pub const MDEVS_FWCTX: Mdevs = 0x900;
pub const MDEVS_LPC: Mdevs = 0x1000;
pub const MDEVS_FPGA: Mdevs = 0x2000;
pub const MDEVS_FPGA_NEWTON: Mdevs = 0x4000;
pub const MDEVS_CABLE: Mdevs = 0x8000;
pub const MDEVS_SOFTWARE: Mdevs = 0x10000;
pub const MDEVS_LINKX_CHIP: Mdevs = 0x200000;
pub const MDEVS_GBOX: Mdevs = 0x400000;
pub const MDEVS_TAVOR: Mdevs = 0x38;
pub const MDEVS_ALL: Mdevs = 0xffffffff;

/// VSEC gateway address spaces (`address_space_t`).
#[allow(non_camel_case_types)]
pub type address_space_t = u32;
pub const AS_ICMD_EXT: u32 = 0x1;
pub const AS_CR_SPACE: u32 = 0x2;
pub const AS_ICMD: u32 = 0x3;
pub const AS_NODNIC_INIT_SEG: u32 = 0x4;
pub const AS_EXPANSION_ROM: u32 = 0x5;
pub const AS_ND_CRSPACE: u32 = 0x6;
pub const AS_SCAN_CRSPACE: u32 = 0x7;
pub const AS_SEMAPHORE: u32 = 0xa;
pub const AS_RECOVERY: u32 = 0xc;
pub const AS_MAC: u32 = 0xf;
pub const AS_PCI_ICMD: u32 = 0x101;
pub const AS_PCI_CRSPACE: u32 = 0x102;
pub const AS_PCI_ALL_ICMD: u32 = 0x103;
pub const AS_PCI_SCAN_CRSPACE: u32 = 0x107;
pub const AS_PCI_GLOBAL_SEMAPHORE: u32 = 0x10a;
pub const AS_END: u32 = 0x10b;

/// Capability bits of `mfile.vsec_cap_mask` (userspace numbering): `VSCCapCom`.
pub type VSCCapCom = u32;
pub const VCC_INITIALIZED: u32 = 0;
pub const VCC_ICMD_EXT_SPACE_SUPPORTED: u32 = 1;
pub const VCC_CRSPACE_SPACE_SUPPORTED: u32 = 2;
pub const VCC_ICMD_SPACE_SUPPORTED: u32 = 3;
pub const VCC_NODNIC_INIT_SEG_SPACE_SUPPORTED: u32 = 4;
pub const VCC_EXPANSION_ROM_SPACE_SUPPORTED: u32 = 5;
pub const VCC_ND_CRSPACE_SPACE_SUPPORTED: u32 = 6;
pub const VCC_SCAN_CRSPACE_SPACE_SUPPORTED: u32 = 7;
pub const VCC_SEMAPHORE_SPACE_SUPPORTED: u32 = 8;
pub const VCC_RECOVERY_SPACE_SUPPORTED: u32 = 9;
pub const VCC_MAC_SPACE_SUPPORTED: u32 = 0xa;
pub const VCC_PCI_ICMD_SPACE_SUPPORTED: u32 = 0xb;
pub const VCC_PCI_CRSPACE_SPACE_SUPPORTED: u32 = 0xc;
pub const VCC_PCI_ALL_ICMD_SPACE_SUPPORTED: u32 = 0xd;
pub const VCC_PCI_SCAN_CRSPACE_SPACE_SUPPORTED: u32 = 0xe;
pub const VCC_PCI_GLOBAL_SEMAPHORE_SPACE_SUPPORTED: u32 = 0xf;

/// Capability bit of an address space in `vsec_cap_mask` (`space_to_cap_offset`); spaces
/// without their own bit (AS_RECOVERY among them, as upstream) map to bit 0.
pub fn space_to_cap_offset(space: u32) -> u32 {
    match space {
        AS_ICMD_EXT => VCC_ICMD_EXT_SPACE_SUPPORTED,
        AS_CR_SPACE => VCC_CRSPACE_SPACE_SUPPORTED,
        AS_ICMD => VCC_ICMD_SPACE_SUPPORTED,
        AS_NODNIC_INIT_SEG => VCC_NODNIC_INIT_SEG_SPACE_SUPPORTED,
        AS_EXPANSION_ROM => VCC_EXPANSION_ROM_SPACE_SUPPORTED,
        AS_ND_CRSPACE => VCC_ND_CRSPACE_SPACE_SUPPORTED,
        AS_SCAN_CRSPACE => VCC_SCAN_CRSPACE_SPACE_SUPPORTED,
        AS_SEMAPHORE => VCC_SEMAPHORE_SPACE_SUPPORTED,
        AS_MAC => VCC_MAC_SPACE_SUPPORTED,
        AS_PCI_ICMD => VCC_PCI_ICMD_SPACE_SUPPORTED,
        AS_PCI_CRSPACE => VCC_PCI_CRSPACE_SPACE_SUPPORTED,
        AS_PCI_ALL_ICMD => VCC_PCI_ALL_ICMD_SPACE_SUPPORTED,
        AS_PCI_SCAN_CRSPACE => VCC_PCI_SCAN_CRSPACE_SPACE_SUPPORTED,
        AS_PCI_GLOBAL_SEMAPHORE => VCC_PCI_GLOBAL_SEMAPHORE_SPACE_SUPPORTED,
        _ => VCC_INITIALIZED,
    }
}

/// crspace address of the hardware id register.
pub const HW_ID_ADDR: u32 = 0xf0014;
/// Size of the name buffers in `dev_info`.
pub const DEV_NAME_SZ: usize = 512;
/// Pages in `struct mtcr_page_info`.
pub const MAX_PAGES_SIZE: usize = 8;

// ---- Appended by the C-ABI layer (ffi): return codes and the remaining public enums. ----

/// Return code of `maccess_reg`, `icmd_*`, `tools_cmdif_*`, `mclear_pci_semaphore` (mstflint
/// v4.36 numbering; `m_err2str` gives the text).
pub type MError = i32;
pub const ME_OK: MError = 0;
pub const ME_ERROR: MError = 1;
pub const ME_BAD_PARAMS: MError = 2;
pub const ME_CR_ERROR: MError = 3;
pub const ME_NOT_IMPLEMENTED: MError = 4;
pub const ME_SEM_LOCKED: MError = 5;
pub const ME_MEM_ERROR: MError = 6;
pub const ME_TIMEOUT: MError = 7;
pub const ME_ADDRESS_OUT_OF_RANGE: MError = 8;
pub const ME_MAD_SEND_FAILED: MError = 9;
pub const ME_UNKOWN_ACCESS_TYPE: MError = 10;
pub const ME_UNSUPPORTED_DEVICE: MError = 11;
pub const ME_REG_NOT_SUPPORTED: MError = 12;
pub const ME_PCI_READ_ERROR: MError = 13;
pub const ME_PCI_WRITE_ERROR: MError = 14;
pub const ME_PCI_SPACE_NOT_SUPPORTED: MError = 15;
pub const ME_PCI_IFC_TOUT: MError = 16;
pub const ME_UNSUPPORTED_OPERATION: MError = 17;
pub const ME_UNSUPPORTED_ACCESS_TYPE: MError = 18;
pub const ME_GMP_MAD_UNSUPPORTED_OPERATION: MError = 19;
pub const ME_REG_ACCESS_OK: MError = 0;
pub const ME_REG_ACCESS_BAD_STATUS_ERR: MError = 0x100;
pub const ME_REG_ACCESS_BAD_METHOD: MError = 0x101;
pub const ME_REG_ACCESS_NOT_SUPPORTED: MError = 0x102;
pub const ME_REG_ACCESS_DEV_BUSY: MError = 0x103;
pub const ME_REG_ACCESS_VER_NOT_SUPP: MError = 0x104;
pub const ME_REG_ACCESS_UNKNOWN_TLV: MError = 0x105;
pub const ME_REG_ACCESS_REG_NOT_SUPP: MError = 0x106;
pub const ME_REG_ACCESS_CLASS_NOT_SUPP: MError = 0x107;
pub const ME_REG_ACCESS_METHOD_NOT_SUPP: MError = 0x108;
pub const ME_REG_ACCESS_BAD_PARAM: MError = 0x109;
pub const ME_REG_ACCESS_RES_NOT_AVLBL: MError = 0x10a;
pub const ME_REG_ACCESS_MSG_RECPT_ACK: MError = 0x10b;
pub const ME_REG_ACCESS_UNKNOWN_ERR: MError = 0x10c;
pub const ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT: MError = 0x10d;
pub const ME_REG_ACCESS_CONF_CORRUPT: MError = 0x10e;
pub const ME_REG_ACCESS_LEN_TOO_SMALL: MError = 0x10f;
pub const ME_REG_ACCESS_BAD_CONFIG: MError = 0x110;
pub const ME_REG_ACCESS_ERASE_EXCEEDED: MError = 0x111;
pub const ME_REG_ACCESS_INTERNAL_ERROR: MError = 0x112;
pub const ME_REG_ACCESS_NOT_SUPPORTED_BY_SECONDARY: MError = 0x113;
pub const ME_REG_ACCESS_INSUFFICIENT_PERMISSIONS: MError = 0x114;
pub const ME_REG_ACCESS_NOT_READY: MError = 0x115;
pub const ME_REG_ACCESS_BAD_QP_STATE: MError = 0x116;
pub const ME_REG_ACCESS_BAD_PKT: MError = 0x117;
pub const ME_REG_ACCESS_BAD_SIZE_OUTS_CQES: MError = 0x118;
pub const ME_REG_ACCESS_BAD_SYS_STATE: MError = 0x119;
pub const ME_REG_ACCESS_EXCEED_LIM: MError = 0x11a;
pub const ME_REG_ACCESS_BAD_RES_STATE: MError = 0x11b;
pub const ME_REG_ACCESS_BAD_INDEX: MError = 0x11c;
pub const ME_REG_ACCESS_BAD_INPUT_LEN: MError = 0x11d;
pub const ME_REG_ACCESS_BAD_OUTPUT_LEN: MError = 0x11e;
pub const ME_ICMD_STATUS_CR_FAIL: MError = 0x200;
pub const ME_ICMD_INVALID_OPCODE: MError = 0x201;
pub const ME_ICMD_INVALID_CMD: MError = 0x202;
pub const ME_ICMD_OPERATIONAL_ERROR: MError = 0x203;
pub const ME_ICMD_BAD_PARAM: MError = 0x204;
pub const ME_ICMD_BUSY: MError = 0x205;
pub const ME_ICMD_INIT_FAILED: MError = 0x206;
pub const ME_ICMD_NOT_SUPPORTED: MError = 0x207;
pub const ME_ICMD_STATUS_SEMAPHORE_TO: MError = 0x208;
pub const ME_ICMD_STATUS_EXECUTE_TO: MError = 0x209;
pub const ME_ICMD_STATUS_IFC_BUSY: MError = 0x20a;
pub const ME_ICMD_STATUS_ICMD_NOT_READY: MError = 0x20b;
pub const ME_ICMD_UNSUPPORTED_ICMD_VERSION: MError = 0x20c;
pub const ME_ICMD_UNKNOWN_STATUS: MError = 0x20d;
pub const ME_ICMD_ICM_NOT_AVAIL: MError = 0x20e;
pub const ME_ICMD_WRITE_PROTECT: MError = 0x20f;
pub const ME_ICMD_SIZE_EXCEEDS_LIMIT: MError = 0x210;
pub const ME_ICMD_UNABLE_TO_TAKE_SEMAOHORE: MError = 0x211;
pub const ME_CMDIF_BUSY: MError = 0x300;
pub const ME_CMDIF_TOUT: MError = 0x301;
pub const ME_CMDIF_BAD_STATUS: MError = 0x302;
pub const ME_CMDIF_BAD_OP: MError = 0x303;
pub const ME_CMDIF_NOT_SUPP: MError = 0x304;
pub const ME_CMDIF_BAD_SYS: MError = 0x305;
pub const ME_CMDIF_UNKN_TLV: MError = 0x306;
pub const ME_CMDIF_RES_STATE: MError = 0x307;
pub const ME_CMDIF_UNKN_STATUS: MError = 0x308;
pub const ME_MAD_BUSY: MError = 0x400;
pub const ME_MAD_REDIRECT: MError = 0x401;
pub const ME_MAD_BAD_VER: MError = 0x402;
pub const ME_MAD_METHOD_NOT_SUPP: MError = 0x403;
pub const ME_MAD_METHOD_ATTR_COMB_NOT_SUPP: MError = 0x404;
pub const ME_MAD_BAD_DATA: MError = 0x405;
pub const ME_MAD_GENERAL_ERR: MError = 0x406;
pub const ME_GB_ICMD_OK: MError = 0x500;
pub const ME_GB_ICMD_FAILED: MError = 0x501;
pub const ME_GB_ICMD_FAILED_ACCESS: MError = 0x502;
pub const ME_GB_ICMD_FAILED_BAD_PARAM: MError = 0x503;
pub const ME_GB_ICMD_TIMEOUT: MError = 0x504;
pub const ME_GB_ICMD_NOT_SUPPORTED: MError = 0x505;
pub const ME_GB_ICMD_UNKNOWN_STATUS: MError = 0x506;
pub const ME_LAST: MError = 0x507;

/// Access-register method (`maccess_reg_method_t`).
#[allow(non_camel_case_types)]
pub type maccess_reg_method_t = u32;
pub const MACCESS_REG_METHOD_GET: maccess_reg_method_t = 1;
pub const MACCESS_REG_METHOD_SET: maccess_reg_method_t = 2;
pub const MACCESS_LAST_REG_METHOD: maccess_reg_method_t = 3;

/// `mtcr_access_method_t`: the MTCR_ACCESS_* values above.
#[allow(non_camel_case_types)]
pub type mtcr_access_method_t = u32;

/// `reg_access_t` (`maccess_reg_cmdif`).
#[allow(non_camel_case_types)]
pub type reg_access_t = u32;
pub const RA_MFPA: reg_access_t = 0x9010;
pub const RA_MFBA: reg_access_t = 0x9011;
pub const RA_MFBE: reg_access_t = 0x9012;

/// `sem_lock_method_t`: lock or query an in-band semaphore.
#[allow(non_camel_case_types)]
pub type sem_lock_method_t = u32;
pub const SEM_LOCK_GET: sem_lock_method_t = 0;
pub const SEM_LOCK_SET: sem_lock_method_t = 1;

/// `rw_op_t`: direction of a PCI access.
#[allow(non_camel_case_types)]
pub type rw_op_t = u32;
pub const READ_OP: rw_op_t = 0;
pub const WRITE_OP: rw_op_t = 1;

/// `mtcr_status_e`: a tri-state (`mfile.icmd_support`, `icmd_params.icmd_ready`).
#[allow(non_camel_case_types)]
pub type mtcr_status_e = u32;
pub const MTCR_STATUS_UNKNOWN: mtcr_status_e = 0;
pub const MTCR_STATUS_TRUE: mtcr_status_e = 1;
pub const MTCR_STATUS_FALSE: mtcr_status_e = 2;

/// `gearbox_type` (`gearbox_info.gb_type`).
#[allow(non_camel_case_types)]
pub type gearbox_type = u32;
pub const GB_UNKNOWN: gearbox_type = 0;
pub const GB_AMOS: gearbox_type = 1;
pub const GB_ABIR: gearbox_type = 2;

/// `gearbox_connection_t` (`gearbox_info.gb_conn_type`; upstream's spelling).
#[allow(non_camel_case_types)]
pub type gearbox_connection_t = u32;
pub const GEARBPX_OVER_MTUSB: gearbox_connection_t = 1;
pub const GEARBPX_OVER_I2C: gearbox_connection_t = 2;
pub const GEARBPX_OVER_SWITCH: gearbox_connection_t = 3;
pub const GEARBPXO_UNKNOWN_CONNECTION: gearbox_connection_t = 0;

/// Gearbox addressing.
pub const GEARBOX_ADDR_WIDTH: u32 = 4;
pub const GEARBOX_SLAVE_ADDR: u32 = 0x48;
pub const GB_MNGR_SLAVE_ADDR: u32 = 0x33;

/// Miscellaneous numbers of `mtcr_com_defs.h`.
pub const SMP_SEMAPHOE_LOCK_CMD: u32 = 0xff53;
pub const ADDRESS_OUT_OF_RANGE: u32 = 3;
pub const FLASH_REG_ACCESS: u32 = 0x9001;
pub const REG_ACCESS_STRING_TLV: u32 = 0x9003;
pub const ICMD_MAX_CMD_SIZE: u32 = 0x340;
pub const REGISTER_HEADERS_SIZE: u32 = 20;
pub const INBAND_MAX_REG_SIZE: u32 = 44;
pub const INBAND_MAX_REG_SIZE_CLS_A: u32 = 204;
pub const INBAND_MAX_GMP_DWORDS_NUM: u32 = 55;
pub const INBAND_MAX_GMP_BLOCKS: u32 = 16;
pub const INBAND_MAX_GMP_REG_SIZE: u32 = 3520;
pub const ICMD_MAX_REG_SIZE: u32 = 812;
pub const FWCTX_MAX_REG_SIZE: u32 = 16;
/// The tools-HCR mailbox (288 bytes) less the register headers.
pub const TOOLS_HCR_MAX_REG_SIZE: u32 = 268;
pub const MAD_CLASS_1_REG_ACCESS: u32 = 1;
pub const MAD_CLASS_A_REG_ACCESS: u32 = 0xa;
pub const MTCR_I2C_SECONDARY_ADDRESS: u32 = 0x48;
/// Upstream's spelling of the same number.
#[allow(non_upper_case_globals)]
pub const MTCR_I2C_secondary_ADDRESS: u32 = 0x48;
pub const SLV_ADDRS_NUM: u32 = 128;
pub const MAX_RETRY_CNT: u32 = 4096;
pub const AUTHENTICATION_FAILURE: u32 = 0xffa6;
pub const VSEC_FUNCTIONAL_VSC: u32 = 0;
pub const VSEC_RECOVERY_VSC: u32 = 2;

/// MST <-> MTCR API versions and the service-name suffix length of the remote server (the
/// string macros of `mtcr_com_defs.h` are written by tools/genheaders).
pub const MST_HEADER_VERSION: u32 = 1;
pub const MST_META_DATA_MAJOR: u32 = 1;
pub const MST_META_DATA_MINOR: u32 = 0;
pub const MTCR_SUPP_MST_API_MAJOR_VERSION: u32 = 1;
pub const MST_SUFFIX_MAXLEN: u32 = 11;

/// Bit of the recovery space's dword 0 that says the device is initializing.
pub const INITIALIZING_BIT_OFFSET_IN_VSC_RECOVERY_SPACE: u32 = 0;

/// BlueField-4 PCI device ids.
pub const BLUEFIELD4_PCI_DEVICE_ID_CRYPTO_ENABLED: u32 = 0xa2dd;
pub const BLUEFIELD4_PCI_DEVICE_ID_CRYPTO_DISABLED: u32 = 0xa2de;
pub const BLUEFIELD4_PCI_DEVICE_ID_NETWORK_CONTROLLER: u32 = 0xa2df;
pub const BLUEFIELD4_PCI_DEVICE_ID_MANAGMENT_INTERFACE: u32 = 0xc2d6;
