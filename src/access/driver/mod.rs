//! Kernel-driver access paths: the unified Gen-1 `mst_driver` (both node naming modes),
//! mstflint's `mstflint_access`, and MFT's `mst_pciconf` / `mst_pci` (kernel_abis.md §2–§4).
//!
//! All three config-side drivers run the VSEC gateway protocol *inside the kernel*: userspace
//! only asks "read/write N bytes of space S at address A". None of them offers config-cycle
//! writes, so the userspace gateway (`gateway.rs`, over `ConfigIo`) cannot be layered on them;
//! the config-dword *read* ioctl each driver has is exposed as a read-only [`ConfigIo`]
//! (`read_config_dword`).
//!
//! Every ioctl goes through [`Node::ioctl`], which refuses a buffer smaller than the size the
//! request number encodes; blocks are clamped to [`MAX_BLOCK_BYTES`] per ioctl; positive return
//! codes (byte counts, the `+ENODEV` quirks) are interpreted here and never reach callers.
//!
//! | file | ABI | nodes |
//! |---|---|---|
//! | `mstflint_access.rs` | magics 0xD0–0xD6 | `/dev/DDDD:BB:DD.F_mstconf` |
//! | `mst_driver.rs` | Gen-1 magic 0xD3 | `/dev/DDDD:BB:DD.F_mstconf`/`_mstcr`, `/dev/mst/mtN_pci_pciconfF`/`_pci_pci_crF` |
//! | `mft.rs` | 0xD2 (`mst_pciconf`), 0xD1 (`mst_pci`) | `/dev/mst/mtN_pciconfI[.F]`, `/dev/mst/mtN_pci_crI` |
//! | `nodes.rs` | — | the node names of every driver for a function |
//!
//! [`open`] opens a driver path on a node; each ABI file has its own `open` (what the driver's
//! parameters say about the gateway, and which spaces the path allows).

pub mod mft;
pub mod mst_driver;
pub mod mstflint_access;
pub mod nodes;

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::access::lock::LockFile;
use crate::access::PathKind;
use crate::access::{
    block_addr, is_crspace, mask_supports, partial, Access, ConfigIo, GatewayInfo,
};
use crate::defs::{
    space_to_cap_offset, AS_CR_SPACE, AS_END, AS_PCI_GLOBAL_SEMAPHORE, AS_SEMAPHORE,
    VCC_INITIALIZED,
};
use crate::error::{Error, Result};
use crate::pci::{Bdf, SysfsRoot};

/// Largest data block one block ioctl moves (all drivers: 64 dwords; several do not check).
pub const MAX_BLOCK_BYTES: usize = 256;
/// Dwords per block ioctl.
pub const MAX_BLOCK_DWORDS: usize = MAX_BLOCK_BYTES / 4;

const IOC_NONE: u32 = 0;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// `_IOC(dir, type, nr, size)` (x86_64 / asm-generic encoding).
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32 & 0x3fff) << 16) | (ty << 8) | nr
}
/// `_IO(type, nr)`.
pub const fn io(ty: u32, nr: u32) -> u32 {
    ioc(IOC_NONE, ty, nr, 0)
}
/// `_IOR(type, nr, size)`.
pub const fn ior(ty: u32, nr: u32, size: usize) -> u32 {
    ioc(IOC_READ, ty, nr, size)
}
/// `_IOW(type, nr, size)`.
pub const fn iow(ty: u32, nr: u32, size: usize) -> u32 {
    ioc(IOC_WRITE, ty, nr, size)
}
/// `_IOWR(type, nr, size)`.
#[cfg(test)]
pub const fn iowr(ty: u32, nr: u32, size: usize) -> u32 {
    ioc(IOC_READ | IOC_WRITE, ty, nr, size)
}
/// `_IOC_SIZE(request)`.
pub const fn ioc_size(req: u32) -> usize {
    ((req >> 16) & 0x3fff) as usize
}

