//! The kernel's fwctl subsystem with the mlx5 fwctl driver (Linux 6.15+): `/dev/fwctl/fwctlN`
//! for devices with `fwctl = true`, and `/sys/class/fwctl/fwctlN/device` linking to the PCI
//! function. Facts: kernel `include/uapi/fwctl/fwctl.h` and `drivers/fwctl/`, mstflint v4.36
//! `fwctrl_ioctl.h`.
//!
//! The ioctls are `_IO` numbers of type 0x9a whose argument starts with its own size, with
//! user pointers inside (`FWCTL_RPC` in/out buffers, `FWCTL_INFO` device data): the preload
//! carries them with [`crate::proto::OP_FWCTL`] — request data = the argument struct (as many
//! bytes as its `size` says, at most [`MAX_STRUCT`]) followed by the RPC input (`in_len`
//! bytes); response data = the struct after the call followed by the output (RPC `out`, INFO
//! device data), which the preload copies to the caller's pointers.
//!
//! Modelled:
//! * FWCTL_INFO (0x9a00): size < 24 EINVAL, flags != 0 EOPNOTSUPP; device type 1 (mlx5),
//!   device data `{uid u32 = 1, uctx_caps u32 = 0x3}` (8 bytes), zero-padded / truncated to
//!   the caller's length; `device_data_len` = 8 on return.
//! * FWCTL_RPC (0x9a01): size < 32 EINVAL; `in_len`/`out_len` above [`MAX_RPC_LEN`] EMSGSIZE
//!   (the kernel allows 2 MiB: the preload's buffers are smaller); scope 0..2 accepted, 3
//!   (DEBUG_WRITE_FULL) EPERM without CAP_SYS_RAWIO (the caller's effective set, or the
//!   `fwctl_no_rawio` fault), others EOPNOTSUPP; the mlx5 driver: in or out shorter than the
//!   16-byte command header EMSGSIZE, opcodes other than ACCESS_REG (0x805) and
//!   ACCESS_REGISTER_USER (0xb0c) EBADMSG, a register write (op_mod 0) with a read-only
//!   scope (< 2) EBADMSG. ACCESS_REG runs on the registers ICMD serves
//!   (`SimDevice::access_register`: same registers, same state); the operation-TLV status is
//!   returned as an mlx5 command status (OK 0, busy → 0x6 RES_BUSY, register not supported →
//!   0x4, method not supported → 0x2 BAD_OP, bad parameter / TLV / class → 0x3 BAD_PARAM)
//!   with syndrome `0x5100_0000 | TLV status` when not OK. op_mod other than 0/1: BAD_PARAM.
//! * Any other number (FWCTL_RSC_DESTROY / FWCTL_RSC_UMEM_REG are mstflint's, not mainline):
//!   ENOTTY. Every ioctl is counted by name ([`name`]).

use crate::config::{parse_bdf, DeviceConfig};
use crate::model::{Errno, SimDevice};

/// `FWCTL_INFO` / `FWCTL_RPC` (defined with the preload protocol, which carries them).
pub use mtcr_sim_abi::{FWCTL_INFO, FWCTL_RPC};
/// Largest argument struct the preload sends.
pub const MAX_STRUCT: usize = mtcr_sim_abi::FWCTL_MAX_STRUCT;
/// Largest RPC buffer the simulator carries (the kernel: 2 MiB).
pub const MAX_RPC_LEN: usize = 8192;
/// Size of `struct fwctl_info` / `struct fwctl_rpc`.
pub const INFO_SIZE: usize = 24;
pub const RPC_SIZE: usize = 32;
/// `FWCTL_RPC_DEBUG_WRITE_FULL`.
pub const SCOPE_DEBUG_WRITE_FULL: u32 = 3;
const SCOPE_DEBUG_WRITE: u32 = 2;
/// mlx5 opcodes the mainline driver passes.
pub const MLX5_CMD_OP_ACCESS_REG: u32 = 0x805;
pub const MLX5_CMD_OP_ACCESS_REGISTER_USER: u32 = 0xb0c;

