//! mstflint's own `mstflint_access` module (kernel_abis.md §3.1, mstflint v4.36 `kernel/`),
//! served on `/dev/DDDD:BB:DD.F_mstconf` (a PCICONF device; the PCIMEM `_mstcr` nodes are never
//! created by the real module).
//!
//! Modelled quirks: READ4 writes back only `data`; buffer ioctls return the byte count (a
//! positive value) and, on a failure after some dwords, that partial count without copying the
//! data back; PCICONF_INIT on an initialized device returns +ENODEV (19); VPD on a stopped
//! device returns +ENODEV; DMA / config-dword ioctls on a stopped device return -ENOTTY; a VSEC
//! gateway failure returns -1 (-EPERM); GET_DMA_PAGES fills `dma_address` only; the work-around
//! slot is per fd (released on close); unknown numbers return -EINVAL.
//!
//! Safe stand-ins for kernel memory corruption: block `size` > 256 bytes and `page_amount` > 32
//! return -EINVAL (the real module overruns a kernel buffer). Not modelled: the PXIR retry with
//! the swapped "PCI" space on syndrome 3, the NNT re-implementation's differences (§3.2).

use super::{
    fake_dma_address, find_capability, io, ior, iow, rd32, rd64, read_ids, take_wa_slot, wr32,
    wr64, Call, DmaPin, DriverDevice, IoctlOutcome, MAX_BLOCK_BYTES, SPACE_CR, SPACE_ICMD,
    SPACE_SEMAPHORE,
};
use crate::model::Errno;

pub const MST_PARAMS: u32 = ior(0xD0, 1, 40);
pub const MST_READ4: u32 = ior(0xD1, 1, 12);
pub const MST_WRITE4: u32 = iow(0xD1, 2, 12);
pub const PCIMEM_READ_BLOCK: u32 = ior(0xD2, 1, 264);
pub const PCIMEM_WRITE_BLOCK: u32 = iow(0xD2, 2, 264);
/// Also `PCICONF_READ4_BUFFER_EX` (same number).
pub const PCICONF_READ4_BUFFER: u32 = ior(0xD2, 3, 268);
/// The pre-2020 number (encoded with the 12-byte struct); not served by the module.
pub const PCICONF_READ4_BUFFER_BC: u32 = ior(0xD2, 3, 12);
pub const PCICONF_WRITE4_BUFFER: u32 = iow(0xD2, 4, 268);
pub const PCICONF_INIT: u32 = io(0xD3, 1, 20);
pub const PCICONF_STOP: u32 = io(0xD3, 2, 0);
pub const PCIMEM_INIT: u32 = io(0xD4, 1, 4);
pub const PCIMEM_STOP: u32 = io(0xD4, 2, 0);
pub const PCI_CONNECTX_WA: u32 = ior(0xD5, 1, 4);
pub const PCICONF_VPD_READ4: u32 = ior(0xD6, 1, 12);
pub const PCICONF_VPD_WRITE4: u32 = iow(0xD6, 2, 12);
pub const PCICONF_GET_DMA_PAGES: u32 = ior(0xD3, 13, 528);
pub const PCICONF_RELEASE_DMA_PAGES: u32 = ior(0xD3, 14, 528);
pub const PCICONF_READ_DWORD_FROM_CONFIG_SPACE: u32 = ior(0xD3, 15, 8);
pub const PCICONF_HOT_RESET: u32 = ior(0xD3, 16, 36);

/// Pages in the kernel's `page_info_st`.
pub const MAX_PAGES: u32 = 32;

