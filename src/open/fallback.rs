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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::tests_support::FakeSys;
    use std::path::PathBuf;

    const BDF: &str = "0000:05:00.0";

    fn setup(tag: &str) -> (FakeSys, SysfsRoot, Bdf) {
        let fs = FakeSys::new(tag);
        fs.add_device(BDF, 0x15b3, 0x1017);
        let root = fs.root();
        (fs, root, Bdf::parse_canonical(BDF).unwrap())
    }

    fn ctx<'a>(root: &'a SysfsRoot, target: &'a Target, bdf: Bdf) -> OpenContext<'a> {
        OpenContext {
            root,
            bdf,
            target,
            clear_semaphore: false,
            tuning: Tuning::default(),
            lock_suffix: "config",
        }
    }

    fn open_err(c: &OpenContext<'_>, p: &Plan) -> Error {
        match open_planned(c, p) {
            Ok(a) => panic!("opened the {} path", a.kind().as_str()),
            Err(e) => e,
        }
    }

    fn plan(steps: Vec<(PathKind, Option<PathBuf>)>, forced: bool) -> Plan {
        Plan {
            steps,
            reason: "test".into(),
            forced,
        }
    }

    #[test]
    fn steps_fall_through_to_a_working_path() {
        let (_fs, root, bdf) = setup("fallback-steps");
        let t = Target::Bdf {
            bdf,
            prefer_config: false,
        };
        let c = ctx(&root, &t, bdf);
        let absent = root.dev.join(format!("{BDF}_mstconf"));
        let p = plan(
            vec![
                (PathKind::MftPciconf, None),
                (PathKind::MstflintAccess, Some(absent)),
                (PathKind::SysfsConfig, None),
            ],
            false,
        );
        // The fake config space has no VSEC: the legacy window over sysfs `config`.
        let a = open_planned(&c, &p).unwrap();
        assert_eq!(a.kind(), PathKind::SysfsConfig);
        assert!(!a.gateway_info().functional_vsec);
        // A driver without node: ENODEV, with no path beyond a forced plan.
        let e = open_err(&c, &plan(vec![(PathKind::MftPciconf, None)], true));
        assert_eq!(e.errno(), libc::ENODEV, "{e}");
    }

    #[test]
    fn refused_config_falls_over_to_memory_unless_forced() {
        let (fs, root, bdf) = setup("fallback-eperm");
        // An unprivileged view of config space: 64 bytes.
        std::fs::write(fs.dir(BDF).join("config"), [0u8; 64]).unwrap();
        let t = Target::Bdf {
            bdf,
            prefer_config: false,
        };
        let c = ctx(&root, &t, bdf);
        let steps = vec![(PathKind::SysfsConfig, None)];
        let a = open_planned(&c, &plan(steps.clone(), false)).unwrap();
        assert_eq!(a.kind(), PathKind::SysfsMemory);
        let e = open_err(&c, &plan(steps, true));
        assert_eq!(e.errno(), libc::EPERM, "{e}");
    }

    #[test]
    fn file_names_open_their_own_file() {
        let (fs, root, bdf) = setup("fallback-file");
        // A `resource0` too small to map: the error names it, so it is the file opened.
        let small = fs.dir(BDF).join("small_resource0");
        std::fs::write(&small, [0u8; 16]).unwrap();
        let t = Target::File {
            path: small.clone(),
            kind: FileKind::Resource0,
            bdf,
        };
        let c = ctx(&root, &t, bdf);
        let e = open_err(&c, &plan(vec![(PathKind::SysfsMemory, None)], true));
        assert!(e.to_string().contains("small_resource0"), "{e}");
        // The function's own `resource0` maps.
        let t = Target::Bdf {
            bdf,
            prefer_config: false,
        };
        let c = ctx(&root, &t, bdf);
        let a = open_planned(&c, &plan(vec![(PathKind::SysfsMemory, None)], true)).unwrap();
        assert_eq!(a.kind(), PathKind::SysfsMemory);
        // A config file name: that file, not the function's `config`.
        let t = Target::File {
            path: fs.dir(BDF).join("no_such_config"),
            kind: FileKind::Config,
            bdf,
        };
        let c = ctx(&root, &t, bdf);
        let e = open_err(&c, &plan(vec![(PathKind::SysfsConfig, None)], true));
        assert!(e.to_string().contains("no_such_config"), "{e}");
    }
}
