//! `libmtcr_sim_preload.so`: loaded with `LD_PRELOAD` by `mtcr-sim run` into every process
//! of the simulated namespace. It carries `ioctl()` and `mmap()` made on simulated driver
//! nodes (`/dev/*_mstconf`, `/dev/*_mstcr`, `/dev/mst/*`), fwctl ioctls on `/dev/fwctl/*`
//! (with the buffers their arguments point to) and, when asked to, the lockdown check of
//! `resource0` mmaps to the simulator over the unix socket
//! named by `MTCR_SIM_SOCKET`, because FUSE files cannot carry these ioctls (see
//! `sim/RUNNING.md`). Every other call goes straight to the system.
//!
//! The wire format and the `_IOC` decoding come from `mtcr-sim-abi` (`sim/abi`, no_std, no
//! dependencies), the crate the server uses too; besides it this crate depends on libc only. No allocation happens on the path of non-simulated descriptors, and no
//! Rust panic can leave an exported function.

use std::cell::UnsafeCell;
use std::ffi::{c_int, c_long, c_ulong, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicU8, Ordering};

// ---- protocol (defined once in `mtcr-sim-abi`, shared with the server) ----
use mtcr_sim_abi::ioc::{ioc_size, MAX_IOC_SIZE};
use mtcr_sim_abi::{
    is_fwctl_node, looks_like_node, ReqHeader, AUX_RAWIO, BAR_PAGES, BAR_READ, BAR_WRITE,
    FWCTL_MAX_STRUCT, OP_BAR, OP_CLOSE, OP_FWCTL, OP_IOCTL, OP_MMAP, REQ_HDR, RESP_HDR,
    RET_NOT_SIM,
};
const FWCTL_INFO: c_ulong = mtcr_sim_abi::FWCTL_INFO as c_ulong;
const FWCTL_RPC: c_ulong = mtcr_sim_abi::FWCTL_RPC as c_ulong;

/// Largest ioctl argument (`_IOC_SIZE` has 14 bits).
const MAX_ARG: usize = MAX_IOC_SIZE;
const PATH_BUF: usize = 512;

// ---- state ----

/// 0 = not checked yet, 1 = socket configured, 2 = not configured (pass everything through).
static CONFIGURED: AtomicU8 = AtomicU8::new(0);
/// Socket path from the environment, NUL-terminated (written once under `CONFIGURED`).
struct SockPath(UnsafeCell<[u8; 108]>);
unsafe impl Sync for SockPath {}
static SOCK_PATH: SockPath = SockPath(UnsafeCell::new([0; 108]));
static SOCK_PATH_INIT: std::sync::Once = std::sync::Once::new();

/// Connection of this process: (fd, pid that opened it); reopened after fork.
struct Conn {
    fd: c_int,
    /// Inode of our socket, to notice when the program closed it behind our back.
    ino: u64,
    pid: c_int,
    buf: [u8; REQ_HDR + PATH_BUF + MAX_ARG],
}
/// The connection, behind [`ConnLock`] (a lock that a forked child can take over: a
/// `Mutex` held by another thread at `fork` time would stay locked forever in the child).
struct ConnCell(UnsafeCell<Conn>);
unsafe impl Sync for ConnCell {}
/// 0 = free, else the pid of the process whose thread holds the connection.
static CONN_OWNER: AtomicI32 = AtomicI32::new(0);

struct ConnLock;

impl ConnLock {
    fn acquire(pid: c_int) -> ConnLock {
        loop {
            match CONN_OWNER.compare_exchange(0, pid, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return ConnLock,
                // Held by a thread of the parent when it forked: nobody will release it here.
                Err(holder)
                    if holder != pid
                        && CONN_OWNER
                            .compare_exchange(holder, pid, Ordering::Acquire, Ordering::Relaxed)
                            .is_ok() =>
                {
                    return ConnLock
                }
                Err(_) => std::thread::yield_now(),
            }
        }
    }

    #[allow(clippy::mut_from_ref)]
    fn conn(&self) -> &mut Conn {
        // SAFETY: only one ConnLock exists per process at a time (CONN_OWNER).
        unsafe { &mut *CONN.0.get() }
    }
}

impl Drop for ConnLock {
    fn drop(&mut self) {
        CONN_OWNER.store(0, Ordering::Release);
    }
}

static CONN: ConnCell = ConnCell(UnsafeCell::new(Conn {
    fd: -1,
    ino: 0,
    pid: 0,
    buf: [0; REQ_HDR + PATH_BUF + MAX_ARG],
}));

/// Descriptors (< 4096) this process has used as simulated nodes: closing them tells the server.
static SIM_FDS: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];
/// PID that owns SIM_FDS (after fork the child starts with a fresh connection and state).
static SIM_FDS_PID: AtomicI32 = AtomicI32::new(0);

