//! The unified NVIDIA driver, Gen-1 `mst_driver.ko` (kernel_abis.md §2.2, MST@7d287b6): magic
//! 0xD3, the same ioctl set in mstflint mode (`_mstconf` / `_mstcr`) and MFT mode
//! (`/dev/mst/mt<id>_pci_pciconf<f>` / `..._pci_pci_cr<f>`).
//!
//! Flavour of a node: a config node uses the VSEC gateway when the device has a capability 9,
//! else the legacy window; a memory node uses the BAR (first dword only), or the legacy window
//! when the device has no VSEC.
//!
//! Modelled quirks: MST_READ/MST_WRITE ignore gateway failures and return 0 (the struct is copied
//! back as far as it got); `size` is in bytes; MST_GET_DEVICE_PARAMETERS does not write `domain`;
//! MST_INIT on a VSEC node moves the semaphore to VSEC+0xa, after which every semaphore user fails
//! (READ/WRITE silently do nothing, parameters report no VSEC); PCI_CONNECTX_WA is per device,
//! the first call writes slot 1, later calls return 0 without writing, after three -ENOLCK;
//! READ_DWORD_FROM_CONFIG_SPACE never reports read errors; unknown numbers return -EINVAL.
//!
//! Safe stand-ins: `size` > 256 (kernel buffer overrun) and `total_pages` > 32 return -EINVAL;
//! a memory-node access past the 1 MiB mapping (kernel oops) returns -EFAULT; MST_VPD_* on a
//! device without VPD returns -ENODEV while keeping the device mutex, so every later ioctl on
//! the device (which would block forever) returns -EDEADLK.

use super::mstflint_access::get_dma_pages;
use super::{
    find_capability, ior, iow, rd32, read_ids, wr32, Call, DriverDevice, IoctlOutcome, NodeKind,
    MAX_BLOCK_BYTES, SPACE_CR, SPACE_ICMD, SPACE_SEMAPHORE,
};
use crate::model::Errno;

pub const MST_WRITE: u32 = iow(0xD3, 1, 268);
/// Declared `_IOW` although data is returned.
pub const MST_READ: u32 = iow(0xD3, 2, 268);
pub const MST_GET_DMA_PAGES: u32 = ior(0xD3, 3, 528);
pub const MST_RELEASE_DMA_PAGES: u32 = ior(0xD3, 4, 528);
pub const MST_READ_DWORD_FROM_CONFIG_SPACE: u32 = ior(0xD3, 5, 8);
pub const MST_GET_DEVICE_PARAMETERS: u32 = ior(0xD3, 6, 40);
pub const MST_INIT: u32 = ior(0xD3, 7, 8);
pub const MST_PCI_CONNECTX_WA: u32 = ior(0xD3, 8, 4);
pub const MST_VPD_READ: u32 = ior(0xD3, 9, 12);
pub const MST_VPD_WRITE: u32 = iow(0xD3, 10, 12);

/// `MST_MAX_PAGES_SIZE`.
pub const MAX_PAGES: u32 = 32;
/// BAR0 bytes the memory flavour maps.
pub const MEMORY_SIZE: u32 = 0x10_0000;
/// `rw_operation` field offsets.
const RW_DATA: usize = 8;
const RW_SPACE: usize = 264;

