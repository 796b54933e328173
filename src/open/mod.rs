//! The choice among access paths, and the fallback, in one place (docs/DRIVERS.md).
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
//! Names containing `fwctl` (`fwctlN`, `/dev/fwctl/fwctlN`) open that node directly
//! (`api.rs`). When config space and `resource0` are both refused with EPERM (kernel lockdown)
//! and the plan was not forced, the function's fwctl node serves register access instead
//! (`fwctl_fallover`).
//!
//! A step that fails falls to the next; a node answering the probe with ENOTTY/EINVAL (another
//! driver or version) or refusing the open is logged (`warn`) and skipped. Which path was
//! chosen and why the others were skipped is logged at `info` level.

use crate::access::driver::{
    self, mft, mst_driver, mstflint_access, DriverAccess, DriverOps, Node, Spaces,
};
use crate::access::fwctl::{self, FwctlAccess, FwctlOrigin};
use crate::access::gateway::{self, Gateway, Tuning};
use crate::access::legacy::Legacy;
use crate::access::lock::LockFile;
use crate::access::mmio::Mmio;
use crate::access::sysfs_config::SysfsConfig;
use crate::access::{is_crspace, mask_supports, Access, GatewayInfo, PathKind};
use crate::chips;
use crate::defs::*;
use crate::error::{Error, Result};
use crate::name::{self, Resolved};
use crate::pci::SysfsRoot;
use std::cell::RefCell;
use std::path::{Path, PathBuf};

/// Environment variable forcing a path.
pub const FORCE_ENV: &str = "MTCR_FORCE_PATH";

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

/// Driver nodes present for the function being opened, as (path kind, node), best first:
/// for a `/dev/mst/...` name only the named node; otherwise every driver's node for the
/// function (Gen-1 unified first, then mstflint_access, then MFT; config and memory nodes).
/// A `_mstconf` node is listed twice (Gen-1, then mstflint_access): the open probes which
/// ABI answers.
pub fn discover_nodes(root: &SysfsRoot, resolved: &Resolved) -> Vec<(PathKind, PathBuf)> {
    let present = |p: &PathBuf| p.symlink_metadata().is_ok();
    if let Some(node) = &resolved.node {
        let name = node
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kind = if name.contains("_pci_pci_cr") {
            PathKind::MstDriverCr
        } else if name.contains("_pci_pciconf") {
            PathKind::MstDriver
        } else if name.contains("_pci_cr") {
            PathKind::MftPci
        } else {
            PathKind::MftPciconf
        };
        return if present(node) {
            vec![(kind, node.clone())]
        } else {
            Vec::new()
        };
    }
    let n = name::driver_node_names(root, resolved.bdf);
    let mut v = vec![
        (PathKind::MstDriver, Some(n.mstconf.clone())),
        (PathKind::MstDriver, n.gen1_conf),
        (PathKind::MstflintAccess, Some(n.mstconf)),
        (PathKind::MftPciconf, n.mft_conf),
        (PathKind::MstDriverCr, Some(n.mstcr)),
        (PathKind::MstDriverCr, n.gen1_cr),
        (PathKind::MftPci, n.mft_cr),
    ];
    v.retain(|(_, p)| p.as_ref().is_some_and(present));
    v.into_iter()
        .filter_map(|(k, p)| p.map(|p| (k, p)))
        .collect()
}

