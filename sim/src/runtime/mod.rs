//! Namespace, FUSE tree and ioctl server behind `mtcr-sim run` (see `sim/RUNNING.md`).
//!
//! Order of events in [`run`]: private mount namespace (before any thread exists) → private
//! tmpfs work directory (crspace backing files, FUSE mount point, socket, overlay dirs) →
//! devices → FUSE session thread → tmpfs over `/sys/bus/pci/devices` with the device
//! directories and bind mounts → `/sys/class/infiniband` → `/dev` overlay with driver nodes →
//! socket server → the command, with `LD_PRELOAD` and `MTCR_SIM_SOCKET` → stats → unmount.

pub mod fs;
mod fwctl;
mod modules;
pub mod ns;
pub mod server;
pub mod tree;

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use crate::config::SimConfig;
use crate::drivers;
use crate::model::{CrStore, SimBridge, SimDevice};

pub const PCI_DEVICES: &str = "/sys/bus/pci/devices";
pub const IB_CLASS: &str = "/sys/class/infiniband";
pub const PROC_BUS_PCI: &str = "/proc/bus/pci";
pub const FWCTL_CLASS: &str = "/sys/class/fwctl";
/// Set for the command when the preload must ask the server about `resource0` mmaps
/// (kernel lockdown refuses them).
pub const ENV_MMAP_CHECK: &str = "MTCR_SIM_RESOURCE0_CHECK";
/// Where mtcr keeps its per-device lock files (a private tmpfs inside the simulator).
pub const LOCK_DIR: &str = "/tmp/mstflint_lockfiles";
/// Where mstfwreset's PCI helper keeps saved config spaces (it creates the directory before
/// a reset): a private tmpfs inside the simulator.
pub const MFT_STATE_DIR: &str = "/var/lib/mft";
/// Where Linux keeps the device hierarchy (`pciDDDD:00/...`).
pub const SYS_DEVICES: &str = "/sys/devices";
/// File name of the preload library.
pub const PRELOAD_NAME: &str = "libmtcr_sim_preload.so";

/// What `mtcr-sim run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub config: SimConfig,
    /// Where to write the final counters (JSON).
    pub stats: Option<PathBuf>,
    /// Socket path (default: inside the private work directory).
    pub socket: Option<PathBuf>,
    /// Preload library (default: `MTCR_SIM_PRELOAD`, else beside the executable).
    pub preload: Option<PathBuf>,
    pub command: Vec<OsString>,
}

/// Check that the simulator can run here: root and /dev/fuse.
pub fn can_run() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("needs root (mount namespaces, FUSE mounts)".into());
    }
    if !Path::new("/dev/fuse").exists() {
        return Err("needs /dev/fuse".into());
    }
    Ok(())
}

/// Locate the preload library: explicit, `MTCR_SIM_PRELOAD`, or beside the executable (or
/// its parent, for test binaries in `deps/`).
pub fn find_preload(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("MTCR_SIM_PRELOAD") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join(PRELOAD_NAME), dir.parent()?.join(PRELOAD_NAME)]
        .into_iter()
        .find(|p| p.is_file())
}

/// Mounts and files to undo at the end (in reverse order).
struct Cleanup {
    mounts: Vec<PathBuf>,
    work: Option<PathBuf>,
    socket: Option<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(s) = &self.socket {
            let _ = std::fs::remove_file(s);
        }
        for m in self.mounts.iter().rev() {
            ns::detach(m);
        }
        if let Some(w) = &self.work {
            // The tmpfs is gone (detached above): this removes the empty host directory.
            let _ = std::fs::remove_dir(w);
        }
    }
}

static CHILD: AtomicI32 = AtomicI32::new(0);
/// A signal that arrived before the command was started (delivered right after it starts).
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int) {
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe {
            libc::kill(pid, sig);
        }
    } else {
        PENDING.store(sig, Ordering::SeqCst);
    }
}