pub fn name(request: u32) -> Option<&'static str> {
    Some(match request {
        MST_WRITE => "MST_WRITE",
        MST_READ => "MST_READ",
        MST_GET_DMA_PAGES => "MST_GET_DMA_PAGES",
        MST_RELEASE_DMA_PAGES => "MST_RELEASE_DMA_PAGES",
        MST_READ_DWORD_FROM_CONFIG_SPACE => "MST_READ_DWORD_FROM_CONFIG_SPACE",
        MST_GET_DEVICE_PARAMETERS => "MST_GET_DEVICE_PARAMETERS",
        MST_INIT => "MST_INIT",
        MST_PCI_CONNECTX_WA => "MST_PCI_CONNECTX_WA",
        MST_VPD_READ => "MST_VPD_READ",
        MST_VPD_WRITE => "MST_VPD_WRITE",
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Vsec,
    Legacy,
    Memory,
}

fn flavour<D: DriverDevice + ?Sized>(dev: &D, kind: NodeKind) -> Flavour {
    let has_vsec = find_capability(dev, 0x09).is_some();
    match (kind, has_vsec) {
        (_, false) => Flavour::Legacy,
        (NodeKind::MstDriverCr | NodeKind::MstDriverMftCr, true) => Flavour::Memory,
        _ => Flavour::Vsec,
    }
}

/// Whether the VSEC semaphore can be taken by this driver instance.
fn sem_ok<D: DriverDevice + ?Sized>(c: &Call<'_, D>) -> bool {
    !c.node.sem_corrupted && !c.dev.semaphore_busy()
}

pub(crate) fn handle<D: DriverDevice + ?Sized>(
    c: &mut Call<'_, D>,
    request: u32,
    arg: &mut [u8],
) -> IoctlOutcome {
    let dev = c.dev;
    // Decided at load in the real driver; looked up only by the ioctls that use it, so an
    // unknown number never touches the device.
    let kind = c.kind;
    let fl = || flavour(dev, kind);
    let r: Result<i64, Errno> = match request {
        MST_READ | MST_WRITE => {
            let fl = fl();
            rw(c, fl, request == MST_WRITE, arg)
        }
        MST_GET_DMA_PAGES => dev
            .gate()
            .and_then(|_| get_dma_pages(c, arg, MAX_PAGES, false)),
        MST_RELEASE_DMA_PAGES => dev.gate().map(|_| {
            c.release_dma();
            0
        }),
        MST_READ_DWORD_FROM_CONFIG_SPACE => {
            // Read errors (and a semaphore that cannot be taken) are not reported.
            if fl() != Flavour::Vsec || sem_ok(c) {
                if let Ok(v) = dev.config_dword(rd32(arg, 0)) {
                    wr32(arg, 4, v);
                }
            }
            Ok(0)
        }
        MST_GET_DEVICE_PARAMETERS => {
            let (_dom, bus, slot, func) = dev.location();
            let ids = read_ids(dev);
            let vsc = match find_capability(dev, 0x09) {
                Some(off)
                    if sem_ok(c)
                        && [SPACE_ICMD, SPACE_CR, SPACE_SEMAPHORE]
                            .iter()
                            .any(|&s| dev.vsec_offset().is_some() && dev.space_supported(s)) =>
                {
                    off
                }
                _ => 0,
            };
            // `domain` (offset 0) is left as the caller passed it.
            for (i, v) in [
                bus as u32,
                slot as u32,
                func as u32,
                0, // pci_memory_bar_address: a BAR index
                ids.device,
                ids.vendor,
                ids.subsystem_device,
                ids.subsystem_vendor,
                vsc,
            ]
            .into_iter()
            .enumerate()
            {
                wr32(arg, 4 + i * 4, v);
            }
            Ok(0)
        }
        MST_INIT => {
            if fl() == Flavour::Vsec {
                c.node.sem_corrupted = true;
            }
            Ok(0)
        }
        MST_PCI_CONNECTX_WA => dev.gate().and_then(|_| {
            c.node.wa_calls = c.node.wa_calls.saturating_add(1);
            match c.node.wa_calls {
                1 => {
                    wr32(arg, 0, 1);
                    Ok(0)
                }
                2 | 3 => Ok(0),
                _ => Err(libc::ENOLCK),
            }
        }),
        MST_VPD_READ | MST_VPD_WRITE => {
            if find_capability(dev, 0x03).is_none() {
                log::warn!("mst_driver: MST_VPD_* without VPD capability keeps the device mutex");
                c.node.wedged = true;
                return IoctlOutcome::err(libc::ENODEV);
            }
            let off = rd32(arg, 0) & 0x7fff;
            if request == MST_VPD_READ {
                dev.vpd_read4(off).map(|b| {
                    wr32(arg, 8, u32::from_le_bytes(b));
                    0
                })
            } else {
                dev.vpd_write4(off, rd32(arg, 8).to_le_bytes()).map(|_| 0)
            }
        }
        _ => Err(libc::EINVAL),
    };
    match r {
        Ok(v) => IoctlOutcome::ok(v),
        Err(e) => IoctlOutcome::err(e),
    }
}

/// MST_READ / MST_WRITE: returns 0 whatever the gateway did.
fn rw<D: DriverDevice + ?Sized>(
    c: &mut Call<'_, D>,
    fl: Flavour,
    write: bool,
    arg: &mut [u8],
) -> Result<i64, Errno> {
    let dev = c.dev;
    let offset = rd32(arg, 0);
    let size = rd32(arg, 4);
    let space = rd32(arg, RW_SPACE);
    if fl == Flavour::Memory {
        // Only data[0] at `offset`; size ignored.
        if offset.checked_add(4).is_none_or(|end| end > MEMORY_SIZE) {
            log::warn!("mst_driver: memory access at {offset:#x} past the 1 MiB mapping");
            return Err(libc::EFAULT);
        }
        if write {
            let _ = dev.mem_write(offset, rd32(arg, RW_DATA));
        } else if let Ok(v) = dev.mem_read(offset) {
            wr32(arg, RW_DATA, v);
        }
        return Ok(0);
    }
    if size as usize > MAX_BLOCK_BYTES {
        log::warn!("mst_driver: rw size {size} > 256 would overrun the kernel buffer");
        return Err(libc::EINVAL);
    }
    if fl == Flavour::Vsec
        && (!sem_ok(c) || dev.vsec_offset().is_none() || !dev.space_supported(space))
    {
        // Semaphore or space selection failed: the callback's error is ignored.
        return Ok(0);
    }
    let mut counter = 0u32;
    while counter < size {
        let addr = offset.wrapping_add(counter);
        let i = RW_DATA + counter as usize;
        let r = match (fl, write) {
            (Flavour::Vsec, true) => dev.gw_write(space, addr, rd32(arg, i)),
            (Flavour::Vsec, false) => dev.gw_read(space, addr).map(|v| wr32(arg, i, v)),
            (_, true) => dev.legacy_write(addr, rd32(arg, i)),
            (_, false) => dev.legacy_read(addr).map(|v| wr32(arg, i, v)),
        };
        if r.is_err() {
            break;
        }
        counter += 4;
    }
    Ok(0)
}