pub fn name(request: u32) -> Option<&'static str> {
    Some(match request {
        MST_PARAMS => "MST_PARAMS",
        MST_READ4 => "MST_READ4",
        MST_WRITE4 => "MST_WRITE4",
        PCIMEM_READ_BLOCK => "PCIMEM_READ_BLOCK",
        PCIMEM_WRITE_BLOCK => "PCIMEM_WRITE_BLOCK",
        PCICONF_READ4_BUFFER => "PCICONF_READ4_BUFFER",
        PCICONF_READ4_BUFFER_BC => "PCICONF_READ4_BUFFER_BC",
        PCICONF_WRITE4_BUFFER => "PCICONF_WRITE4_BUFFER",
        PCICONF_INIT => "PCICONF_INIT",
        PCICONF_STOP => "PCICONF_STOP",
        PCIMEM_INIT => "PCIMEM_INIT",
        PCIMEM_STOP => "PCIMEM_STOP",
        PCI_CONNECTX_WA => "PCI_CONNECTX_WA",
        PCICONF_VPD_READ4 => "PCICONF_VPD_READ4",
        PCICONF_VPD_WRITE4 => "PCICONF_VPD_WRITE4",
        PCICONF_GET_DMA_PAGES => "PCICONF_GET_DMA_PAGES",
        PCICONF_RELEASE_DMA_PAGES => "PCICONF_RELEASE_DMA_PAGES",
        PCICONF_READ_DWORD_FROM_CONFIG_SPACE => "PCICONF_READ_DWORD_FROM_CONFIG_SPACE",
        PCICONF_HOT_RESET => "PCICONF_HOT_RESET",
        _ => return None,
    })
}

/// Functional VSEC with CR, ICMD and SEMAPHORE all supported: the module then uses the VSEC
/// gateway (and allows the buffer ioctls); otherwise the legacy 0x58/0x5c window.
fn vsec_usable<D: DriverDevice + ?Sized>(dev: &D) -> bool {
    dev.vsec_offset().is_some()
        && [SPACE_CR, SPACE_ICMD, SPACE_SEMAPHORE]
            .iter()
            .all(|&s| dev.space_supported(s))
}

/// Errno of a failed VSEC/legacy access as the module reports it: -1 (EPERM) except for a
/// semaphore that cannot be taken (EBUSY); the simulator's EIO / ENODEV faults pass through.
fn access_errno(e: Errno) -> Errno {
    match e {
        libc::EBUSY | libc::EIO | libc::ENODEV => e,
        _ => libc::EPERM,
    }
}

fn read_dword<D: DriverDevice + ?Sized>(dev: &D, space: u32, addr: u32) -> Result<u32, Errno> {
    if dev.vsec_offset().is_some() && dev.semaphore_busy() {
        // The space probe cannot take the semaphore.
        return Err(libc::EBUSY);
    }
    if vsec_usable(dev) {
        dev.gw_read(space, addr).map_err(access_errno)
    } else {
        dev.legacy_read(addr).map_err(access_errno)
    }
}

fn write_dword<D: DriverDevice + ?Sized>(
    dev: &D,
    space: u32,
    addr: u32,
    v: u32,
) -> Result<(), Errno> {
    if dev.vsec_offset().is_some() && dev.semaphore_busy() {
        return Err(libc::EBUSY);
    }
    if vsec_usable(dev) {
        dev.gw_write(space, addr, v).map_err(access_errno)
    } else {
        dev.legacy_write(addr, v).map_err(access_errno)
    }
}

