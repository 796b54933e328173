//! Access paths. Every path implements [`Access`] (crspace dwords in an address space);
//! config-space gateways are written once over [`ConfigIo`] ("read/write one config dword",
//! little-endian), so any carrier of config cycles (sysfs `config`, `/proc/bus/pci`, a
//! kernel driver's config-dword ioctl, an in-process model in tests) gets the VSEC and the
//! legacy window for free.
//!
//! | file | path |
//! |---|---|
//! | `sysfs_config.rs` | [`ConfigIo`] over sysfs/procfs `config` (one pread/pwrite per dword) |
//! | `gateway.rs` | the VSEC gateway protocol over any [`ConfigIo`] |
//! | `legacy.rs` | the 0x58/0x5c address/data window over any [`ConfigIo`] |
//! | `mmio.rs` | `resource0` mapped (64 MiB, big-endian dwords) |
//! | `lock.rs` | the stock lock files (flock), shared with the stock tools |
//! | `vpd.rs` | VPD through sysfs `vpd` |
//! | `driver/` | kernel-driver nodes: `mst_driver` (Gen-1), `mstflint_access`, MFT `mst_pciconf` / `mst_pci` |
//! | `fwctl.rs` | the kernel's fwctl (`/dev/fwctl/fwctlN`): register access only, one FWCTL_RPC each |

pub mod driver;
pub mod fwctl;
pub mod gateway;
pub mod legacy;
pub mod lock;
pub mod mmio;
mod path;
pub mod sysfs_config;
pub mod vpd;

#[cfg(test)]
pub(crate) mod sim_tests;
#[cfg(test)]
mod tests;

use crate::defs::{space_to_cap_offset, AS_CR_SPACE, AS_END, AS_RECOVERY, VCC_INITIALIZED};
use crate::error::{Error, Result};
pub use path::PathKind;

/// One config-space dword at a time (little-endian registers, host-order values).
pub trait ConfigIo: Send {
    /// Read the dword at `off` (4-byte aligned).
    fn read_dword(&mut self, off: u32) -> Result<u32>;
    /// Write the dword at `off` (4-byte aligned).
    fn write_dword(&mut self, off: u32, v: u32) -> Result<()>;

    /// Read `out.len()` consecutive dwords from `off`, in ascending order. Carriers that can
    /// do it in one access (one pread of `4 * n` bytes, which the kernel performs as config
    /// reads in ascending order) override this; the gateway uses it to fetch several adjacent
    /// registers at once.
    fn read_dwords(&mut self, off: u32, out: &mut [u32]) -> Result<()> {
        for (i, v) in out.iter_mut().enumerate() {
            *v = self.read_dword(off + 4 * i as u32)?;
        }
        Ok(())
    }

    /// The dwords at `off` and `off + 4` ([`read_dwords`](Self::read_dwords)).
    fn read_dword_pair(&mut self, off: u32) -> Result<(u32, u32)> {
        let mut v = [0u32; 2];
        self.read_dwords(off, &mut v)?;
        Ok((v[0], v[1]))
    }
}

impl<T: ConfigIo + ?Sized> ConfigIo for Box<T> {
    fn read_dword(&mut self, off: u32) -> Result<u32> {
        (**self).read_dword(off)
    }
    fn write_dword(&mut self, off: u32, v: u32) -> Result<()> {
        (**self).write_dword(off, v)
    }
    fn read_dwords(&mut self, off: u32, out: &mut [u32]) -> Result<()> {
        (**self).read_dwords(off, out)
    }
}

/// What the VSEC probe found (all zero/false for paths without a gateway).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GatewayInfo {
    /// `mfile.functional_vsec_supp`.
    pub functional_vsec: bool,
    /// `mfile.vsec_cap_mask` (userspace VCC_* bits).
    pub cap_mask: u32,
    /// `mfile.pxir_vsec_supp`.
    pub pxir: bool,
    /// Config offset of the vendor capability (0 = none).
    pub vsec_addr: u32,
}

/// A way to reach crspace. Implementations are used behind the `Device` mutex: one call at a
/// time, each call a complete transaction.
pub trait Access: Send {
    /// Which path this is.
    fn kind(&self) -> PathKind;

    /// Read one dword of `space` at `addr` (host order).
    fn read4(&mut self, space: u32, addr: u32) -> Result<u32>;

    /// Write one dword.
    fn write4(&mut self, space: u32, addr: u32, v: u32) -> Result<()>;

    /// Read `out.len()` consecutive dwords; a failure after some dwords is
    /// `Error::Partial { done_bytes }`.
    fn read_block(&mut self, space: u32, addr: u32, out: &mut [u32]) -> Result<()> {
        for (i, slot) in out.iter_mut().enumerate() {
            let a = block_addr(addr, i)?;
            *slot = self.read4(space, a).map_err(|e| partial(i * 4, e))?;
        }
        Ok(())
    }

    /// Write `data.len()` consecutive dwords; partial failures as for `read_block`.
    fn write_block(&mut self, space: u32, addr: u32, data: &[u32]) -> Result<()> {
        for (i, v) in data.iter().enumerate() {
            let a = block_addr(addr, i)?;
            self.write4(space, a, *v).map_err(|e| partial(i * 4, e))?;
        }
        Ok(())
    }

    /// End (exclusive) of the addresses this path can reach in `space`, when it has a limit
    /// below 4 GiB (the VSEC gateway's 2^30, a BAR map's size): block calls check their whole
    /// range against it before touching the device or the caller's buffer.
    fn addr_limit(&self, _space: u32) -> Option<u64> {
        None
    }

