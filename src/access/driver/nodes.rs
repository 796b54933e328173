//! Where the kernel drivers put their nodes for a function: `/dev/<bdf>_mstconf` /
//! `_mstcr` (mstflint_access, Gen-1 `mst_driver` in mstflint mode) and MFT's `/dev/mst` names
//! (`mst_pciconf` / `mst_pci`, Gen-1 in MFT mode), which number cards by PCI id (`name`).

use std::path::PathBuf;

use crate::access::PathKind;
use crate::name;
use crate::pci::{sysfs, Bdf, SysfsRoot};

/// Driver node paths that may serve `bdf` (whether or not they exist), under `root.dev`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverNodeNames {
    /// `/dev/DDDD:BB:DD.F_mstconf` (mstflint_access, or Gen-1 mst_driver in mstflint mode).
    pub mstconf: PathBuf,
    /// `/dev/DDDD:BB:DD.F_mstcr` (Gen-1 memory node).
    pub mstcr: PathBuf,
    /// MFT `mst_pciconf` node `/dev/mst/mt<id>_pciconf<I>[.F]`.
    pub mft_conf: Option<PathBuf>,
    /// MFT `mst_pci` node `/dev/mst/mt<id>_pci_cr<I>` (function 0 only).
    pub mft_cr: Option<PathBuf>,
    /// Gen-1 MFT-mode `/dev/mst/mt<id>_pci_pciconf<F>` (only for the first card with that id).
    pub gen1_conf: Option<PathBuf>,
    /// Gen-1 MFT-mode `/dev/mst/mt<id>_pci_pci_cr<F>`.
    pub gen1_cr: Option<PathBuf>,
}

/// The node names of every driver for `bdf` (the inverse of the `/dev/mst` name rules of
/// `name`).
pub fn names(root: &SysfsRoot, bdf: Bdf) -> DriverNodeNames {
    let mut n = DriverNodeNames {
        mstconf: root.dev.join(format!("{bdf}_mstconf")),
        mstcr: root.dev.join(format!("{bdf}_mstcr")),
        ..Default::default()
    };
    let mst = root.dev.join("mst");
    // The /dev/mst names need the card's index among the functions with its PCI id (a scan of
    // every function); without /dev/mst no such node can exist, so skip the scan.
    if !mst.is_dir() {
        return n;
    }
    let Some(id) = sysfs::read_u16(root, bdf, "device") else {
        return n;
    };
    let cards = name::functions_with_id(root, id);
    let card0 = Bdf { func: 0, ..bdf };
    if let Some(i) = cards
        .iter()
        .filter(|b| b.func == 0)
        .position(|b| *b == card0)
    {
        let conf = if bdf.func == 0 {
            format!("mt{id}_pciconf{i}")
        } else {
            format!("mt{id}_pciconf{i}.{}", bdf.func)
        };
        n.mft_conf = Some(mst.join(conf));
        if bdf.func == 0 {
            n.mft_cr = Some(mst.join(format!("mt{id}_pci_cr{i}")));
        }
    }
    if cards.iter().find(|b| b.func == bdf.func) == Some(&bdf) {
        n.gen1_conf = Some(mst.join(format!("mt{id}_pci_pciconf{}", bdf.func)));
        n.gen1_cr = Some(mst.join(format!("mt{id}_pci_pci_cr{}", bdf.func)));
    }
    n
}

/// The driver nodes present for `bdf`, as (path kind, node), best first: Gen-1 unified, then
/// mstflint_access, then MFT; config nodes, then memory nodes. A `_mstconf` node is listed
/// twice (Gen-1, then mstflint_access): the open probes which ABI answers.
pub fn present(root: &SysfsRoot, bdf: Bdf) -> Vec<(PathKind, PathBuf)> {
    let n = names(root, bdf);
    [
        (PathKind::MstDriver, Some(n.mstconf.clone())),
        (PathKind::MstDriver, n.gen1_conf),
        (PathKind::MstflintAccess, Some(n.mstconf)),
        (PathKind::MftPciconf, n.mft_conf),
        (PathKind::MstDriverCr, Some(n.mstcr)),
        (PathKind::MstDriverCr, n.gen1_cr),
        (PathKind::MftPci, n.mft_cr),
    ]
    .into_iter()
    .filter_map(|(k, p)| p.filter(|p| p.symlink_metadata().is_ok()).map(|p| (k, p)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::tests_support::FakeSys;

    #[test]
    fn names_and_present_nodes() {
        let fs = FakeSys::new("nodes");
        fs.add_device("0000:05:00.0", 0x15b3, 0x1017);
        fs.add_device("0000:05:00.1", 0x15b3, 0x1017);
        fs.add_device("0000:06:00.0", 0x15b3, 0x1017);
        let root = fs.root();
        let b = |s: &str| Bdf::parse_canonical(s).unwrap();
        let dev = &root.dev;
        // Without /dev/mst: only the `_mst*` names.
        let n = names(&root, b("0000:06:00.0"));
        assert_eq!(n.mstconf, dev.join("0000:06:00.0_mstconf"));
        assert_eq!(n.mstcr, dev.join("0000:06:00.0_mstcr"));
        assert_eq!((n.mft_conf, n.gen1_conf), (None, None));
        std::fs::create_dir_all(dev.join("mst")).unwrap();
        // The second card with id 4119: index 1; not the first card, so no Gen-1 MFT name.
        let n = names(&root, b("0000:06:00.0"));
        assert_eq!(n.mft_conf, Some(dev.join("mst/mt4119_pciconf1")));
        assert_eq!(n.mft_cr, Some(dev.join("mst/mt4119_pci_cr1")));
        assert_eq!((n.gen1_conf, n.gen1_cr), (None, None));
        // Function 1 of the first card: `.1`, no memory node of MFT's; Gen-1 by function.
        let n = names(&root, b("0000:05:00.1"));
        assert_eq!(n.mft_conf, Some(dev.join("mst/mt4119_pciconf0.1")));
        assert_eq!(n.mft_cr, None);
        assert_eq!(n.gen1_conf, Some(dev.join("mst/mt4119_pci_pciconf1")));
        assert_eq!(n.gen1_cr, Some(dev.join("mst/mt4119_pci_pci_cr1")));

        assert!(present(&root, b("0000:05:00.0")).is_empty());
        for p in [
            "0000:05:00.0_mstconf",
            "mst/mt4119_pci_cr0",
            "mst/mt4119_pciconf0",
        ] {
            std::fs::write(dev.join(p), "").unwrap();
        }
        assert_eq!(
            present(&root, b("0000:05:00.0")),
            [
                (PathKind::MstDriver, dev.join("0000:05:00.0_mstconf")),
                (PathKind::MstflintAccess, dev.join("0000:05:00.0_mstconf")),
                (PathKind::MftPciconf, dev.join("mst/mt4119_pciconf0")),
                (PathKind::MftPci, dev.join("mst/mt4119_pci_cr0")),
            ]
        );
    }
}
