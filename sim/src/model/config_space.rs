//! The plain part of PCI config space: the type-0 header and the capability structures,
//! as bytes plus a per-byte write mask. Registers with behaviour (VSEC gateway, the
//! 0x58/0x5c window, the VPD capability's address/data) are handled by their own modules;
//! this module only lays them out.

use crate::config::{DeviceConfig, GatewayKind};

/// Full config space size (PCIe).
pub const CONFIG_SIZE: u64 = 4096;
/// What an unprivileged reader sees (truncated-config fault).
pub const TRUNCATED_CONFIG_SIZE: u64 = 64;

pub const VENDOR_MELLANOX: u16 = 0x15b3;
/// Vendor-specific capability (the crspace gateway) for gateway = vsec / recovery.
pub const VSEC_OFF: u32 = 0x40;
pub const VSEC_LEN: u8 = 0x18;
pub const VSEC_TYPE_FUNCTIONAL: u8 = 0;
pub const VSEC_TYPE_RECOVERY: u8 = 2;
/// The older address/data window (gateway != vsec).
pub const LEGACY_ADDR_OFF: u32 = 0x58;
pub const LEGACY_DATA_OFF: u32 = 0x5c;
/// PCI Express capability (v2, endpoint).
pub const PCIE_OFF: u32 = 0x60;
/// MSI-X capability.
pub const MSIX_OFF: u32 = 0x9c;
/// VPD capability (present when `vpd` is in the device's paths).
pub const VPD_OFF: u32 = 0xd0;

pub const CAP_ID_VPD: u8 = 0x03;
pub const CAP_ID_VNDR: u8 = 0x09;
pub const CAP_ID_EXP: u8 = 0x10;
pub const CAP_ID_MSIX: u8 = 0x11;

/// The simulated root ports (`root_port`): Intel's Sky Lake-E PCI Express root port ids (any
/// vendor but Mellanox: mstfwreset takes a Mellanox bridge for a switch on the card).
pub const BRIDGE_VENDOR: u16 = 0x8086;
pub const BRIDGE_DEVICE: u16 = 0x2030;
pub const BRIDGE_REVISION: u8 = 0x04;
/// The root port's PCI Express capability, and offsets in it.
pub const BRIDGE_PCIE_OFF: u32 = 0x40;
pub const LNKCTL: u32 = 0x10;
pub const LNKSTA: u32 = 0x12;
pub const LNKCTL_LINK_DISABLE: u16 = 0x0010;
/// Bridge Control (0x3e) Secondary Bus Reset.
pub const BRIDGE_CTL: u32 = 0x3e;
pub const BRIDGE_CTL_SBR: u16 = 0x0040;
const LNKCAP_DLLLA_CAPABLE: u32 = 1 << 20;
/// Link Status of a trained link (8 GT/s x16, slot clock, Data Link Layer Link Active) and
/// of a link that is down (slot clock only).
pub const LNKSTA_UP: u16 = 0x3103;
pub const LNKSTA_DOWN: u16 = 0x1000;

/// BAR0: 64-bit prefetchable memory, 64 MiB (the crspace `resource0`).
pub const BAR0_SIZE: u64 = 0x400_0000;
pub const BAR0_FLAGS: u32 = 0xc; // prefetchable (bit 3), 64-bit (bits 2:1 = 10)

/// BAR0 bus address the device reports (deterministic per BDF, 64 MiB aligned).
pub fn bar0_address(bdf: (u16, u8, u8, u8)) -> u64 {
    let (dom, bus, dev, func) = bdf;
    let slot = ((dom as u64) << 16) | ((bus as u64) << 8) | ((dev as u64) << 3) | func as u64;
    0x38_0000_0000 + slot * BAR0_SIZE * 4
}

/// Bytes and write masks of the plain registers.
pub(crate) struct ConfigSpace {
    pub bytes: Box<[u8; CONFIG_SIZE as usize]>,
    pub wmask: Box<[u8; CONFIG_SIZE as usize]>,
}

