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
        let fresh = || (path.to_string(), FdState::open(dev, kind, flags as i32));
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
    let mut st = ConnState::default();
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
            let size = ((req.request >> 16) & 0x3fff) as usize;
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
        proto::OP_NODES => {
            let mut v: Vec<&String> = sh.nodes.keys().collect();
            v.sort();
            let text: String = v.iter().map(|p| format!("{p}\n")).collect();
            (0, Reply::Bytes(text.into_bytes()))
        }
        op => err_msg(libc::ENOSYS, format!("unknown op {op}")),
    }
}