/// Name an fwctl ioctl is counted under.
pub fn name(request: u32) -> &'static str {
    match request {
        FWCTL_INFO => "FWCTL_INFO",
        FWCTL_RPC => "FWCTL_RPC",
        _ => super::UNKNOWN,
    }
}

/// fwctl nodes of a configuration: (device index, node name `fwctlN`), N in BDF order among
/// the devices with `fwctl = true`.
pub fn nodes_for_all(cfgs: &[DeviceConfig]) -> Vec<(usize, String)> {
    let mut order: Vec<usize> = (0..cfgs.len()).filter(|&i| cfgs[i].fwctl).collect();
    order.sort_by_key(|&i| parse_bdf(&cfgs[i].bdf.to_ascii_lowercase()));
    order
        .into_iter()
        .enumerate()
        .map(|(n, i)| (i, format!("fwctl{n}")))
        .collect()
}

fn rd32(a: &[u8], off: usize) -> u32 {
    super::rd32(a, off)
}

/// mlx5 command status for an operation-TLV register status.
pub fn mlx5_status(tlv_status: u32) -> u8 {
    match tlv_status {
        0 => 0,
        1 => 0x6,
        4 => 0x4,
        6 => 0x2,
        _ => 0x3,
    }
}

/// Serve one fwctl ioctl. `data`: the argument struct then the RPC input (see the module
/// docs); `rawio`: whether the caller has CAP_SYS_RAWIO. Returns (ret or -errno, response
/// data: the struct, then the output).
pub fn ioctl(dev: &SimDevice, request: u32, data: &[u8], rawio: bool) -> (i64, Vec<u8>) {
    dev.count_ioctl(name(request));
    let r = match request {
        FWCTL_INFO => info(dev, data),
        FWCTL_RPC => rpc(dev, data, rawio),
        _ => Err(libc::ENOTTY),
    };
    match r {
        Ok(v) => (0, v),
        Err(e) => (-(e as i64), Vec::new()),
    }
}

/// The struct part of `data` (its `size` bytes, as the preload sends them, at most
/// [`MAX_STRUCT`]), checked for the kernel's size rules: at least `min` bytes, and bytes
/// beyond what the kernel knows must be zero (E2BIG otherwise).
fn arg_struct(data: &[u8], min: usize) -> Result<Vec<u8>, Errno> {
    let size = (rd32(data, 0) as usize).clamp(4, MAX_STRUCT);
    if size < min || data.len() < size {
        return Err(libc::EINVAL);
    }
    if data[min..size].iter().any(|&b| b != 0) {
        return Err(libc::E2BIG);
    }
    Ok(data[..size].to_vec())
}

fn info(dev: &SimDevice, data: &[u8]) -> Result<Vec<u8>, Errno> {
    let mut s = arg_struct(data, INFO_SIZE)?;
    if rd32(&s, 4) != 0 {
        return Err(libc::EOPNOTSUPP);
    }
    dev.access_gate()?;
    let want = rd32(&s, 12) as usize;
    let mut dd = vec![0u8; want.min(MAX_RPC_LEN)];
    let mine: [u8; 8] = {
        let mut m = [0u8; 8];
        m[0..4].copy_from_slice(&1u32.to_le_bytes());
        m[4..8].copy_from_slice(&3u32.to_le_bytes());
        m
    };
    let n = dd.len().min(mine.len());
    dd[..n].copy_from_slice(&mine[..n]);
    super::wr32(&mut s, 8, 1);
    super::wr32(&mut s, 12, mine.len() as u32);
    s.extend_from_slice(&dd);
    Ok(s)
}

