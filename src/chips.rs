//! Chip-family predicates over PCI device ids (mstflint v4.36 `mtcr_common.c`, `mtcr_gpu.c`).

/// BlueField-4 PCI device ids: crypto enabled, crypto disabled, network controller,
/// management interface (`BLUEFIELD4_PCI_DEVICE_ID_*`).
pub(crate) const BLUEFIELD4_PCI_IDS: [u16; 4] = [0xa2dd, 0xa2de, 0xa2df, 0xc2d6];

/// `is_bluefield4_pci_device`.
pub(crate) fn is_bluefield4_pci(pci_id: u16) -> bool {
    BLUEFIELD4_PCI_IDS.contains(&pci_id)
}

#[cfg(test)]
mod tests {
    use super::*;

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
