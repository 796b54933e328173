//! MFT's legacy modules (kernel_abis.md §4.1, MFT-orig; numbers 13–15 from NNT's bc header):
//! `mst_pciconf` (magic 0xD2) on `/dev/mst/mt<id>_pciconf<n>` and `mst_pci` (magic 0xD1) on
//! `/dev/mst/mt<id>_pci_cr<n>`.
//!
//! A node is bound to a PCI function by its INIT ioctl (domain, bus, devfn; domain -1 = 0); the
//! binding belongs to the node (minor), so later opens see it. INIT for any function other than
//! the node's own device returns -ENXIO (the simulator only serves that one). `_IOC_NONE`
//! commands need an fd opened for writing, the others one opened for reading (-EPERM).
//!
//! mst_pciconf quirks: everything but INIT before INIT → -ENOTTY; READ4/WRITE4 (8-byte) use the
//! legacy window only; READ4_NEW/WRITE4_NEW/MODIFY use the VSEC when "fully supported"
//! (INITIALIZED + CR + ALL_ICMD + GLOBAL_SEMAPHORE), computing the capability mask once per
//! binding (-EBUSY when the semaphore is taken); MODIFY returns the *new* value in `old_data`;
//! buffer ioctls need that VSEC support (-ENOSYS) and return the byte count; VPD failures →
//! -EFAULT; DMA_PROPS returns zeros; MEM_ACCESS → -EINVAL (its buffers are never allocated);
//! META_DATA checks the header (major 1, payload ≥ 72 bytes); unknown → -ENOTTY.
//!
//! mst_pci: PCI_INIT records BAR `bar` (start from config space, size 64 MiB for BAR0, 0 for the
//! others; bar ≥ 17 → -ENXIO); PCI_STOP zeroes the size; PCI_PARAMS returns {start, size};
//! PCI_CONNECTX_WA is per fd; mmap must lie inside the recorded BAR ([`super::mmap_allowed`]).
//!
//! Safe stand-ins: block `size` > 256 and `page_amount` > 8 return -EINVAL (kernel overrun); the
//! old 8-byte-encoded PCICONF_READ4_BUFFER (the kernel copies 268 bytes from the caller, past the
//! 8 the number declares) returns -EFAULT.

use super::mstflint_access::get_dma_pages;
use super::{
    io, ioc_dir, ior, iow, iowr, rd32, read_ids, take_wa_slot, wr32, wr64, Call, DriverDevice,
    IoctlOutcome, MftBinding, BAR0_SIZE, IOC_NONE, MAX_BLOCK_BYTES,
};
use crate::model::Errno;

// mst_pciconf
pub const PCICONF_INIT: u32 = io(0xD2, 0, 20);
pub const PCICONF_STOP: u32 = io(0xD2, 1, 0);
pub const PCICONF_READ4: u32 = ior(0xD2, 1, 8);
pub const PCICONF_WRITE4: u32 = iow(0xD2, 2, 8);
pub const PCICONF_MODIFY: u32 = iowr(0xD2, 3, 20);
pub const PCICONF_READ4_BUFFER: u32 = ior(0xD2, 4, 8);
pub const PCICONF_READ4_BUFFER_EX: u32 = ior(0xD2, 4, 268);
pub const PCICONF_WRITE4_BUFFER: u32 = iow(0xD2, 5, 268);
pub const PCICONF_MST_PARAMS: u32 = ior(0xD2, 6, 48);
pub const PCICONF_READ4_NEW: u32 = ior(0xD2, 7, 12);
pub const PCICONF_VPD_READ4: u32 = ior(0xD2, 7, 8);
pub const PCICONF_WRITE4_NEW: u32 = iow(0xD2, 8, 12);
pub const PCICONF_VPD_WRITE4: u32 = iow(0xD2, 8, 8);
pub const PCICONF_MEM_ACCESS: u32 = iowr(0xD2, 10, 1040);
pub const PCICONF_DMA_PROPS: u32 = ior(0xD2, 11, 512);
pub const PCICONF_MST_META_DATA: u32 = ior(0xD2, 12, 88);
pub const PCICONF_GET_DMA_PAGES: u32 = ior(0xD2, 13, 144);
pub const PCICONF_RELEASE_DMA_PAGES: u32 = ior(0xD2, 14, 144);
pub const PCICONF_READ_DWORD_FROM_CONFIG_SPACE: u32 = ior(0xD2, 15, 8);