pub(crate) fn handle<D: DriverDevice + ?Sized>(
    c: &mut Call<'_, D>,
    request: u32,
    arg: &mut [u8],
) -> IoctlOutcome {
    let dev = c.dev;
    let stopped = c.node.stopped;
    let touches = matches!(
        request,
        MST_PARAMS
            | MST_READ4
            | MST_WRITE4
            | PCICONF_READ4_BUFFER
            | PCICONF_WRITE4_BUFFER
            | PCICONF_VPD_READ4
            | PCICONF_VPD_WRITE4
            | PCICONF_READ_DWORD_FROM_CONFIG_SPACE
    );
    if !touches && name(request).is_some() {
        if let Err(e) = dev.gate() {
            return IoctlOutcome::err(e);
        }
    }
    let r = match request {
        MST_PARAMS => {
            if stopped {
                return IoctlOutcome::err(libc::ENODEV);
            }
            let (dom, bus, slot, func) = dev.location();
            let ids = read_ids(dev);
            // Offset reported when the VSEC is present and fully supported, or when the
            // (best-effort) probe could not run because the semaphore is taken.
            let vsc = match dev.vsec_offset() {
                Some(off) if dev.semaphore_busy() || vsec_usable(dev) => off,
                _ => 0,
            };
            for (i, v) in [
                dom as u32,
                bus as u32,
                slot as u32,
                func as u32,
                0, // bar index
                ids.device,
                ids.vendor,
                ids.subsystem_device,
                ids.subsystem_vendor,
                vsc,
            ]
            .into_iter()
            .enumerate()
            {
                wr32(arg, i * 4, v);
            }
            Ok(0)
        }
        MST_READ4 => {
            if stopped {
                return IoctlOutcome::err(libc::ENODEV);
            }
            read_dword(dev, rd32(arg, 0), rd32(arg, 4)).map(|v| {
                wr32(arg, 8, v);
                0
            })
        }
        MST_WRITE4 => {
            if stopped {
                return IoctlOutcome::err(libc::ENODEV);
            }
            write_dword(dev, rd32(arg, 0), rd32(arg, 4), rd32(arg, 8)).map(|_| 0)
        }
        PCICONF_READ4_BUFFER | PCICONF_WRITE4_BUFFER => {
            return buffer(c, request == PCICONF_WRITE4_BUFFER, arg);
        }
        // Block memory ioctls need a PCIMEM node (never created).
        PCIMEM_READ_BLOCK | PCIMEM_WRITE_BLOCK | PCIMEM_INIT | PCIMEM_STOP => Err(libc::EPERM),
        PCICONF_INIT => {
            if !stopped {
                // Devices are initialized at creation: the normal answer is +ENODEV.
                return IoctlOutcome::ok(libc::ENODEV as i64);
            }
            c.node.stopped = false;
            Ok(0)
        }
        PCICONF_STOP => {
            c.node.stopped = true;
            Ok(0)
        }
        PCI_CONNECTX_WA => take_wa_slot(c).map(|slot_p1| {
            wr32(arg, 0, slot_p1);
            0
        }),
        PCICONF_VPD_READ4 | PCICONF_VPD_WRITE4 => {
            if stopped {
                return IoctlOutcome::ok(libc::ENODEV as i64);
            }
            if find_capability(dev, 0x03).is_none() {
                return IoctlOutcome::err(libc::ENODEV);
            }
            // The timeout (offset 4, 0 = 2000 ms) only bounds the wait; the model answers at once.
            let off = rd32(arg, 0) & 0x7fff;
            if request == PCICONF_VPD_READ4 {
                dev.vpd_read4(off).map(|b| {
                    wr32(arg, 8, u32::from_le_bytes(b));
                    0
                })
            } else {
                dev.vpd_write4(off, rd32(arg, 8).to_le_bytes()).map(|_| 0)
            }
        }
        PCICONF_GET_DMA_PAGES => {
            if stopped {
                return IoctlOutcome::err(libc::ENOTTY);
            }
            get_dma_pages(c, arg, MAX_PAGES, true)
        }
        PCICONF_RELEASE_DMA_PAGES => {
            if stopped {
                return IoctlOutcome::err(libc::ENOTTY);
            }
            match c.release_dma() {
                Some(_) => Ok(0),
                None => Err(libc::EINVAL),
            }
        }
        PCICONF_READ_DWORD_FROM_CONFIG_SPACE => {
            if stopped {
                return IoctlOutcome::err(libc::ENOTTY);
            }
            if dev.vsec_offset().is_some() && dev.semaphore_busy() {
                Err(libc::EBUSY)
            } else {
                dev.config_dword(rd32(arg, 0)).map(|v| {
                    wr32(arg, 4, v);
                    0
                })
            }
        }
        PCICONF_HOT_RESET => {
            let (dom, bus, slot, func) = dev.location();
            let ours = |o: usize| {
                [
                    rd32(arg, o),
                    rd32(arg, o + 4),
                    rd32(arg, o + 8),
                    rd32(arg, o + 12),
                ] == [dom as u32, bus as u32, slot as u32, func as u32]
            };
            let parallel = arg.get(32).is_some_and(|b| *b != 0);
            // Only the node's own function exists for this device model.
            if !ours(0) || (parallel && !ours(16)) {
                Err(libc::ENODEV)
            } else {
                Ok(0)
            }
        }
        _ => Err(libc::EINVAL),
    };
    match r {
        Ok(v) => IoctlOutcome::ok(v),
        Err(e) => IoctlOutcome::err(e),
    }
}