fn mark_fd(fd: c_int) {
    if (0..4096).contains(&fd) {
        SIM_FDS[(fd / 64) as usize].fetch_or(1 << (fd % 64), Ordering::Relaxed);
    }
}

/// Clears the mark and reports whether it was set.
fn unmark_fd(fd: c_int) -> bool {
    if !(0..4096).contains(&fd) {
        return false;
    }
    let bit = 1u64 << (fd % 64);
    SIM_FDS[(fd / 64) as usize].fetch_and(!bit, Ordering::Relaxed) & bit != 0
}

fn configured() -> bool {
    match CONFIGURED.load(Ordering::Acquire) {
        1 => true,
        2 => false,
        _ => {
            SOCK_PATH_INIT.call_once(|| {
                let name = b"MTCR_SIM_SOCKET\0";
                // SAFETY: getenv with a NUL-terminated name; result read up to its NUL.
                let p = unsafe { libc::getenv(name.as_ptr().cast()) };
                let mut ok = false;
                if !p.is_null() {
                    // SAFETY: p is a valid C string from the environment.
                    let s = unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes();
                    if !s.is_empty() && s.len() < 108 {
                        // SAFETY: only written here, inside call_once, before CONFIGURED=1.
                        let dst = unsafe { &mut *SOCK_PATH.0.get() };
                        dst[..s.len()].copy_from_slice(s);
                        dst[s.len()] = 0;
                        ok = true;
                    }
                }
                CONFIGURED.store(if ok { 1 } else { 2 }, Ordering::Release);
            });
            CONFIGURED.load(Ordering::Acquire) == 1
        }
    }
}

fn errno() -> c_int {
    // SAFETY: __errno_location is always valid for the calling thread.
    unsafe { *libc::__errno_location() }
}

fn set_errno(e: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = e }
}

/// readlink("/proc/self/fd/N") into `out`; returns the length.
fn fd_path(fd: c_int, out: &mut [u8; PATH_BUF]) -> Option<usize> {
    if fd < 0 {
        return None;
    }
    let mut name = [0u8; 32];
    let prefix = b"/proc/self/fd/";
    name[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 12];
    let mut n = fd as u32;
    let mut k = 0;
    loop {
        digits[k] = b'0' + (n % 10) as u8;
        k += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut pos = prefix.len();
    while k > 0 {
        k -= 1;
        name[pos] = digits[k];
        pos += 1;
    }
    name[pos] = 0;
    // SAFETY: name is NUL-terminated; out has PATH_BUF bytes.
    let r = unsafe { libc::readlink(name.as_ptr().cast(), out.as_mut_ptr().cast(), PATH_BUF) };
    if r <= 0 || r as usize >= PATH_BUF {
        return None;
    }
    Some(r as usize)
}

/// Open flags of a descriptor (the driver models check the access mode).
fn fd_flags(fd: c_int) -> u32 {
    // SAFETY: F_GETFL on any descriptor is harmless.
    let r = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if r < 0 {
        libc::O_RDWR as u32
    } else {
        r as u32
    }
}

fn is_resource0(path: &[u8]) -> bool {
    // The path behind the descriptor: under /sys/devices (the runtime links
    // /sys/bus/pci/devices/<bdf> there, as Linux does).
    (path.starts_with(b"/sys/bus/pci/devices/") || path.starts_with(b"/sys/devices/"))
        && path.ends_with(b"/resource0")
}

/// Whether the runtime asked for `resource0` mmaps to be checked (kernel lockdown).
fn resource0_check() -> bool {
    static STATE: AtomicU8 = AtomicU8::new(0);
    match STATE.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            // SAFETY: getenv with a NUL-terminated name.
            let on = unsafe { !libc::getenv(c"MTCR_SIM_RESOURCE0_CHECK".as_ptr()).is_null() };
            STATE.store(if on { 1 } else { 2 }, Ordering::Relaxed);
            on
        }
    }
}

/// Whether this thread's effective capabilities include CAP_SYS_RAWIO (17).
fn has_rawio() -> bool {
    #[repr(C)]
    struct Hdr {
        version: u32,
        pid: c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut h = Hdr {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut d = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capget with a version-3 header and room for two data structs.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut h as *mut Hdr, d.as_mut_ptr()) };
    r == 0 && d[0].effective & (1 << 17) != 0
}

fn raw_close(fd: c_int) {
    // SAFETY: plain close system call (avoids recursing into our own close()).
    unsafe {
        libc::syscall(libc::SYS_close, fd as c_long);
    }
}

/// Whether `fd` is still the socket whose inode is `ino`.
fn still_ours(fd: c_int, ino: u64) -> bool {
    // SAFETY: fstat into a zeroed stat buffer.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0
            && st.st_mode & libc::S_IFMT == libc::S_IFSOCK
            && st.st_ino as u64 == ino
    }
}