fn rpc(dev: &SimDevice, data: &[u8], rawio: bool) -> Result<Vec<u8>, Errno> {
    let mut s = arg_struct(data, RPC_SIZE)?;
    let scope = rd32(&s, 4);
    let in_len = rd32(&s, 8) as usize;
    let out_len = rd32(&s, 12) as usize;
    if in_len > MAX_RPC_LEN || out_len > MAX_RPC_LEN {
        return Err(libc::EMSGSIZE);
    }
    match scope {
        0..=SCOPE_DEBUG_WRITE => {}
        SCOPE_DEBUG_WRITE_FULL => {
            if !rawio || dev.faults().fwctl_no_rawio {
                return Err(libc::EPERM);
            }
        }
        _ => return Err(libc::EOPNOTSUPP),
    }
    let input = data.get(s.len()..s.len() + in_len).ok_or(libc::EFAULT)?;
    if in_len < 16 || out_len < 16 {
        return Err(libc::EMSGSIZE);
    }
    let opcode = u32::from_be_bytes([input[0], input[1], input[2], input[3]]) >> 16;
    let op_mod = u32::from_be_bytes([input[4], input[5], input[6], input[7]]) & 0xffff;
    if opcode != MLX5_CMD_OP_ACCESS_REG && opcode != MLX5_CMD_OP_ACCESS_REGISTER_USER {
        return Err(libc::EBADMSG);
    }
    if op_mod == 0 && scope < SCOPE_DEBUG_WRITE {
        return Err(libc::EBADMSG);
    }
    let reg_id = u32::from_be_bytes([input[8], input[9], input[10], input[11]]) & 0xffff;
    let reg = &input[16..];
    let mut out = vec![0u8; out_len];
    let method = match op_mod {
        1 => Some(1u32),
        0 => Some(2u32),
        _ => None,
    };
    let (status, answer) = match method {
        None => (0x3u8, Vec::new()),
        Some(method) => {
            let dwords = reg.len().div_ceil(4).max((out_len - 16).div_ceil(4));
            let mut mbox = vec![0u32; 5 + dwords];
            mbox[0] = 1 << 27 | 4 << 16;
            mbox[1] = reg_id << 16 | method << 8 | 1;
            mbox[4] = 3 << 27 | ((reg.len().div_ceil(4) as u32 + 1) & 0x7ff) << 16;
            for (i, c) in reg.chunks(4).enumerate() {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                mbox[5 + i] = u32::from_be_bytes(b);
            }
            let st = dev.access_register(&mut mbox)?;
            let tlv = if st != 0 { 7 } else { (mbox[0] >> 8) & 0x7f };
            let bytes: Vec<u8> = mbox[5..].iter().flat_map(|d| d.to_be_bytes()).collect();
            (
                mlx5_status(tlv),
                if tlv == 0 { bytes } else { reg.to_vec() },
            )
        }
    };
    out[0] = status;
    if status != 0 {
        let tlv = match status {
            0x6 => 1,
            0x4 => 4,
            0x2 => 6,
            _ => 7,
        };
        out[4..8].copy_from_slice(&(0x5100_0000u32 | tlv).to_be_bytes());
    }
    let n = answer.len().min(out_len - 16);
    out[16..16 + n].copy_from_slice(&answer[..n]);
    super::wr32(&mut s, 12, out_len as u32);
    s.extend_from_slice(&out);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;
    use crate::model::CrStore;

    fn dev() -> std::sync::Arc<SimDevice> {
        let cfg = SimConfig::from_toml("[[device]]\nfwctl = true\n").unwrap();
        SimDevice::new(&cfg.devices[0], CrStore::anonymous()).unwrap()
    }

    fn rpc_req(scope: u32, opcode: u32, op_mod: u32, reg: u16, body: &[u8]) -> Vec<u8> {
        let n = 16 + body.len();
        let mut v = vec![0u8; RPC_SIZE];
        v[0..4].copy_from_slice(&(RPC_SIZE as u32).to_le_bytes());
        v[4..8].copy_from_slice(&scope.to_le_bytes());
        v[8..12].copy_from_slice(&(n as u32).to_le_bytes());
        v[12..16].copy_from_slice(&(n as u32).to_le_bytes());
        v.extend_from_slice(&(opcode << 16).to_be_bytes());
        v.extend_from_slice(&op_mod.to_be_bytes());
        v.extend_from_slice(&u32::from(reg).to_be_bytes());
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn nodes_numbered_in_bdf_order() {
        let cfg = SimConfig::from_toml(
            "[[device]]\nbdf = \"0000:06:00.0\"\nfwctl = true\n[[device]]\nbdf = \"0000:05:00.0\"\nfwctl = true\n[[device]]\nbdf = \"0000:07:00.0\"\n",
        )
        .unwrap();
        assert_eq!(
            nodes_for_all(&cfg.devices),
            vec![(1, "fwctl0".to_string()), (0, "fwctl1".to_string())]
        );
    }

    #[test]
    fn info_and_rpc_rules() {
        let d = dev();
        let mut i = vec![0u8; INFO_SIZE];
        i[0..4].copy_from_slice(&24u32.to_le_bytes());
        i[12..16].copy_from_slice(&8u32.to_le_bytes());
        let (ret, out) = ioctl(&d, FWCTL_INFO, &i, true);
        assert_eq!(ret, 0);
        assert_eq!(rd32(&out, 8), 1);
        assert_eq!(rd32(&out, 24), 1);
        assert_eq!(
            ioctl(&d, FWCTL_INFO, &i[..8], true).0,
            -(libc::EINVAL as i64)
        );

        // MGIR read: hw id at dword 2.
        let (ret, out) = ioctl(
            &d,
            FWCTL_RPC,
            &rpc_req(1, 0x805, 1, 0x9020, &[0; 160]),
            false,
        );
        assert_eq!(ret, 0);
        let body = &out[RPC_SIZE..];
        assert_eq!(body[0], 0);
        assert_eq!(&body[16 + 8..16 + 12], &[0, 0, 0x02, 0x0d]);
        // Writes: the full scope needs CAP_SYS_RAWIO; a read-only scope is refused.
        let w = rpc_req(3, 0x805, 0, 0x9056, &[0x11; 44]);
        assert_eq!(ioctl(&d, FWCTL_RPC, &w, false).0, -(libc::EPERM as i64));
        assert_eq!(ioctl(&d, FWCTL_RPC, &w, true).0, 0);
        let w1 = rpc_req(1, 0x805, 0, 0x9056, &[0x11; 44]);
        assert_eq!(ioctl(&d, FWCTL_RPC, &w1, true).0, -(libc::EBADMSG as i64));
        let (_, out) = ioctl(
            &d,
            FWCTL_RPC,
            &rpc_req(1, 0x805, 1, 0x9056, &[0; 44]),
            false,
        );
        assert_eq!(&out[RPC_SIZE + 16..], &[0x11; 44]);
        // Unknown opcode, unknown register, short header, scope 9, unknown ioctl.
        let bad = rpc_req(1, 0x100, 1, 0x9020, &[0; 16]);
        assert_eq!(ioctl(&d, FWCTL_RPC, &bad, true).0, -(libc::EBADMSG as i64));
        let (ret, out) = ioctl(
            &d,
            FWCTL_RPC,
            &rpc_req(1, 0x805, 1, 0x1234, &[0; 16]),
            false,
        );
        assert_eq!((ret, out[RPC_SIZE]), (0, 0x4));
        let mut short = rpc_req(1, 0x805, 1, 0x9020, &[]);
        short[8..12].copy_from_slice(&8u32.to_le_bytes());
        assert_eq!(
            ioctl(&d, FWCTL_RPC, &short, true).0,
            -(libc::EMSGSIZE as i64)
        );
        let odd = rpc_req(9, 0x805, 1, 0x9020, &[0; 16]);
        assert_eq!(
            ioctl(&d, FWCTL_RPC, &odd, true).0,
            -(libc::EOPNOTSUPP as i64)
        );
        assert_eq!(ioctl(&d, 0x9a03, &i, true).0, -(libc::ENOTTY as i64));
        // Read-only register written: BAD_OP.
        let w = rpc_req(3, 0x805, 0, 0x9020, &[0; 160]);
        let (ret, out) = ioctl(&d, FWCTL_RPC, &w, true);
        assert_eq!((ret, out[RPC_SIZE]), (0, 0x2));
        assert_eq!(d.counters().ioctls["FWCTL_RPC"], 10);
    }
}