/// An ioctl argument: a zeroed byte buffer with native-endian u32/u64 accessors.
#[derive(Debug, Clone)]
pub struct Arg(Vec<u8>);

impl Arg {
    /// A zeroed argument of `len` bytes.
    pub fn new(len: usize) -> Arg {
        Arg(vec![0; len])
    }
    pub fn put(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    pub fn put64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    pub fn put_u8(&mut self, off: usize, v: u8) -> &mut Self {
        self.0[off] = v;
        self
    }
    pub fn get(&self, off: usize) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.0[off..off + 4]);
        u32::from_ne_bytes(b)
    }
    pub fn get64(&self, off: usize) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[off..off + 8]);
        u64::from_ne_bytes(b)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An open driver node.
#[derive(Debug)]
pub struct Node {
    file: File,
    path: PathBuf,
}

/// Whether an ioctl error means "this node speaks another ABI" (another driver or version).
pub fn is_wrong_abi(e: &Error) -> bool {
    matches!(e.errno(), libc::ENOTTY | libc::EINVAL)
}

/// Open the kernel-driver path `kind` on the node at `path`, for function `bdf`.
///
/// `spare`: a node kept open between two steps on the same node (mst_driver in mstflint mode
/// and mstflint_access share `_mstconf`): it is used when it is `path`, and a Gen-1 probe
/// answered with another ABI leaves its node there for the next step.
pub fn open(
    root: &SysfsRoot,
    bdf: Bdf,
    kind: PathKind,
    path: &Path,
    spare: &mut Option<Node>,
) -> Result<Box<dyn Access>> {
    let mut node = || match spare.take() {
        Some(n) if n.path() == path => Ok(n),
        _ => Node::open(path),
    };
    match kind {
        PathKind::MstflintAccess => Ok(Box::new(mstflint_access::open(node()?)?)),
        PathKind::MstDriver | PathKind::MstDriverCr => {
            let n = node()?;
            let params = match mst_driver::params(&n) {
                Ok(p) => p,
                Err(e) => {
                    if is_wrong_abi(&e) {
                        *spare = Some(n);
                    }
                    return Err(e);
                }
            };
            let memory = kind == PathKind::MstDriverCr;
            let vpd = root.device_dir(bdf).join("vpd");
            Ok(Box::new(mst_driver::open(n, params, memory, vpd, bdf)?))
        }
        PathKind::MftPciconf => Ok(Box::new(mft::open_pciconf(node()?, bdf)?)),
        PathKind::MftPci => {
            let lock = LockFile::open_or_warn(&root.lock_dir, bdf, "mem");
            Ok(Box::new(mft::open_pci_cr(path, bdf, lock)?))
        }
        PathKind::SysfsConfig | PathKind::SysfsMemory | PathKind::Fwctl => {
            Err(Error::InvalidArgument(format!(
                "{bdf}: {} is not a kernel-driver path ({})",
                kind.as_str(),
                path.display()
            )))
        }
    }
}