/// Connect to the server: (fd, socket inode), fd -1 on failure.
fn connect() -> (c_int, u64) {
    let fd = connect_fd();
    if fd < 0 {
        return (-1, 0);
    }
    // SAFETY: fstat into a zeroed stat buffer.
    let ino = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st);
        st.st_ino as u64
    };
    (fd, ino)
}

fn connect_fd() -> c_int {
    // SAFETY: plain socket calls on a local sockaddr_un.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return -1;
        }
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let src = &*SOCK_PATH.0.get();
        for (i, b) in src.iter().enumerate().take(107) {
            addr.sun_path[i] = *b as libc::c_char;
            if *b == 0 {
                break;
            }
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        if libc::connect(fd, (&addr as *const libc::sockaddr_un).cast(), len) != 0 {
            raw_close(fd);
            return -1;
        }
        fd
    }
}

fn write_all(fd: c_int, mut b: &[u8]) -> bool {
    while !b.is_empty() {
        // SAFETY: writing from a valid slice.
        let n = unsafe { libc::send(fd, b.as_ptr().cast(), b.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return false;
        }
        if n == 0 {
            return false;
        }
        b = &b[n as usize..];
    }
    true
}

fn read_exact(fd: c_int, b: &mut [u8]) -> bool {
    let mut got = 0;
    while got < b.len() {
        // SAFETY: reading into a valid slice.
        let n = unsafe { libc::recv(fd, b[got..].as_mut_ptr().cast(), b.len() - got, 0) };
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return false;
        }
        if n == 0 {
            return false;
        }
        got += n as usize;
    }
    true
}

fn discard(fd: c_int, mut n: usize) -> bool {
    let mut tmp = [0u8; 256];
    while n > 0 {
        let k = n.min(tmp.len());
        if !read_exact(fd, &mut tmp[..k]) {
            return false;
        }
        n -= k;
    }
    true
}

struct Call<'a> {
    op: u32,
    fd: c_int,
    request: u32,
    offset: u64,
    len: u64,
    fd_flags: u32,
    path: &'a [u8],
    data: &'a [u8],
}

/// Send a request; the response data goes into `out` (truncated to its size).
/// Returns (ret, response data length) or None when the server cannot be reached.
fn transact(c: &Call, out: &mut [u8]) -> Option<(i64, usize)> {
    transact_aux(c, 0, out)
}

/// [`transact_aux`] for a call on a descriptor that may be a simulated node: `None` when the
/// server says it is not one (the caller passes the call on); `Some(None)` when the server
/// cannot be reached (errno EIO); else the answer, the descriptor marked as simulated.
fn transact_sim(c: &Call, aux: u32, out: &mut [u8]) -> Option<Option<(i64, usize)>> {
    let Some((ret, n)) = transact_aux(c, aux, out) else {
        set_errno(libc::EIO);
        return Some(None);
    };
    if ret == RET_NOT_SIM {
        return None;
    }
    mark_fd(c.fd);
    Some(Some((ret, n)))
}

/// [`transact`] with the header's aux word (offset 44).
fn transact_aux(c: &Call, aux: u32, out: &mut [u8]) -> Option<(i64, usize)> {
    // SAFETY: getpid never fails.
    let pid = unsafe { libc::getpid() };
    let lock = ConnLock::acquire(pid);
    let conn = lock.conn();
    if conn.fd >= 0 && conn.pid != pid {
        // Inherited over fork: the parent keeps using it; we open our own.
        raw_close(conn.fd);
        conn.fd = -1;
    }
    if SIM_FDS_PID.load(Ordering::Relaxed) != pid {
        for w in SIM_FDS.iter() {
            w.store(0, Ordering::Relaxed);
        }
        SIM_FDS_PID.store(pid, Ordering::Relaxed);
    }
    if conn.fd >= 0 && !still_ours(conn.fd, conn.ino) {
        // The program closed our socket (e.g. closefrom) and the number may now be another
        // file: never write to it, just forget it.
        conn.fd = -1;
    }
    if conn.fd < 0 {
        let (fd, ino) = connect();
        conn.fd = fd;
        conn.ino = ino;
        conn.pid = pid;
        if conn.fd < 0 {
            return None;
        }
    }
    let total = REQ_HDR + c.path.len() + c.data.len();
    if total > conn.buf.len() {
        return None;
    }
    {
        let b = &mut conn.buf;
        let hdr = ReqHeader {
            op: c.op,
            fd: c.fd,
            request: c.request,
            offset: c.offset,
            len: c.len,
            path_len: c.path.len() as u32,
            data_len: c.data.len() as u32,
            fd_flags: c.fd_flags,
            aux,
        };
        b[..REQ_HDR].copy_from_slice(&hdr.encode());
        b[REQ_HDR..REQ_HDR + c.path.len()].copy_from_slice(c.path);
        b[REQ_HDR + c.path.len()..total].copy_from_slice(c.data);
    }
    let fd = conn.fd;
    let mut hdr = [0u8; RESP_HDR];
    if write_all(fd, &conn.buf[..total]) && read_exact(fd, &mut hdr) {
        let (ret, dlen) = mtcr_sim_abi::decode_response_header(&hdr);
        let dlen = dlen as usize;
        let keep = dlen.min(out.len());
        if read_exact(fd, &mut out[..keep]) && discard(fd, dlen - keep) {
            return Some((ret, keep));
        }
    }
    // Broken connection (the server is gone): no retry, a request may have been executed.
    raw_close(conn.fd);
    conn.fd = -1;
    None
}