fn install_forwarding() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: installing a handler that only calls kill().
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Fork (while still single-threaded and in the host's mount namespace) a tiny process that
/// removes the host's empty work directory once this process is gone, however it ends
/// (even SIGKILL): it waits for EOF on a pipe whose write end only we hold.
fn spawn_janitor(work: &Path) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 into a 2-int array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return;
    }
    let Ok(cpath) = std::ffi::CString::new(work.as_os_str().as_encoded_bytes()) else {
        return;
    };
    // SAFETY: the process has no other thread yet; the child only calls async-signal-safe
    // functions (close, read, rmdir, _exit) on memory prepared before the fork.
    unsafe {
        match libc::fork() {
            0 => {
                libc::close(fds[1]);
                // Hold none of the caller's pipes open (e.g. a test capturing our output).
                for fd in 0..3 {
                    libc::close(fd);
                }
                // Not killed with the terminal's signals meant for the command.
                libc::setsid();
                let mut b = 0u8;
                while libc::read(fds[0], (&mut b as *mut u8).cast(), 1) != 0 {
                    if *libc::__errno_location() != libc::EINTR {
                        break;
                    }
                }
                libc::rmdir(cpath.as_ptr());
                libc::_exit(0);
            }
            -1 => {
                libc::close(fds[0]);
                libc::close(fds[1]);
            }
            _ => {
                // Keep the write end open for our whole life (CLOEXEC: the command does not
                // inherit it).
                libc::close(fds[0]);
            }
        }
    }
}

fn mkdir(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("mkdir {}: {e}", p.display()))
}

/// Make `path` (under /sys) exist inside the namespace. sysfs cannot get new directories, so
/// the nearest missing level's parent becomes a tmpfs holding bind mounts (and copies of the
/// links) of its former entries, and the directory is created there.
fn ensure_sysfs_dir(path: &Path, work: &Path, cleanup: &mut Cleanup) -> Result<(), String> {
    if path.is_dir() {
        return Ok(());
    }
    let parent = path
        .parent()
        .ok_or_else(|| format!("cannot create {}", path.display()))?;
    ensure_sysfs_dir(parent, work, cleanup)?;
    // The parent may be a tmpfs made by the level above.
    if std::fs::create_dir(path).is_ok() {
        return Ok(());
    }
    let saved = work.join(format!(
        "saved{}",
        parent.display().to_string().replace('/', "_")
    ));
    mkdir(&saved)?;
    ns::bind(parent, &saved, false)?;
    cleanup.mounts.push(saved.clone());
    ns::mount_tmpfs(parent, "0755")?;
    cleanup.mounts.push(parent.to_path_buf());
    let entries =
        std::fs::read_dir(&saved).map_err(|e| format!("read {}: {e}", saved.display()))?;
    for e in entries.flatten() {
        let t = parent.join(e.file_name());
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_symlink() {
            if let Ok(target) = std::fs::read_link(e.path()) {
                let _ = std::os::unix::fs::symlink(target, &t);
            }
            continue;
        }
        if ft.is_dir() {
            mkdir(&t)?;
        } else if std::fs::File::create(&t).is_err() {
            continue;
        }
        ns::bind(&e.path(), &t, false)?;
        cleanup.mounts.push(t);
    }
    mkdir(path)
}

