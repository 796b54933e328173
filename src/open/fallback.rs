//! The fallback loop: open the steps of a [`Plan`] in order, the first that works wins; then,
//! for a plan that was not forced and failed for lack of privilege, `resource0` and the
//! function's fwctl node (kernel lockdown).

use crate::access::driver::{self, Node};
use crate::access::fwctl::{self, FwctlAccess, FwctlOrigin};
use crate::access::gateway::Tuning;
use crate::access::{mmio, sysfs_config, Access, PathKind};
use crate::error::{Error, Result};
use crate::name::{FileKind, Target};
use crate::pci::{Bdf, SysfsRoot};

use super::plan::Plan;

/// What the path openers need beyond the plan.
pub struct OpenContext<'a> {
    pub root: &'a SysfsRoot,
    /// The function being opened.
    pub bdf: Bdf,
    /// What the name designates (the file of a file name).
    pub target: &'a Target,
    pub clear_semaphore: bool,
    pub tuning: Tuning,
    /// Lock-file suffix ("config" or "mem"): stock keeps the suffix of the first path tried.
    pub lock_suffix: &'static str,
}

impl OpenContext<'_> {
    /// The file of a file name of that kind.
    fn file(&self, want: FileKind) -> Option<&std::path::Path> {
        match self.target {
            Target::File { path, kind, .. } if *kind == want => Some(path),
            _ => None,
        }
    }

    fn open_config(&self) -> Result<Box<dyn Access>> {
        sysfs_config::open(
            self.root,
            self.bdf,
            self.file(FileKind::Config),
            self.lock_suffix,
            self.clear_semaphore,
            self.tuning,
        )
    }

    fn open_memory(&self) -> Result<Box<dyn Access>> {
        Ok(Box::new(mmio::open(
            self.root,
            self.bdf,
            self.file(FileKind::Resource0),
        )?))
    }
}

/// Open the paths of `plan` in order; the first that works wins. A driver node that answers
/// with another ABI (ENOTTY/EINVAL) or refuses the open (permissions) is logged and skipped.
pub fn open_planned(ctx: &OpenContext<'_>, plan: &Plan) -> Result<Box<dyn Access>> {
    let bdf = ctx.bdf;
    let mut last: Option<Error> = None;
    let mut spare: Option<Node> = None;
    let n = plan.steps.len();
    for (i, (kind, node)) in plan.steps.iter().enumerate() {
        let kind = *kind;
        let r = match (kind, node) {
            (PathKind::SysfsConfig, _) => ctx.open_config(),
            (PathKind::SysfsMemory, _) => ctx.open_memory(),
            (k, None) => Err(Error::NoDevice(format!(
                "{bdf}: no {} node present for this function",
                k.as_str()
            ))),
            (PathKind::Fwctl, Some(p)) => {
                FwctlAccess::open(p, FwctlOrigin::Named).map(|a| Box::new(a) as Box<dyn Access>)
            }
            (k, Some(p)) => driver::open(ctx.root, bdf, k, p, &mut spare),
        };
        let what = match node {
            Some(p) => format!("{} path ({})", kind.as_str(), p.display()),
            None => format!("{} path", kind.as_str()),
        };
        match r {
            Ok(a) => {
                log::info!("{bdf}: using the {what} ({})", plan.reason);
                return Ok(a);
            }
            Err(e) => {
                if kind.is_driver() && driver::is_wrong_abi(&e) {
                    log::warn!(
                        "{bdf}: {what}: the node answers with another ABI (another driver or \
                         version): skipped: {e}"
                    );
                } else if kind.is_driver() && e.errno() == libc::EPERM {
                    log::warn!("{bdf}: {what}: access denied, skipped: {e}");
                } else if i + 1 < n {
                    log::info!("{bdf}: {what} unusable, trying the next: {e}");
                } else {
                    log::info!("{bdf}: {what} failed: {e}");
                }
                // A busy semaphore is a definite answer: do not hide it behind another error.
                if e.errno() == libc::EBUSY {
                    return Err(e);
                }
                // Keep the most telling error: a wrong-ABI probe is not.
                let keep = last.is_none() || !(kind.is_driver() && driver::is_wrong_abi(&e));
                if keep {
                    last = Some(e);
                }
            }
        }
    }
    // Config space refused for lack of privilege (truncated view, kernel lockdown): where the
    // plan was not forced and did not try it, `resource0` may still work.
    let mut memory_refused = plan.order().contains(&PathKind::SysfsMemory);
    if let Some(e) = &last {
        if e.errno() == libc::EPERM
            && !plan.forced
            && !plan.order().contains(&PathKind::SysfsMemory)
        {
            match ctx.open_memory() {
                Ok(a) => {
                    log::warn!("{bdf}: {e}; using the memory path (resource0) instead");
                    return Ok(a);
                }
                Err(m) => {
                    log::info!("{bdf}: memory path failed too: {m}");
                    memory_refused = m.errno() == libc::EPERM;
                }
            }
        }
    }
    // ... and when `resource0` is refused as well (kernel lockdown), register access still
    // works through the function's fwctl node, if it has one.
    if let Some(e) = &last {
        if e.errno() == libc::EPERM && !plan.forced && memory_refused {
            if let Some(a) = fwctl_fallover(ctx, e) {
                return Ok(a);
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::NoDevice(format!("{bdf}: no access path"))))
}

/// The lockdown fall-over: a fwctl handle on the function's fwctl node (register access
/// only), or None when it has none or it does not open.
fn fwctl_fallover(ctx: &OpenContext<'_>, why: &Error) -> Option<Box<dyn Access>> {
    let bdf = ctx.bdf;
    let name = fwctl::node_name_for(ctx.root, bdf)?;
    let node = ctx.root.dev.join("fwctl").join(&name);
    match FwctlAccess::open(&node, FwctlOrigin::Lockdown) {
        Ok(a) => {
            log::warn!(
                "{bdf}: {why}; config space and resource0 refused: using fwctl ({}) for \
                 register access (crspace calls will fail)",
                node.display()
            );
            Some(Box::new(a))
        }
        Err(f) => {
            log::info!("{bdf}: fwctl node {} unusable too: {f}", node.display());
            None
        }
    }
}