/// Whether this process has its connection open (`close_conn` undoes a connection made for
/// one request, so that a program which never uses the simulator's nodes keeps its
/// descriptor count).
fn conn_is_open() -> bool {
    // SAFETY: getpid never fails.
    let pid = unsafe { libc::getpid() };
    let lock = ConnLock::acquire(pid);
    let conn = lock.conn();
    conn.fd >= 0 && conn.pid == pid
}

fn close_conn() {
    // SAFETY: getpid never fails.
    let pid = unsafe { libc::getpid() };
    let lock = ConnLock::acquire(pid);
    let conn = lock.conn();
    if conn.fd >= 0 && conn.pid == pid {
        raw_close(conn.fd);
        conn.fd = -1;
    }
}

type IoctlFn = unsafe extern "C" fn(c_int, c_ulong, *mut c_void) -> c_int;
type CloseFn = unsafe extern "C" fn(c_int) -> c_int;

fn next_sym(name: &'static [u8]) -> *mut c_void {
    // SAFETY: name is NUL-terminated; RTLD_NEXT finds the libc definition.
    unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast()) }
}

unsafe fn real_ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    static REAL: AtomicU64 = AtomicU64::new(0);
    let mut p = REAL.load(Ordering::Relaxed);
    if p == 0 {
        p = next_sym(b"ioctl\0") as u64;
        REAL.store(p, Ordering::Relaxed);
    }
    if p == 0 {
        return libc::syscall(libc::SYS_ioctl, fd as c_long, request, arg) as c_int;
    }
    // SAFETY: p is libc's ioctl.
    let f: IoctlFn = std::mem::transmute::<u64, IoctlFn>(p);
    f(fd, request, arg)
}

unsafe fn real_close(fd: c_int) -> c_int {
    static REAL: AtomicU64 = AtomicU64::new(0);
    let mut p = REAL.load(Ordering::Relaxed);
    if p == 0 {
        p = next_sym(b"close\0") as u64;
        REAL.store(p, Ordering::Relaxed);
    }
    if p == 0 {
        return libc::syscall(libc::SYS_close, fd as c_long) as c_int;
    }
    // SAFETY: p is libc's close.
    let f: CloseFn = std::mem::transmute::<u64, CloseFn>(p);
    f(fd)
}

unsafe fn real_mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
) -> *mut c_void {
    // The raw system call: glibc's mmap adds nothing on 64-bit Linux, and calling it avoids
    // dlsym (which may allocate, and allocation may mmap).
    let r = libc::syscall(
        libc::SYS_mmap,
        addr,
        len,
        prot as c_long,
        flags as c_long,
        fd as c_long,
        off,
    );
    r as *mut c_void
}

/// ioctl on a simulated node. None = not simulated (call the real one).
unsafe fn sim_ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> Option<c_int> {
    if !configured() {
        return None;
    }
    let mut path = [0u8; PATH_BUF];
    let plen = fd_path(fd, &mut path)?;
    let path = &path[..plen];
    if is_fwctl_node(path) {
        return forward_fwctl(fd, request, arg, path);
    }
    if !looks_like_node(path) {
        return None;
    }
    forward_ioctl(fd, request, arg, path)
}