impl ConfigSpace {
    pub fn build(cfg: &DeviceConfig) -> ConfigSpace {
        let info = cfg.model_info();
        let bdf = crate::config::parse_bdf(&cfg.bdf).unwrap_or((0, 5, 0, 0));
        let mut cs = ConfigSpace {
            bytes: Box::new([0; CONFIG_SIZE as usize]),
            wmask: Box::new([0; CONFIG_SIZE as usize]),
        };
        let has_vsec = matches!(cfg.gateway, GatewayKind::Vsec | GatewayKind::Recovery);
        let has_vpd = cfg.has_path("vpd");

        // Type-0 header.
        cs.put16(0x00, cfg.vendor());
        cs.put16(0x02, info.pci_device_id);
        cs.put16(0x04, 0x0006); // memory space + bus master
        cs.mask16(0x04, 0x0547);
        cs.put16(0x06, 0x0010); // capability list
        let rev = ((info.hw_id_reg >> 16) & 0xff) as u8;
        cs.put32(0x08, (info.class << 8) | rev as u32);
        cs.mask8(0x0c, 0xff); // cache line size
        let bar = bar0_address(bdf);
        cs.put32(0x10, (bar as u32 & !(BAR0_SIZE as u32 - 1)) | BAR0_FLAGS);
        cs.put32(0x14, (bar >> 32) as u32);
        cs.mask32(0x10, !(BAR0_SIZE as u32 - 1));
        cs.mask32(0x14, 0xffff_ffff);
        cs.put16(0x2c, cfg.vendor());
        cs.put16(0x2e, info.subsystem_device);
        cs.put8(0x34, if has_vsec { VSEC_OFF } else { PCIE_OFF } as u8);
        cs.put8(0x3c, 0xff); // interrupt line
        cs.mask8(0x3c, 0xff);
        cs.put8(0x3d, 0x01); // INTA

        // Capabilities: [VSEC 0x40] -> PCIe 0x60 -> MSI-X 0x9c -> [VPD 0xd0].
        if has_vsec {
            let ty = if cfg.gateway == GatewayKind::Recovery {
                VSEC_TYPE_RECOVERY
            } else {
                VSEC_TYPE_FUNCTIONAL
            };
            cs.put8(VSEC_OFF, CAP_ID_VNDR);
            cs.put8(VSEC_OFF + 1, PCIE_OFF as u8);
            cs.put8(VSEC_OFF + 2, VSEC_LEN);
            cs.put8(VSEC_OFF + 3, ty);
        }
        let p = PCIE_OFF;
        cs.put8(p, CAP_ID_EXP);
        cs.put8(p + 1, MSIX_OFF as u8);
        cs.put16(p + 2, 0x0002); // version 2, PCI Express endpoint
        cs.put32(p + 4, 0x1000_8fe2); // DevCap: MPS 512, ext tag, FLR
        cs.put16(p + 8, 0x5937); // DevCtl
        cs.mask16(p + 8, 0xffff);
        cs.put32(p + 0xc, 0x0040_d103); // LnkCap: 8 GT/s x16
        cs.put16(p + 0x10, 0x0040); // LnkCtl
        cs.mask16(p + 0x10, 0x0fff);
        cs.put16(p + 0x12, 0x1103); // LnkSta: 8 GT/s x16, slot clock
        cs.put32(p + 0x24, 0x0007_0b9f); // DevCap2
        cs.put16(p + 0x28, 0x0000); // DevCtl2
        cs.mask16(p + 0x28, 0xffff);
        cs.put32(p + 0x2c, 0x0000_000e); // LnkCap2: 2.5-8 GT/s
        cs.put16(p + 0x30, 0x0003); // LnkCtl2: target 8 GT/s
        cs.mask16(p + 0x30, 0xffff);

        let m = MSIX_OFF;
        cs.put8(m, CAP_ID_MSIX);
        cs.put8(m + 1, if has_vpd { VPD_OFF as u8 } else { 0 });
        cs.put16(m + 2, 0x003f); // 64 vectors
        cs.mask16(m + 2, 0xc000);
        cs.put32(m + 4, 0x0000_2000); // table in BAR0 at 0x2000
        cs.put32(m + 8, 0x0000_3000); // PBA in BAR0 at 0x3000

        if has_vpd {
            cs.put8(VPD_OFF, CAP_ID_VPD);
            cs.put8(VPD_OFF + 1, 0);
        }
        cs
    }