impl Node {
    /// Open a node read-write (`O_SYNC`, as the stock library does).
    pub fn open(path: &Path) -> Result<Node> {
        let file = super::open_rw_sync(path, "")?;
        Ok(Node {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The node's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file (for mmap).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Issue `req` with `arg` (at least `_IOC_SIZE(req)` bytes). Returns the ioctl's
    /// non-negative result; a negative one is an error carrying errno and `what`.
    pub fn ioctl(&self, what: &str, req: u32, arg: &mut Arg) -> Result<i32> {
        ioctl_file(&self.file, &self.path, what, req, arg)
    }

    /// READ_DWORD_FROM_CONFIG_SPACE, the same `{u32 offset; u32 data}` in every driver.
    pub fn config_dword(&self, what: &str, req: u32, offset: u32) -> Result<u32> {
        let mut a = Arg::new(8);
        a.put(0, offset);
        self.ioctl(what, req, &mut a)?;
        Ok(a.get(4))
    }

    /// GET_DMA_PAGES with the page_info struct every driver shares (its size, 32 pages or
    /// MFT's 8, is the one `req` encodes): 0 u32 count · 8 u64 user address ·
    /// 16 {u64 dma, u64 virt}[N]. Returns the DMA address of each page.
    pub fn get_dma_pages(
        &self,
        what: &str,
        req: u32,
        user_buf: u64,
        pages: usize,
    ) -> Result<Vec<u64>> {
        let mut a = Arg::new(ioc_size(req));
        a.put(0, pages as u32).put64(8, user_buf);
        for i in 0..pages {
            a.put64(16 + 16 * i + 8, user_buf + (i as u64) * page_size());
        }
        self.ioctl(what, req, &mut a)?;
        Ok((0..pages).map(|i| a.get64(16 + 16 * i)).collect())
    }

    /// RELEASE_DMA_PAGES (same page_info struct, only the count is read).
    pub fn release_dma_pages(&self, what: &str, req: u32, pages: usize) -> Result<()> {
        let mut a = Arg::new(ioc_size(req));
        a.put(0, pages as u32);
        self.ioctl(what, req, &mut a)?;
        Ok(())
    }
}

/// [`Node::ioctl`] on any open file (`path` for messages).
pub fn ioctl_file(file: &File, path: &Path, what: &str, req: u32, arg: &mut Arg) -> Result<i32> {
    if arg.len() < ioc_size(req) {
        return Err(Error::InvalidArgument(format!(
            "{what}: {}-byte buffer for an ioctl encoding {} bytes",
            arg.len(),
            ioc_size(req)
        )));
    }
    let p = if arg.is_empty() {
        std::ptr::null_mut()
    } else {
        arg.0.as_mut_ptr()
    };
    let saved = std::io::Error::last_os_error().raw_os_error();
    // SAFETY: the buffer is valid for at least the size the request encodes (checked above),
    // which is what the kernel (and the simulator's preload) copies in and out.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), req as libc::c_ulong, p) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        // The error travels in the result (the C boundary sets errno from it if the call
        // fails); a failed probe of a call that then succeeds leaves errno as it was, as
        // with upstream's library, which issues no such probes.
        if let Some(v) = saved {
            restore_errno(v);
        }
        return Err(Error::io(
            format!("{what} ({req:#010x}) on {}", path.display()),
            e,
        ));
    }
    Ok(r)
}

/// Put `e` back into the calling thread's errno.
fn restore_errno(e: i32) {
    // SAFETY: __errno_location returns the calling thread's errno slot, valid for the thread's
    // life; writing an int there is what libc itself does.
    unsafe { *libc::__errno_location() = e };
}

/// The ABI-specific operations of a driver node. `DriverAccess` turns them into [`Access`].
pub trait DriverOps: Send {
    /// Path kind (for `mfile.tp` and logs).
    fn kind(&self) -> PathKind;
    /// The node in use.
    fn node(&self) -> &Node;
    /// One dword.
    fn read4(&mut self, space: u32, addr: u32) -> Result<u32>;
    /// One dword.
    fn write4(&mut self, space: u32, addr: u32, v: u32) -> Result<()>;
    /// At most [`MAX_BLOCK_DWORDS`] dwords in one ioctl, or `Ok(false)` when the driver has no
    /// block ioctl for this device (the caller then loops over dwords).
    fn read_chunk(&mut self, space: u32, addr: u32, out: &mut [u32]) -> Result<bool>;
    /// As `read_chunk`.
    fn write_chunk(&mut self, space: u32, addr: u32, data: &[u32]) -> Result<bool>;
    /// VPD dword at a dword-aligned offset (bytes in VPD order).
    fn vpd_read4(&mut self, offset: u32) -> Result<[u8; 4]>;
    /// VPD dword write.
    fn vpd_write4(&mut self, offset: u32, data: [u8; 4]) -> Result<()>;
    /// A PCI config-space dword through the driver.
    fn config_dword(&mut self, offset: u32) -> Result<u32>;
    /// Pin `user_buf` (page aligned, `pages` pages) and return the DMA addresses.
    fn get_dma_pages(&mut self, user_buf: u64, pages: usize) -> Result<Vec<u64>>;
    /// Release the pages pinned by `get_dma_pages`.
    fn release_dma_pages(&mut self, pages: usize) -> Result<()>;
    /// Largest number of DMA pages the ABI's struct holds.
    fn max_dma_pages(&self) -> usize;
    /// `mfile.connectx_wa_slot` when the open took an ordering slot.
    fn connectx_wa_slot(&self) -> Option<u32> {
        None
    }
}

/// `PCICONF_HOT_RESET` (mstflint_access, kernel_abis.md Appendix A): `_IOR(0xD3, 16,
/// struct hot_reset_pcie_switch)`, 36 bytes. The stock library issues it on `mf->fd` whatever
/// driver the node belongs to; so do we (another ABI answers EINVAL/ENOTTY).
pub const PCICONF_HOT_RESET: u32 = ior(0xD3, 16, HOT_RESET_SIZE);
/// Size of `struct hot_reset_pcie_switch`: two {int domain, bus, device, function}, a bool.
pub const HOT_RESET_SIZE: usize = 36;
/// First ConnectX ordering slot dword (`CONNECTX_WA_BASE`); slot N is at BASE + 4 * N.
pub const CONNECTX_WA_BASE: u32 = 0xf0384;

/// An [`Access`] over a driver node.
pub struct DriverAccess {
    ops: Box<dyn DriverOps>,
    info: GatewayInfo,
    spaces: Spaces,
    /// The hw id dword when the open read it (see `Access::take_open_hw_id`).
    open_hw_id: Option<u32>,
}

/// Which address spaces a driver path can reach.
pub enum Spaces {
    /// Decided at open.
    Fixed(Box<dyn Fn(u32) -> bool + Send>),
    /// Found on first use: a space works when the driver reads its address 0 (the driver
    /// runs the gateway itself and fails the ioctl for a space it cannot select). `ok` and
    /// `bad` are `vsec_cap_mask` bits, `ok` reported as the path's capability mask.
    Lazy { ok: u32, bad: u32 },
}

impl DriverAccess {
    pub fn new(
        ops: Box<dyn DriverOps>,
        info: GatewayInfo,
        spaces: Spaces,
        open_hw_id: Option<u32>,
    ) -> DriverAccess {
        DriverAccess {
            ops,
            info,
            spaces,
            open_hw_id,
        }
    }

    /// A path whose spaces are decided at open: with a functional gateway behind the driver
    /// the spaces of its capability mask, else crspace only.
    pub fn fixed(ops: Box<dyn DriverOps>, info: GatewayInfo) -> DriverAccess {
        let mask = info.cap_mask;
        let ok: Box<dyn Fn(u32) -> bool + Send> = if info.functional_vsec {
            Box::new(move |s| mask_supports(mask, s))
        } else {
            Box::new(is_crspace)
        };
        DriverAccess::new(ops, info, Spaces::Fixed(ok), None)
    }


    fn chunked(
        &mut self,
        addr: u32,
        n: usize,
        mut f: impl FnMut(&mut dyn DriverOps, u32, std::ops::Range<usize>) -> Result<bool>,
    ) -> Result<bool> {
        let mut i = 0;
        while i < n {
            let len = (n - i).min(MAX_BLOCK_DWORDS);
            let a = block_addr(addr, i)?;
            block_addr(addr, i + len - 1)?;
            match f(self.ops.as_mut(), a, i..i + len) {
                Ok(true) => {}
                Ok(false) if i == 0 => return Ok(false),
                Ok(false) => {
                    return Err(partial(
                        i * 4,
                        Error::NotSupported("block ioctl refused mid-way".into()),
                    ))
                }
                Err(e) => return Err(partial(i * 4, e)),
            }
            i += len;
        }
        Ok(true)
    }
}

/// Interpret a block ioctl's result: `want` bytes asked. Positive counts smaller than `want`
/// are a partial transfer; 0 is success on drivers that always return 0.
pub fn block_result(ret: i32, want: usize) -> Result<()> {
    let ret = ret as usize;
    if ret == 0 || ret >= want {
        Ok(())
    } else {
        Err(Error::Partial {
            done_bytes: ret & !3,
            source: Box::new(Error::io(
                "driver block transfer stopped",
                std::io::Error::from_raw_os_error(libc::EIO),
            )),
        })
    }
}

impl Access for DriverAccess {
    fn kind(&self) -> PathKind {
        self.ops.kind()
    }

    fn read4(&mut self, space: u32, addr: u32) -> Result<u32> {
        self.ops.read4(space, addr)
    }

    fn write4(&mut self, space: u32, addr: u32, v: u32) -> Result<()> {
        self.ops.write4(space, addr, v)
    }

    fn read_block(&mut self, space: u32, addr: u32, out: &mut [u32]) -> Result<()> {
        let n = out.len();
        let done = self.chunked(addr, n, |ops, a, r| ops.read_chunk(space, a, &mut out[r]))?;
        if !done {
            for (i, slot) in out.iter_mut().enumerate() {
                let a = block_addr(addr, i)?;
                *slot = self.ops.read4(space, a).map_err(|e| partial(i * 4, e))?;
            }
        }
        Ok(())
    }

    fn write_block(&mut self, space: u32, addr: u32, data: &[u32]) -> Result<()> {
        let n = data.len();
        let done = self.chunked(addr, n, |ops, a, r| ops.write_chunk(space, a, &data[r]))?;
        if !done {
            for (i, v) in data.iter().enumerate() {
                let a = block_addr(addr, i)?;
                self.ops
                    .write4(space, a, *v)
                    .map_err(|e| partial(i * 4, e))?;
            }
        }
        Ok(())
    }

    fn supports_space(&mut self, space: u32) -> bool {
        match &mut self.spaces {
            Spaces::Fixed(f) => f(space),
            Spaces::Lazy { ok, bad } => {
                if mask_supports(*ok, space) {
                    return true;
                }
                // Probe only a space with a bit of its own that has not failed before (bit 0,
                // INITIALIZED, always in `ok`, stands for the spaces without one).
                let space = if space == 0 { AS_CR_SPACE } else { space };
                let bit = space_to_cap_offset(space);
                if space >= AS_END || bit == VCC_INITIALIZED || *bad & (1 << bit) != 0 {
                    return false;
                }
                let probe = self.ops.read4(space, 0);
                let works = probe.is_ok();
                // A semaphore space locks on read: a read that found a cell free (0) took
                // it. Give it back, or the ICMD semaphore (address 0) stays held.
                if matches!(space, AS_SEMAPHORE | AS_PCI_GLOBAL_SEMAPHORE) && matches!(probe, Ok(0))
                {
                    let _ = self.ops.write4(space, 0, 0);
                }
                log::debug!(
                    "driver space {space:#x}: {}",
                    if works { "works" } else { "not supported" }
                );
                if works {
                    *ok |= 1 << bit;
                } else {
                    *bad |= 1 << bit;
                }
                works
            }
        }
    }

    fn node_fd(&self) -> Option<i32> {
        Some(self.ops.node().file().as_raw_fd())
    }

    fn connectx_wa_slot(&self) -> Option<u32> {
        self.ops.connectx_wa_slot()
    }

    fn hot_reset(&mut self, arg: &mut Arg) -> Result<i32> {
        self.ops
            .node()
            .ioctl("PCICONF_HOT_RESET", PCICONF_HOT_RESET, arg)
    }

    fn gateway_info(&self) -> GatewayInfo {
        match self.spaces {
            Spaces::Lazy { ok, .. } => GatewayInfo {
                cap_mask: ok,
                pxir: super::gateway::pxir(ok),
                ..self.info
            },
            Spaces::Fixed(_) => self.info,
        }
    }

    fn take_open_hw_id(&mut self) -> Option<u32> {
        self.open_hw_id.take()
    }

    fn config_io(&mut self) -> Option<&mut dyn ConfigIo> {
        Some(self)
    }

    fn vpd_read4(&mut self, offset: u32) -> Option<Result<[u8; 4]>> {
        // Drivers read aligned dwords: splice two for an unaligned offset. As stock, only the
        // first must succeed: the second may lie past the end of VPD (its bytes read as 0).
        let base = offset & !3;
        let sh = (offset & 3) as usize;
        let r = (|| {
            let a = self.ops.vpd_read4(base)?;
            if sh == 0 {
                return Ok(a);
            }
            let b = self.ops.vpd_read4(base + 4).unwrap_or([0; 4]);
            let mut all = [0u8; 8];
            all[..4].copy_from_slice(&a);
            all[4..].copy_from_slice(&b);
            let mut out = [0u8; 4];
            out.copy_from_slice(&all[sh..sh + 4]);
            Ok(out)
        })();
        Some(r)
    }

    fn vpd_write4(&mut self, offset: u32, data: [u8; 4]) -> Option<Result<()>> {
        if offset & 3 != 0 {
            return Some(Err(Error::InvalidArgument(format!(
                "VPD write offset {offset:#x} is not dword aligned"
            ))));
        }
        Some(self.ops.vpd_write4(offset, data))
    }

    fn dma_pages(&mut self) -> Option<&mut dyn DmaPages> {
        Some(self)
    }
}

/// DMA page pinning through a driver.
pub trait DmaPages {
    /// Pin `pages` pages of the page-aligned user buffer at `user_buf`.
    fn get(&mut self, user_buf: u64, pages: usize) -> Result<Vec<u64>>;
    /// Release them.
    fn release(&mut self, pages: usize) -> Result<()>;
    /// Most pages in one call.
    fn max_pages(&self) -> usize;
}

impl DmaPages for DriverAccess {
    fn get(&mut self, user_buf: u64, pages: usize) -> Result<Vec<u64>> {
        if pages == 0 || pages > self.ops.max_dma_pages() {
            return Err(Error::InvalidArgument(format!(
                "{pages} DMA pages (1..={} on this driver)",
                self.ops.max_dma_pages()
            )));
        }
        self.ops.get_dma_pages(user_buf, pages)
    }
    fn release(&mut self, pages: usize) -> Result<()> {
        if pages == 0 || pages > self.ops.max_dma_pages() {
            return Err(Error::InvalidArgument(format!("{pages} DMA pages")));
        }
        self.ops.release_dma_pages(pages)
    }
    fn max_pages(&self) -> usize {
        self.ops.max_dma_pages()
    }
}

impl ConfigIo for DriverAccess {
    fn read_dword(&mut self, off: u32) -> Result<u32> {
        self.ops.config_dword(off)
    }
    fn write_dword(&mut self, off: u32, _v: u32) -> Result<()> {
        Err(Error::NotSupported(format!(
            "config write at {off:#x}: kernel drivers offer no config-space writes"
        )))
    }
}

/// The system page size.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// A positive errno returned as an ioctl "success" value (`+ENODEV` quirks) becomes an error.
pub fn positive_errno(what: &str, ret: i32) -> Result<()> {
    if ret > 0 {
        return Err(Error::io(
            format!("{what}: driver returned {ret}"),
            std::io::Error::from_raw_os_error(ret),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_the_reference() {
        // kernel_abis.md Appendix A.
        use mft::*;
        use mst_driver::*;
        use mstflint_access::*;
        let table: &[(u32, u32)] = &[
            (MST_WRITE, 0x410C_D301),
            (MST_READ, 0x410C_D302),
            (MST_GET_DMA_PAGES, 0x8210_D303),
            (MST_RELEASE_DMA_PAGES, 0x8210_D304),
            (MST_READ_DWORD_FROM_CONFIG_SPACE, 0x8008_D305),
            (MST_GET_DEVICE_PARAMETERS, 0x8028_D306),
            (MST_VPD_READ, 0x800C_D309),
            (MST_VPD_WRITE, 0x400C_D30A),
            (MST_PARAMS, 0x8028_D001),
            (MST_READ4, 0x800C_D101),
            (MST_WRITE4, 0x400C_D102),
            (PCICONF_READ4_BUFFER, 0x810C_D203),
            (PCICONF_READ4_BUFFER_BC, 0x800C_D203),
            (PCICONF_WRITE4_BUFFER, 0x410C_D204),
            (PCICONF_GET_DMA_PAGES, 0x8210_D30D),
            (PCICONF_RELEASE_DMA_PAGES, 0x8210_D30E),
            (PCICONF_READ_DWORD_FROM_CONFIG_SPACE, 0x8008_D30F),
            (PCICONF_VPD_READ4, 0x800C_D601),
            (PCICONF_VPD_WRITE4, 0x400C_D602),
            (MFT_PCI_INIT, 0x0010_D100),
            (MFT_PCI_PARAMS, 0x8010_D102),
            (MFT_PCICONF_INIT, 0x0014_D200),
            (MFT_PCICONF_READ4, 0x8008_D201),
            (MFT_PCICONF_WRITE4, 0x4008_D202),
            (MFT_PCICONF_READ4_BUFFER_EX, 0x810C_D204),
            (MFT_PCICONF_WRITE4_BUFFER, 0x410C_D205),
            (MFT_PCICONF_MST_PARAMS, 0x8030_D206),
            (MFT_PCICONF_READ4_NEW, 0x800C_D207),
            (MFT_PCICONF_VPD_READ4, 0x8008_D207),
            (MFT_PCICONF_WRITE4_NEW, 0x400C_D208),
            (MFT_PCICONF_VPD_WRITE4, 0x4008_D208),
            (MFT_PCICONF_GET_DMA_PAGES, 0x8090_D20D),
            (MFT_PCICONF_RELEASE_DMA_PAGES, 0x8090_D20E),
            (MFT_PCICONF_READ_DWORD_FROM_CONFIG_SPACE, 0x8008_D20F),
        ];
        for (got, want) in table {
            assert_eq!(got, want, "{got:#x} != {want:#x}");
        }
        assert_eq!(io(0xD3, 2), 0x0000_D302);
        assert_eq!(iowr(0xD2, 3, 20), 0xC014_D203);
        assert_eq!(ioc_size(MST_READ), 268);
    }

    #[test]
    fn block_results() {
        assert!(block_result(256, 256).is_ok());
        assert!(block_result(0, 256).is_ok());
        let e = block_result(10, 256).unwrap_err();
        assert_eq!(e.done_bytes(), 8);
        assert!(positive_errno("x", 19).unwrap_err().errno() == libc::ENODEV);
        assert!(positive_errno("x", 0).is_ok());
    }

    #[test]
    fn small_buffers_are_refused() {
        let n = Node::open(Path::new("/dev/null")).unwrap();
        let mut a = Arg::new(8);
        let e = n.ioctl("t", mst_driver::MST_READ, &mut a).unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL);
        assert!(e.to_string().contains("268"), "{e}");
        // A real ioctl on a non-driver file: ENOTTY, the "wrong ABI" answer.
        let mut a = Arg::new(268);
        let e = n.ioctl("t", mst_driver::MST_READ, &mut a).unwrap_err();
        assert!(is_wrong_abi(&e), "{e}");
    }
}