/// An fwctl ioctl: the argument struct (its own `size` first) plus the buffers its pointers
/// name go to the server; the answer is scattered back (see `mtcr_sim::drivers::fwctl`).
#[inline(never)]
unsafe fn forward_fwctl(
    fd: c_int,
    request: c_ulong,
    arg: *mut c_void,
    path: &[u8],
) -> Option<c_int> {
    if arg.is_null() {
        set_errno(libc::EFAULT);
        return Some(-1);
    }
    // SAFETY: every fwctl argument starts with its u32 size.
    let size = std::ptr::read_unaligned(arg as *const u32) as usize;
    let n = size.clamp(4, FWCTL_MAX_STRUCT);
    let mut data = [0u8; MAX_ARG];
    // SAFETY: the caller promises `size` bytes of struct at arg (the kernel reads them).
    std::ptr::copy_nonoverlapping(arg as *const u8, data.as_mut_ptr(), n);
    let field32 = |off: usize| -> u32 {
        if off + 4 <= n {
            u32::from_le_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]])
        } else {
            0
        }
    };
    let field64 = |off: usize| -> u64 {
        if off + 8 <= n {
            let mut b = [0u8; 8];
            b.copy_from_slice(&data[off..off + 8]);
            u64::from_le_bytes(b)
        } else {
            0
        }
    };
    // (user pointer, length) the answer's payload goes to.
    let mut dest: Option<(u64, usize)> = None;
    let mut len = n;
    let (in_len, inp) = (field32(8) as usize, field64(16));
    let (out_p, out_len) = (field64(24), field32(12) as usize);
    let info_p = field64(16);
    if request == FWCTL_RPC {
        if in_len > 0 && n + in_len <= MAX_ARG {
            if inp == 0 {
                set_errno(libc::EFAULT);
                return Some(-1);
            }
            // SAFETY: the caller's in buffer of in_len bytes (as the kernel copies it).
            std::ptr::copy_nonoverlapping(inp as *const u8, data.as_mut_ptr().add(n), in_len);
            len += in_len;
        }
        dest = Some((out_p, out_len));
    } else if request == FWCTL_INFO {
        dest = Some((info_p, out_len));
    }
    let mut out = [0u8; MAX_ARG];
    let call = Call {
        op: OP_FWCTL,
        fd,
        request: request as u32,
        offset: 0,
        len: 0,
        fd_flags: fd_flags(fd),
        path,
        data: &data[..len],
    };
    let aux = if has_rawio() { AUX_RAWIO } else { 0 };
    let Some((ret, got)) = transact_sim(&call, aux, &mut out)? else {
        return Some(-1);
    };
    if ret < 0 {
        set_errno((-ret) as c_int);
        return Some(-1);
    }
    let back = got.min(n);
    // SAFETY: at most the caller's struct size written back.
    std::ptr::copy_nonoverlapping(out.as_ptr(), arg as *mut u8, back);
    if let Some((p, want)) = dest {
        let k = got.saturating_sub(n).min(want);
        if k > 0 {
            if p == 0 {
                set_errno(libc::EFAULT);
                return Some(-1);
            }
            // SAFETY: the caller's output buffer of `want` bytes.
            std::ptr::copy_nonoverlapping(out.as_ptr().add(n), p as *mut u8, k);
        }
    }
    Some(ret as c_int)
}

/// The slow path of [`sim_ioctl`] (kept apart so that its large buffers are not set up for
/// ordinary descriptors).
#[inline(never)]
unsafe fn forward_ioctl(
    fd: c_int,
    request: c_ulong,
    arg: *mut c_void,
    path: &[u8],
) -> Option<c_int> {
    let size = ioc_size(request as u32);
    let mut argbuf = [0u8; MAX_ARG];
    if size > 0 {
        if arg.is_null() {
            set_errno(libc::EFAULT);
            return Some(-1);
        }
        // SAFETY: the caller promises `size` bytes at arg, as the kernel would read them.
        std::ptr::copy_nonoverlapping(arg as *const u8, argbuf.as_mut_ptr(), size);
    }
    let mut out = [0u8; MAX_ARG];
    let call = Call {
        op: OP_IOCTL,
        fd,
        request: request as u32,
        offset: 0,
        len: 0,
        fd_flags: fd_flags(fd),
        path,
        data: &argbuf[..size],
    };
    let Some((ret, n)) = transact_sim(&call, 0, &mut out)? else {
        return Some(-1);
    };
    if size > 0 && n > 0 {
        // SAFETY: as above; at most `size` bytes written back.
        std::ptr::copy_nonoverlapping(out.as_ptr(), arg as *mut u8, n.min(size));
    }
    if ret < 0 {
        set_errno((-ret) as c_int);
        return Some(-1);
    }
    Some(ret as c_int)
}

/// mmap of a simulated node: map the crspace backing file instead.
unsafe fn sim_mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
) -> Option<*mut c_void> {
    if fd < 0 || flags & libc::MAP_ANONYMOUS != 0 || !configured() {
        return None;
    }
    let mut path = [0u8; PATH_BUF];
    let plen = fd_path(fd, &mut path)?;
    let path = &path[..plen];
    if is_resource0(path) {
        if let Some(r) = resource0_lockdown(fd, off, len, path) {
            return Some(r);
        }
        let r = real_mmap(addr, len, prot, flags, fd, off);
        if r != libc::MAP_FAILED && flags & libc::MAP_SHARED != 0 {
            bartrap::install(r, len, off, path);
        }
        return Some(r);
    }
    if !looks_like_node(path) {
        return None;
    }
    sim_node_mmap(addr, len, prot, flags, fd, off, path)
}