// mst_pci
pub const PCI_INIT: u32 = io(0xD1, 0, 16);
pub const PCI_STOP: u32 = io(0xD1, 1, 0);
pub const PCI_PARAMS: u32 = ior(0xD1, 2, 16);
pub const PCI_CONNECTX_WA: u32 = ior(0xD1, 3, 4);

/// `PCICONF_MAX_PAGES_SIZE`.
pub const MAX_PAGES: u32 = 8;
/// Linux `DEVICE_COUNT_RESOURCE` (x86_64 with SR-IOV).
pub const DEVICE_COUNT_RESOURCE: i32 = 17;

/// Capability-mask bits (MFT kernel numbering) by space.
const CAP_INITIALIZED: u32 = 1 << 0;
const SPACE_BITS: [(u32, u32); 9] = [
    (0x1, 1),
    (0x2, 2),
    (0x3, 3),
    (0x4, 4),
    (0x5, 5),
    (0x6, 6),
    (0x7, 7),
    (0xa, 8),
    (0xf, 9),
];
/// INITIALIZED + CR_SPACE + ALL_ICMD + GLOBAL_SEMAPHORE.
const FULLY_SUPPORTED: u32 = CAP_INITIALIZED | 1 << 2 | 1 << 3 | 1 << 8;

pub fn pciconf_name(request: u32) -> Option<&'static str> {
    Some(match request {
        PCICONF_INIT => "PCICONF_INIT",
        PCICONF_STOP => "PCICONF_STOP",
        PCICONF_READ4 => "PCICONF_READ4",
        PCICONF_WRITE4 => "PCICONF_WRITE4",
        PCICONF_MODIFY => "PCICONF_MODIFY",
        PCICONF_READ4_BUFFER => "PCICONF_READ4_BUFFER",
        PCICONF_READ4_BUFFER_EX => "PCICONF_READ4_BUFFER_EX",
        PCICONF_WRITE4_BUFFER => "PCICONF_WRITE4_BUFFER",
        PCICONF_MST_PARAMS => "PCICONF_MST_PARAMS",
        PCICONF_READ4_NEW => "PCICONF_READ4_NEW",
        PCICONF_VPD_READ4 => "PCICONF_VPD_READ4",
        PCICONF_WRITE4_NEW => "PCICONF_WRITE4_NEW",
        PCICONF_VPD_WRITE4 => "PCICONF_VPD_WRITE4",
        PCICONF_MEM_ACCESS => "PCICONF_MEM_ACCESS",
        PCICONF_DMA_PROPS => "PCICONF_DMA_PROPS",
        PCICONF_MST_META_DATA => "PCICONF_MST_META_DATA",
        PCICONF_GET_DMA_PAGES => "PCICONF_GET_DMA_PAGES",
        PCICONF_RELEASE_DMA_PAGES => "PCICONF_RELEASE_DMA_PAGES",
        PCICONF_READ_DWORD_FROM_CONFIG_SPACE => "PCICONF_READ_DWORD_FROM_CONFIG_SPACE",
        _ => return None,
    })
}

pub fn pci_name(request: u32) -> Option<&'static str> {
    Some(match request {
        PCI_INIT => "PCI_INIT",
        PCI_STOP => "PCI_STOP",
        PCI_PARAMS => "PCI_PARAMS",
        PCI_CONNECTX_WA => "PCI_CONNECTX_WA",
        _ => return None,
    })
}

