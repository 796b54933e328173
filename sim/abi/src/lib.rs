//! What the preload library (`sim/preload`, libc only) and the simulator (`mtcr-sim`) must
//! agree on, defined once: the ioctl number encoding (`_IOC`), the request / response headers
//! of the unix-socket protocol, its operation codes, and the node-path filter.
//!
//! `no_std` and dependency-free so that the preload can link it without pulling the
//! simulator's dependencies in. The framing helpers work on fixed arrays (the preload must not
//! allocate); `mtcr_sim::proto` builds its `Request` / `Client` on top of them.
//!
//! Request: a fixed [`REQ_HDR`]-byte header ([`ReqHeader`]), then `path_len` bytes of path,
//! then `data_len` bytes of data. All integers little-endian.
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
//! Response: a [`RESP_HDR`]-byte header {i64 ret, u32 data_len, u32 reserved} then `data_len`
//! bytes. `ret` is `>= 0` on success (the ioctl's return value) or `-errno`; [`RET_NOT_SIM`]
//! tells the preload that the descriptor is not a simulated node (call the real function).
#![no_std]

pub mod ioc;

pub const MAGIC: u32 = 0x4d53_494d; // "MISM" little-endian
pub const REQ_HDR: usize = 48;
pub const RESP_HDR: usize = 16;
/// Upper bound on path and data lengths accepted by the server.
pub const MAX_PATH: usize = 4096;
pub const MAX_DATA: usize = 1 << 20;

/// ioctl on a node: path = readlink of the fd, data = the argument bytes (`_IOC_SIZE` of
/// request). Response data = the argument bytes after the call.
pub const OP_IOCTL: u32 = 1;
/// mmap of a node: path, offset, length, prot. Response data = path of the file to map instead
/// (the crspace backing file), mapped at the same offset.
pub const OP_MMAP: u32 = 2;
/// The caller closed `fd`: drop its per-descriptor state.
pub const OP_CLOSE: u32 = 3;
/// fwctl ioctl on `/dev/fwctl/*` (`_IO` numbers with user pointers inside the argument):
/// data = the argument struct (its `size` bytes, at most [`FWCTL_MAX_STRUCT`]) then the RPC
/// input; response data = the struct after the call then the output (see `drivers::fwctl`).
/// aux bit 0: the caller has CAP_SYS_RAWIO. Also used for an mmap of `resource0`: path = the
/// file, the response says whether kernel lockdown refuses it.
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

/// fwctl's `FWCTL_INFO` (`_IO(0x9a, 0)`: its pointers are not described by the number).
pub const FWCTL_INFO: u32 = 0x9a00;
/// fwctl's `FWCTL_RPC` (`_IO(0x9a, 1)`).
pub const FWCTL_RPC: u32 = 0x9a01;
/// Largest fwctl argument struct the preload carries (its leading `size`, clamped).
pub const FWCTL_MAX_STRUCT: usize = 256;

/// The fixed request header.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReqHeader {
    pub op: u32,
    pub fd: i32,
    pub request: u32,
    pub offset: u64,
    pub len: u64,
    pub path_len: u32,
    pub data_len: u32,
    pub fd_flags: u32,
    pub aux: u32,
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

impl ReqHeader {
    /// The header's wire bytes (magic included).
    pub fn encode(&self) -> [u8; REQ_HDR] {
        let mut b = [0u8; REQ_HDR];
        b[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&self.op.to_le_bytes());
        b[8..12].copy_from_slice(&self.fd.to_le_bytes());
        b[12..16].copy_from_slice(&self.request.to_le_bytes());
        b[16..24].copy_from_slice(&self.offset.to_le_bytes());
        b[24..32].copy_from_slice(&self.len.to_le_bytes());
        b[32..36].copy_from_slice(&self.path_len.to_le_bytes());
        b[36..40].copy_from_slice(&self.data_len.to_le_bytes());
        b[40..44].copy_from_slice(&self.fd_flags.to_le_bytes());
        b[44..48].copy_from_slice(&self.aux.to_le_bytes());
        b
    }

    /// Decode a header; `None` when the magic is wrong.
    pub fn decode(b: &[u8; REQ_HDR]) -> Option<ReqHeader> {
        if u32_at(b, 0) != MAGIC {
            return None;
        }
        Some(ReqHeader {
            op: u32_at(b, 4),
            fd: u32_at(b, 8) as i32,
            request: u32_at(b, 12),
            offset: u64_at(b, 16),
            len: u64_at(b, 24),
            path_len: u32_at(b, 32),
            data_len: u32_at(b, 36),
            fd_flags: u32_at(b, 40),
            aux: u32_at(b, 44),
        })
    }
}

/// The response header's wire bytes: `ret`, then the length of the data that follows.
pub fn encode_response_header(ret: i64, data_len: u32) -> [u8; RESP_HDR] {
    let mut b = [0u8; RESP_HDR];
    b[0..8].copy_from_slice(&ret.to_le_bytes());
    b[8..12].copy_from_slice(&data_len.to_le_bytes());
    b
}

/// Decode a response header: (ret, data length).
pub fn decode_response_header(b: &[u8; RESP_HDR]) -> (i64, u32) {
    (u64_at(b, 0) as i64, u32_at(b, 8))
}

/// Whether a path looks like a simulated driver node (the preload's quick filter; the server
/// decides for sure).
pub fn looks_like_node(path: &[u8]) -> bool {
    path.starts_with(b"/dev/mst/")
        || (path.starts_with(b"/dev/")
            && (path.ends_with(b"_mstconf") || path.ends_with(b"_mstcr")))
}

/// Whether a path is an fwctl character device (carried with [`OP_FWCTL`]).
pub fn is_fwctl_node(path: &[u8]) -> bool {
    path.starts_with(b"/dev/fwctl/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = ReqHeader {
            op: OP_IOCTL,
            fd: -3,
            request: 0x800c_d101,
            offset: 0x1234_5678_9abc,
            len: 4096,
            path_len: 25,
            data_len: 12,
            fd_flags: 2,
            aux: AUX_RAWIO,
        };
        let b = h.encode();
        assert_eq!(&b[0..4], b"MISM");
        assert_eq!(ReqHeader::decode(&b), Some(h));
        let mut bad = b;
        bad[0] ^= 1;
        assert_eq!(ReqHeader::decode(&bad), None);
        let r = encode_response_header(-22, 7);
        assert_eq!(decode_response_header(&r), (-22, 7));
        assert_eq!(
            decode_response_header(&encode_response_header(RET_NOT_SIM, 0)).0,
            RET_NOT_SIM
        );
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
        assert!(is_fwctl_node(b"/dev/fwctl/fwctl0"));
        assert!(!is_fwctl_node(b"/dev/0000:05:00.0_mstconf"));
    }
}