/// Decide the order of paths (see the module docs). `nodes` comes from [`discover_nodes`].
pub fn plan(
    resolved: &Resolved,
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
            // fwctl is used only when forced (or as the lockdown fall-over below).
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
    if let Some(k) = opt_force {
        return forced(k, "the caller");
    }
    if resolved.node.is_none() {
        if let Some(k) = resolved.forced {
            return forced(k, "the device name");
        }
    }
    if let Some(k) = env_force {
        return forced(k, FORCE_ENV);
    }
    if resolved.node.is_some() {
        let memory = resolved.forced == Some(PathKind::SysfsMemory);
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
    if resolved.force_config {
        let mut steps = drivers(false);
        steps.push(sysfs(PathKind::SysfsConfig));
        return Plan {
            steps,
            reason: "config requested by the device name (driver first)".into(),
            forced: true,
        };
    }
    let memory_first = pci_device_id.filter(|id| chips::MEMORY_FIRST_IDS.contains(id));
    match memory_first {
        _ if prefer_memory || memory_first.is_some() => {
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
        }
        _ => {
            let mut steps = drivers(false);
            steps.push(sysfs(PathKind::SysfsConfig));
            Plan {
                steps,
                reason: "default: kernel drivers first, then sysfs config".into(),
                forced: false,
            }
        }
    }
}

/// Everything the path openers need.
pub struct OpenContext<'a> {
    pub root: &'a SysfsRoot,
    pub resolved: &'a Resolved,
    pub clear_semaphore: bool,
    pub tuning: Tuning,
    /// Lock-file suffix ("config" or "mem"): stock keeps the suffix of the first path tried.
    pub lock_suffix: &'static str,
    /// A driver node whose Gen-1 probe found another ABI, kept open for the next step on the
    /// same node (mst_driver in mstflint mode and mstflint_access share `_mstconf`).
    pub spare_node: RefCell<Option<Node>>,
}

impl OpenContext<'_> {
    /// The node at `path`: the spare one when it is that node, else freshly opened.
    fn node(&self, path: &Path) -> Result<Node> {
        match self.spare_node.borrow_mut().take() {
            Some(n) if n.path() == path => Ok(n),
            _ => Node::open(path),
        }
    }
}