/// Access-mode check of both MFT modules.
fn permitted<D: DriverDevice + ?Sized>(c: &Call<'_, D>, request: u32) -> bool {
    if ioc_dir(request) == IOC_NONE {
        c.can_write
    } else {
        c.can_read
    }
}

/// Whether (domain, bus, devfn) of an INIT names the node's device.
fn is_our_function<D: DriverDevice + ?Sized>(dev: &D, domain: u32, bus: u32, devfn: u32) -> bool {
    let (d, b, s, f) = dev.location();
    let domain = if domain == u32::MAX { 0 } else { domain };
    domain == d as u32 && bus == b as u32 && devfn == ((s as u32) << 3 | f as u32)
}

fn done(r: Result<i64, Errno>) -> IoctlOutcome {
    match r {
        Ok(v) => IoctlOutcome::ok(v),
        Err(e) => IoctlOutcome::err(e),
    }
}

/// The capability mask of the bound device, computed once per binding under the semaphore.
fn cap_mask<D: DriverDevice + ?Sized>(c: &mut Call<'_, D>) -> Result<u32, Errno> {
    if let Some(m) = c.node.cap_mask {
        return Ok(m);
    }
    let dev = c.dev;
    let m = if dev.vsec_offset().is_none() {
        0
    } else {
        if dev.semaphore_busy() {
            return Err(libc::EBUSY);
        }
        SPACE_BITS
            .iter()
            .filter(|(s, _)| dev.space_supported(*s))
            .fold(CAP_INITIALIZED, |m, (_, bit)| m | 1 << bit)
    };
    c.node.cap_mask = Some(m);
    Ok(m)
}

fn fully_supported<D: DriverDevice + ?Sized>(c: &mut Call<'_, D>) -> Result<bool, Errno> {
    Ok(cap_mask(c)? & FULLY_SUPPORTED == FULLY_SUPPORTED)
}

fn new_read<D: DriverDevice + ?Sized>(
    c: &mut Call<'_, D>,
    space: u32,
    addr: u32,
) -> Result<u32, Errno> {
    if fully_supported(c)? {
        c.dev.gw_read(space, addr)
    } else {
        c.dev.legacy_read(addr)
    }
}

fn new_write<D: DriverDevice + ?Sized>(
    c: &mut Call<'_, D>,
    space: u32,
    addr: u32,
    v: u32,
) -> Result<(), Errno> {
    if fully_supported(c)? {
        c.dev.gw_write(space, addr, v)
    } else {
        c.dev.legacy_write(addr, v)
    }
}

