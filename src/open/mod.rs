//! Opening a function by the paths its name allows (docs/DRIVERS.md), in three steps:
//! the driver nodes present are found ([`discover_nodes`], filesystem), the plan orders the
//! paths ([`plan`](plan::plan), pure: the precedence rules are documented there), and the
//! fallback loop ([`fallback`]) opens them in order, each path through its own `open` in
//! `access/`.

pub mod fallback;
pub mod plan;

use std::path::PathBuf;

use crate::access::gateway::Tuning;
use crate::access::{driver, fwctl, Access, PathKind};
use crate::error::{Error, Result};
use crate::name::Target;
use crate::pci::{Bdf, SysfsRoot};

pub use fallback::{open_planned, OpenContext};
pub use plan::{node_kind, plan, FORCE_ENV};

/// `MTCR_FORCE_PATH`, if set to a known value (an unknown value is ignored with a warning).
pub fn force_from_env() -> Option<PathKind> {
    let v = std::env::var(FORCE_ENV).ok()?;
    if v.is_empty() {
        return None;
    }
    let k = PathKind::parse(&v);
    if k.is_none() {
        log::warn!(
            "{FORCE_ENV}={v:?} ignored (expected one of config, memory, mst_driver, \
             mst_driver_cr, mstflint_access, mft, mft_pci, fwctl)"
        );
    }
    k
}

/// The stock library refuses to open anything unless the effective uid is 0 (EACCES).
pub fn check_euid() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Error::io(
            "opening a device requires root (effective uid 0)",
            std::io::Error::from_raw_os_error(libc::EACCES),
        ));
    }
    Ok(())
}

/// Driver nodes present for function `bdf` of `target`, as (path kind, node), best first:
/// for a `/dev/mst/...` name only the named node; otherwise every driver's node for the
/// function (Gen-1 unified first, then mstflint_access, then MFT; config and memory nodes),
/// and the function's fwctl node when `fwctl` (forced). A `_mstconf` node is listed twice
/// (Gen-1, then mstflint_access): the open probes which ABI answers.
pub fn discover_nodes(
    root: &SysfsRoot,
    target: &Target,
    bdf: Bdf,
    fwctl: bool,
) -> Vec<(PathKind, PathBuf)> {
    let mut v = match target {
        Target::Node { path, name, .. } => {
            if path.symlink_metadata().is_ok() {
                vec![(node_kind(*name), path.clone())]
            } else {
                Vec::new()
            }
        }
        _ => driver::nodes::present(root, bdf),
    };
    if fwctl {
        if let Some(n) = fwctl::node_name_for(root, bdf) {
            v.push((PathKind::Fwctl, root.dev.join("fwctl").join(n)));
        }
    }
    v
}

/// An open of a PCI function: what the name designates and what the caller asks.
pub struct Request<'a> {
    pub root: &'a SysfsRoot,
    pub target: &'a Target,
    /// The function (`target.bdf()`).
    pub bdf: Bdf,
    /// `OpenOptions::force`.
    pub force: Option<PathKind>,
    /// `OpenOptions::clear_semaphore`.
    pub clear_semaphore: bool,
    pub tuning: Tuning,
    /// The function's PCI device id, when sysfs shows it.
    pub pci_device_id: Option<u16>,
    /// Memory paths first (`mopen_adv` with a memory-only type mask).
    pub prefer_memory: bool,
}

/// Find the nodes, plan, and open the first path of the plan that works.
pub fn open(req: &Request<'_>) -> Result<Box<dyn Access>> {
    let env_force = force_from_env();
    let fwctl_forced = req.force.or(env_force) == Some(PathKind::Fwctl);
    let nodes = discover_nodes(req.root, req.target, req.bdf, fwctl_forced);
    let plan = plan(
        req.target,
        req.force,
        env_force,
        req.pci_device_id,
        &nodes,
        req.prefer_memory,
    );
    let ctx = OpenContext {
        root: req.root,
        bdf: req.bdf,
        target: req.target,
        clear_semaphore: req.clear_semaphore,
        tuning: req.tuning,
        lock_suffix: match plan.steps.first() {
            Some((k, _)) if k.is_memory() => "mem",
            _ => "config",
        },
    };
    open_planned(&ctx, &plan)
}