/// Open the paths of `plan` in order; the first that works wins. A driver node that answers
/// with another ABI (ENOTTY/EINVAL) or refuses the open (permissions) is logged and skipped.
pub fn open_planned(ctx: &OpenContext<'_>, plan: &Plan) -> Result<Box<dyn Access>> {
    let bdf = ctx.resolved.bdf;
    let mut last: Option<Error> = None;
    let n = plan.steps.len();
    for (i, (kind, node)) in plan.steps.iter().enumerate() {
        let kind = *kind;
        let r = match (kind, node) {
            (PathKind::SysfsConfig, _) => open_config(ctx),
            (PathKind::SysfsMemory, _) => open_memory(ctx),
            (k, None) => Err(Error::NoDevice(format!(
                "{bdf}: no {} node present for this function",
                k.as_str()
            ))),
            (k, Some(p)) => open_driver(ctx, k, p),
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
            match open_memory(ctx) {
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
    let bdf = ctx.resolved.bdf;
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

/// A driver path: with a functional gateway behind the driver the spaces of its capability
/// mask are allowed, else crspace only.
fn driver_access(ops: Box<dyn driver::DriverOps>, info: GatewayInfo) -> Box<dyn Access> {
    let mask = info.cap_mask;
    let ok: Box<dyn Fn(u32) -> bool + Send> = if info.functional_vsec {
        Box::new(move |s| mask_supports(mask, s))
    } else {
        Box::new(is_crspace)
    };
    Box::new(DriverAccess::new(ops, info, Spaces::Fixed(ok), None))
}

/// Open a kernel-driver path on `node`.
pub fn open_driver(ctx: &OpenContext<'_>, kind: PathKind, node: &Path) -> Result<Box<dyn Access>> {
    let bdf = ctx.resolved.bdf;
    match kind {
        PathKind::MstflintAccess => {
            let mut ops = mstflint_access::MstflintAccess::new(ctx.node(node)?)?;
            let off = ops.params().functional_vsc_offset;
            if off == 0 {
                let info = GatewayInfo::default();
                return Ok(driver_access(Box::new(ops), info));
            }
            // The driver runs the gateway itself and fails the ioctl of a space it cannot
            // select: the other spaces are found on first use (Spaces::Lazy), crspace by the
            // hw id read that every open needs.
            let hw_id = ops.read4(AS_CR_SPACE, HW_ID_ADDR).ok();
            let mut ok = 1 << VCC_INITIALIZED;
            let mut bad = 0;
            match hw_id {
                Some(_) => ok |= 1 << VCC_CRSPACE_SPACE_SUPPORTED,
                None => bad |= 1 << VCC_CRSPACE_SPACE_SUPPORTED,
            }
            let info = GatewayInfo {
                functional_vsec: true,
                cap_mask: ok,
                pxir: false,
                vsec_addr: off,
            };
            let spaces = Spaces::Lazy { ok, bad };
            Ok(Box::new(DriverAccess::new(
                Box::new(ops),
                info,
                spaces,
                hw_id,
            )))
        }
        PathKind::MstDriver | PathKind::MstDriverCr => {
            let memory = kind == PathKind::MstDriverCr;
            let vpd = ctx.root.device_dir(bdf).join("vpd");
            let n = ctx.node(node)?;
            let params = match mst_driver::params(&n) {
                Ok(p) => p,
                Err(e) => {
                    if driver::is_wrong_abi(&e) {
                        *ctx.spare_node.borrow_mut() = Some(n);
                    }
                    return Err(e);
                }
            };
            let mut ops = mst_driver::MstDriver::with_params(n, params, memory, vpd);
            if memory {
                // Stock takes the slot on every memory-node open. The Gen-1 driver never
                // releases its (per-device) slots and answers ENOLCK once three were handed
                // out: that must not make every later open fail, so the open goes on
                // without a slot (connectx_wa_slot 0); any other error fails the open.
                match ops.take_connectx_wa() {
                    Ok(slot) => log::debug!("{bdf}: ConnectX ordering slot {slot:#x}"),
                    Err(e) if e.errno() == libc::ENOLCK => {
                        log::info!("{bdf}: {e}: no ConnectX ordering slot left (Gen-1 keeps them)")
                    }
                    Err(e) => return Err(e),
                }
            }
            let off = if memory {
                0
            } else {
                ops.params().vendor_specific_capability
            };
            // Gen-1 READ/WRITE never report errors, so spaces cannot be probed: assume the
            // ones the driver itself probes (as stock does for its driver path).
            let mask = if off != 0 {
                (1 << VCC_INITIALIZED)
                    | (1 << VCC_ICMD_EXT_SPACE_SUPPORTED)
                    | (1 << VCC_CRSPACE_SPACE_SUPPORTED)
                    | (1 << VCC_ICMD_SPACE_SUPPORTED)
                    | (1 << VCC_SEMAPHORE_SPACE_SUPPORTED)
            } else {
                0
            };
            let info = GatewayInfo {
                functional_vsec: off != 0,
                cap_mask: mask,
                pxir: false,
                vsec_addr: off,
            };
            Ok(driver_access(Box::new(ops), info))
        }
        PathKind::MftPciconf => {
            let ops = mft::MftPciconf::new(ctx.node(node)?, bdf)?;
            let full = ops.full_vsec();
            let mask = if full { ops.cap_mask } else { 0 };
            let info = GatewayInfo {
                functional_vsec: full,
                cap_mask: mask,
                pxir: false,
                vsec_addr: if full { ops.vsec } else { 0 },
            };
            Ok(driver_access(Box::new(ops), info))
        }
        PathKind::MftPci => {
            let lock = LockFile::open_or_warn(&ctx.root.lock_dir, bdf, "mem");
            Ok(Box::new(mft::open_pci_cr(node, bdf, lock)?))
        }
        PathKind::Fwctl => Ok(Box::new(FwctlAccess::open(node, FwctlOrigin::Named)?)),
        PathKind::SysfsConfig => open_config(ctx),
        PathKind::SysfsMemory => open_memory(ctx),
    }
}

/// Config-space files to try: the forced file, else sysfs `config`, else procfs.
fn config_candidates(ctx: &OpenContext<'_>) -> Vec<PathBuf> {
    if ctx.resolved.forced == Some(PathKind::SysfsConfig) {
        if let Some(f) = &ctx.resolved.file {
            return vec![f.clone()];
        }
    }
    let b = ctx.resolved.bdf;
    let mut v = vec![ctx.root.device_dir(b).join("config")];
    v.push(ctx.root.proc.join(format!(
        "bus/pci/{:04x}:{:02x}/{:02x}.{:x}",
        b.domain, b.bus, b.dev, b.func
    )));
    if b.domain == 0 {
        v.push(
            ctx.root
                .proc
                .join(format!("bus/pci/{:02x}/{:02x}.{:x}", b.bus, b.dev, b.func)),
        );
    }
    v
}

/// The config path: VSEC gateway when the device has a usable functional VSEC, else the
/// legacy window.
pub fn open_config(ctx: &OpenContext<'_>) -> Result<Box<dyn Access>> {
    let mut io = None;
    let mut first_err = None;
    for p in config_candidates(ctx) {
        match SysfsConfig::open(&p) {
            Ok(c) => {
                io = Some(c);
                break;
            }
            Err(e) => {
                log::debug!("{}: {e}", p.display());
                // Keep the most telling error: anything but "file not found".
                let replace = first_err
                    .as_ref()
                    .is_none_or(|f: &Error| f.errno() == libc::ENODEV && e.errno() != libc::ENODEV);
                if replace {
                    first_err = Some(e);
                }
            }
        }
    }
    let Some(mut io) = io else {
        return Err(first_err.unwrap_or_else(|| Error::NoDevice("no config space file".into())));
    };
    let bdf = ctx.resolved.bdf;
    let lock = LockFile::open_or_warn(&ctx.root.lock_dir, bdf, ctx.lock_suffix);
    let hdr = gateway::find_vsec(&mut io)?;
    match hdr {
        Some(h) if h.vsc_type == gateway::VSC_TYPE_FUNCTIONAL => {
            match Gateway::new(io, h.addr, lock, ctx.clear_semaphore, ctx.tuning) {
                Ok(gw) if gw.is_usable() => Ok(Box::new(gw)),
                Ok(gw) => {
                    log::info!(
                        "{bdf}: VSEC at {:#x} lacks the minimum spaces (mask {:#x}): using the \
                         legacy window",
                        h.addr,
                        gw.cap_mask()
                    );
                    let (io, lock) = gw.into_inner();
                    Ok(Box::new(Legacy::new(io, lock)?))
                }
                Err((e, _)) => Err(e),
            }
        }
        other => {
            log::debug!("{bdf}: no functional VSEC ({other:?}): legacy window");
            Ok(Box::new(Legacy::new(io, lock)?))
        }
    }
}

/// The memory path: `resource0` mapped.
pub fn open_memory(ctx: &OpenContext<'_>) -> Result<Box<dyn Access>> {
    let path = match (&ctx.resolved.forced, &ctx.resolved.file) {
        (Some(PathKind::SysfsMemory), Some(f)) => f.clone(),
        _ => ctx.root.device_dir(ctx.resolved.bdf).join("resource0"),
    };
    let lock = LockFile::open_or_warn(&ctx.root.lock_dir, ctx.resolved.bdf, "mem");
    Ok(Box::new(Mmio::open(&path, lock)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::Bdf;

    fn res(forced: Option<PathKind>, force_config: bool) -> Resolved {
        Resolved {
            bdf: Bdf::default(),
            forced,
            force_config,
            file: None,
            node: None,
        }
    }

    #[test]
    fn plan_precedence() {
        let cfg = PathKind::SysfsConfig;
        let mem = PathKind::SysfsMemory;
        let p = |r: &Resolved, o, e, id| plan(r, o, e, id, &[], false).order();
        assert_eq!(p(&res(None, false), None, None, Some(0x1017)), [cfg]);
        assert_eq!(p(&res(None, false), None, None, None), [cfg]);
        assert_eq!(p(&res(None, false), None, None, Some(0x1003)), [mem, cfg]);
        assert_eq!(p(&res(None, true), None, None, Some(0x1007)), [cfg]);
        assert_eq!(p(&res(None, true), None, Some(mem), None), [mem]);
        assert_eq!(p(&res(Some(cfg), false), None, Some(mem), None), [cfg]);
        assert_eq!(p(&res(Some(cfg), false), Some(mem), None, None), [mem]);
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
        let r = res(None, false);
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
        assert_eq!(f.steps, [(MftPciconf, Some(mft))]);
        assert_eq!(
            plan(&r, Some(MftPci), None, None, &nodes, true).steps,
            [(MftPci, None)]
        );
        assert_eq!(
            plan(&r, None, Some(cfg_k()), None, &nodes, false).order(),
            [SysfsConfig]
        );
        // A config-file name never uses a driver.
        assert_eq!(
            plan(
                &res(Some(SysfsConfig), false),
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

    fn cfg_k() -> PathKind {
        PathKind::SysfsConfig
    }
}
