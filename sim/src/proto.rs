//! Wire protocol between the preload library (`sim/preload`), the control clients
//! (`mtcr-sim stats|fault`, [`crate::testing`]) and the simulator server.
//!
//! One unix stream connection per client process; requests are answered in order.
//! All integers little-endian. The preload crate re-implements this tiny format (it must not
//! depend on this crate), so any change here must be mirrored in `sim/preload/src/lib.rs`.
//!
//! Request: a fixed 48-byte header, then `path_len` bytes of path, then `data_len` bytes of data.
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | u32 | magic [`MAGIC`] |
//! | 4 | u32 | op (`OP_*`) |
//! | 8 | i32 | fd of the caller (ioctl/mmap/close) |
//! | 12 | u32 | ioctl request number (low 32 bits) / mmap prot |
//! | 16 | u64 | mmap offset |
//! | 24 | u64 | mmap length |
//! | 32 | u32 | path_len |
//! | 36 | u32 | data_len |
//! | 40 | u32 | open flags of `fd` (`fcntl(F_GETFL)`; ioctl/mmap) |
//! | 44 | u32 | aux: [`OP_FWCTL`] bit 0 = the caller has CAP_SYS_RAWIO; else 0 |
//!
//! Response: a 16-byte header {i64 ret, u32 data_len, u32 reserved} then `data_len` bytes.
//! `ret` is `>= 0` on success (the ioctl's return value) or `-errno`; [`RET_NOT_SIM`] tells the
//! preload that the descriptor is not a simulated node (call the real function).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

pub const MAGIC: u32 = 0x4d53_494d; // "MISM" little-endian
pub const REQ_HDR: usize = 48;
pub const RESP_HDR: usize = 16;
/// Upper bound on path and data lengths accepted by the server.
pub const MAX_PATH: usize = 4096;
pub const MAX_DATA: usize = 1 << 20;

/// ioctl on a node: path = readlink of the fd, data = the argument bytes (`_IOC_SIZE` of request).
/// Response data = the argument bytes after the call.
pub const OP_IOCTL: u32 = 1;
/// mmap of a node: path, offset, length, prot. Response data = path of the file to map instead
/// (the crspace backing file), mapped at the same offset.
pub const OP_MMAP: u32 = 2;
/// The caller closed `fd`: drop its per-descriptor state.
pub const OP_CLOSE: u32 = 3;
/// fwctl ioctl on `/dev/fwctl/*` (`_IO` numbers with user pointers inside the argument):
/// data = the argument struct (its `size` bytes, at most 256) then the RPC input; response
/// data = the struct after the call then the output (see `drivers::fwctl`). aux bit 0: the
/// caller has CAP_SYS_RAWIO. Also used for an mmap of `resource0`: path = the file, the
/// response says whether kernel lockdown refuses it.
pub const OP_FWCTL: u32 = 4;
/// An access to a forwarded page of a crspace mapping (`resource0`, a driver's memory node):
/// path = the mapped file (as the client sees it), offset = the BAR offset. request
/// [`BAR_PAGES`]: response data = the BAR offsets (u32 LE) of the pages to forward (none: a
/// plain mapping); [`BAR_READ`]: ret = the dword (host order); [`BAR_WRITE`]: data = the
/// dword (u32 LE), ret 0. Not a simulated mapping: [`RET_NOT_SIM`].
pub const OP_BAR: u32 = 5;
pub const BAR_PAGES: u32 = 0;
pub const BAR_READ: u32 = 1;
pub const BAR_WRITE: u32 = 2;
/// aux bit of [`OP_FWCTL`]: the caller's effective capabilities include CAP_SYS_RAWIO.
pub const AUX_RAWIO: u32 = 1;
/// Live counters, JSON `{"devices": {bdf: CounterSnapshot}}`.
pub const OP_STATS: u32 = 16;
/// Current faults of device `path` (= bdf), JSON.
pub const OP_GET_FAULTS: u32 = 17;
/// Set faults of device `path` (= bdf) from JSON in data.
pub const OP_SET_FAULTS: u32 = 18;
/// List of simulated node paths, one per line.
pub const OP_NODES: u32 = 19;
/// Device `path` (= bdf) goes through a PCI link toggle (what disabling and re-enabling its
/// upstream port's link does; with `request` 1: a PERST, as a warm reboot asserts): `ret` 1
/// when an armed firmware reset rebooted it, else 0.
pub const OP_PCI_RESET: u32 = 20;

/// `ret` meaning "not a simulated node: use the real system call".
pub const RET_NOT_SIM: i64 = i64::MIN;

/// Name of the environment variable holding the server socket path.
pub const ENV_SOCKET: &str = "MTCR_SIM_SOCKET";