pub(crate) fn handle_pciconf<D: DriverDevice + ?Sized>(
    c: &mut Call<'_, D>,
    request: u32,
    arg: &mut [u8],
) -> IoctlOutcome {
    let dev = c.dev;
    if pciconf_name(request).is_none() {
        return IoctlOutcome::err(libc::ENOTTY);
    }
    if !permitted(c, request) {
        return IoctlOutcome::err(libc::EPERM);
    }
    let touches = matches!(
        request,
        PCICONF_READ4
            | PCICONF_WRITE4
            | PCICONF_READ4_NEW
            | PCICONF_WRITE4_NEW
            | PCICONF_MODIFY
            | PCICONF_READ4_BUFFER_EX
            | PCICONF_WRITE4_BUFFER
            | PCICONF_MST_PARAMS
            | PCICONF_VPD_READ4
            | PCICONF_VPD_WRITE4
            | PCICONF_READ_DWORD_FROM_CONFIG_SPACE
    );
    if !touches {
        if let Err(e) = dev.gate() {
            return IoctlOutcome::err(e);
        }
    }
    if request == PCICONF_INIT {
        if !is_our_function(dev, rd32(arg, 0), rd32(arg, 4), rd32(arg, 8)) {
            return IoctlOutcome::err(libc::ENXIO);
        }
        c.node.mft = Some(MftBinding {
            addr_reg: rd32(arg, 12),
            data_reg: rd32(arg, 16),
            ..MftBinding::default()
        });
        c.node.cap_mask = None;
        return IoctlOutcome::ok(0);
    }
    if c.node.mft.is_none() {
        return IoctlOutcome::err(libc::ENOTTY);
    }
    let r: Result<i64, Errno> = match request {
        PCICONF_STOP => {
            c.node.mft = None;
            c.node.cap_mask = None;
            Ok(0)
        }
        PCICONF_READ4 => dev.legacy_read(rd32(arg, 0)).map(|v| {
            wr32(arg, 4, v);
            0
        }),
        PCICONF_WRITE4 => dev.legacy_write(rd32(arg, 0), rd32(arg, 4)).map(|_| 0),
        PCICONF_READ4_NEW => new_read(c, rd32(arg, 0), rd32(arg, 4)).map(|v| {
            wr32(arg, 8, v);
            0
        }),
        PCICONF_WRITE4_NEW => new_write(c, rd32(arg, 0), rd32(arg, 4), rd32(arg, 8)).map(|_| 0),
        PCICONF_MODIFY => {
            let (space, addr, data, mask) =
                (rd32(arg, 0), rd32(arg, 4), rd32(arg, 8), rd32(arg, 12));
            new_read(c, space, addr).and_then(|old| {
                let new = (old & !mask) | (data & mask);
                new_write(c, space, addr, new)?;
                // `old_data` receives the value written, not the one read.
                wr32(arg, 16, new);
                Ok(0)
            })
        }
        PCICONF_READ4_BUFFER => {
            log::warn!("mst_pciconf: PCICONF_READ4_BUFFER (8-byte number) copies 268 bytes");
            Err(libc::EFAULT)
        }
        PCICONF_READ4_BUFFER_EX | PCICONF_WRITE4_BUFFER => {
            block(c, request == PCICONF_WRITE4_BUFFER, arg)
        }
        PCICONF_MST_PARAMS => {
            let (dom, bus, slot, func) = dev.location();
            let ids = read_ids(dev);
            let (vsc, mask) = match dev.vsec_offset() {
                Some(off) => (off, cap_mask(c).unwrap_or(0)),
                None => (0, 0),
            };
            for (i, v) in [
                dom as u32,
                bus as u32,
                slot as u32,
                func as u32,
                0, // bar
                ids.device,
                ids.vendor,
                ids.subsystem_device,
                ids.subsystem_vendor,
                vsc,
                mask,
                ids.multifunction,
            ]
            .into_iter()
            .enumerate()
            {
                wr32(arg, i * 4, v);
            }
            Ok(0)
        }
        PCICONF_VPD_READ4 => match dev.vpd_read4(rd32(arg, 0)) {
            Ok(b) => {
                wr32(arg, 4, u32::from_le_bytes(b));
                Ok(0)
            }
            Err(_) => Err(libc::EFAULT),
        },
        PCICONF_VPD_WRITE4 => dev
            .vpd_write4(rd32(arg, 0), rd32(arg, 4).to_le_bytes())
            .map(|_| 0)
            .map_err(|_| libc::EFAULT),
        PCICONF_MEM_ACCESS => Err(libc::EINVAL),
        PCICONF_DMA_PROPS => {
            arg.fill(0);
            Ok(0)
        }
        PCICONF_MST_META_DATA => {
            let major = u16::from_le_bytes([arg[4], arg[5]]);
            let payload_len = rd32(arg, 12);
            if major != 1 || payload_len < 72 {
                Err(libc::EINVAL)
            } else {
                arg.fill(0);
                arg[0..2].copy_from_slice(&1u16.to_le_bytes()); // hdr_version
                arg[2..4].copy_from_slice(&16u16.to_le_bytes()); // hdr_len
                arg[4..6].copy_from_slice(&1u16.to_le_bytes()); // payload major
                wr32(arg, 8, 0); // payload minor
                wr32(arg, 12, 72); // payload_len
                arg[16..18].copy_from_slice(&1u16.to_le_bytes()); // api major
                wr32(arg, 20, 0); // api minor; cap_vector stays zero
                Ok(0)
            }
        }
        PCICONF_GET_DMA_PAGES => get_dma_pages(c, arg, MAX_PAGES, false),
        PCICONF_RELEASE_DMA_PAGES => {
            c.release_dma();
            Ok(0)
        }
        PCICONF_READ_DWORD_FROM_CONFIG_SPACE => {
            if dev.vsec_offset().is_none() || !dev.semaphore_busy() {
                if let Ok(v) = dev.config_dword(rd32(arg, 0)) {
                    wr32(arg, 4, v);
                }
            }
            Ok(0)
        }
        _ => Err(libc::ENOTTY),
    };
    done(r)
}

