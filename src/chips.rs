//! Chip-family predicates over PCI device ids (mstflint v4.36 `mtcr_common.c`, `mtcr_gpu.c`).

/// BlueField-4 PCI device ids: crypto enabled, crypto disabled, network controller,
/// management interface (`BLUEFIELD4_PCI_DEVICE_ID_*`).
pub(crate) const BLUEFIELD4_PCI_IDS: [u16; 4] = [0xa2dd, 0xa2de, 0xa2df, 0xc2d6];

/// `is_bluefield4_pci_device`.
pub(crate) fn is_bluefield4_pci(pci_id: u16) -> bool {
    BLUEFIELD4_PCI_IDS.contains(&pci_id)
}

/// An inclusive range of PCI device ids.
pub(crate) type PciIdRange = (u16, u16);

/// PCI device ids of GB100-family GPUs.
pub(crate) const GB100_PCI_IDS: [PciIdRange; 6] = [
    (0x2900, 0x29ff),
    (0x2b00, 0x2b7f),
    (0x3180, 0x31ff),
    (0x3200, 0x327f),
    (0x3300, 0x33ff),
    (0x3400, 0x347f),
];

/// PCI device ids of GR100-family GPUs.
pub(crate) const GR100_PCI_IDS: [PciIdRange; 1] = [(0x3000, 0x30ff)];

/// Hardware ids (crspace 0xf0014) of the GB100 and GR100 GPUs.
pub(crate) const GB100_HW_ID: u16 = 0x2900;
pub(crate) const GR100_HW_ID: u16 = 0x3000;

fn in_ranges(ranges: &[PciIdRange], id: u16) -> bool {
    ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&id))
}

/// `is_gb100_pci_device`.
pub(crate) fn is_gb100_pci(pci_id: u16) -> bool {
    in_ranges(&GB100_PCI_IDS, pci_id)
}

/// `is_gr100_pci_device`.
pub(crate) fn is_gr100_pci(pci_id: u16) -> bool {
    in_ranges(&GR100_PCI_IDS, pci_id)
}

/// `is_gpu_pci_device`: a GB100 or GR100 PCI id.
pub(crate) fn is_gpu_pci(pci_id: u16) -> bool {
    is_gb100_pci(pci_id) || is_gr100_pci(pci_id)
}

/// `get_hw_dev_id_by_pci_id`: the hardware id of a GPU PCI id, 0 for anything else.
pub(crate) fn hw_dev_id_by_pci_id(pci_id: u16) -> u16 {
    if is_gb100_pci(pci_id) {
        GB100_HW_ID
    } else if is_gr100_pci(pci_id) {
        GR100_HW_ID
    } else {
        0
    }
}

/// `is_livefish_device` on a PCI function: in flash recovery a (non-GPU) function reports
/// its hardware id as its PCI device id.
pub(crate) fn is_livefish(pci_id: u16, hw_id: u32) -> bool {
    !is_gpu_pci(pci_id) && u32::from(pci_id) == hw_id
}

/// PCI vendor ids accepted by enumeration: Mellanox and NVIDIA.
pub(crate) const VENDOR_MELLANOX: u16 = 0x15b3;
pub(crate) const VENDOR_NVIDIA: u16 = 0x10de;

/// PCI device ids of supported functions.
pub(crate) const SUPPORTED_PCI_IDS: &[u16] = &[
    0x1003, // ConnectX-3
    0x1007, // ConnectX-3 Pro
    0x1011, // Connect-IB
    0x1013, // ConnectX-4
    0x1015, // ConnectX-4 Lx
    0x1017, // ConnectX-5
    0x1019, // ConnectX-5 Ex
    0x101b, // ConnectX-6
    0x101d, // ConnectX-6 Dx
    0x101f, // ConnectX-6 Lx
    0x1021, // ConnectX-7
    0x1023, // ConnectX-8
    0x1025, // ConnectX-9
    0xcb20, // Switch-IB
    0xcb84, // Spectrum
    0xcf08, // Switch-IB 2
    0xd2f0, // Quantum
    0xd2f2, // Quantum-2
    0xcf6c, // Spectrum-2
    0xa2d2, // BlueField
    0xa2d6, // BlueField-2
    0xa2dc, // BlueField-3
    0xa2dd, 0xa2de, 0xa2df, 0xc2d6, // BlueField-4
    0xcf70, // Spectrum-3
    0xcf80, // Spectrum-4
    0xcf82, // Spectrum-5
    0xcf84, // Spectrum-6
    0x1976, // ConnectX-6 Dx PCIe bridge
    0x1979, // ConnectX-7 PCIe bridge
    0x197d, // ConnectX-8 PCIe bridge
    0x197e, // ConnectX-9 PCIe bridge
    0x2900, // GB100
    0x3000, // GR100
    0xd2f4, // Quantum-3 / Sunbird
    0xd2f8, // NVLink6 switch
];

