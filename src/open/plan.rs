//! The plan: which access paths to try for a name, in which order, and why. Pure: it works on
//! what the name designates ([`Target`]), the options, the PCI id and the driver nodes
//! present (found beforehand, `open::discover_nodes`), and touches nothing.
//!
//! Order of precedence for the path to use:
//! 1. `OpenOptions::force` (programmatic);
//! 2. a file name that allows only one path (`.../config`, `/proc/bus/pci/...` → sysfs
//!    config; `.../resource0` → sysfs memory);
//! 3. the environment variable `MTCR_FORCE_PATH` = `config` | `memory` | `mst_driver` |
//!    `mst_driver_cr` | `mstflint_access` | `mft` | `mft_pci` | `fwctl` (a driver kind uses
//!    only that driver's nodes; none present → ENODEV; `fwctl`: the function's
//!    `/dev/fwctl/fwctlN`, register access only);
//! 4. `/dev/mst/...` names: the named node (its ABI from its name, probed), else sysfs
//!    config (`pciconf` names) or `resource0` (`pci_cr` names);
//! 5. otherwise, the kernel-driver nodes present for the function, best first: the unified
//!    Gen-1 `mst_driver` (`/dev/<bdf>_mstconf` answering MST_GET_DEVICE_PARAMETERS, or
//!    `/dev/mst/mt<id>_pci_pciconf<F>`), mstflint's `mstflint_access` (`_mstconf` answering
//!    MST_PARAMS), MFT's `mst_pciconf`; then sysfs config. ConnectX-3 / 3 Pro (memory first,
//!    as stock): the memory nodes (`_mstcr`, `mt<id>_pci_pci_cr<F>`, `mt<id>_pci_cr<I>`), then
//!    `resource0`, then the config order above.
//!
//! Names containing `fwctl` (`fwctlN`, `/dev/fwctl/fwctlN`) designate that node
//! ([`Target::Fwctl`]): its plan is that node alone. When config space and `resource0` are
//! both refused with EPERM (kernel lockdown) and the plan was not forced, the function's fwctl
//! node serves register access instead (`open::fallback`).
//!
//! A step that fails falls to the next; a node answering the probe with ENOTTY/EINVAL (another
//! driver or version) or refusing the open is logged (`warn`) and skipped. Which path was
//! chosen and why the others were skipped is logged at `info` level.

use std::path::PathBuf;

use crate::access::PathKind;
use crate::chips;
use crate::name::{FileKind, MstName, Target};

/// Environment variable forcing a path.
pub const FORCE_ENV: &str = "MTCR_FORCE_PATH";

/// Paths to try, in order (with the driver node each uses), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<(PathKind, Option<PathBuf>)>,
    pub reason: String,
    /// The caller, the device name or the environment chose the path: no fallback beyond it.
    pub forced: bool,
}

impl Plan {
    /// The kinds tried, in order.
    pub fn order(&self) -> Vec<PathKind> {
        self.steps.iter().map(|s| s.0).collect()
    }
}

/// The driver (path kind) a `/dev/mst` node name belongs to.
pub fn node_kind(name: MstName) -> PathKind {
    match name {
        MstName::Pciconf { .. } => PathKind::MftPciconf,
        MstName::PciCr { .. } => PathKind::MftPci,
        MstName::DriverPciconf { .. } => PathKind::MstDriver,
        MstName::DriverPciCr { .. } => PathKind::MstDriverCr,
    }
}

