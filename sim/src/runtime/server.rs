//! The unix-socket server: ioctl/mmap/close forwarded by the preload library, plus the
//! control requests (live stats, fault knobs). One thread per connection; per-descriptor
//! driver state lives in the connection (one connection per client process).

use std::collections::{BTreeMap, HashMap};
use std::io::BufReader;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Faults;
use crate::drivers::{self, FdState, NodeKind};
use crate::model::{CounterSnapshot, SimDevice};
use crate::proto::{self, Request};

/// Everything the server needs, shared by all connections.
pub struct Shared {
    pub devices: Vec<Arc<SimDevice>>,
    /// Node path -> (device index, kind).
    pub nodes: HashMap<String, (usize, NodeKind)>,
    /// Crspace backing file of each device (what an mmap of a cr node maps).
    pub cr_paths: Vec<PathBuf>,
    /// fwctl node path (`/dev/fwctl/fwctlN`) -> device index.
    pub fwctl: HashMap<String, usize>,
}

#[derive(serde::Serialize, serde::Deserialize, Debug, Default, PartialEq)]
pub struct Stats {
    pub devices: BTreeMap<String, CounterSnapshot>,
}

impl Shared {
    pub fn stats(&self) -> Stats {
        Stats {
            devices: self
                .devices
                .iter()
                .map(|d| (d.bdf().to_string(), d.counters()))
                .collect(),
        }
    }

    fn device(&self, bdf: &str) -> Option<&Arc<SimDevice>> {
        self.devices
            .iter()
            .find(|d| d.bdf().eq_ignore_ascii_case(bdf))
    }
}

/// Accept connections forever (in a background thread).
pub fn spawn(listener: UnixListener, shared: Arc<Shared>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("mtcr-sim-accept".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let sh = shared.clone();
                let _ = std::thread::Builder::new()
                    .name("mtcr-sim-conn".into())
                    .spawn(move || serve(conn, &sh));
            }
        })?;
    Ok(())
}

/// Per-connection state: driver state per client descriptor (with the node path it was
/// opened on, so a reused descriptor number starts afresh).
#[derive(Default)]
struct ConnState {
    fds: HashMap<i32, (String, FdState)>,
    /// The client process (`SO_PEERCRED`; 0 if unknown): DMA pages it pins are its memory.
    pid: i32,
}

impl ConnState {
    fn fd_state(
        &mut self,
        fd: i32,
        path: &str,
        dev: &SimDevice,
        kind: NodeKind,
        flags: u32,
    ) -> &mut FdState {
        let pid = self.pid;
        let fresh = || {
            let mut fs = FdState::open(dev, kind, flags as i32);
            fs.pid = pid;
            (path.to_string(), fs)
        };
        let e = self.fds.entry(fd).or_insert_with(fresh);
        if e.0 != path {
            *e = fresh();
        }
        &mut e.1
    }
}

fn serve(conn: UnixStream, sh: &Shared) {
    let Ok(wr) = conn.try_clone() else { return };
    let mut wr = wr;
    let mut rd = BufReader::new(conn);
    let mut req = Request::default();
    let mut scratch = Vec::with_capacity(512);
    let mut st = ConnState {
        pid: peer_pid(&wr),
        ..ConnState::default()
    };
    loop {
        match proto::read_request(&mut rd, &mut req) {
            Ok(true) => {}
            Ok(false) | Err(_) => return,
        }
        let (ret, data) = handle(sh, &mut st, &mut req);
        let data: &[u8] = match &data {
            Reply::Arg => &req.data,
            Reply::Bytes(b) => b,
            Reply::None => &[],
        };
        if proto::write_response(&mut wr, ret, data, &mut scratch).is_err() {
            return;
        }
    }
}

/// The pid of the process at the other end of a unix socket (0 if it cannot be told). The
/// preload opens one connection per process, so this is the process making the ioctls.
fn peer_pid(conn: &UnixStream) -> i32 {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED fills a `ucred` of `len` bytes on a valid socket descriptor.
    let r = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r == 0 {
        cred.pid
    } else {
        0
    }
}

enum Reply {
    /// The (modified) request data: ioctl argument.
    Arg,
    Bytes(Vec<u8>),
    None,
}

fn err_msg(errno: i32, msg: String) -> (i64, Reply) {
    (-(errno as i64), Reply::Bytes(msg.into_bytes()))
}

