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
}