/// Decide the order of paths (see the module docs). `nodes`: the driver nodes present, as
/// (path kind, node), best first (`open::discover_nodes`).
pub fn plan(
    target: &Target,
    opt_force: Option<PathKind>,
    env_force: Option<PathKind>,
    pci_device_id: Option<u16>,
    nodes: &[(PathKind, PathBuf)],
    prefer_memory: bool,
) -> Plan {
    let sysfs = |k: PathKind| (k, None::<PathBuf>);
    let drivers = |memory: bool| -> Vec<(PathKind, Option<PathBuf>)> {
        nodes
            .iter()
            // fwctl is used only when forced (or as the lockdown fall-over).
            .filter(|(k, _)| k.is_memory() == memory && *k != PathKind::Fwctl)
            .map(|(k, p)| (*k, Some(p.clone())))
            .collect()
    };
    let forced = |k: PathKind, why: &str| {
        let steps = if k.is_driver() {
            let v: Vec<_> = nodes
                .iter()
                .filter(|(n, _)| *n == k)
                .map(|(n, p)| (*n, Some(p.clone())))
                .collect();
            if v.is_empty() {
                vec![(k, None)]
            } else {
                v
            }
        } else {
            vec![sysfs(k)]
        };
        Plan {
            steps,
            reason: format!("{} forced by {why}", k.as_str()),
            forced: true,
        }
    };
    if let Target::Fwctl { path } = target {
        return Plan {
            steps: vec![(PathKind::Fwctl, Some(path.clone()))],
            reason: "fwctl node named by the device name".into(),
            forced: true,
        };
    }
    if let Some(k) = opt_force {
        return forced(k, "the caller");
    }
    if let Target::File { kind, .. } = target {
        let k = match kind {
            FileKind::Config => PathKind::SysfsConfig,
            FileKind::Resource0 => PathKind::SysfsMemory,
        };
        return forced(k, "the device name");
    }
    if let Some(k) = env_force {
        return forced(k, FORCE_ENV);
    }
    match target {
        Target::Node { name, .. } => {
            let memory = name.is_memory();
            let mut steps = drivers(memory);
            steps.push(sysfs(if memory {
                PathKind::SysfsMemory
            } else {
                PathKind::SysfsConfig
            }));
            return Plan {
                steps,
                reason: "driver node named by the device name, else sysfs".into(),
                forced: false,
            };
        }
        Target::Bdf {
            prefer_config: true,
            ..
        } => {
            let mut steps = drivers(false);
            steps.push(sysfs(PathKind::SysfsConfig));
            return Plan {
                steps,
                reason: "config requested by the device name (driver first)".into(),
                forced: true,
            };
        }
        _ => {}
    }
    let memory_first = pci_device_id.filter(|id| chips::MEMORY_FIRST_IDS.contains(id));
    if prefer_memory || memory_first.is_some() {
        let mut steps = drivers(true);
        steps.push(sysfs(PathKind::SysfsMemory));
        steps.extend(drivers(false));
        steps.push(sysfs(PathKind::SysfsConfig));
        Plan {
            steps,
            reason: match memory_first {
                Some(id) => {
                    format!("PCI id {id:#x} (ConnectX-3 family): memory first, then config")
                }
                None => "memory access requested: memory first, then config".into(),
            },
            forced: false,
        }
    } else {
        let mut steps = drivers(false);
        steps.push(sysfs(PathKind::SysfsConfig));
        Plan {
            steps,
            reason: "default: kernel drivers first, then sysfs config".into(),
            forced: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::mask_supports;
    use crate::defs::*;
    use crate::pci::Bdf;

    fn bdf_target(prefer_config: bool) -> Target {
        Target::Bdf {
            bdf: Bdf::default(),
            prefer_config,
        }
    }

    fn file_target(kind: FileKind) -> Target {
        Target::File {
            path: "/sys/bus/pci/devices/0000:00:00.0/x".into(),
            kind,
            bdf: Bdf::default(),
        }
    }

    #[test]
    fn plan_precedence() {
        let cfg = PathKind::SysfsConfig;
        let mem = PathKind::SysfsMemory;
        let p = |t: &Target, o, e, id| plan(t, o, e, id, &[], false).order();
        let plain = bdf_target(false);
        let pciconf = bdf_target(true);
        let cfg_file = file_target(FileKind::Config);
        assert_eq!(p(&plain, None, None, Some(0x1017)), [cfg]);
        assert_eq!(p(&plain, None, None, None), [cfg]);
        assert_eq!(p(&plain, None, None, Some(0x1003)), [mem, cfg]);
        assert_eq!(p(&pciconf, None, None, Some(0x1007)), [cfg]);
        assert_eq!(p(&pciconf, None, Some(mem), None), [mem]);
        assert_eq!(p(&cfg_file, None, Some(mem), None), [cfg]);
        assert_eq!(p(&cfg_file, Some(mem), None, None), [mem]);
        assert_eq!(
            p(&file_target(FileKind::Resource0), None, Some(cfg), None),
            [mem]
        );
        assert!(plan(&pciconf, None, None, None, &[], false).forced);
        assert!(!plan(&plain, None, None, None, &[], false).forced);
        assert_eq!(PathKind::parse(" Memory "), Some(mem));
        assert_eq!(PathKind::parse("dram"), None);
        assert_eq!(cfg.mtype(), 0x10);
        assert_eq!(mem.mtype(), 0x8);
    }

    #[test]
    fn plan_with_drivers() {
        use PathKind::*;
        let conf = PathBuf::from("/dev/0000:00:00.0_mstconf");
        let mft = PathBuf::from("/dev/mst/mt4119_pciconf0");
        let cr = PathBuf::from("/dev/0000:00:00.0_mstcr");
        let nodes = vec![
            (MstDriver, conf.clone()),
            (MstflintAccess, conf.clone()),
            (MftPciconf, mft.clone()),
            (MstDriverCr, cr.clone()),
        ];
        let r = bdf_target(false);
        assert_eq!(
            plan(&r, None, None, Some(0x1017), &nodes, false).order(),
            [MstDriver, MstflintAccess, MftPciconf, SysfsConfig]
        );
        assert_eq!(
            plan(&r, None, None, Some(0x1003), &nodes, false).order(),
            [
                MstDriverCr,
                SysfsMemory,
                MstDriver,
                MstflintAccess,
                MftPciconf,
                SysfsConfig
            ]
        );
        assert_eq!(
            plan(&r, None, None, Some(0x1017), &nodes, true).order(),
            [
                MstDriverCr,
                SysfsMemory,
                MstDriver,
                MstflintAccess,
                MftPciconf,
                SysfsConfig
            ]
        );
        // Forcing a driver keeps only its nodes; a driver without node is an error step.
        let f = plan(&r, None, Some(MftPciconf), None, &nodes, false);
        assert_eq!(f.steps, [(MftPciconf, Some(mft.clone()))]);
        assert_eq!(
            plan(&r, Some(MftPci), None, None, &nodes, true).steps,
            [(MftPci, None)]
        );
        assert_eq!(
            plan(&r, None, Some(SysfsConfig), None, &nodes, false).order(),
            [SysfsConfig]
        );
        // A config-file name never uses a driver.
        assert_eq!(
            plan(
                &file_target(FileKind::Config),
                None,
                None,
                None,
                &nodes,
                true
            )
            .order(),
            [SysfsConfig]
        );
        for k in PathKind::ALL {
            assert_eq!(PathKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(PathKind::parse("mst_pciconf"), Some(MftPciconf));
        assert_eq!(
            (
                MstflintAccess.mtype(),
                MstDriver.mtype(),
                MstDriverCr.mtype(),
                MftPci.mtype()
            ),
            (MST_PCICONF, MST_PCICONF, MST_PCI, MST_PCI)
        );
        assert_eq!(MstDriver.mdevs_flags(), 0);
        assert!(mask_supports(1 << VCC_CRSPACE_SPACE_SUPPORTED, 0));
        assert!(!mask_supports(1 << VCC_CRSPACE_SPACE_SUPPORTED, AS_ICMD));
    }

    #[test]
    fn plan_for_named_nodes() {
        use PathKind::*;
        let node = |name: MstName| Target::Node {
            path: "/dev/mst/x".into(),
            name,
            bdf: Bdf::default(),
        };
        let n = PathBuf::from("/dev/mst/x");
        // The named node as `discover_nodes` lists it, then the sysfs path of its space.
        for (name, kind, sysfs) in [
            (
                MstName::Pciconf { index: 0, func: 0 },
                MftPciconf,
                SysfsConfig,
            ),
            (MstName::PciCr { index: 0 }, MftPci, SysfsMemory),
            (MstName::DriverPciconf { func: 1 }, MstDriver, SysfsConfig),
            (MstName::DriverPciCr { func: 0 }, MstDriverCr, SysfsMemory),
        ] {
            assert_eq!(node_kind(name), kind);
            let nodes = [(node_kind(name), n.clone())];
            let p = plan(&node(name), None, None, Some(0x1003), &nodes, true);
            assert_eq!(
                p.steps,
                [(kind, Some(n.clone())), (sysfs, None)],
                "{name:?}"
            );
            assert!(!p.forced);
            // Absent node: the sysfs path only.
            assert_eq!(
                plan(&node(name), None, None, None, &[], false).order(),
                [sysfs]
            );
            // The environment wins over the node name.
            assert_eq!(
                plan(&node(name), None, Some(SysfsMemory), None, &nodes, false).order(),
                [SysfsMemory]
            );
        }
        let f = Target::Fwctl {
            path: "/dev/fwctl/fwctl0".into(),
        };
        let p = plan(&f, Some(SysfsConfig), None, None, &[], false);
        assert_eq!(p.steps, [(Fwctl, Some("/dev/fwctl/fwctl0".into()))]);
        assert!(p.forced);
    }
}
