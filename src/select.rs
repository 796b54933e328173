//! The choice among access paths, and the fallback, in one place.
//!
//! Order of precedence for the path to use:
//! 1. `OpenOptions::force` (programmatic);
//! 2. a name that allows only one path (`.../config`, `/proc/bus/pci/...` → config;
//!    `.../resource0`, `/dev/mst/..._pci_cr..` → memory);
//! 3. the environment variable `MTCR_FORCE_PATH=config|memory`;
//! 4. names asking for config (`pciconf-...`, `mlx5_N`, `/dev/mst/...pciconf...`) → config;
//! 5. default: config, except ConnectX-3 / ConnectX-3 Pro (PCI ids 0x1003/0x1007): memory
//!    first, config if the memory path cannot be used (mapping refused, BAR signature
//!    0xbadacce5/0xffffffff, ...).
//!
//! Only the default order (5) falls back; a forced path that fails is an error. Which path was
//! chosen and why the others were skipped is logged at `info` level.
//!
//! Extension point for kernel-driver paths (`/dev/<bdf>_mstconf`, `/dev/mst/*`): add a
//! [`PathKind`] variant, its `mtype`, an `open_*` function below and its place in
//! [`plan`] (stock tries the driver nodes before any sysfs path for BDF/RDMA names).

use crate::access::gateway::{self, Gateway, Tuning};
use crate::access::legacy::Legacy;
use crate::access::lock::LockFile;
use crate::access::mmio::Mmio;
use crate::access::sysfs_config::SysfsConfig;
use crate::access::Access;
use crate::device::name::Resolved;
use crate::device::{ids, SysfsRoot};
use crate::error::{Error, Result};
use crate::types::{MST_PCI, MST_PCICONF};
use std::path::PathBuf;

/// An access path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathKind {
    /// PCI config space through sysfs/procfs: VSEC gateway, or the old address/data window.
    SysfsConfig,
    /// Memory-mapped crspace through sysfs `resource0`.
    SysfsMemory,
}

impl PathKind {
    /// `mfile.tp` for this path.
    pub fn mtype(self) -> u32 {
        match self {
            PathKind::SysfsConfig => MST_PCICONF,
            PathKind::SysfsMemory => MST_PCI,
        }
    }

    /// Short name ("config", "memory"), as `MTCR_FORCE_PATH` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PathKind::SysfsConfig => "config",
            PathKind::SysfsMemory => "memory",
        }
    }

    /// Parse `config` / `memory` (case-insensitive).
    pub fn parse(s: &str) -> Option<PathKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "config" => Some(PathKind::SysfsConfig),
            "memory" => Some(PathKind::SysfsMemory),
            _ => None,
        }
    }
}

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
        log::warn!("{FORCE_ENV}={v:?} ignored (expected \"config\" or \"memory\")");
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

/// Paths to try, in order, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub order: Vec<PathKind>,
    pub reason: String,
}

/// Decide the order of paths (see the module docs).
pub fn plan(
    resolved: &Resolved,
    opt_force: Option<PathKind>,
    env_force: Option<PathKind>,
    pci_device_id: Option<u16>,
) -> Plan {
    let only = |k: PathKind, why: String| Plan {
        order: vec![k],
        reason: why,
    };
    if let Some(k) = opt_force {
        return only(k, format!("{} forced by the caller", k.as_str()));
    }
    if let Some(k) = resolved.forced {
        return only(k, format!("{} forced by the device name", k.as_str()));
    }
    if let Some(k) = env_force {
        return only(k, format!("{} forced by {FORCE_ENV}", k.as_str()));
    }
    if resolved.force_config {
        return only(
            PathKind::SysfsConfig,
            "config requested by the device name".into(),
        );
    }
    match pci_device_id {
        Some(id) if ids::MEMORY_FIRST_IDS.contains(&id) => Plan {
            order: vec![PathKind::SysfsMemory, PathKind::SysfsConfig],
            reason: format!("PCI id {id:#x} (ConnectX-3 family): memory first, then config"),
        },
        _ => only(PathKind::SysfsConfig, "config (default)".into()),
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
}

/// Open the paths of `plan` in order; the first that works wins.
pub fn open_planned(ctx: &OpenContext<'_>, plan: &Plan) -> Result<Box<dyn Access>> {
    let bdf = ctx.resolved.bdf;
    let mut last: Option<Error> = None;
    for (i, &kind) in plan.order.iter().enumerate() {
        let r = match kind {
            PathKind::SysfsConfig => open_config(ctx),
            PathKind::SysfsMemory => open_memory(ctx),
        };
        match r {
            Ok(a) => {
                log::info!("{bdf}: using the {} path ({})", kind.as_str(), plan.reason);
                return Ok(a);
            }
            Err(e) => {
                if i + 1 < plan.order.len() {
                    log::info!(
                        "{bdf}: {} path unusable, trying the next: {e}",
                        kind.as_str()
                    );
                } else {
                    log::info!("{bdf}: {} path failed: {e}", kind.as_str());
                }
                // A busy semaphore is a definite answer: do not hide it behind another error.
                if e.errno() == libc::EBUSY {
                    return Err(e);
                }
                last = Some(e);
            }
        }
    }
    // Config space refused for lack of privilege (truncated view, kernel lockdown): where the
    // plan was not forced and did not try it, `resource0` may still work.
    if let Some(e) = &last {
        let forced = plan.reason.contains(" forced by ");
        if e.errno() == libc::EPERM && !forced && !plan.order.contains(&PathKind::SysfsMemory) {
            match open_memory(ctx) {
                Ok(a) => {
                    log::warn!("{bdf}: {e}; using the memory path (resource0) instead");
                    return Ok(a);
                }
                Err(m) => log::info!("{bdf}: memory path failed too: {m}"),
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::NoDevice(format!("{bdf}: no access path"))))
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
    use crate::device::Bdf;

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
        assert_eq!(
            plan(&res(None, false), None, None, Some(0x1017)).order,
            [cfg]
        );
        assert_eq!(plan(&res(None, false), None, None, None).order, [cfg]);
        assert_eq!(
            plan(&res(None, false), None, None, Some(0x1003)).order,
            [mem, cfg]
        );
        assert_eq!(
            plan(&res(None, true), None, None, Some(0x1007)).order,
            [cfg]
        );
        assert_eq!(plan(&res(None, true), None, Some(mem), None).order, [mem]);
        assert_eq!(
            plan(&res(Some(cfg), false), None, Some(mem), None).order,
            [cfg]
        );
        assert_eq!(
            plan(&res(Some(cfg), false), Some(mem), None, None).order,
            [mem]
        );
        assert_eq!(PathKind::parse(" Memory "), Some(mem));
        assert_eq!(PathKind::parse("dram"), None);
        assert_eq!(cfg.mtype(), 0x10);
        assert_eq!(mem.mtype(), 0x8);
    }
}