    /// Config space of the PCI Express root port above a bus of simulated functions (type-1
    /// header, one capability: PCI Express v2, root port with a slot and no hot-plug).
    /// `window`: the 64-bit prefetchable window (first, last byte) covering the BARs below.
    /// Link Control's Link Disable and Bridge Control's Secondary Bus Reset are writable;
    /// the bridge model (`bridge.rs`) acts on them and fills in Link Status.
    pub fn root_port(port: u8, secondary: u8, window: (u64, u64)) -> ConfigSpace {
        let mut cs = ConfigSpace {
            bytes: Box::new([0; CONFIG_SIZE as usize]),
            wmask: Box::new([0; CONFIG_SIZE as usize]),
        };
        cs.put16(0x00, BRIDGE_VENDOR);
        cs.put16(0x02, BRIDGE_DEVICE);
        cs.put16(0x04, 0x0007); // I/O, memory, bus master
        cs.mask16(0x04, 0x0547);
        cs.put16(0x06, 0x0010); // capability list
        cs.put32(0x08, 0x0604_0000 | BRIDGE_REVISION as u32); // PCI-to-PCI bridge
        cs.mask8(0x0c, 0xff); // cache line size
        cs.put8(0x0e, 0x01); // header type 1
        cs.put8(0x19, secondary);
        cs.put8(0x1a, secondary); // subordinate
        cs.put8(0x1c, 0xf0); // I/O window: base above limit (none)
        cs.put32(0x20, 0x0000_fff0); // memory window: none
        let (base, limit) = window;
        let lo = |a: u64| ((a >> 16) as u32 & 0xfff0) | 1; // 1: 64-bit window
        cs.put32(0x24, lo(base) | lo(limit) << 16);
        cs.put32(0x28, (base >> 32) as u32);
        cs.put32(0x2c, (limit >> 32) as u32);
        cs.put8(0x34, BRIDGE_PCIE_OFF as u8);
        cs.put8(0x3c, 0xff);
        cs.mask8(0x3c, 0xff);
        cs.put8(0x3d, 0x01); // INTA
        cs.mask16(0x3e, 0x007f); // bridge control, secondary bus reset = bit 6

        let p = BRIDGE_PCIE_OFF;
        cs.put8(p, CAP_ID_EXP);
        cs.put16(p + 2, 0x0142); // version 2, root port, slot implemented
        cs.put32(p + 4, 0x0000_8001); // DevCap: MPS 256, role-based error reporting
        cs.mask16(p + 8, 0x7fff); // DevCtl
                                  // LnkCap: 8 GT/s x16, Data Link Layer Link Active reporting (bit 20), port number.
        cs.put32(p + 0xc, (port as u32) << 24 | LNKCAP_DLLLA_CAPABLE | 0x0103);
        cs.mask16(p + LNKCTL, 0x0fdb); // LnkCtl, Link Disable = bit 4 (retrain reads 0)
        cs.put16(p + 0x12, LNKSTA_UP); // LnkSta (the bridge model keeps it current)
        cs.put32(p + 0x14, (port as u32) << 19); // SltCap: slot number, no hot-plug
        cs.put16(p + 0x1a, 0x0040); // SltSta: presence detected
        cs.mask16(p + 0x1c, 0x001f); // RootCtl
        cs.put32(p + 0x2c, 0x0000_000e); // LnkCap2: 2.5-8 GT/s
        cs.put16(p + 0x30, 0x0003); // LnkCtl2: target 8 GT/s
        cs.mask16(p + 0x30, 0xffff);
        cs
    }