fn handle(sh: &Shared, st: &mut ConnState, req: &mut Request) -> (i64, Reply) {
    match req.op {
        proto::OP_IOCTL => {
            let Some(&(idx, kind)) = sh.nodes.get(&req.path) else {
                return (proto::RET_NOT_SIM, Reply::None);
            };
            let fs = st.fd_state(req.fd, &req.path, &sh.devices[idx], kind, req.fd_flags);
            let size = drivers::ioc_size(req.request);
            req.data.resize(size, 0);
            let out = drivers::ioctl(&sh.devices[idx], kind, fs, req.request, &mut req.data);
            (out.ret, Reply::Arg)
        }
        proto::OP_MMAP => {
            let Some(&(idx, kind)) = sh.nodes.get(&req.path) else {
                return (proto::RET_NOT_SIM, Reply::None);
            };
            let fs = st.fd_state(req.fd, &req.path, &sh.devices[idx], kind, req.fd_flags);
            match drivers::mmap_allowed(kind, fs, req.offset, req.len) {
                Ok(()) => {
                    sh.devices[idx].count_mmap();
                    let p = sh.cr_paths[idx].to_string_lossy().into_owned();
                    (0, Reply::Bytes(p.into_bytes()))
                }
                Err(e) => (-(e as i64), Reply::None),
            }
        }
        proto::OP_FWCTL => {
            if let Some(&idx) = sh.fwctl.get(&req.path) {
                let rawio = req.aux & proto::AUX_RAWIO != 0;
                let (ret, out) =
                    drivers::fwctl::ioctl(&sh.devices[idx], req.request, &req.data, rawio);
                return (ret, Reply::Bytes(out));
            }
            // An mmap of `resource0`: refused under kernel lockdown, else the real one.
            // The path the preload read back: the function's directory under /sys/devices
            // (or, opened there, /sys/bus/pci/devices); its last component is the BDF.
            let bdf = req
                .path
                .strip_suffix("/resource0")
                .and_then(|d| d.rsplit('/').next());
            match bdf.and_then(|b| sh.device(b)) {
                Some(d) if d.faults().lockdown => (-(libc::EPERM as i64), Reply::None),
                _ => (proto::RET_NOT_SIM, Reply::None),
            }
        }
        proto::OP_BAR => {
            let dev = match sh.nodes.get(&req.path) {
                Some(&(idx, _)) => sh.devices.get(idx),
                None => req
                    .path
                    .strip_suffix("/resource0")
                    .and_then(|d| d.rsplit('/').next())
                    .and_then(|b| sh.device(b)),
            };
            let Some(d) = dev else {
                return (proto::RET_NOT_SIM, Reply::None);
            };
            let off = u32::try_from(req.offset).unwrap_or(u32::MAX);
            match req.request {
                proto::BAR_PAGES => {
                    let v: Vec<u8> = d
                        .bar_trap_pages()
                        .iter()
                        .flat_map(|p| p.to_le_bytes())
                        .collect();
                    (0, Reply::Bytes(v))
                }
                proto::BAR_READ => (i64::from(d.bar_access(off, None)), Reply::None),
                proto::BAR_WRITE if req.data.len() >= 4 => {
                    let v =
                        u32::from_le_bytes([req.data[0], req.data[1], req.data[2], req.data[3]]);
                    d.bar_access(off, Some(v));
                    (0, Reply::None)
                }
                _ => err_msg(libc::EINVAL, "bad OP_BAR request".into()),
            }
        }
        proto::OP_CLOSE => {
            st.fds.remove(&req.fd);
            (0, Reply::None)
        }
        proto::OP_STATS => match serde_json::to_vec_pretty(&sh.stats()) {
            Ok(v) => (0, Reply::Bytes(v)),
            Err(e) => err_msg(libc::EIO, e.to_string()),
        },
        proto::OP_GET_FAULTS => match sh.device(&req.path) {
            Some(d) => match serde_json::to_vec(&d.faults()) {
                Ok(v) => (0, Reply::Bytes(v)),
                Err(e) => err_msg(libc::EIO, e.to_string()),
            },
            None => err_msg(libc::ENODEV, format!("no simulated device {:?}", req.path)),
        },
        proto::OP_SET_FAULTS => match sh.device(&req.path) {
            Some(d) => match serde_json::from_slice::<Faults>(&req.data) {
                Ok(f) => {
                    d.set_faults(f);
                    (0, Reply::None)
                }
                Err(e) => err_msg(libc::EINVAL, format!("bad faults: {e}")),
            },
            None => err_msg(libc::ENODEV, format!("no simulated device {:?}", req.path)),
        },
        proto::OP_PCI_RESET => match sh.device(&req.path) {
            Some(d) => (i64::from(d.pci_reset(req.request == 1)), Reply::None),
            None => err_msg(libc::ENODEV, format!("no simulated device {:?}", req.path)),
        },
        proto::OP_NODES => {
            let mut v: Vec<&String> = sh.nodes.keys().collect();
            v.sort();
            let text: String = v.iter().map(|p| format!("{p}\n")).collect();
            (0, Reply::Bytes(text.into_bytes()))
        }
        op => err_msg(libc::ENOSYS, format!("unknown op {op}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;
    use crate::model::CrStore;

    fn shared() -> Shared {
        let cfg = SimConfig::from_toml("[[device]]\ndriver = \"mstflint_access\"\n").unwrap();
        let d = &cfg.devices[0];
        let dev = SimDevice::new(d, CrStore::anonymous()).unwrap();
        let nodes = drivers::nodes_for(d)
            .into_iter()
            .map(|n| (n.path, (0, n.kind)))
            .collect();
        Shared {
            devices: vec![dev],
            nodes,
            cr_paths: vec![PathBuf::from("/nonexistent/crspace")],
            fwctl: HashMap::new(),
        }
    }

    fn req(op: u32, path: &str, request: u32, data: Vec<u8>) -> Request {
        Request {
            op,
            fd: 5,
            request,
            fd_flags: libc::O_RDWR as u32,
            path: path.into(),
            data,
            ..Default::default()
        }
    }

    const CONF: &str = "/dev/0000:05:00.0_mstconf";
    const MST_READ4: u32 = 0x800c_d101;

    #[test]
    fn ioctl_goes_to_the_driver_model() {
        let sh = shared();
        let mut st = ConnState::default();
        // MST_READ4 {space 2, offset 0xf0014}: the hw id comes back in the data field.
        let mut arg = vec![0u8; 12];
        arg[0..4].copy_from_slice(&2u32.to_le_bytes());
        arg[4..8].copy_from_slice(&0xf0014u32.to_le_bytes());
        let mut r = req(proto::OP_IOCTL, CONF, MST_READ4, arg);
        let (ret, reply) = handle(&sh, &mut st, &mut r);
        assert_eq!(ret, 0);
        assert!(matches!(reply, Reply::Arg));
        let v = u32::from_le_bytes([r.data[8], r.data[9], r.data[10], r.data[11]]);
        assert_eq!(v & 0xffff, 0x20d);
        assert_eq!(sh.stats().devices["0000:05:00.0"].ioctls["MST_READ4"], 1);
        assert_eq!(st.fds.len(), 1);

        // A short argument is padded to _IOC_SIZE before the model sees it.
        let mut r = req(proto::OP_IOCTL, CONF, MST_READ4, vec![2, 0, 0, 0]);
        let (ret, _) = handle(&sh, &mut st, &mut r);
        assert_eq!(ret, 0);
        assert_eq!(r.data.len(), 12);

        // close drops the descriptor's state.
        let mut r = req(proto::OP_CLOSE, "", 0, vec![]);
        assert_eq!(handle(&sh, &mut st, &mut r).0, 0);
        assert!(st.fds.is_empty());
    }

    #[test]
    fn unknown_paths_pass_through_and_mmap_is_refused_on_conf_nodes() {
        let sh = shared();
        let mut st = ConnState::default();
        let mut r = req(proto::OP_IOCTL, "/dev/mst/other", MST_READ4, vec![0; 12]);
        assert_eq!(handle(&sh, &mut st, &mut r).0, proto::RET_NOT_SIM);
        let mut r = req(proto::OP_MMAP, "/dev/mst/other", 3, vec![]);
        assert_eq!(handle(&sh, &mut st, &mut r).0, proto::RET_NOT_SIM);
        let mut r = req(proto::OP_MMAP, CONF, 3, vec![]);
        r.len = 4096;
        let (ret, _) = handle(&sh, &mut st, &mut r);
        assert!(ret < 0);
        assert_eq!(sh.stats().devices["0000:05:00.0"].mmaps, 0);
    }

    #[test]
    fn control_requests() {
        let sh = shared();
        let mut st = ConnState::default();
        let mut r = req(proto::OP_STATS, "", 0, vec![]);
        let (ret, reply) = handle(&sh, &mut st, &mut r);
        assert_eq!(ret, 0);
        let Reply::Bytes(b) = reply else {
            panic!("stats without data")
        };
        let stats: Stats = serde_json::from_slice(&b).unwrap();
        assert!(stats.devices.contains_key("0000:05:00.0"));

        let f = Faults {
            eio_after: 7,
            ..Faults::default()
        };
        let mut r = req(
            proto::OP_SET_FAULTS,
            "0000:05:00.0",
            0,
            serde_json::to_vec(&f).unwrap(),
        );
        assert_eq!(handle(&sh, &mut st, &mut r).0, 0);
        assert_eq!(sh.devices[0].faults(), f);
        let mut r = req(proto::OP_GET_FAULTS, "0000:05:00.0", 0, vec![]);
        let (ret, reply) = handle(&sh, &mut st, &mut r);
        assert_eq!(ret, 0);
        let Reply::Bytes(b) = reply else {
            panic!("faults without data")
        };
        assert_eq!(serde_json::from_slice::<Faults>(&b).unwrap(), f);

        let mut r = req(proto::OP_GET_FAULTS, "0000:09:00.0", 0, vec![]);
        assert_eq!(handle(&sh, &mut st, &mut r).0, -(libc::ENODEV as i64));
        let mut r = req(proto::OP_SET_FAULTS, "0000:05:00.0", 0, b"{".to_vec());
        assert_eq!(handle(&sh, &mut st, &mut r).0, -(libc::EINVAL as i64));
        let mut r = req(proto::OP_NODES, "", 0, vec![]);
        let (_, reply) = handle(&sh, &mut st, &mut r);
        let Reply::Bytes(b) = reply else {
            panic!("nodes without data")
        };
        assert_eq!(String::from_utf8(b).unwrap(), format!("{CONF}\n"));
        let mut r = req(99, "", 0, vec![]);
        assert_eq!(handle(&sh, &mut st, &mut r).0, -(libc::ENOSYS as i64));
    }
}