/// Livefish (flash recovery) functions report their HW id as the PCI device id.
pub(crate) const LIVEFISH_IDS: &[u16] = &[
    0x191, 0x246, 0x249, 0x24b, 0x24d, 0x24e, 0x1f6, 0x1f8, 0x1ff, 0x247, 0x209, 0x20b, 0x20d,
    0x20f, 0x211, 0x214, 0x212, 0x216, 0x218, 0x21e, 0x224, 0x21c, 0x220, 0x250, 0x254, 0x270,
    0x274, 0x257, 0x25b, 0x278,
];

/// PCIe switch (bridge) functions of ConnectX/BlueField cards (`is_pcie_switch_device`).
pub(crate) const PCIE_SWITCH_IDS: &[u16] = &[0x1976, 0x1979, 0x197d, 0x197e];

/// NVIDIA GPU ids reached through crspace at offset 0x3000000 (not served by this library's
/// sysfs paths; listed so that enumeration accepts them as stock does).
pub(crate) const GPU_PCI_IDS: &[u16] = &[0x2900, 0x3000];

/// ConnectX-3 / ConnectX-3 Pro: the only devices whose default access is the memory BAR.
pub(crate) const MEMORY_FIRST_IDS: &[u16] = &[0x1003, 0x1007];

/// `is_supported_device`: supported PCI id, GPU, or livefish HW id.
pub(crate) fn is_supported(pci_id: u16) -> bool {
    SUPPORTED_PCI_IDS.contains(&pci_id)
        || LIVEFISH_IDS.contains(&pci_id)
        || GPU_PCI_IDS.contains(&pci_id)
}

/// Whether the PCI id is a livefish (recovery-mode) id.
pub(crate) fn is_livefish_pci_id(pci_id: u16) -> bool {
    LIVEFISH_IDS.contains(&pci_id)
}

/// Whether the PCI id is one of the PCIe-switch functions.
pub(crate) fn is_pcie_switch(pci_id: u16) -> bool {
    PCIE_SWITCH_IDS.contains(&pci_id)
}

/// ICMD readiness by hw id: the crspace address whose bit 31 is set while the firmware has not
/// finished its static configuration (ICMD not ready). None: chips without that bit (upstream
/// also refuses ICMD through the BAR on them).
pub(crate) fn static_cfg_not_done_addr(hw_id: u16) -> Option<u32> {
    match hw_id {
        0x209 | 0x20b => Some(0xb0004),
        0x20d => Some(0xb5e04),
        0x20f | 0x212 | 0x214 | 0x216 | 0x218 => Some(0xb5f04),
        0x21e | 0x224 => Some(0xa0304),
        _ => None,
    }
}

/// ConnectX-3 / ConnectX-3 Pro hw ids (the tools-HCR family; crspace reached through the BAR
/// first).
pub(crate) const CONNECTX3_HW_IDS: [u16; 2] = [0x1f5, 0x1f7];

/// The hw-id dword of early ConnectX-3 silicon (also handled as ConnectX-3 by the memory path).
pub(crate) const CONNECTX3_OLD_SIGNATURE: u32 = 0x00a0_0190;