/// Kernel lockdown refuses BAR mappings: when asked to, ask the server (`Some`: refused).
unsafe fn resource0_lockdown(fd: c_int, off: i64, len: usize, path: &[u8]) -> Option<*mut c_void> {
    if resource0_check() {
        // Kernel lockdown refuses BAR mappings: ask the server.
        let call = Call {
            op: OP_FWCTL,
            fd,
            request: 0,
            offset: off as u64,
            len: len as u64,
            fd_flags: fd_flags(fd),
            path,
            data: &[],
        };
        let mut none = [0u8; 0];
        return match transact(&call, &mut none) {
            Some((r, _)) if r < 0 && r != RET_NOT_SIM => {
                set_errno((-r) as c_int);
                Some(libc::MAP_FAILED)
            }
            _ => None,
        };
    }
    None
}

/// mmap of a simulated driver memory node: the crspace backing file.
#[allow(clippy::too_many_arguments)]
unsafe fn sim_node_mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
    path: &[u8],
) -> Option<*mut c_void> {
    let mut out = [0u8; PATH_BUF];
    let call = Call {
        op: OP_MMAP,
        fd,
        request: prot as u32,
        offset: off as u64,
        len: len as u64,
        fd_flags: fd_flags(fd),
        path,
        data: &[],
    };
    let Some((ret, n)) = transact_sim(&call, 0, &mut out[..PATH_BUF - 1])? else {
        return Some(libc::MAP_FAILED);
    };
    if ret < 0 {
        set_errno((-ret) as c_int);
        return Some(libc::MAP_FAILED);
    }
    out[n] = 0;
    let mode = if prot & libc::PROT_WRITE != 0 {
        libc::O_RDWR
    } else {
        libc::O_RDONLY
    };
    let bfd = libc::open(out.as_ptr().cast(), mode | libc::O_CLOEXEC);
    if bfd < 0 {
        return Some(libc::MAP_FAILED);
    }
    let r = real_mmap(addr, len, prot, flags, bfd, off);
    let e = errno();
    raw_close(bfd);
    if r == libc::MAP_FAILED {
        // syscall() returned -1 and set errno.
        set_errno(e);
        return Some(libc::MAP_FAILED);
    }
    if flags & libc::MAP_SHARED != 0 {
        bartrap::install(r, len, off, path);
    }
    Some(r)
}

/// # Safety
/// Same contract as libc's `ioctl`.
#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    match catch_unwind(AssertUnwindSafe(|| sim_ioctl(fd, request, arg))) {
        Ok(Some(r)) => r,
        Ok(None) => real_ioctl(fd, request, arg),
        Err(_) => {
            set_errno(libc::EIO);
            -1
        }
    }
}

/// # Safety
/// Same contract as libc's `mmap`.
#[no_mangle]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
) -> *mut c_void {
    if fd >= 0 && flags & libc::MAP_ANONYMOUS == 0 {
        match catch_unwind(AssertUnwindSafe(|| {
            sim_mmap(addr, len, prot, flags, fd, off)
        })) {
            Ok(Some(r)) => return r,
            Ok(None) => {}
            Err(_) => {
                set_errno(libc::EIO);
                return libc::MAP_FAILED;
            }
        }
    }
    real_mmap(addr, len, prot, flags, fd, off)
}

/// # Safety
/// Same contract as libc's `mmap64`.
#[no_mangle]
pub unsafe extern "C" fn mmap64(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
) -> *mut c_void {
    mmap(addr, len, prot, flags, fd, off)
}

/// # Safety
/// Same contract as libc's `close`.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    // SAFETY: getpid never fails.
    if unmark_fd(fd) && SIM_FDS_PID.load(Ordering::Relaxed) == libc::getpid() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let mut out = [0u8; 0];
            let call = Call {
                op: OP_CLOSE,
                fd,
                request: 0,
                offset: 0,
                len: 0,
                fd_flags: 0,
                path: &[],
                data: &[],
            };
            let _ = transact(&call, &mut out);
        }));
    }
    real_close(fd)
}

// ---- forwarded BAR pages (ICMD on the memory path) ----