/// A decoded request (server side).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Request {
    pub op: u32,
    pub fd: i32,
    pub request: u32,
    pub offset: u64,
    pub len: u64,
    pub fd_flags: u32,
    /// Header word 44 ([`OP_FWCTL`]: [`AUX_RAWIO`]).
    pub aux: u32,
    pub path: String,
    pub data: Vec<u8>,
}

/// Encode a request into `out` (cleared first).
pub fn encode_request(req: &Request, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&req.op.to_le_bytes());
    out.extend_from_slice(&req.fd.to_le_bytes());
    out.extend_from_slice(&req.request.to_le_bytes());
    out.extend_from_slice(&req.offset.to_le_bytes());
    out.extend_from_slice(&req.len.to_le_bytes());
    out.extend_from_slice(&(req.path.len() as u32).to_le_bytes());
    out.extend_from_slice(&(req.data.len() as u32).to_le_bytes());
    out.extend_from_slice(&req.fd_flags.to_le_bytes());
    out.extend_from_slice(&req.aux.to_le_bytes());
    out.extend_from_slice(req.path.as_bytes());
    out.extend_from_slice(&req.data);
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// Read one request, reusing `req`'s buffers. `Ok(false)` on a clean end of stream.
pub fn read_request<R: Read>(r: &mut R, req: &mut Request) -> std::io::Result<bool> {
    let mut hdr = [0u8; REQ_HDR];
    // Distinguish EOF before a header from a truncated header.
    let mut got = 0;
    while got < REQ_HDR {
        let n = r.read(&mut hdr[got..])?;
        if n == 0 {
            if got == 0 {
                return Ok(false);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
    }
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    if u32_at(&hdr, 0) != MAGIC {
        return Err(bad("bad magic"));
    }
    req.op = u32_at(&hdr, 4);
    req.fd = u32_at(&hdr, 8) as i32;
    req.request = u32_at(&hdr, 12);
    req.offset = u64_at(&hdr, 16);
    req.len = u64_at(&hdr, 24);
    let path_len = u32_at(&hdr, 32) as usize;
    let data_len = u32_at(&hdr, 36) as usize;
    req.fd_flags = u32_at(&hdr, 40);
    req.aux = u32_at(&hdr, 44);
    if path_len > MAX_PATH || data_len > MAX_DATA {
        return Err(bad("oversized request"));
    }
    let mut path = std::mem::take(&mut req.path).into_bytes();
    path.resize(path_len, 0);
    r.read_exact(&mut path)?;
    req.path = String::from_utf8(path).map_err(|_| bad("path not UTF-8"))?;
    req.data.resize(data_len, 0);
    r.read_exact(&mut req.data)?;
    Ok(true)
}

/// Write a response (header + data) in one buffer.
pub fn write_response<W: Write>(
    w: &mut W,
    ret: i64,
    data: &[u8],
    scratch: &mut Vec<u8>,
) -> std::io::Result<()> {
    scratch.clear();
    scratch.extend_from_slice(&ret.to_le_bytes());
    scratch.extend_from_slice(&(data.len() as u32).to_le_bytes());
    scratch.extend_from_slice(&0u32.to_le_bytes());
    scratch.extend_from_slice(data);
    w.write_all(scratch)
}

/// Read a response: (ret, data).
pub fn read_response<R: Read>(r: &mut R) -> std::io::Result<(i64, Vec<u8>)> {
    let mut hdr = [0u8; RESP_HDR];
    r.read_exact(&mut hdr)?;
    let ret = u64_at(&hdr, 0) as i64;
    let len = u32_at(&hdr, 8) as usize;
    if len > MAX_DATA * 16 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "oversized response",
        ));
    }
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)?;
    Ok((ret, data))
}

/// A control client (stats, faults) for a running simulator.
pub struct Client {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(path: &Path) -> Result<Client, String> {
        let stream = UnixStream::connect(path)
            .map_err(|e| format!("cannot connect to {}: {e}", path.display()))?;
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    /// Connect to the socket named by `MTCR_SIM_SOCKET`.
    pub fn from_env() -> Result<Client, String> {
        let p = std::env::var_os(ENV_SOCKET)
            .ok_or_else(|| format!("{ENV_SOCKET} is not set (not inside `mtcr-sim run`?)"))?;
        Self::connect(Path::new(&p))
    }

    /// Send one request and wait for its response.
    pub fn call(&mut self, req: &Request) -> Result<(i64, Vec<u8>), String> {
        encode_request(req, &mut self.buf);
        self.stream
            .write_all(&self.buf)
            .map_err(|e| format!("send: {e}"))?;
        read_response(&mut self.stream).map_err(|e| format!("receive: {e}"))
    }