/// Whether the hw id is a ConnectX-3 / ConnectX-3 Pro.
pub(crate) fn is_connectx3_hw_id(hw_id: u16) -> bool {
    CONNECTX3_HW_IDS.contains(&hw_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpus() {
        for id in [
            0x2900, 0x29ff, 0x2b00, 0x2b7f, 0x3180, 0x31ff, 0x3200, 0x327f, 0x3300, 0x33ff, 0x3400,
            0x347f,
        ] {
            assert!(
                is_gb100_pci(id) && is_gpu_pci(id) && !is_gr100_pci(id),
                "{id:#x}"
            );
            assert_eq!(hw_dev_id_by_pci_id(id), 0x2900);
        }
        for id in [0x3000, 0x3042, 0x30ff] {
            assert!(
                is_gr100_pci(id) && is_gpu_pci(id) && !is_gb100_pci(id),
                "{id:#x}"
            );
            assert_eq!(hw_dev_id_by_pci_id(id), 0x3000);
        }
        for id in [0x28ff, 0x2a00, 0x2b80, 0x2fff, 0x3100, 0x3480, 0x1017, 0] {
            assert!(!is_gpu_pci(id), "{id:#x}");
            assert_eq!(hw_dev_id_by_pci_id(id), 0);
        }
    }

    #[test]
    fn livefish() {
        assert!(is_livefish(0x20d, 0x20d));
        assert!(!is_livefish(0x1017, 0x20d));
        assert!(!is_livefish(0x2900, 0x2900)); // a GPU is never livefish
        assert!(!is_livefish(0x20d, 0x1020d));
    }

    #[test]
    fn bluefield4() {
        for id in [0xa2dd, 0xa2de, 0xa2df, 0xc2d6] {
            assert!(is_bluefield4_pci(id), "{id:#x}");
        }
        for id in [0xa2dc, 0xa2d6, 0x1021, 0, 0xffff] {
            assert!(!is_bluefield4_pci(id), "{id:#x}");
        }
    }

    #[test]
    fn tables() {
        assert!(is_supported(0x1017));
        assert!(is_supported(0x20d)); // CX5 livefish
        assert!(!is_supported(0x6340)); // InfiniHost III
        assert!(is_pcie_switch(0x1979) && !is_pcie_switch(0x1021));
        assert!(is_livefish_pci_id(0x218) && !is_livefish_pci_id(0x1021));
    }
}

/// Hardware ids (the whole 0xf0014 dword, as stock compares it) that can be in the
/// "ZombieFish" recovery state.
pub(crate) const ZOMBIEFISH_HW_IDS: &[u32] = &[
    0x218, 0x21e, 0x222, 0x224, 0x228, 0x21c, 0x25b, 0x278, 0x274,
];

/// Of [`ZOMBIEFISH_HW_IDS`], those whose recovery state is read from crspace on the memory
/// path (Quantum-3, NVLink6 switch).
pub(crate) const ZOMBIEFISH_MEMORY_HW_IDS: &[u32] = &[0x25b, 0x278];

/// Whether a device with this hw id dword can be in ZombieFish recovery.
pub(crate) fn may_be_zombiefish(hw_id: u32) -> bool {
    ZOMBIEFISH_HW_IDS.contains(&hw_id)
}

#[cfg(test)]
mod recovery_tests {
    use super::*;

    #[test]
    fn zombiefish_ids() {
        assert!(may_be_zombiefish(0x25b) && !may_be_zombiefish(0x1025b));
        assert!(ZOMBIEFISH_MEMORY_HW_IDS
            .iter()
            .all(|&h| may_be_zombiefish(h)));
    }
}

/// `is_gpu_device`: whether the hardware id is one of the NVIDIA GPUs (GB100, GR100).
pub(crate) fn is_gpu_hw(hw_id: u16) -> bool {
    matches!(hw_id, GB100_HW_ID | GR100_HW_ID)
}

#[cfg(test)]
mod gpu_hw_tests {
    #[test]
    fn gpu_hw_ids() {
        assert!(super::is_gpu_hw(0x2900) && super::is_gpu_hw(0x3000));
        assert!(!super::is_gpu_hw(0x20d) && !super::is_gpu_hw(0x2901));
    }
}