/// Accesses to a few pages of a crspace mapping must reach the simulator one by one (the
/// ICMD interface the memory path shows, see `mtcr_sim::model::spaces`): those pages are
/// replaced by private pages without access, a fault asks the server (a read: the value is
/// put in the page first), the page is opened for one instruction (the trap flag), and the
/// trap after it sends a written dword and closes the page again. x86-64 only; elsewhere the
/// mapping stays plain crspace.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod bartrap {
    use super::*;
    use std::sync::atomic::{AtomicU32, AtomicUsize};

    const PAGE: usize = 4096;
    const SLOTS: usize = 16;
    const TRAP_FLAG: i64 = 0x100;

    struct Slot {
        /// Page address (0 = free); published after `bar` and `path`.
        page: AtomicUsize,
        bar: AtomicU32,
        path_len: AtomicUsize,
        path: UnsafeCell<[u8; PATH_BUF]>,
    }
    // SAFETY: `path` is written only while the slot is free (page 0), before `page` is
    // published with Release; readers load `page` with Acquire first.
    unsafe impl Sync for Slot {}

    static SLOTS_: [Slot; SLOTS] = [const {
        Slot {
            page: AtomicUsize::new(0),
            bar: AtomicU32::new(0),
            path_len: AtomicUsize::new(0),
            path: UnsafeCell::new([0; PATH_BUF]),
        }
    }; SLOTS];

    /// Thread (tid) stepping over an opened page, 0 = none; the step's state below.
    static STEP_OWNER: AtomicI32 = AtomicI32::new(0);
    static STEP_SLOT: AtomicUsize = AtomicUsize::new(0);
    static STEP_DWORD: AtomicUsize = AtomicUsize::new(0);
    static STEP_WRITE: AtomicU8 = AtomicU8::new(0);

    static INSTALLED: std::sync::Once = std::sync::Once::new();
    struct Prev(UnsafeCell<[libc::sigaction; 2]>);
    // SAFETY: written once under INSTALLED before any handler can run, then only read.
    unsafe impl Sync for Prev {}
    // SAFETY: sigaction is plain data; all-zero is a valid (SIG_DFL) value.
    static PREV: Prev = Prev(UnsafeCell::new(unsafe { std::mem::zeroed() }));

    fn tid() -> i32 {
        // SAFETY: gettid never fails.
        unsafe { libc::syscall(libc::SYS_gettid) as i32 }
    }

    fn bar_call(slot: &Slot, request: u32, off: u32, value: Option<u32>) -> Option<i64> {
        let n = slot.path_len.load(Ordering::Relaxed);
        // SAFETY: the slot is published (see `Slot`); its path does not change while used.
        let path = unsafe { &(&*slot.path.get())[..n] };
        let data = value.map(u32::to_le_bytes);
        let call = Call {
            op: OP_BAR,
            fd: -1,
            request,
            offset: u64::from(off),
            len: 0,
            fd_flags: 0,
            path,
            data: data.as_ref().map_or(&[][..], |d| &d[..]),
        };
        let mut none = [0u8; 0];
        transact(&call, &mut none).map(|(r, _)| r)
    }

    /// After a successful mmap of `len` bytes of crspace file offset `off` at `base`
    /// (`path` = the mapped file as the program named it): ask which pages to forward and
    /// replace them.
    pub(super) fn install(base: *mut c_void, len: usize, off: i64, path: &[u8]) {
        if off < 0 || path.len() > PATH_BUF {
            return;
        }
        let mut out = [0u8; 64];
        let call = Call {
            op: OP_BAR,
            fd: -1,
            request: BAR_PAGES,
            offset: 0,
            len: 0,
            fd_flags: 0,
            path,
            data: &[],
        };
        // The question alone does not keep a connection (the first forwarded access opens
        // one).
        let had = conn_is_open();
        let answer = transact(&call, &mut out);
        if !had {
            close_conn();
        }
        let Some((0, n)) = answer else {
            return;
        };
        if n == 0 {
            return;
        }
        INSTALLED.call_once(install_handlers);
        let off = off as usize;
        for c in out[..n].chunks_exact(4) {
            let p = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
            if p < off || p + PAGE > off + len {
                continue;
            }
            let page = base as usize + (p - off);
            let Some(slot) = SLOTS_.iter().find(|s| {
                s.page
                    .compare_exchange(0, usize::MAX, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            }) else {
                return;
            };
            // SAFETY: the slot is reserved (usize::MAX), nobody reads its path.
            unsafe { (&mut *slot.path.get())[..path.len()].copy_from_slice(path) };
            slot.path_len.store(path.len(), Ordering::Relaxed);
            slot.bar.store(p as u32, Ordering::Relaxed);
            // SAFETY: replaces one page of the mapping just made by the caller.
            let r = unsafe {
                real_mmap(
                    page as *mut c_void,
                    PAGE,
                    libc::PROT_NONE,
                    libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            let published = if r == libc::MAP_FAILED { 0 } else { page };
            slot.page.store(published, Ordering::Release);
        }
    }

    /// The program unmapped `[addr, addr + len)`: forget forwarded pages there.
    pub(super) fn forget(addr: usize, len: usize) {
        for s in SLOTS_.iter() {
            let p = s.page.load(Ordering::Acquire);
            if p != 0 && p != usize::MAX && p >= addr && p < addr.saturating_add(len) {
                s.page.store(0, Ordering::Release);
            }
        }
    }

    fn install_handlers() {
        // SAFETY: sigaction with a valid handler; PREV written before the handlers exist.
        unsafe {
            let prev = &mut *PREV.0.get();
            for (i, (sig, h)) in [
                (libc::SIGSEGV, on_segv as *const () as usize),
                (libc::SIGTRAP, on_trap as *const () as usize),
            ]
            .into_iter()
            .enumerate()
            {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = h;
                sa.sa_flags = libc::SA_SIGINFO;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, &mut prev[i]);
            }
        }
    }

    /// Not ours: the previous handler, or the default action (restored; the fault repeats).
    unsafe fn chain(i: usize, sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
        let prev = &(*PREV.0.get())[i];
        let h = prev.sa_sigaction;
        if h == libc::SIG_IGN {
            return;
        }
        if h == libc::SIG_DFL {
            libc::sigaction(sig, prev, std::ptr::null_mut());
            if sig != libc::SIGSEGV {
                // A trap does not repeat by itself: deliver it again (blocked until we return).
                libc::raise(sig);
            }
            return;
        }
        if prev.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) = std::mem::transmute(h);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(c_int) = std::mem::transmute(h);
            f(sig);
        }
    }

    extern "C" fn on_segv(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
        // SAFETY: the kernel passes a valid siginfo and ucontext (SA_SIGINFO).
        unsafe {
            let addr = (*info).si_addr() as usize;
            let page = addr & !(PAGE - 1);
            let Some(i) = SLOTS_
                .iter()
                .position(|s| s.page.load(Ordering::Acquire) == page)
            else {
                return chain(0, sig, info, ctx);
            };
            let me = tid();
            while let Err(owner) =
                STEP_OWNER.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            {
                if owner == me {
                    // One instruction touching two forwarded pages: not supported; the
                    // fault's default action rather than a hang.
                    return chain(0, sig, info, ctx);
                }
                std::hint::spin_loop();
            }
            let slot = &SLOTS_[i];
            let uc = &mut *(ctx as *mut libc::ucontext_t);
            let write = uc.uc_mcontext.gregs[libc::REG_ERR as usize] & 2 != 0;
            let dword = addr & !3;
            libc::mprotect(
                page as *mut c_void,
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
            );
            if !write {
                let bar = slot.bar.load(Ordering::Relaxed) + (dword - page) as u32;
                let v = bar_call(slot, BAR_READ, bar, None)
                    .filter(|r| *r >= 0)
                    .map_or(u32::MAX, |r| r as u32);
                // The BAR shows big-endian dwords.
                std::ptr::write_volatile(dword as *mut u32, v.to_be());
            }
            STEP_SLOT.store(i, Ordering::Relaxed);
            STEP_DWORD.store(dword, Ordering::Relaxed);
            STEP_WRITE.store(u8::from(write), Ordering::Relaxed);
            uc.uc_mcontext.gregs[libc::REG_EFL as usize] |= TRAP_FLAG;
        }
    }

    extern "C" fn on_trap(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
        // SAFETY: as in `on_segv`; the step state belongs to this thread (STEP_OWNER).
        unsafe {
            if STEP_OWNER.load(Ordering::Acquire) != tid() {
                return chain(1, sig, info, ctx);
            }
            let uc = &mut *(ctx as *mut libc::ucontext_t);
            uc.uc_mcontext.gregs[libc::REG_EFL as usize] &= !TRAP_FLAG;
            let slot = &SLOTS_[STEP_SLOT.load(Ordering::Relaxed)];
            let dword = STEP_DWORD.load(Ordering::Relaxed);
            let page = dword & !(PAGE - 1);
            if STEP_WRITE.load(Ordering::Relaxed) != 0 {
                let v = u32::from_be(std::ptr::read_volatile(dword as *const u32));
                let bar = slot.bar.load(Ordering::Relaxed) + (dword - page) as u32;
                bar_call(slot, BAR_WRITE, bar, Some(v));
            }
            libc::mprotect(page as *mut c_void, PAGE, libc::PROT_NONE);
            STEP_OWNER.store(0, Ordering::Release);
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod bartrap {
    use super::*;
    pub(super) fn install(_: *mut c_void, _: usize, _: i64, _: &[u8]) {}
    pub(super) fn forget(_: usize, _: usize) {}
}

/// # Safety
/// Same contract as libc's `munmap`.
#[no_mangle]
pub unsafe extern "C" fn munmap(addr: *mut c_void, len: usize) -> c_int {
    bartrap::forget(addr as usize, len);
    // SAFETY: the raw system call with the caller's arguments.
    let r = libc::syscall(libc::SYS_munmap, addr, len);
    r as c_int
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_marks() {
        assert!(looks_like_node(b"/dev/0000:05:00.0_mstconf"));
        assert!(looks_like_node(b"/dev/mst/mt4119_pci_cr0"));
        assert!(!looks_like_node(b"/dev/null"));
        assert!(!unmark_fd(9));
        mark_fd(9);
        assert!(unmark_fd(9));
        assert!(!unmark_fd(9));
        mark_fd(5000); // out of range: ignored
        assert!(!unmark_fd(5000));
    }

    #[test]
    fn fd_path_reads_proc() {
        let mut buf = [0u8; PATH_BUF];
        // SAFETY: opening /dev/null read-only.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        assert!(fd >= 0);
        let n = fd_path(fd, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"/dev/null");
        raw_close(fd);
        assert!(fd_path(-1, &mut buf).is_none());
    }
}