/// Run the command inside the simulator; returns its exit status (128+signal if killed).
pub fn run(opts: RunOptions) -> Result<i32, String> {
    can_run()?;
    if opts.command.is_empty() {
        return Err("no command given (mtcr-sim run [...] -- CMD ARGS...)".into());
    }
    opts.config.validate()?;
    // From here on SIGINT/SIGTERM/... go to the command (held until it has started).
    install_forwarding();
    let cfgs = opts.config.devices.clone();
    // nodes_for_all numbers MFT nodes of several devices with one PCI id (mt4119_pciconf0, 1...).
    let node_specs: Vec<(usize, drivers::NodeSpec)> = drivers::nodes_for_all(&cfgs)
        .into_iter()
        .enumerate()
        .flat_map(|(i, v)| v.into_iter().map(move |n| (i, n)))
        .collect();
    let fwctl_nodes = drivers::fwctl::nodes_for_all(&cfgs);
    let preload = find_preload(opts.preload.as_deref());
    match &preload {
        Some(p) if !p.is_file() => return Err(format!("preload {} not found", p.display())),
        None if !node_specs.is_empty() || !fwctl_nodes.is_empty() => {
            return Err(format!(
                "{PRELOAD_NAME} not found (build the workspace or set MTCR_SIM_PRELOAD); \
                 driver nodes need it"
            ))
        }
        _ => {}
    }

    // A host directory that only ever holds a private tmpfs (removed at the end).
    let work = {
        let mut tmpl = std::env::temp_dir()
            .join("mtcr-sim.XXXXXX")
            .into_os_string()
            .into_encoded_bytes();
        tmpl.push(0);
        // SAFETY: mkdtemp on a NUL-terminated template it may modify.
        let r = unsafe { libc::mkdtemp(tmpl.as_mut_ptr().cast()) };
        if r.is_null() {
            return Err(format!("mkdtemp: {}", std::io::Error::last_os_error()));
        }
        tmpl.pop();
        // SAFETY: bytes came from an OsString plus ASCII replacements.
        PathBuf::from(unsafe { OsString::from_encoded_bytes_unchecked(tmpl) })
    };
    let mut cleanup = Cleanup {
        mounts: Vec::new(),
        work: Some(work.clone()),
        socket: None,
    };

    spawn_janitor(&work);
    ns::enter_private_namespace()?;
    ns::mount_tmpfs(&work, "0700")?;
    cleanup.mounts.push(work.clone());

    // Devices, each on a crspace file in the private tmpfs.
    let crdir = work.join("crspace");
    mkdir(&crdir)?;
    let mut devices = Vec::new();
    let mut cr_paths = Vec::new();
    for c in &cfgs {
        let p = crdir.join(&c.bdf);
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&p)
            .map_err(|e| format!("create {}: {e}", p.display()))?;
        let store = CrStore::from_file(f)?;
        devices.push(SimDevice::new(c, store)?);
        cr_paths.push(p);
    }
    // The root ports above them.
    let bridge_specs = crate::config::bridges(&cfgs);
    let bridges: Vec<Arc<SimBridge>> = bridge_specs
        .iter()
        .map(|b| SimBridge::new(b, &devices))
        .collect();

    // FUSE: one flat directory with every config/vpd file.
    let fuse_dir = work.join("fuse");
    mkdir(&fuse_dir)?;
    let options = [
        fuser::MountOption::FSName("mtcr-sim".into()),
        fuser::MountOption::AllowOther,
        fuser::MountOption::RW,
    ];
    let mut session = fuser::Session::new(
        fs::SimFs::new(devices.clone(), bridges.clone()),
        &fuse_dir,
        &options,
    )
    .map_err(|e| format!("FUSE mount on {}: {e}", fuse_dir.display()))?;
    cleanup.mounts.push(fuse_dir.clone());
    std::thread::Builder::new()
        .name("mtcr-sim-fuse".into())
        .spawn(move || {
            let _ = session.run();
            // Keep the session (and its /dev/fuse descriptor) alive only while running.
            drop(session);
        })
        .map_err(|e| format!("spawn FUSE thread: {e}"))?;

    // /sys/bus/pci/devices (links) and the device hierarchy under /sys/devices/pciDDDD:00
    // (the host's devices there hidden, as in /sys/bus/pci/devices).
    let pci = Path::new(PCI_DEVICES);
    ensure_sysfs_dir(pci, &work, &mut cleanup)?;
    ns::mount_tmpfs(pci, "0755")?;
    cleanup.mounts.push(pci.to_path_buf());
    if !fwctl_nodes.is_empty() {
        // Made now: creating it later may turn /sys/devices into a tmpfs re-binding the
        // host's entries, which would hide the hierarchy mounted below.
        ensure_sysfs_dir(Path::new(fwctl::SYS_DIR), &work, &mut cleanup)?;
    }
    for h in tree::host_bridge_dirs(&cfgs) {
        let p = Path::new(SYS_DEVICES).join(h);
        ensure_sysfs_dir(&p, &work, &mut cleanup)?;
        ns::mount_tmpfs(&p, "0755")?;
        cleanup.mounts.push(p);
    }
    for b in tree::build_pci_devices(Path::new("/sys"), &cfgs, &bridge_specs)? {
        let src = match b.what {
            tree::BindWhat::Config => fuse_dir.join(fs::name_of(
                devices[b.dev_index].bdf(),
                fs::FileKind::Config,
            )),
            tree::BindWhat::Vpd => {
                fuse_dir.join(fs::name_of(devices[b.dev_index].bdf(), fs::FileKind::Vpd))
            }
            tree::BindWhat::Resource0 => cr_paths[b.dev_index].clone(),
            tree::BindWhat::BridgeConfig => fuse_dir.join(fs::name_of(
                bridges[b.dev_index].bdf(),
                fs::FileKind::Config,
            )),
        };
        ns::bind(&src, &b.path, false)?;
        cleanup.mounts.push(b.path.clone());
    }

    // /proc/bus/pci: the host's devices hidden, the simulated ones' config files there too
    // (mtcr accepts `/proc/bus/pci/...` names and falls back to them).
    let procpci = Path::new(PROC_BUS_PCI);
    if procpci.is_dir() && ns::mount_tmpfs(procpci, "0755").is_ok() {
        cleanup.mounts.push(procpci.to_path_buf());
        for b in tree::build_proc_bus_pci(procpci, &cfgs)? {
            let d = &devices[b.dev_index];
            ns::bind(
                &fuse_dir.join(fs::name_of(d.bdf(), fs::FileKind::Config)),
                &b.path,
                false,
            )?;
            cleanup.mounts.push(b.path.clone());
        }
    }

    // /sys/class/infiniband.
    if cfgs.iter().any(|c| !c.ib_devs.is_empty()) {
        let ib = Path::new(IB_CLASS);
        ensure_sysfs_dir(ib, &work, &mut cleanup)?;
        ns::mount_tmpfs(ib, "0755")?;
        cleanup.mounts.push(ib.to_path_buf());
        tree::build_infiniband_class(ib, &cfgs)?;
    }

    // /sys/class/fwctl.
    if !fwctl_nodes.is_empty() {
        let class = Path::new(FWCTL_CLASS);
        ensure_sysfs_dir(class, &work, &mut cleanup)?;
        ns::mount_tmpfs(class, "0755")?;
        cleanup.mounts.push(class.to_path_buf());
        tree::build_fwctl_class(class, &cfgs, &fwctl_nodes)?;
    }

    // /dev overlay with the driver nodes.
    if !node_specs.is_empty() || !fwctl_nodes.is_empty() {
        let dev = Path::new("/dev");
        let subs = ns::submounts(dev);
        let saved = work.join("olddev");
        let upper = work.join("devup");
        let wdir = work.join("devwork");
        for p in [&saved, &upper, &wdir] {
            mkdir(p)?;
        }
        ns::bind(dev, &saved, true)?;
        cleanup.mounts.push(saved.clone());
        ns::mount_overlay(dev, &upper, &wdir, dev)?;
        cleanup.mounts.push(dev.to_path_buf());
        for s in subs {
            let Ok(rel) = s.strip_prefix(dev) else {
                continue;
            };
            // Submounts (pts, shm, mqueue, ...) shadowed by the overlay: put them back.
            if s.exists() && ns::bind(&saved.join(rel), &s, true).is_ok() {
                cleanup.mounts.push(s.clone());
            }
        }
        let mut paths: Vec<String> = node_specs.iter().map(|(_, n)| n.path.clone()).collect();
        paths.extend(fwctl_nodes.iter().map(|(_, n)| format!("/dev/fwctl/{n}")));
        tree::build_dev_nodes(dev, &paths)?;
        if !fwctl_nodes.is_empty() {
            fwctl::char_devices(&cfgs, &fwctl_nodes, &saved, &work, &mut cleanup);
        }
    }

    // /dev/mem is mtcr's last memory-access fallback (mmap at the BAR's physical address,
    // which on this host is not the simulated device): make it /dev/null inside.
    let devmem = Path::new("/dev/mem");
    if devmem.exists() && ns::bind(Path::new("/dev/null"), devmem, false).is_ok() {
        cleanup.mounts.push(devmem.to_path_buf());
    }

    // Private lock files: mtcr's flock()s on /tmp/mstflint_lockfiles/<bdf>_{config,mem} must
    // not contend with other simulator instances (or the host) using the same BDFs.
    let locks = Path::new(LOCK_DIR);
    if std::fs::create_dir_all(locks).is_ok() && ns::mount_tmpfs(locks, "1777").is_ok() {
        cleanup.mounts.push(locks.to_path_buf());
    }
    // Same for mstfwreset's saved config spaces (the tool creates the directory itself).
    let mft = Path::new(MFT_STATE_DIR);
    if std::fs::create_dir_all(mft).is_ok() && ns::mount_tmpfs(mft, "0750").is_ok() {
        cleanup.mounts.push(mft.to_path_buf());
    }

    // The simulated host's kernel modules, as `lsmod` reports them.
    let lsmod_dir = modules::install(&cfgs, &work, &mut cleanup.mounts)?;

    // Socket server.
    let sock = opts.socket.clone().unwrap_or_else(|| work.join("sock"));
    let _ = std::fs::remove_file(&sock);
    let listener =
        UnixListener::bind(&sock).map_err(|e| format!("bind {}: {e}", sock.display()))?;
    cleanup.socket = Some(sock.clone());
    let nodes: HashMap<String, (usize, drivers::NodeKind)> = node_specs
        .iter()
        .map(|(i, n)| (n.path.clone(), (*i, n.kind)))
        .collect();
    let shared = Arc::new(server::Shared {
        devices: devices.clone(),
        nodes,
        cr_paths: cr_paths.clone(),
        fwctl: fwctl_nodes
            .iter()
            .map(|(i, n)| (format!("/dev/fwctl/{n}"), *i))
            .collect(),
    });
    server::spawn(listener, shared.clone()).map_err(|e| format!("spawn server: {e}"))?;

    // The command.
    let mut cmd = std::process::Command::new(&opts.command[0]);
    cmd.args(&opts.command[1..]);
    cmd.env(crate::proto::ENV_SOCKET, &sock);
    cmd.env("MTCR_SIM", "1");
    if let Some(dir) = &lsmod_dir {
        let mut path = dir.clone().into_os_string();
        if let Some(old) = std::env::var_os("PATH").filter(|o| !o.is_empty()) {
            path.push(":");
            path.push(old);
        }
        cmd.env("PATH", path);
    }
    // The preload asks about `resource0` mmaps (kernel lockdown) only where it can matter.
    if !fwctl_nodes.is_empty() || cfgs.iter().any(|c| c.faults.lockdown) {
        cmd.env(ENV_MMAP_CHECK, "1");
    } else {
        cmd.env_remove(ENV_MMAP_CHECK);
    }
    if let Some(p) = &preload {
        let mut v = p.clone().into_os_string();
        if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|o| !o.is_empty()) {
            v.push(":");
            v.push(old);
        }
        cmd.env("LD_PRELOAD", v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", opts.command[0]))?;
    CHILD.store(child.id() as i32, Ordering::SeqCst);
    let pending = PENDING.swap(0, Ordering::SeqCst);
    if pending != 0 {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(child.id() as i32, pending);
        }
    }
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    CHILD.store(0, Ordering::SeqCst);
    let code = {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            _ => 1,
        }
    };

    if let Some(path) = &opts.stats {
        let text = serde_json::to_string_pretty(&shared.stats()).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("write stats {}: {e}", path.display()))?;
    }
    drop(cleanup);
    Ok(code)
}