/// PCICONF_READ4_BUFFER / PCICONF_WRITE4_BUFFER.
fn buffer<D: DriverDevice + ?Sized>(
    c: &mut Call<'_, D>,
    write: bool,
    arg: &mut [u8],
) -> IoctlOutcome {
    let dev = c.dev;
    if c.node.stopped {
        return IoctlOutcome::err(libc::ENODEV);
    }
    if dev.vsec_offset().is_some() && dev.semaphore_busy() {
        return IoctlOutcome::err(libc::EBUSY);
    }
    if !vsec_usable(dev) {
        return IoctlOutcome::err(libc::EOPNOTSUPP);
    }
    let space = rd32(arg, 0);
    let offset = rd32(arg, 4);
    let size = rd32(arg, 8) as i32;
    if size % 4 != 0 || size < 0 {
        return IoctlOutcome::err(libc::EINVAL);
    }
    if size as usize > MAX_BLOCK_BYTES {
        log::warn!("mstflint_access: block size {size} > 256 would overrun the kernel buffer");
        return IoctlOutcome::err(libc::EINVAL);
    }
    let n = size as usize / 4;
    let mut data = [0u32; MAX_BLOCK_BYTES / 4];
    for (i, d) in data.iter_mut().enumerate().take(n) {
        let addr = offset.wrapping_add(i as u32 * 4);
        let r = if write {
            dev.gw_write(space, addr, rd32(arg, 12 + i * 4))
        } else {
            dev.gw_read(space, addr).map(|v| *d = v)
        };
        if let Err(e) = r {
            // Partial: the byte count done, without copy-back; nothing done: -1 (or EBUSY).
            return if i > 0 {
                IoctlOutcome::ok(i as i64 * 4)
            } else {
                IoctlOutcome::err(access_errno(e))
            };
        }
    }
    if !write {
        for (i, d) in data.iter().enumerate().take(n) {
            wr32(arg, 12 + i * 4, *d);
        }
    }
    IoctlOutcome::ok(size as i64)
}

/// GET_DMA_PAGES shared by the ABIs: input `page_amount` (u32 at 0) and `page_pointer_start`
/// (u64 at 8); fills `dma_address` of each entry (16 bytes each from offset 16). `strict`:
/// mstflint_access validation (-EINVAL for 0 pages or address overflow); otherwise the Gen-1 /
/// MFT behaviour (0 pages: returns 0 without copy-back).
pub(crate) fn get_dma_pages<D: DriverDevice + ?Sized>(
    c: &mut Call<'_, D>,
    arg: &mut [u8],
    max_pages: u32,
    strict: bool,
) -> Result<i64, Errno> {
    let pages = rd32(arg, 0);
    let start = rd64(arg, 8);
    if pages == 0 {
        return if strict { Err(libc::EINVAL) } else { Ok(0) };
    }
    if start.checked_add(pages as u64 * 4096).is_none() {
        return Err(libc::EINVAL);
    }
    if pages > max_pages {
        log::warn!("GET_DMA_PAGES: {pages} pages > {max_pages} would overrun the kernel array");
        return Err(libc::EINVAL);
    }
    if let Some(old) = c.node.dma {
        if old.pid == c.pid {
            // One outstanding allocation per device.
            return Err(libc::EBUSY);
        }
        // The kernel keeps one page list per device and overwrites it (the old pinning
        // leaks): a tool that exited without RELEASE (upstream's mstflint does) does not stop
        // the next one from pinning.
        log::warn!(
            "GET_DMA_PAGES: pages pinned by pid {} never released; replaced",
            old.pid
        );
        c.release_dma();
    }
    c.node.dma = Some(DmaPin {
        start,
        pages,
        pid: c.pid,
    });
    for i in 0..pages as usize {
        wr64(arg, 16 + i * 16, fake_dma_address(i as u64));
    }
    // The fake bus addresses are contiguous: one mapping for the whole buffer.
    c.dev.dma_map(fake_dma_address(0), start, pages, c.pid);
    Ok(0)
}
