//! Wire protocol between the preload library (`sim/preload`), the control clients
//! (`mtcr-sim stats|fault`, [`crate::testing`]) and the simulator server.
//!
//! One unix stream connection per client process; requests are answered in order. The
//! numbers and the header layout are defined once, in the `mtcr-sim-abi` crate (`sim/abi`),
//! which the preload links too; they are re-exported here. This module adds the owned
//! [`Request`], stream framing and the control [`Client`].

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

pub use mtcr_sim_abi::{
    looks_like_node, ReqHeader, AUX_RAWIO, BAR_PAGES, BAR_READ, BAR_WRITE, ENV_SOCKET, MAGIC,
    MAX_DATA, MAX_PATH, OP_BAR, OP_CLOSE, OP_FWCTL, OP_GET_FAULTS, OP_IOCTL, OP_MMAP, OP_NODES,
    OP_PCI_RESET, OP_SET_FAULTS, OP_STATS, REQ_HDR, RESP_HDR, RET_NOT_SIM,
};

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
    let hdr = ReqHeader {
        op: req.op,
        fd: req.fd,
        request: req.request,
        offset: req.offset,
        len: req.len,
        path_len: req.path.len() as u32,
        data_len: req.data.len() as u32,
        fd_flags: req.fd_flags,
        aux: req.aux,
    };
    out.extend_from_slice(&hdr.encode());
    out.extend_from_slice(req.path.as_bytes());
    out.extend_from_slice(&req.data);
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
    let h = ReqHeader::decode(&hdr).ok_or_else(|| bad("bad magic"))?;
    req.op = h.op;
    req.fd = h.fd;
    req.request = h.request;
    req.offset = h.offset;
    req.len = h.len;
    let path_len = h.path_len as usize;
    let data_len = h.data_len as usize;
    req.fd_flags = h.fd_flags;
    req.aux = h.aux;
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
    scratch.extend_from_slice(&mtcr_sim_abi::encode_response_header(
        ret,
        data.len() as u32,
    ));
    scratch.extend_from_slice(data);
    w.write_all(scratch)
}

/// Read a response: (ret, data).
pub fn read_response<R: Read>(r: &mut R) -> std::io::Result<(i64, Vec<u8>)> {
    let mut hdr = [0u8; RESP_HDR];
    r.read_exact(&mut hdr)?;
    let (ret, len) = mtcr_sim_abi::decode_response_header(&hdr);
    let len = len as usize;
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
}
