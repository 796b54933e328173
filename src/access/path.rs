//! The access-path vocabulary: which way crspace is reached, as `MTCR_FORCE_PATH` names it
//! and as `mfile.tp` / `mfile.flags` report it.

use crate::defs::{MDEVS_TAVOR_CR, MST_FWCTL_CONTROL_DRIVER, MST_PCI, MST_PCICONF};

/// An access path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathKind {
    /// PCI config space through sysfs/procfs: VSEC gateway, or the old address/data window.
    SysfsConfig,
    /// Memory-mapped crspace through sysfs `resource0`.
    SysfsMemory,
    /// mstflint's `mstflint_access` driver, `/dev/<bdf>_mstconf`.
    MstflintAccess,
    /// The unified Gen-1 `mst_driver`, config node (`/dev/<bdf>_mstconf` or
    /// `/dev/mst/mt<id>_pci_pciconf<F>`).
    MstDriver,
    /// The unified Gen-1 `mst_driver`, memory node (`_mstcr`, `_pci_pci_cr<F>`).
    MstDriverCr,
    /// MFT's `mst_pciconf`, `/dev/mst/mt<id>_pciconf<I>[.F]`.
    MftPciconf,
    /// MFT's `mst_pci`: BAR0 mapped through `/dev/mst/mt<id>_pci_cr<I>`.
    MftPci,
    /// The kernel's fwctl, `/dev/fwctl/fwctlN`: register access only (`access::fwctl`).
    Fwctl,
}

impl PathKind {
    /// Every path, in the order `MTCR_FORCE_PATH` documents them.
    pub const ALL: [PathKind; 8] = [
        PathKind::SysfsConfig,
        PathKind::SysfsMemory,
        PathKind::MstDriver,
        PathKind::MstDriverCr,
        PathKind::MstflintAccess,
        PathKind::MftPciconf,
        PathKind::MftPci,
        PathKind::Fwctl,
    ];

    /// `mfile.tp` for this path, as the stock library sets it: MST_DRIVER_CONF /
    /// MST_DRIVER_CR are only what its name parser returns; a driver open ends with
    /// MST_PCICONF on a config node (`_mstconf`) and MST_PCI on a memory node (`_mstcr`), so
    /// every config path is MST_PCICONF and every memory path MST_PCI (mtcr_api.md §1, §3.1).
    pub fn mtype(self) -> u32 {
        match self {
            PathKind::Fwctl => MST_FWCTL_CONTROL_DRIVER,
            k if k.is_memory() => MST_PCI,
            _ => MST_PCICONF,
        }
    }

    /// `mfile.flags` (`mget_mdevs_flags`): stock leaves it 0 on its driver opens
    /// (mtcr_api.md §9.8 item 2), MDEVS_TAVOR_CR elsewhere.
    pub fn mdevs_flags(self) -> u32 {
        match self {
            PathKind::MstflintAccess | PathKind::MstDriver | PathKind::MstDriverCr => 0,
            _ => MDEVS_TAVOR_CR,
        }
    }

    /// Whether crspace is reached by memory mapping / memory ioctls.
    pub fn is_memory(self) -> bool {
        matches!(
            self,
            PathKind::SysfsMemory | PathKind::MstDriverCr | PathKind::MftPci
        )
    }

    /// Whether this path goes through a kernel driver node.
    pub fn is_driver(self) -> bool {
        !matches!(self, PathKind::SysfsConfig | PathKind::SysfsMemory)
    }

    /// Short name, as `MTCR_FORCE_PATH` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PathKind::SysfsConfig => "config",
            PathKind::SysfsMemory => "memory",
            PathKind::MstflintAccess => "mstflint_access",
            PathKind::MstDriver => "mst_driver",
            PathKind::MstDriverCr => "mst_driver_cr",
            PathKind::MftPciconf => "mft",
            PathKind::MftPci => "mft_pci",
            PathKind::Fwctl => "fwctl",
        }
    }

    /// Parse a short name (case-insensitive); `mst_pciconf` / `mst_pci` are accepted for the
    /// MFT paths.
    pub fn parse(s: &str) -> Option<PathKind> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "mst_pciconf" => return Some(PathKind::MftPciconf),
            "mst_pci" => return Some(PathKind::MftPci),
            _ => {}
        }
        PathKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}