    fn call_ok(&mut self, req: &Request) -> Result<Vec<u8>, String> {
        let (ret, data) = self.call(req)?;
        if ret < 0 {
            let msg = String::from_utf8_lossy(&data).into_owned();
            return Err(if msg.is_empty() {
                format!("server error {}", -ret)
            } else {
                msg
            });
        }
        Ok(data)
    }

    /// Live counters as JSON text `{"devices": {bdf: {...}}}`.
    pub fn stats_json(&mut self) -> Result<String, String> {
        let d = self.call_ok(&Request {
            op: OP_STATS,
            ..Default::default()
        })?;
        String::from_utf8(d).map_err(|e| e.to_string())
    }

    /// Toggle the PCI link of a device (`perst`: assert PERST instead): whether its
    /// firmware rebooted.
    pub fn pci_reset(&mut self, bdf: &str, perst: bool) -> Result<bool, String> {
        let (ret, _) = self.call(&Request {
            op: OP_PCI_RESET,
            request: u32::from(perst),
            path: bdf.to_string(),
            ..Default::default()
        })?;
        if ret < 0 {
            return Err(format!("pci reset of {bdf}: errno {}", -ret));
        }
        Ok(ret == 1)
    }

    /// Current fault knobs of a device.
    pub fn get_faults(&mut self, bdf: &str) -> Result<crate::config::Faults, String> {
        let d = self.call_ok(&Request {
            op: OP_GET_FAULTS,
            path: bdf.to_string(),
            ..Default::default()
        })?;
        serde_json::from_slice(&d).map_err(|e| e.to_string())
    }

    /// Replace the fault knobs of a device.
    pub fn set_faults(&mut self, bdf: &str, f: &crate::config::Faults) -> Result<(), String> {
        let data = serde_json::to_vec(f).map_err(|e| e.to_string())?;
        self.call_ok(&Request {
            op: OP_SET_FAULTS,
            path: bdf.to_string(),
            data,
            ..Default::default()
        })?;
        Ok(())
    }

    /// Paths of the simulated driver nodes.
    pub fn nodes(&mut self) -> Result<Vec<String>, String> {
        let d = self.call_ok(&Request {
            op: OP_NODES,
            ..Default::default()
        })?;
        Ok(String::from_utf8_lossy(&d)
            .lines()
            .map(str::to_string)
            .collect())
    }
}

/// Whether a path looks like a simulated driver node (the preload's quick filter).
pub fn looks_like_node(path: &[u8]) -> bool {
    path.starts_with(b"/dev/mst/")
        || (path.starts_with(b"/dev/")
            && (path.ends_with(b"_mstconf") || path.ends_with(b"_mstcr")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let req = Request {
            op: OP_IOCTL,
            fd: 7,
            request: 0x800c_d101,
            offset: 0x1234_5678_9abc,
            len: 4096,
            fd_flags: 2,
            aux: 1,
            path: "/dev/0000:05:00.0_mstconf".into(),
            data: vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        };
        let mut buf = Vec::new();
        encode_request(&req, &mut buf);
        assert_eq!(buf.len(), REQ_HDR + req.path.len() + 12);
        let mut back = Request::default();
        let mut cur = std::io::Cursor::new(&buf);
        assert!(read_request(&mut cur, &mut back).unwrap());
        assert_eq!(back, req);
        // End of stream after the request.
        assert!(!read_request(&mut cur, &mut back).unwrap());
    }

    #[test]
    fn response_round_trip_and_bad_magic() {
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        write_response(&mut out, -22, b"abc", &mut scratch).unwrap();
        let (ret, data) = read_response(&mut std::io::Cursor::new(&out)).unwrap();
        assert_eq!((ret, data.as_slice()), (-22, &b"abc"[..]));
        let mut bad = vec![0u8; REQ_HDR];
        bad[0] = 1;
        assert!(read_request(&mut std::io::Cursor::new(&bad), &mut Request::default()).is_err());
        // Truncated header.
        let mut buf = Vec::new();
        encode_request(&Request::default(), &mut buf);
        buf.truncate(10);
        assert!(read_request(&mut std::io::Cursor::new(&buf), &mut Request::default()).is_err());
    }

    #[test]
    fn node_filter() {
        assert!(looks_like_node(b"/dev/0000:05:00.0_mstconf"));
        assert!(looks_like_node(b"/dev/0000:05:00.0_mstcr"));
        assert!(looks_like_node(b"/dev/mst/mt4119_pciconf0"));
        assert!(!looks_like_node(b"/dev/null"));
        assert!(!looks_like_node(
            b"/sys/bus/pci/devices/0000:05:00.0/config"
        ));
    }
}