    /// Whether `space` can be used on this path (a path may find out on first use).
    fn supports_space(&mut self, space: u32) -> bool {
        is_crspace(space)
    }

    /// VSEC facts (defaults: no gateway).
    fn gateway_info(&self) -> GatewayInfo {
        GatewayInfo::default()
    }

    /// The config-space carrier, when this path has one (for `read_config_dword`).
    fn config_io(&mut self) -> Option<&mut dyn ConfigIo> {
        None
    }

    /// A mapping that single crspace dwords may be read and written through without taking
    /// the device's lock (plain BAR mappings; not when writes need the ConnectX-3 flush).
    fn shared_window(&self) -> Option<std::sync::Arc<mmio::Window>> {
        None
    }

    /// The hw id dword (crspace 0xf0014) when the open already read it (the gateway's probe,
    /// the driver's crspace check, the BAR signature): lets the open fill `mfile.hw_dev_id`
    /// without another access. Asked once, right after the open.
    fn take_open_hw_id(&mut self) -> Option<u32> {
        None
    }

    /// VPD through the path itself (driver ioctls); `None` = use sysfs `vpd`.
    fn vpd_read4(&mut self, _offset: u32) -> Option<Result<[u8; 4]>> {
        None
    }

    /// VPD write through the path itself; `None` = the path has none (sysfs rules apply).
    fn vpd_write4(&mut self, _offset: u32, _data: [u8; 4]) -> Option<Result<()>> {
        None
    }

    /// DMA page pinning, on driver paths that have it.
    fn dma_pages(&mut self) -> Option<&mut dyn driver::DmaPages> {
        None
    }

    /// The fwctl node of a fwctl handle (register access goes over it).
    fn fwctl(&self) -> Option<std::sync::Arc<fwctl::FwctlNode>> {
        None
    }

    /// The kernel-driver node's descriptor (`mfile.fd`: tools issue driver ioctls on it), on
    /// driver paths; `None` elsewhere (`mfile.fd` -1).
    fn node_fd(&self) -> Option<i32> {
        None
    }

    /// `mfile.connectx_wa_slot`: the crspace dword of the ConnectX ordering slot a memory
    /// node's open took (`PCI_CONNECTX_WA`); `None` when the path has none.
    fn connectx_wa_slot(&self) -> Option<u32> {
        None
    }

    /// `hot_reset`: the driver's PCICONF_HOT_RESET ioctl on the node (`arg` is the 36-byte
    /// `hot_reset_pcie_switch`), its non-negative result. Without a node: what the stock
    /// library's ioctl on `mf->fd` gets, ENOTTY on a config file, EBADF on a mapping (fd -1).
    fn hot_reset(&mut self, arg: &mut driver::Arg) -> Result<i32> {
        let _ = arg;
        let errno = if self.kind().is_memory() {
            libc::EBADF
        } else {
            libc::ENOTTY
        };
        Err(Error::io(
            "hot reset needs a kernel driver node (mstflint_access)",
            std::io::Error::from_raw_os_error(errno),
        ))
    }

    /// Called once before the path is dropped (`mclose`); errors are ignored.
    fn close(&mut self) {}
}

/// Whether a capability mask (userspace VCC_* bits, as `vsec_cap_mask`) allows `space`, by
/// the gateway's rule: 0 means crspace; spaces without a bit of their own map to bit 0
/// (INITIALIZED), which only AS_RECOVERY may use, as in stock.
pub fn mask_supports(mask: u32, space: u32) -> bool {
    let space = if space == 0 { AS_CR_SPACE } else { space };
    let bit = space_to_cap_offset(space);
    space < AS_END && mask & (1 << bit) != 0 && (bit != VCC_INITIALIZED || space == AS_RECOVERY)
}

/// Spaces meaning "crspace" on paths without a VSEC: 0 (unset) and AS_CR_SPACE.
pub fn is_crspace(space: u32) -> bool {
    space == 0 || space == AS_CR_SPACE
}

/// Address of dword `i` of a block at `addr`, or EINVAL when it would wrap past 4 GiB.
pub fn block_addr(addr: u32, i: usize) -> Result<u32> {
    u32::try_from(i)
        .ok()
        .and_then(|i| i.checked_mul(4))
        .and_then(|off| addr.checked_add(off))
        .ok_or_else(|| Error::InvalidArgument(format!("block at {addr:#x} wraps past 4 GiB")))
}

/// Wrap an error of a block operation that stopped after `done_bytes`.
pub fn partial(done_bytes: usize, e: Error) -> Error {
    match e {
        Error::Partial { .. } => e,
        e => Error::Partial {
            done_bytes,
            source: Box::new(e),
        },
    }
}

/// Open a device file read-write with `O_SYNC` (as the stock library does). A missing file is
/// `NoDevice`; a refused open is `Permission`, its message ending with `remedy` when given.
pub fn open_rw_sync(path: &std::path::Path, remedy: &str) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_SYNC | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENXIO) | Some(libc::ENODEV) => {
                Error::NoDevice(format!("open {}: {e}", path.display()))
            }
            Some(libc::EPERM) | Some(libc::EACCES) if remedy.is_empty() => {
                Error::Permission(format!("open {}: {e}", path.display()))
            }
            Some(libc::EPERM) | Some(libc::EACCES) => {
                Error::Permission(format!("open {}: {e} ({remedy})", path.display()))
            }
            _ => Error::io(format!("open {}", path.display()), e),
        })
}