/// READ4_BUFFER_EX / WRITE4_BUFFER: returns the byte count.
fn block<D: DriverDevice + ?Sized>(
    c: &mut Call<'_, D>,
    write: bool,
    arg: &mut [u8],
) -> Result<i64, Errno> {
    if !fully_supported(c)? {
        return Err(libc::ENOSYS);
    }
    let space = rd32(arg, 0);
    let offset = rd32(arg, 4);
    let size = rd32(arg, 8) as i32;
    if size < 0 || size % 4 != 0 {
        return Err(libc::EINVAL);
    }
    if size as usize > MAX_BLOCK_BYTES {
        log::warn!("mst_pciconf: block size {size} > 256 would overrun the kernel buffer");
        return Err(libc::EINVAL);
    }
    let n = size as usize / 4;
    let mut data = [0u32; MAX_BLOCK_BYTES / 4];
    for (i, d) in data.iter_mut().enumerate().take(n) {
        let addr = offset.wrapping_add(i as u32 * 4);
        if write {
            c.dev.gw_write(space, addr, rd32(arg, 12 + i * 4))?;
        } else {
            *d = c.dev.gw_read(space, addr)?;
        }
    }
    if !write {
        for (i, d) in data.iter().enumerate().take(n) {
            wr32(arg, 12 + i * 4, *d);
        }
    }
    Ok(size as i64)
}

pub(crate) fn handle_pci<D: DriverDevice + ?Sized>(
    c: &mut Call<'_, D>,
    request: u32,
    arg: &mut [u8],
) -> IoctlOutcome {
    let dev = c.dev;
    if pci_name(request).is_none() {
        return IoctlOutcome::err(libc::ENOTTY);
    }
    if !permitted(c, request) {
        return IoctlOutcome::err(libc::EPERM);
    }
    if let Err(e) = dev.gate() {
        return IoctlOutcome::err(e);
    }
    let r: Result<i64, Errno> = match request {
        PCI_INIT => {
            let bar = rd32(arg, 12) as i32;
            if !is_our_function(dev, rd32(arg, 0), rd32(arg, 4), rd32(arg, 8))
                || !(0..DEVICE_COUNT_RESOURCE).contains(&bar)
            {
                Err(libc::ENXIO)
            } else {
                let (start, size) = if bar == 0 {
                    (dev.bar0_address(), BAR0_SIZE)
                } else {
                    (0, 0)
                };
                c.node.mft = Some(MftBinding {
                    bar_start: start,
                    bar_size: size,
                    ..MftBinding::default()
                });
                Ok(0)
            }
        }
        PCI_STOP => {
            if let Some(b) = c.node.mft.as_mut() {
                b.bar_size = 0;
            }
            Ok(0)
        }
        PCI_PARAMS => {
            let b = c.node.mft.unwrap_or_default();
            wr64(arg, 0, b.bar_start);
            wr64(arg, 8, b.bar_size);
            Ok(0)
        }
        PCI_CONNECTX_WA => take_wa_slot(c).map(|slot_p1| {
            wr32(arg, 0, slot_p1);
            0
        }),
        _ => Err(libc::ENOTTY),
    };
    done(r)
}
