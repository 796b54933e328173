//! The stock lock files, `/tmp/mstflint_lockfiles/DDDD:BB:DD.F_config` and `..._mem`, locked
//! with `flock(2)` like the stock library does, so our gateway transactions and the stock
//! tools' accesses never interleave (Debian's mstflint 4.21 takes this flock around each of
//! its VSEC config accesses).
//!
//! Creation is careful where stock is not: the directory is created 0755 if missing and
//! refused if it is a symlink, not a directory, or owned by another user than root/us; the
//! file is opened relative to the checked directory with `O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC`,
//! created 0644, accepted only when it is a regular file owned by root or us (a group/world
//! write bit on a file of ours, as stock leaves them, is dropped). A lock file that cannot be set up only
//! yields a warning, as in stock: the access then runs without the inter-process lock.
//!
//! Waiting: non-blocking attempts with short sleeps, bounded by [`LOCK_TIMEOUT`]; after that
//! the operation fails with `Error::Busy` (EBUSY).

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::pci::Bdf;

/// Longest wait for the flock before giving up with EBUSY.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// An open lock file.
#[derive(Debug)]
pub struct LockFile {
    file: File,
    path: PathBuf,
    timeout: Duration,
}

/// Held lock; released on drop.
pub struct LockGuard<'a> {
    lock: &'a LockFile,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: flock on a descriptor we own.
        unsafe { libc::flock(self.lock.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

fn check_dir(dir: &Path) -> std::result::Result<(), String> {
    match std::fs::symlink_metadata(dir) {
        Ok(md) => {
            if md.file_type().is_symlink() {
                return Err(format!("{} is a symlink", dir.display()));
            }
            if !md.is_dir() {
                return Err(format!("{} is not a directory", dir.display()));
            }
            owned_by_root_or_me(dir, md.uid())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .mode(0o755)
                .create(dir)
                .or_else(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
            check_dir_again(dir)
        }
        Err(e) => Err(format!("stat {}: {e}", dir.display())),
    }
}

fn owned_by_root_or_me(p: &Path, uid: u32) -> std::result::Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if uid != 0 && uid != me {
        return Err(format!("{} is owned by uid {uid}", p.display()));
    }
    Ok(())
}

fn check_dir_again(dir: &Path) -> std::result::Result<(), String> {
    let md = std::fs::symlink_metadata(dir).map_err(|e| format!("stat {}: {e}", dir.display()))?;
    if md.file_type().is_symlink() || !md.is_dir() {
        return Err(format!("{} is not a plain directory", dir.display()));
    }
    Ok(())
}

impl LockFile {
    /// Open (creating if needed) `<dir>/<bdf>_<suffix>` (`suffix` = "config" or "mem").
    ///
    /// The directory is opened once (`O_DIRECTORY | O_NOFOLLOW`) and checked through that
    /// descriptor, and the file is opened relative to it, so a directory swapped for a symlink
    /// between the check and the open is not followed. The file is opened with
    /// `O_NOFOLLOW | O_NONBLOCK` (a planted FIFO or device node neither hangs the open nor is
    /// used: only a regular file is accepted), must be owned by root or us, and loses any
    /// group/world write bit when it is ours.
    pub fn open(dir: &Path, bdf: Bdf, suffix: &str) -> std::result::Result<LockFile, String> {
        check_dir(dir)?;
        let path = dir.join(format!("{bdf}_{suffix}"));
        let cdir = CString::new(dir.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: valid NUL-terminated path; the fd is owned by the File below.
        let dfd = unsafe {
            libc::open(
                cdir.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if dfd < 0 {
            return Err(format!(
                "open {}: {}",
                dir.display(),
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: dfd is a fresh descriptor we own.
        let dirf = unsafe { File::from_raw_fd(dfd) };
        let dmd = dirf.metadata().map_err(|e| e.to_string())?;
        owned_by_root_or_me(dir, dmd.uid())?;
        let name = CString::new(format!("{bdf}_{suffix}")).map_err(|e| e.to_string())?;
        // SAFETY: valid directory descriptor and NUL-terminated name; the returned fd is
        // owned by the File below.
        let fd = unsafe {
            libc::openat(
                dirf.as_raw_fd(),
                name.as_ptr(),
                libc::O_RDONLY
                    | libc::O_CREAT
                    | libc::O_NOFOLLOW
                    | libc::O_NONBLOCK
                    | libc::O_CLOEXEC,
                0o644 as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(format!(
                "open {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: fd is a fresh descriptor we own.
        let file = unsafe { File::from_raw_fd(fd) };
        let md = file.metadata().map_err(|e| e.to_string())?;
        if !md.is_file() {
            return Err(format!("{} is not a regular file", path.display()));
        }
        owned_by_root_or_me(&path, md.uid())?;
        // SAFETY: geteuid has no preconditions.
        if md.mode() & 0o022 != 0 && md.uid() == unsafe { libc::geteuid() } {
            // SAFETY: fchmod on a descriptor we own. Failure only leaves the mode as it was.
            unsafe { libc::fchmod(file.as_raw_fd(), (md.mode() & 0o755) as libc::mode_t) };
        }
        Ok(LockFile {
            file,
            path,
            timeout: LOCK_TIMEOUT,
        })
    }

    /// Open, logging a warning and returning None on failure (stock behaviour: access
    /// continues without the inter-process lock).
    pub fn open_or_warn(dir: &Path, bdf: Bdf, suffix: &str) -> Option<LockFile> {
        match LockFile::open(dir, bdf, suffix) {
            Ok(l) => Some(l),
            Err(e) => {
                log::warn!("lock file for {bdf} unusable ({e}): parallel access not protected");
                None
            }
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Take the exclusive lock (bounded wait).
    pub fn lock(&self) -> Result<LockGuard<'_>> {
        let start = Instant::now();
        let mut sleep = Duration::from_micros(50);
        loop {
            // SAFETY: flock on a descriptor we own.
            let rc = unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(LockGuard { lock: self });
            }
            let err = std::io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => {}
                _ => return Err(Error::io(format!("flock {}", self.path.display()), err)),
            }
            if start.elapsed() >= self.timeout {
                return Err(Error::Busy(format!(
                    "{} held by another process for {:?}",
                    self.path.display(),
                    self.timeout
                )));
            }
            std::thread::sleep(sleep);
            sleep = (sleep * 2).min(Duration::from_millis(5));
        }
    }
}

/// What a semaphore owner lock stands for: one byte of the lock file per semaphore
/// (see [`LockFile::hold_owner`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnerSlot {
    /// The VSEC gateway semaphore.
    Vsec = 0,
    /// The ICMD semaphore (dword 0 of AS_SEMAPHORE).
    Icmd = 1,
    /// The tools-HCR semaphore (crspace 0xf03bc).
    ToolsHcr = 2,
}

/// An owner lock held: a shared open-file-description (OFD) record lock on one byte of the
/// lock file, for exactly as long as this process holds the matching device semaphore.
/// Released on drop (and by the kernel when the process dies, which is what makes a dead
/// owner recognisable).
pub(crate) struct OwnerGuard<'a> {
    lock: &'a LockFile,
    slot: OwnerSlot,
}

impl Drop for OwnerGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.ofd(libc::F_OFD_SETLK, libc::F_UNLCK, self.slot);
    }
}

impl LockFile {
    fn ofd(&self, cmd: libc::c_int, kind: libc::c_int, slot: OwnerSlot) -> std::io::Result<i32> {
        // SAFETY: an all-zero flock is a valid value; the fields used are set below.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = kind as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        fl.l_start = slot as libc::off_t;
        fl.l_len = 1;
        // SAFETY: fcntl on a descriptor we own with a valid flock structure.
        let rc = unsafe { libc::fcntl(self.file.as_raw_fd(), cmd, &mut fl) };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(i32::from(fl.l_type))
    }

    /// Mark this process as the owner of the semaphore `slot`: a shared OFD lock on byte
    /// `slot` of the lock file. These record locks are independent of the `flock` the stock
    /// tools take on the same file, so they never delay a stock tool. Shared locks never
    /// conflict with each other: taking one never waits. `None` when the kernel refuses it
    /// (the caller then goes on unmarked; a waiter may treat it as dead after the stale rule).
    pub(crate) fn hold_owner(&self, slot: OwnerSlot) -> Option<OwnerGuard<'_>> {
        match self.ofd(libc::F_OFD_SETLK, libc::F_RDLCK, slot) {
            Ok(_) => Some(OwnerGuard { lock: self, slot }),
            Err(e) => {
                log::debug!("owner lock {slot:?} on {}: {e}", self.path.display());
                None
            }
        }
    }

    /// [`hold_owner`](Self::hold_owner) without a guard, for holds that span calls (the
    /// ICMD and HCR semaphores): `on` marks, `!on` unmarks.
    pub(crate) fn set_owner(&self, slot: OwnerSlot, on: bool) {
        let kind = if on { libc::F_RDLCK } else { libc::F_UNLCK };
        if let Err(e) = self.ofd(libc::F_OFD_SETLK, kind, slot) {
            log::debug!("owner lock {slot:?} on {}: {e}", self.path.display());
        }
    }

    /// Whether another open of the lock file (any live process of ours, or another `Device`
    /// of this process) marks itself the owner of semaphore `slot` right now. Errors count
    /// as "held": a semaphore is never freed on doubt.
    pub(crate) fn owner_held_elsewhere(&self, slot: OwnerSlot) -> bool {
        match self.ofd(libc::F_OFD_GETLK, libc::F_WRLCK, slot) {
            Ok(t) => t != libc::F_UNLCK,
            Err(_) => true,
        }
    }
}

/// Per-device lock files for the semaphores taken above the access path (ICMD, tools HCR):
/// one open of `<dir>/<bdf>_owner` (ours only; stock never touches it) per device and
/// process, shared by the `Device`s of the process (their ICMD and HCR transactions are
/// serialized by process-wide mutexes). Its `flock` serializes the judging of a stale owner
/// ([`LockFile::lock`]); its bytes carry the owner marks ([`LockFile::set_owner`]).
pub(crate) fn device_owner_lock(dir: &Path, bdf: Bdf) -> Option<std::sync::Arc<LockFile>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    type Locks = HashMap<(PathBuf, Bdf), Arc<LockFile>>;
    static LOCKS: Mutex<Option<Locks>> = Mutex::new(None);
    let mut g = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
    let map = g.get_or_insert_with(HashMap::new);
    let key = (dir.to_path_buf(), bdf);
    if let Some(l) = map.get(&key) {
        return Some(l.clone());
    }
    let l = Arc::new(LockFile::open_or_warn(dir, bdf, "owner")?);
    map.insert(key, l.clone());
    Some(l)
}

/// How long, and over how many polls, a semaphore must show the same owner and an idle
/// interface before its owner may be judged dead (with the owner lock free as well).
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(1);
/// Least number of identical observations over [`STALE_AFTER`] (a slow device, whose every
/// access is slow, gives the holder time for several register changes between two polls).
pub(crate) const STALE_POLLS: u32 = 16;

/// Watches a busy semaphore during one wait: the owner and the interface registers seen at
/// each poll. Any change starts the watch again.
#[derive(Debug, Default)]
pub(crate) struct StaleWatch {
    seen: Option<(Vec<u32>, Instant, u32)>,
}

impl StaleWatch {
    /// Record one observation (the owner value first, then the registers a live owner
    /// changes). True when the same observation has held for [`STALE_AFTER`] and
    /// [`STALE_POLLS`] polls.
    pub(crate) fn observe(&mut self, snapshot: &[u32]) -> bool {
        match &mut self.seen {
            Some((s, since, polls)) if s.as_slice() == snapshot => {
                *polls += 1;
                *polls >= STALE_POLLS && since.elapsed() >= STALE_AFTER
            }
            _ => {
                self.seen = Some((snapshot.to_vec(), Instant::now(), 1));
                false
            }
        }
    }

    /// Forget what was seen.
    pub(crate) fn reset(&mut self) {
        self.seen = None;
    }
}

/// Recoveries of semaphores left by dead owners, by this process (for tests and logs).
pub(crate) static RECOVERIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many semaphores left by dead owners this process has freed and taken (all devices,
/// all semaphores).
#[cfg(any(test, feature = "__internal-api"))]
pub fn recoveries() -> u64 {
    RECOVERIES.load(std::sync::atomic::Ordering::Relaxed)
}

/// Count and log one recovery.
pub(crate) fn note_recovery(what: &str, owner: u32, bdf_or_path: &Path) {
    RECOVERIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    log::warn!(
        "{what} semaphore held by stale owner {owner:#x} (same owner, interface idle for {:?}, \
         no live owner lock on {}): owner presumed dead, semaphore freed and taken",
        STALE_AFTER,
        bdf_or_path.display()
    );
}

/// The asynchronous termination signals deferred during semaphore holds.
const DEFERRED_SIGNALS: [libc::c_int; 4] =
    [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// Semaphore holds in progress in this process (all threads; a child forked during a hold
/// starts again from 0, see [`forked_child`]).
static HOLDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Deferred signals (bit n = signal n) waiting for the last hold to end.
static PENDING: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Put the default action back and raise `sig` again (async-signal-safe calls only).
fn default_and_raise(sig: libc::c_int) {
    // SAFETY: sigaction/raise are async-signal-safe; the structure is fully initialised.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
        libc::raise(sig);
    }
}

extern "C" fn deferring_handler(sig: libc::c_int) {
    use std::sync::atomic::Ordering::SeqCst;
    if HOLDS.load(SeqCst) > 0 {
        PENDING.fetch_or(1 << sig, SeqCst);
        // The last hold may have ended between the load and the store: then deliver now.
        if HOLDS.load(SeqCst) > 0 {
            return;
        }
        PENDING.fetch_and(!(1 << sig), SeqCst);
    }
    // No hold in progress: the default action (termination), as if we were not there.
    default_and_raise(sig);
}

/// Once per process, before the first hold: for each of SIGINT, SIGTERM, SIGHUP, SIGQUIT whose
/// action is the default one, install [`deferring_handler`]. Outside holds it restores the
/// default action and raises the signal again (same termination, same exit status); during a
/// hold (any thread) it records the signal, which the end of the last hold raises. Signals
/// the program handles or ignores itself are left alone.
/// In a child forked while another thread held a semaphore: that hold is not the child's.
extern "C" fn forked_child() {
    HOLDS.store(0, std::sync::atomic::Ordering::SeqCst);
    PENDING.store(0, std::sync::atomic::Ordering::SeqCst);
}

fn install_deferring_handlers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a child-side fork handler that only stores to atomics.
        unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
        for sig in DEFERRED_SIGNALS {
            // SAFETY: plain sigaction queries/installs with initialised structures; the
            // handler only uses async-signal-safe operations and atomics.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, std::ptr::null(), &mut old) != 0
                    || old.sa_sigaction != libc::SIG_DFL
                {
                    continue;
                }
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = deferring_handler as extern "C" fn(libc::c_int) as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    });
}

/// A semaphore hold in progress: SIGINT, SIGTERM, SIGHUP and SIGQUIT arriving meanwhile (to any
/// thread of the process) are held back and delivered when the last hold ends, after the
/// semaphore was released, so that Ctrl-C or a kill by a supervisor never leaves a semaphore
/// taken. Cost per hold: two atomic operations (the handlers are installed once).
pub(crate) struct SignalHold {
    /// Ends on the thread that started it.
    _thread: std::marker::PhantomData<*const ()>,
}

impl SignalHold {
    pub(crate) fn new() -> SignalHold {
        use std::sync::atomic::Ordering::SeqCst;
        install_deferring_handlers();
        HOLDS.fetch_add(1, SeqCst);
        SignalHold {
            _thread: std::marker::PhantomData,
        }
    }
}

impl Drop for SignalHold {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering::SeqCst;
        if HOLDS.fetch_sub(1, SeqCst) == 1 {
            let p = PENDING.swap(0, SeqCst);
            if p != 0 {
                for sig in DEFERRED_SIGNALS {
                    if p & (1 << sig) != 0 {
                        default_and_raise(sig);
                    }
                }
            }
        }
    }
}

/// Take an optional lock.
pub fn lock_opt(l: &Option<LockFile>) -> Result<Option<LockGuard<'_>>> {
    l.as_ref().map(|l| l.lock()).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::tests_support::FakeSys;

    /// What a semaphore hold adds (owner mark on and off, signal deferral), measured:
    /// `cargo test --release --lib hold_overhead -- --ignored --nocapture` (docs/PERFORMANCE.md).
    #[test]
    #[ignore = "measurement"]
    fn hold_overhead() {
        let fs = FakeSys::new("lock-bench");
        let l = LockFile::open(&fs.root().lock_dir, Bdf::default(), "config").unwrap();
        let n = 200_000u32;
        let t = Instant::now();
        for _ in 0..n {
            let s = SignalHold::new();
            let g = l.hold_owner(OwnerSlot::Vsec);
            std::hint::black_box(&g);
            drop(g);
            drop(s);
        }
        let all = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(SignalHold::new());
        }
        let sig = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(l.hold_owner(OwnerSlot::Vsec));
        }
        let mark = t.elapsed() / n;
        eprintln!("per hold: {all:?} (signal deferral {sig:?}, owner mark {mark:?})");
    }

    #[test]
    fn stale_watch_needs_time_and_polls() {
        let mut w = StaleWatch::default();
        assert!(!w.observe(&[7, 1]));
        for _ in 0..40 {
            assert!(!w.observe(&[7, 1]), "not before STALE_AFTER");
        }
        // A change starts again.
        std::thread::sleep(STALE_AFTER);
        assert!(!w.observe(&[7, 2]));
        for _ in 0..(STALE_POLLS - 3) {
            assert!(!w.observe(&[7, 2]));
        }
        std::thread::sleep(STALE_AFTER);
        assert!(!w.observe(&[7, 2]), "one poll short");
        assert!(w.observe(&[7, 2]));
    }

    #[test]
    fn owner_marks_are_seen_by_other_opens_only() {
        let fs = FakeSys::new("lock-owner");
        let dir = fs.root().lock_dir;
        let bdf = Bdf::parse_canonical("0000:05:00.0").unwrap();
        let a = LockFile::open(&dir, bdf, "config").unwrap();
        let b = LockFile::open(&dir, bdf, "config").unwrap();
        assert!(!b.owner_held_elsewhere(OwnerSlot::Vsec));
        let g = a.hold_owner(OwnerSlot::Vsec).unwrap();
        assert!(b.owner_held_elsewhere(OwnerSlot::Vsec));
        assert!(
            !b.owner_held_elsewhere(OwnerSlot::Icmd),
            "one byte per semaphore"
        );
        assert!(
            !a.owner_held_elsewhere(OwnerSlot::Vsec),
            "own mark is not another's"
        );
        // The stock flock on the same file is independent of the marks.
        let _f = b.lock().unwrap();
        drop(g);
        assert!(!b.owner_held_elsewhere(OwnerSlot::Vsec));
        a.set_owner(OwnerSlot::ToolsHcr, true);
        assert!(b.owner_held_elsewhere(OwnerSlot::ToolsHcr));
        a.set_owner(OwnerSlot::ToolsHcr, false);
        assert!(!b.owner_held_elsewhere(OwnerSlot::ToolsHcr));
    }

    #[test]
    fn lock_file_created_and_exclusive() {
        let fs = FakeSys::new("lock");
        let dir = fs.root().lock_dir;
        let bdf = Bdf::parse_canonical("0000:05:00.0").unwrap();
        let a = LockFile::open(&dir, bdf, "config").unwrap();
        assert!(a.path().ends_with("0000:05:00.0_config"));
        let md = std::fs::metadata(&dir).unwrap();
        assert_eq!(md.mode() & 0o777, 0o755);
        let fmd = std::fs::metadata(a.path()).unwrap();
        assert_eq!(fmd.mode() & 0o022, 0, "not group/world writable");
        let mut b = LockFile::open(&dir, bdf, "config").unwrap();
        b.timeout = Duration::from_millis(50);
        let g = a.lock().unwrap();
        let t = Instant::now();
        assert_eq!(b.lock().err().map(|e| e.errno()), Some(libc::EBUSY));
        assert!(t.elapsed() < Duration::from_secs(2));
        drop(g);
        let _g2 = b.lock().unwrap();
    }

    #[test]
    fn refuses_symlinked_dir_and_file() {
        let fs = FakeSys::new("lock-sym");
        let real = fs.base.join("real");
        std::fs::create_dir_all(&real).unwrap();
        let link = fs.base.join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let bdf = Bdf::default();
        assert!(LockFile::open(&link, bdf, "config").is_err());
        assert!(LockFile::open_or_warn(&link, bdf, "config").is_none());
        // A symlinked lock file is not followed.
        std::os::unix::fs::symlink("/etc/passwd", real.join("0000:00:00.0_mem")).unwrap();
        assert!(LockFile::open(&real, bdf, "mem").is_err());
    }

    #[test]
    fn planted_fifo_symlink_and_foreign_files_refused_quickly() {
        let fs = FakeSys::new("lock-plant");
        let dir = fs.base.join("locks");
        std::fs::create_dir_all(&dir).unwrap();
        let bdf = Bdf::parse_canonical("0000:05:00.0").unwrap();
        // A FIFO at the lock path: an O_RDONLY open without O_NONBLOCK would hang forever.
        let fifo = CString::new(dir.join("0000:05:00.0_config").as_os_str().as_bytes()).unwrap();
        // SAFETY: valid path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o666) }, 0);
        let t = Instant::now();
        let e = LockFile::open(&dir, bdf, "config").unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(1));
        // A dangling symlink pointing where an attacker wants a root-owned file created.
        let victim = fs.base.join("victim");
        std::os::unix::fs::symlink(&victim, dir.join("0000:05:00.0_mem")).unwrap();
        assert!(LockFile::open(&dir, bdf, "mem").is_err());
        assert!(!victim.exists(), "symlink followed");
        // A world-writable lock file of ours (as stock creates them) loses its write bits.
        let ww = dir.join("0000:06:00.0_config");
        std::fs::write(&ww, b"").unwrap();
        std::fs::set_permissions(&ww, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        let b6 = Bdf::parse_canonical("0000:06:00.0").unwrap();
        let l = LockFile::open(&dir, b6, "config").unwrap();
        assert_eq!(std::fs::metadata(l.path()).unwrap().mode() & 0o022, 0);
        let _g = l.lock().unwrap();
        // A stock-style world-writable directory (owned by root or us) is still used.
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        assert!(LockFile::open(&dir, b6, "mem").is_ok());
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // A lock file another (non-root) user planted is not used.
            let b7 = Bdf::parse_canonical("0000:07:00.0").unwrap();
            let f = dir.join("0000:07:00.0_config");
            std::fs::write(&f, b"").unwrap();
            std::os::unix::fs::chown(&f, Some(65534), Some(65534)).unwrap();
            let e = LockFile::open(&dir, b7, "config").unwrap_err();
            assert!(e.contains("owned by uid 65534"), "{e}");
            // Same for the directory.
            let d2 = fs.base.join("locks2");
            std::fs::create_dir_all(&d2).unwrap();
            std::os::unix::fs::chown(&d2, Some(65534), Some(65534)).unwrap();
            assert!(LockFile::open(&d2, b7, "config").is_err());
        }
    }
}