    /// What a function's config space holds after its link went down and up (a
    /// conventional reset): the power-on values, i.e. command register cleared and BARs
    /// unassigned (address 0); the OS or the tool that caused the reset restores the rest.
    pub fn after_reset(cfg: &DeviceConfig) -> ConfigSpace {
        let mut cs = ConfigSpace::build(cfg);
        cs.put16(0x04, 0);
        cs.put32(0x10, BAR0_FLAGS);
        cs.put32(0x14, 0);
        cs
    }

    fn put8(&mut self, off: u32, v: u8) {
        self.bytes[off as usize] = v;
    }
    fn put16(&mut self, off: u32, v: u16) {
        self.bytes[off as usize..off as usize + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn put32(&mut self, off: u32, v: u32) {
        self.bytes[off as usize..off as usize + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn mask8(&mut self, off: u32, m: u8) {
        self.wmask[off as usize] = m;
    }
    fn mask16(&mut self, off: u32, m: u16) {
        self.wmask[off as usize..off as usize + 2].copy_from_slice(&m.to_le_bytes());
    }
    fn mask32(&mut self, off: u32, m: u32) {
        self.wmask[off as usize..off as usize + 4].copy_from_slice(&m.to_le_bytes());
    }

    /// Little-endian dword at an aligned offset.
    pub fn dword(&self, off: u32) -> u32 {
        let o = off as usize;
        u32::from_le_bytes(self.bytes[o..o + 4].try_into().expect("4 bytes"))
    }

    /// Store the bytes of `value` selected by `byte_enable` (bit i = byte i), honouring the
    /// write mask (read-only bits keep their value).
    pub fn write_dword(&mut self, off: u32, value: u32, byte_enable: u8) {
        let vb = value.to_le_bytes();
        for (i, v) in vb.iter().enumerate() {
            if byte_enable & (1 << i) == 0 {
                continue;
            }
            let o = off as usize + i;
            let m = self.wmask[o];
            self.bytes[o] = (self.bytes[o] & !m) | (v & m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(cs: &ConfigSpace) -> Vec<(u8, u32)> {
        let mut out = vec![];
        let mut p = cs.bytes[0x34] as u32;
        while p != 0 {
            out.push((cs.bytes[p as usize], p));
            p = cs.bytes[p as usize + 1] as u32;
            assert!(out.len() < 16);
        }
        out
    }

    #[test]
    fn capability_lists() {
        let mut cfg = DeviceConfig::default();
        let cs = ConfigSpace::build(&cfg);
        assert_eq!(
            walk(&cs),
            vec![(9, 0x40), (0x10, 0x60), (0x11, 0x9c), (3, 0xd0)]
        );
        assert_eq!(cs.dword(0) & 0xffff, 0x15b3);
        assert_eq!(cs.dword(0) >> 16, 0x1017);
        assert_eq!(cs.dword(8) >> 8, 0x020000);
        assert_eq!(cs.dword(0x2c), 0x0007_15b3);
        assert_eq!(cs.dword(0x40) >> 24, 0);
        cfg.gateway = GatewayKind::Legacy;
        cfg.paths = vec!["config".into()];
        let cs = ConfigSpace::build(&cfg);
        assert_eq!(walk(&cs), vec![(0x10, 0x60), (0x11, 0x9c)]);
        cfg.gateway = GatewayKind::Recovery;
        let cs = ConfigSpace::build(&cfg);
        assert_eq!(cs.dword(0x40) >> 24, 2);
    }

    #[test]
    fn bar_sizing_and_read_only_fields() {
        let mut cs = ConfigSpace::build(&DeviceConfig::default());
        let id = cs.dword(0);
        cs.write_dword(0, 0xffff_ffff, 0xf);
        assert_eq!(cs.dword(0), id);
        cs.write_dword(0x10, 0xffff_ffff, 0xf);
        assert_eq!(cs.dword(0x10), 0xfc00_000c);
        cs.write_dword(0x04, 0x0000_0000, 0x3);
        assert_eq!(cs.dword(0x04), 0x0010_0000);
    }
}
