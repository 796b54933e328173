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

/// Device classes (`mfile.flags`, `dev_info.type`, `mdevices` mask).
pub const MDEVS_GAMLA: u32 = 0x1;
pub const MDEVS_I2CM: u32 = 0x2;
pub const MDEVS_MEM: u32 = 0x4;
pub const MDEVS_TAVOR_DDR: u32 = 0x8;
pub const MDEVS_TAVOR_UAR: u32 = 0x10;
pub const MDEVS_TAVOR_CR: u32 = 0x20;
pub const MDEVS_REM: u32 = 0x80;
pub const MDEVS_PPC: u32 = 0x100;
pub const MDEVS_DEV_I2C: u32 = 0x200;
pub const MDEVS_IB: u32 = 0x400;
pub const MDEVS_MLNX_OS: u32 = 0x800;
pub const MDEVS_FWCTX: u32 = 0x900;
pub const MDEVS_LPC: u32 = 0x1000;
pub const MDEVS_FPGA: u32 = 0x2000;
pub const MDEVS_FPGA_NEWTON: u32 = 0x4000;
pub const MDEVS_CABLE: u32 = 0x8000;
pub const MDEVS_SOFTWARE: u32 = 0x10000;
pub const MDEVS_LINKX_CHIP: u32 = 0x200000;
pub const MDEVS_GBOX: u32 = 0x400000;
pub const MDEVS_TAVOR: u32 = 0x38;
pub const MDEVS_ALL: u32 = 0xffffffff;

/// VSEC gateway address spaces.
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

/// Capability bits of `mfile.vsec_cap_mask` (userspace numbering).
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
