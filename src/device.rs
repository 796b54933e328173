//! The safe Rust API: [`Device`]. The C ABI in `ffi` is a thin wrapper over it.
//!
//! A `Device` is `Send + Sync`: its access path sits behind a mutex, so every call (a dword,
//! a block, a VPD read) is one atomic transaction with respect to the other calls on the same
//! `Device`.
//!
//! Block errors: a block that fails part way returns `Error::Partial { done_bytes, .. }`
//! (`done_bytes` may be 0 when the first dword failed); a failure before any transfer (bad
//! argument, semaphore busy, space not supported) is returned as the plain error. The C layer
//! maps `Partial` to the byte count and other errors to -1, as stock's VSEC path does.
//!
//! Paths (see `open`): the VSEC gateway or the legacy 0x58/0x5c window over sysfs/procfs
//! `config` (`PathKind::SysfsConfig`, `mtype` MST_PCICONF), or `resource0` mapped
//! (`PathKind::SysfsMemory`, MST_PCI). Config accesses per operation on the gateway: `read4`
//! 6, `write4` 7 (+2 when the address space differs from the one selected last), blocks
//! 2n + 4 (read) / 3n + 4 (write) per 4096 dwords; stock needs 11 / 11 / 3n + 8.
//!
//! fwctl (`access::fwctl`): a name containing `fwctl` opens that node (`PathKind::Fwctl`,
//! register access only, crspace only for the hw id); a PCI open may attach its function's
//! node ([`Device::attach_fwctl`]); either way `access_reg` goes over FWCTL_RPC.
//!
//! Opening (`Device::open`) requires euid 0 (EACCES otherwise, as stock); errors carry an
//! errno (`Error::errno`) and a message naming the cause (kernel lockdown, truncated config
//! space, busy semaphore with the way to clear it, unsupported PCI id, ...).

use std::os::raw::c_void;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use once_cell::sync::OnceCell;
use parking_lot::Mutex;

use crate::access::fwctl::{self, FwctlAccess, FwctlNode, FwctlOrigin};
use crate::access::gateway::Tuning;
use crate::access::lock::LockFile;
use crate::access::mmio::Window;
use crate::access::sysfs_config::SysfsConfig;
use crate::access::PathKind;
use crate::access::{is_crspace, vpd, Access, ConfigIo, GatewayInfo};
use crate::chips;
use crate::defs::{AS_CR_SPACE, AS_RECOVERY, AS_SEMAPHORE, AUTHENTICATION_FAILURE, HW_ID_ADDR};
use crate::error::{Error, Result};
use crate::name::{self, Target};
use crate::open;
use crate::pci::{enumerate, sysfs, Bdf, DeviceInfo, SysfsRoot};
use crate::proto::{Crspace, ProtoState};

/// How to open a device (what `mopen_adv` and `mclear_pci_semaphore` need beyond a name).
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Force the VSEC semaphore to 0 before taking it (`mclear_pci_semaphore`).
    pub clear_semaphore: bool,
    /// Use this access path only (also settable with the `MTCR_FORCE_PATH` environment variable).
    pub force: Option<PathKind>,
}

struct Inner {
    access: Box<dyn Access>,
    /// Config space opened on demand when the path has no config carrier (memory path).
    config: Option<SysfsConfig>,
}

/// (hw device id, revision) of the hw id dword.
fn split_hw_id(v: u32) -> (u16, u16) {
    ((v & 0xffff) as u16, ((v >> 16) & 0xf) as u16)
}

/// An open ConnectX/BlueField function. `Send + Sync`: every call is atomic with respect to
/// the others on the same `Device` (one gateway transaction at a time).
pub struct Device {
    name: String,
    info: DeviceInfo,
    kind: PathKind,
    gw: GatewayInfo,
    space: AtomicU32,
    /// The hw id dword the open read on its way (see [`Device::hw_id_at_open`]).
    open_hw_id: Option<u32>,
    /// The BAR mapping, when single crspace dwords can bypass `inner`'s lock.
    window: Option<Arc<Window>>,
    root: SysfsRoot,
    inner: Mutex<Inner>,
    /// What the protocols (ICMD, tools HCR) remember per open.
    proto: ProtoState,
    /// The fwctl node register access goes over: the handle's own (fwctl handle) or one
    /// attached to a PCI open ([`Device::attach_fwctl`], `open_fwctl_dev`).
    fwctl: Mutex<Option<Arc<FwctlNode>>>,
    /// The config-space companion of a memory-mapped open ([`Device::config_companion`]).
    companion: OnceCell<Box<Device>>,
    /// The buffer [`Device::alloc_dma_pages`] allocated and the driver pinned, until
    /// [`Device::free_dma_pages`].
    dma_buf: Mutex<Option<DmaBuffer>>,
}

impl Drop for Device {
    fn drop(&mut self) {
        let inner = self.inner.get_mut();
        // DMA pages still held: the driver releases them before the buffer goes (as stock's
        // mclose does).
        if let Some(buf) = self.dma_buf.get_mut().take() {
            let pages = buf.len / crate::access::driver::page_size() as usize;
            if let Some(Err(e)) = inner.access.dma_pages().map(|d| d.release(pages)) {
                log::debug!("releasing {pages} DMA pages at close: {e}");
            }
            drop(buf);
        }
        inner.access.close();
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("name", &self.name)
            .field("bdf", &self.info.bdf)
            .field("path", &self.kind)
            .field("gateway", &self.gw)
            .finish()
    }
}

impl Device {
    /// Open by any name form the stock library accepts (`05:00.0`, `0000:05:00.0`,
    /// `pciconf-...`, `.../config`, `.../resource0`, `/proc/bus/pci/...`, `mlx5_0`,
    /// `/dev/mst/mt4119_pciconf0`, ...).
    pub fn open(name: &str) -> Result<Device> {
        Self::open_with(name, &OpenOptions::default())
    }

    /// Open with options.
    pub fn open_with(name: &str, opts: &OpenOptions) -> Result<Device> {
        open::check_euid()?;
        Self::open_in(&SysfsRoot::default(), name, opts, Tuning::default())
    }

    /// Open under another filesystem root, with explicit protocol bounds (tests, tools). Does
    /// not check the effective uid.
    pub fn open_in(
        root: &SysfsRoot,
        name: &str,
        opts: &OpenOptions,
        tuning: Tuning,
    ) -> Result<Device> {
        Self::open_impl(root, name, opts, tuning, false)
    }

    /// Open preferring memory access (`mopen_adv` with a memory-only type mask): the drivers'
    /// memory nodes, then `resource0`, then the config paths, unless the name or a force
    /// decides otherwise.
    pub fn open_prefer_memory(name: &str, opts: &OpenOptions) -> Result<Device> {
        open::check_euid()?;
        Self::open_impl(&SysfsRoot::default(), name, opts, Tuning::default(), true)
    }

    fn open_impl(
        root: &SysfsRoot,
        name: &str,
        opts: &OpenOptions,
        tuning: Tuning,
        prefer_memory: bool,
    ) -> Result<Device> {
        let target = name::resolve(name, root)?;
        let bdf = match &target {
            Target::Fwctl { path } => return Self::open_fwctl_node(root, name, path),
            Target::File { bdf, .. } | Target::Node { bdf, .. } | Target::Bdf { bdf, .. } => *bdf,
        };
        // is_supported_device: a missing `device` attribute counts as supported.
        let dev_id = match sysfs::read_attr(&root.device_dir(bdf).join("device")) {
            None => None,
            Some(s) => {
                let id = sysfs::parse_u16_attr(&s).ok_or_else(|| {
                    Error::Unsupported(format!("{bdf}: unreadable PCI device id {:?}", s.trim()))
                })?;
                if !chips::is_supported(id) {
                    return Err(Error::Unsupported(format!(
                        "{bdf}: PCI device id {id:#06x} is not a supported Mellanox/NVIDIA device"
                    )));
                }
                Some(id)
            }
        };
        let info = enumerate::device_info(root, bdf).ok_or_else(|| {
            Error::NoDevice(format!("{bdf}: not in {}", root.pci_devices().display()))
        })?;
        if !enumerate::accepted(root, bdf) {
            return Err(Error::Unsupported(format!(
                "{bdf}: vendor {:#06x} is neither Mellanox (0x15b3) nor NVIDIA (0x10de)",
                info.vendor_id
            )));
        }
        let access = open::open(&open::Request {
            root,
            target: &target,
            bdf,
            force: opts.force,
            clear_semaphore: opts.clear_semaphore,
            tuning,
            pci_device_id: dev_id,
            prefer_memory,
        })?;
        Ok(Self::assemble(name.to_string(), info, root.clone(), access))
    }

    /// Open a fwctl node named by `name` (`fwctlN`, `/dev/fwctl/fwctlN`; `path` the node): a
    /// handle with register access only (`mfile.tp` MST_FWCTL_CONTROL_DRIVER), its PCI
    /// function found through `/sys/class/fwctl/fwctlN/device` (identity fields stay empty
    /// when it is not found).
    fn open_fwctl_node(root: &SysfsRoot, name: &str, path: &Path) -> Result<Device> {
        let access = FwctlAccess::open(path, FwctlOrigin::Named)?;
        let info = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| fwctl::node_bdf(root, n))
            .and_then(|b| enumerate::device_info(root, b))
            .unwrap_or_default();
        Ok(Self::assemble(
            name.to_string(),
            info,
            root.clone(),
            Box::new(access),
        ))
    }

    /// Attach the fwctl node of this device's PCI function (`open_fwctl_dev`): register
    /// access then goes over fwctl (one FWCTL_RPC each) instead of ICMD. Returns the node
    /// path; `NoDevice` when the function has no fwctl node.
    pub fn attach_fwctl(&self) -> Result<PathBuf> {
        self.attach_fwctl_for(self.info.bdf)
    }

    /// [`attach_fwctl`](Self::attach_fwctl) with the node of another function `bdf` (what
    /// `open_fwctl_dev` is given).
    pub fn attach_fwctl_for(&self, bdf: Bdf) -> Result<PathBuf> {
        let name = fwctl::node_name_for(&self.root, bdf).ok_or_else(|| {
            Error::NoDevice(format!(
                "{bdf}: no fwctl node (nothing in {} links to it)",
                fwctl::class_dir(&self.root).display()
            ))
        })?;
        let path = self.root.dev.join("fwctl").join(name);
        self.attach_fwctl_node(FwctlNode::open(&path)?);
        Ok(path)
    }

    /// Attach an open fwctl node (replacing, and closing, one attached before).
    pub fn attach_fwctl_node(&self, node: FwctlNode) {
        *self.fwctl.lock() = Some(Arc::new(node));
    }

    /// The fwctl node register access goes over, if any (a fwctl handle's own, or attached).
    pub fn fwctl_node(&self) -> Option<Arc<FwctlNode>> {
        self.fwctl.lock().clone()
    }

    /// A device over an open access path.
    fn assemble(
        name: String,
        info: DeviceInfo,
        root: SysfsRoot,
        mut access: Box<dyn Access>,
    ) -> Device {
        let open_hw_id = access.take_open_hw_id();
        let fwctl = access.fwctl();
        let window = access.shared_window();
        let kind = access.kind();
        let gw = access.gateway_info();
        let space = if gw.functional_vsec { AS_CR_SPACE } else { 0 };
        Device {
            name,
            info,
            kind,
            gw,
            space: AtomicU32::new(space),
            open_hw_id,
            window,
            root,
            inner: Mutex::new(Inner {
                access,
                config: None,
            }),
            proto: ProtoState::default(),
            fwctl: Mutex::new(fwctl),
            companion: OnceCell::new(),
            dma_buf: Mutex::new(None),
        }
    }

    /// A device over an already open access path (unit tests: the simulator's model in
    /// process). Identity fields are defaults.
    #[cfg(test)]
    pub(crate) fn from_access(access: Box<dyn Access>) -> Device {
        Self::assemble(
            String::new(),
            DeviceInfo::default(),
            SysfsRoot::default(),
            access,
        )
    }

    /// The name the device was opened with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The PCI function.
    pub fn bdf(&self) -> Bdf {
        self.info.bdf
    }

    /// What sysfs says about the function (ids, BDF, paths, ib/net devices).
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The access path in use.
    pub fn path(&self) -> PathKind {
        self.kind
    }

    /// `mfile.tp`: MST_PCICONF or MST_PCI (the stock numbers, for the path in use).
    pub fn mtype(&self) -> u32 {
        self.kind.mtype()
    }

    /// `mfile.flags` as the stock library reports them for the path in use.
    pub fn mdevs_flags(&self) -> u32 {
        self.kind.mdevs_flags()
    }

    /// Whether the path in use maps crspace (sysfs `resource0` or a driver's memory node).
    pub fn is_memory(&self) -> bool {
        self.kind.is_memory()
    }

    /// Whether accesses go through a functional VSEC gateway in config space (not a memory
    /// mapping): where the address spaces, the semaphore space and partial blocks exist.
    pub fn is_vsec_gateway(&self) -> bool {
        !self.is_memory() && self.functional_vsec()
    }

    /// Whether a functional VSEC gateway is in use (`mfile.functional_vsec_supp`).
    pub fn functional_vsec(&self) -> bool {
        self.gw.functional_vsec
    }

    /// `mfile.vsec_cap_mask` (userspace VCC_* bit numbering).
    pub fn vsec_cap_mask(&self) -> u32 {
        self.gw.cap_mask
    }

    /// Whether the PCI ("PXIR") spaces are supported (`mfile.pxir_vsec_supp`).
    pub fn pxir_vsec(&self) -> bool {
        self.gw.pxir
    }

    /// Config offset of the vendor capability in use (`mfile.vsec_addr`; 0 = none).
    pub fn vsec_addr(&self) -> u32 {
        self.gw.vsec_addr
    }

    /// Whether `space` is reachable: only through a VSEC gateway, for the spaces it supports
    /// (probed at open on the config path, on first use behind mstflint_access).
    pub fn supports_space(&self, space: u32) -> bool {
        self.gw.functional_vsec && self.inner.lock().access.supports_space(space)
    }

    /// Current address space (`mget_addr_space`).
    pub fn address_space(&self) -> u32 {
        self.space.load(Ordering::Relaxed)
    }

    /// Select the address space used by later accesses (`mset_addr_space`): only on a VSEC
    /// gateway, for spaces its probe found (else `SpaceNotSupported`, EINVAL).
    pub fn set_address_space(&self, space: u32) -> Result<()> {
        if !self.supports_space(space) {
            return Err(Error::SpaceNotSupported(space));
        }
        self.space.store(space, Ordering::Relaxed);
        Ok(())
    }

    /// Read one crspace dword (host order) in the current address space.
    pub fn read4(&self, addr: u32) -> Result<u32> {
        self.read4_in(self.address_space(), addr)
    }

    /// Write one crspace dword in the current address space.
    pub fn write4(&self, addr: u32, value: u32) -> Result<()> {
        self.write4_in(self.address_space(), addr, value)
    }

    /// The BAR mapping when accesses in `space` go straight to it, without `inner`'s lock
    /// (memory path without the ConnectX-3 flush, crspace).
    #[inline]
    fn window_for(&self, space: u32) -> Option<&Window> {
        self.window.as_deref().filter(|_| is_crspace(space))
    }

    /// The BAR mapping when accesses in the current address space go straight to it: the C
    /// layer's fast path for single dwords and blocks on `resource0`.
    #[inline]
    pub(crate) fn direct_window(&self) -> Option<&Window> {
        self.window_for(self.address_space())
    }

    /// Read one dword in an explicit address space (the current one is left unchanged).
    pub fn read4_in(&self, space: u32, addr: u32) -> Result<u32> {
        if let Some(w) = self.window_for(space) {
            return w.load(addr);
        }
        self.inner.lock().access.read4(space, addr)
    }

    /// Write one dword in an explicit address space.
    pub fn write4_in(&self, space: u32, addr: u32, value: u32) -> Result<()> {
        if let Some(w) = self.window_for(space) {
            return w.store(addr, value);
        }
        self.inner.lock().access.write4(space, addr, value)
    }

    /// Read `out.len()` consecutive dwords from `addr`. A failure part way is
    /// `Error::Partial { done_bytes, .. }`.
    pub fn read_block(&self, addr: u32, out: &mut [u32]) -> Result<()> {
        self.read_block_in(self.address_space(), addr, out)
    }

    /// Write `data.len()` consecutive dwords at `addr`; partial failures as for `read_block`.
    pub fn write_block(&self, addr: u32, data: &[u32]) -> Result<()> {
        self.write_block_in(self.address_space(), addr, data)
    }

    /// Check a whole block request before anything is touched: `bytes` from `addr` must not
    /// wrap past 4 GiB nor cross the path's address limit in `space` (the VSEC gateway's
    /// 2^30, the BAR map's size). EINVAL with a message otherwise.
    pub fn check_range(&self, space: u32, addr: u32, bytes: u64) -> Result<()> {
        range_ok(&*self.inner.lock().access, space, addr, bytes)
    }

    /// [`read_block`](Self::read_block) in an explicit address space.
    pub fn read_block_in(&self, space: u32, addr: u32, out: &mut [u32]) -> Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        if let Some(w) = self.window_for(space) {
            if w.load_block(addr, out) {
                return Ok(());
            }
        }
        let mut inner = self.inner.lock();
        range_ok(&*inner.access, space, addr, 4 * out.len() as u64)?;
        inner.access.read_block(space, addr, out)
    }

    /// [`write_block`](Self::write_block) in an explicit address space.
    pub fn write_block_in(&self, space: u32, addr: u32, data: &[u32]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if let Some(w) = self.window_for(space) {
            if w.store_block(addr, data) {
                return Ok(());
            }
        }
        let mut inner = self.inner.lock();
        range_ok(&*inner.access, space, addr, 4 * data.len() as u64)?;
        inner.access.write_block(space, addr, data)
    }

    /// Read `n` dwords from `addr` in the current address space as chunks of at most
    /// [`BLOCK_CHUNK`] dwords, each one [`read_block`](Self::read_block), into `to` (the
    /// caller's dword slice, or a [`ReadVia`] handing each chunk on). On failure: the bytes
    /// done (the chunks before and the part of the failing one) and the error.
    pub fn read_block_chunked(
        &self,
        addr: u32,
        n: usize,
        to: &mut (impl ReadInto + ?Sized),
    ) -> std::result::Result<(), (usize, Error)> {
        let mut i = 0;
        while i < n {
            let k = (n - i).min(BLOCK_CHUNK);
            let r = self.read_block(addr.wrapping_add((i * 4) as u32), to.chunk(i, k));
            let done = match &r {
                Ok(()) => k,
                Err(e) => (e.done_bytes() / 4).min(k),
            };
            to.filled(i, done);
            if let Err(e) = r {
                return Err(((i + done) * 4, e));
            }
            i += k;
        }
        Ok(())
    }

    /// Write `n` dwords at `addr` in the current address space as chunks of at most
    /// [`BLOCK_CHUNK`] dwords, each one [`write_block`](Self::write_block), taken from `from`
    /// (the caller's dword slice, or a [`WriteVia`] filling each chunk). On failure: the bytes
    /// done and the error.
    pub fn write_block_chunked(
        &self,
        addr: u32,
        n: usize,
        from: &mut (impl WriteFrom + ?Sized),
    ) -> std::result::Result<(), (usize, Error)> {
        let mut i = 0;
        while i < n {
            let k = (n - i).min(BLOCK_CHUNK);
            if let Err(e) = self.write_block(addr.wrapping_add((i * 4) as u32), from.chunk(i, k)) {
                let done = (e.done_bytes() / 4).min(k);
                return Err(((i + done) * 4, e));
            }
            i += k;
        }
        Ok(())
    }

    /// This process's owner-lock file of the device (ICMD and tools-HCR semaphores).
    pub(crate) fn owner_lock(&self) -> Option<Arc<LockFile>> {
        crate::access::lock::device_owner_lock(&self.root.lock_dir, self.info.bdf)
    }

    fn vpd_path(&self) -> PathBuf {
        self.root.device_dir(self.info.bdf).join("vpd")
    }

    /// Read 4 bytes of VPD at `offset` (any alignment).
    pub fn vpd_read4(&self, offset: u32) -> Result<[u8; 4]> {
        if let Some(r) = self.inner.lock().access.vpd_read4(offset) {
            return r;
        }
        vpd::read4(&self.vpd_path(), offset)
    }

    /// Whether VPD can be written on this path (a kernel driver's node; see
    /// [`vpd_write4`](Self::vpd_write4)).
    pub fn vpd_writable(&self) -> bool {
        self.kind.is_driver()
    }

    /// Read a semaphore dword (`MREAD4_SEMAPHORE`): in the semaphore space on a VSEC gateway
    /// ([`is_vsec_gateway`](Self::is_vsec_gateway)); elsewhere bit 31 of the dword at `offset`
    /// in the current space.
    pub fn read_semaphore(&self, offset: u32) -> Result<u32> {
        if self.is_vsec_gateway() {
            self.read4_in(AS_SEMAPHORE, offset)
        } else {
            Ok((self.read4(offset)? >> 31) & 1)
        }
    }

    /// Write a semaphore dword (`MWRITE4_SEMAPHORE`): in the semaphore space on a VSEC
    /// gateway, elsewhere at `offset` in the current space.
    pub fn write_semaphore(&self, offset: u32, value: u32) -> Result<()> {
        if self.is_vsec_gateway() {
            self.write4_in(AS_SEMAPHORE, offset, value)
        } else {
            self.write4(offset, value)
        }
    }

    /// Write 4 bytes of VPD at a dword-aligned `offset` (where the path supports it). The
    /// sysfs paths do not: `Error::NotSupported` (the C API returns ME_UNSUPPORTED_OPERATION).
    pub fn vpd_write4(&self, offset: u32, data: [u8; 4]) -> Result<()> {
        if let Some(r) = self.inner.lock().access.vpd_write4(offset, data) {
            return r;
        }
        vpd::write4(&self.vpd_path(), offset, data)
    }

    /// Pin `pages` pages of the page-aligned, locked user buffer at `user_buf` for DMA and
    /// return their bus addresses (`get_dma_pages`). Only kernel-driver paths can: elsewhere
    /// `Error::NotSupported`-like ENOTTY (what the ioctl gets on a sysfs file). At most 32
    /// pages on mstflint_access / mst_driver, 8 on MFT (EINVAL beyond).
    pub fn get_dma_pages(&self, user_buf: u64, pages: usize) -> Result<Vec<u64>> {
        if user_buf == 0 || !user_buf.is_multiple_of(crate::access::driver::page_size()) {
            return Err(Error::InvalidArgument(format!(
                "DMA buffer {user_buf:#x} is not page aligned"
            )));
        }
        let mut g = self.inner.lock();
        match g.access.dma_pages() {
            Some(d) => d.get(user_buf, pages),
            None => Err(no_dma(self.kind)),
        }
    }

    /// Release the pages pinned by [`get_dma_pages`](Self::get_dma_pages).
    pub fn release_dma_pages(&self, pages: usize) -> Result<()> {
        let mut g = self.inner.lock();
        match g.access.dma_pages() {
            Some(d) => d.release(pages),
            None => Err(no_dma(self.kind)),
        }
    }

    /// Allocate a zeroed, page-aligned, locked buffer of `pages` pages, have the driver pin it
    /// ([`get_dma_pages`](Self::get_dma_pages)) and keep it with the device until
    /// [`free_dma_pages`](Self::free_dma_pages) (or the device is dropped: the driver
    /// releases the pages first, as stock's `mclose`). `Busy` while a
    /// buffer is held; ENOMEM without memory; the driver's errors otherwise (the buffer is
    /// freed again).
    pub fn alloc_dma_pages(&self, pages: usize) -> Result<DmaPages> {
        let mut held = self.dma_buf.lock();
        if held.is_some() {
            return Err(Error::Busy(
                "DMA pages already held: release them first".into(),
            ));
        }
        let page_size = crate::access::driver::page_size();
        let buf = DmaBuffer::new(pages * page_size as usize, page_size as usize)?;
        let start = buf.addr as u64;
        let bus_addrs = self.get_dma_pages(start, pages)?;
        *held = Some(buf);
        Ok(DmaPages {
            buf: start,
            page_size,
            bus_addrs,
        })
    }

    /// Have the driver release `pages` pages pinned by
    /// [`alloc_dma_pages`](Self::alloc_dma_pages), then free the buffer (kept when the driver
    /// refuses).
    pub fn free_dma_pages(&self, pages: usize) -> Result<()> {
        self.release_dma_pages(pages)?;
        self.dma_buf.lock().take();
        Ok(())
    }

    /// The kernel-driver node's descriptor on driver paths (`mfile.fd`), else `None`.
    pub fn node_fd(&self) -> Option<i32> {
        self.inner.lock().access.node_fd()
    }

    /// The ConnectX ordering slot dword a memory-node open took (`mfile.connectx_wa_slot`).
    pub fn connectx_wa_slot(&self) -> Option<u32> {
        self.inner.lock().access.connectx_wa_slot()
    }

    /// Secondary-bus reset of one function, or of two in parallel, through the driver's
    /// PCICONF_HOT_RESET on the node in use (`hot_reset`); each function is
    /// `[domain, bus, device, function]`. The driver's non-negative result (1: a parallel
    /// reset failed). Without a driver node: ENOTTY (config) or EBADF (memory), as the stock
    /// library's ioctl on its `mf->fd` gets.
    pub fn hot_reset(&self, in_parallel: bool, dev1: [i32; 4], dev2: [i32; 4]) -> Result<i32> {
        use crate::access::driver::{Arg, HOT_RESET_SIZE};
        let mut a = Arg::new(HOT_RESET_SIZE);
        for (i, v) in dev1.iter().enumerate() {
            a.put(4 * i, *v as u32);
        }
        if in_parallel {
            for (i, v) in dev2.iter().enumerate() {
                a.put(16 + 4 * i, *v as u32);
            }
            a.put_u8(32, 1);
        }
        self.inner.lock().access.hot_reset(&mut a)
    }

    /// Most pages one `get_dma_pages` call takes on this path (0: none).
    pub fn max_dma_pages(&self) -> usize {
        self.inner
            .lock()
            .access
            .dma_pages()
            .map_or(0, |d| d.max_pages())
    }

    /// Read a PCI config-space dword (`read_dword_from_conf_space`). Uses the open config
    /// carrier, or opens sysfs `config` on first use when the device uses the memory path.
    pub fn read_config_dword(&self, offset: u32) -> Result<u32> {
        if offset & 3 != 0 || offset >= 4096 {
            return Err(Error::InvalidArgument(format!(
                "config offset {offset:#x} (must be dword aligned, below 0x1000)"
            )));
        }
        let mut g = self.inner.lock();
        let inner = &mut *g;
        if let Some(io) = inner.access.config_io() {
            return io.read_dword(offset);
        }
        if inner.config.is_none() {
            let p = self.root.device_dir(self.info.bdf).join("config");
            inner.config = Some(SysfsConfig::open(&p)?);
        }
        match inner.config.as_mut() {
            Some(c) => c.read_dword(offset),
            None => Err(Error::NotSupported("no config space".into())),
        }
    }

    /// A config-space dword as `read_dword_from_conf_space` answers it: through the driver's
    /// config-dword ioctl on a kernel-driver path; on other paths the ioctl has no node to go
    /// to, so ENOTTY, as upstream (whose function is that ioctl on `mf->fd`). Tools take a
    /// failure as "no driver" (mstflint then burns through register mailboxes, not by DMA);
    /// the library's own config reads use [`read_config_dword`](Self::read_config_dword).
    pub fn driver_config_dword(&self, offset: u32) -> Result<u32> {
        if !self.kind.is_driver() || self.kind == PathKind::Fwctl {
            return Err(Error::io(
                format!(
                    "config dword {offset:#x}: no driver node on the {} path",
                    self.kind.as_str()
                ),
                std::io::Error::from_raw_os_error(libc::ENOTTY),
            ));
        }
        self.read_config_dword(offset)
    }

    /// The config-space companion of a memory-mapped open: the same function opened on its
    /// config path (under the same root), on first use, then kept with this device. It is
    /// what `mpci_change` switches to, and what commands that stock runs in config space go
    /// over ([`config_side`](Self::config_side)). `NotSupported` on a config-space open.
    ///
    /// (Single config dwords, [`read_config_dword`](Self::read_config_dword), use a plain
    /// config file instead: opening a config path probes the VSEC gateway, which takes its
    /// semaphore.)
    pub fn config_companion(&self) -> Result<&Device> {
        if !self.is_memory() {
            return Err(Error::NotSupported(
                "no companion access to change to (config-space open)".into(),
            ));
        }
        let c = self.companion.get_or_try_init(|| {
            let opts = OpenOptions {
                clear_semaphore: false,
                force: Some(PathKind::SysfsConfig),
            };
            Device::open_in(&self.root, &self.info.dev_name(), &opts, Tuning::default())
                .map(Box::new)
        })?;
        Ok(c)
    }

    /// The companion, if [`config_companion`](Self::config_companion) opened it already.
    pub fn opened_companion(&self) -> Option<&Device> {
        self.companion.get().map(|c| &**c)
    }

    /// Where work that stock does in config space runs (tools-HCR commands, register access
    /// on a ConnectX-3): the config-space companion of a memory-mapped open (opened on first
    /// use); this device itself on a config-space open, or when the companion does not open
    /// (logged), as stock then stays where it is.
    pub fn config_side(&self) -> &Device {
        if !self.is_memory() {
            return self;
        }
        match self.config_companion() {
            Ok(c) if !c.is_memory() => c,
            Ok(_) => self,
            Err(e) => {
                log::debug!("no config-space companion: {e}");
                self
            }
        }
    }

    /// Whether register accesses go over the config-space companion: on a memory-mapped
    /// ConnectX-3 family device, whose tools HCR stock drives through config space.
    pub fn regs_need_config(&self) -> bool {
        self.is_memory()
            && matches!(self.hw_id_at_open(), Ok((hw, _)) if chips::is_connectx3_hw_id(hw))
    }

    /// The device register access runs on: [`config_side`](Self::config_side) when
    /// [`regs_need_config`](Self::regs_need_config), else this one. `access_reg` /
    /// `max_reg_size` ([`Crspace::reg_side`]) and the C `maccess_reg` all go this way.
    pub fn reg_device(&self) -> &Device {
        if self.regs_need_config() {
            self.config_side()
        } else {
            self
        }
    }

    /// The raw hw id dword read during the open (0 when the path read none).
    pub fn open_hw_id_raw(&self) -> u32 {
        self.open_hw_id.unwrap_or(0)
    }

    /// [`Device::hw_id`] as read during the open when the path did it on its way (the
    /// gateway's probe, the driver's crspace check, the BAR signature), else read now. The
    /// chip does not change while open: use it for chip-family decisions.
    pub fn hw_id_at_open(&self) -> Result<(u16, u16)> {
        match self.open_hw_id {
            Some(v) => Ok(split_hw_id(v)),
            None => self.hw_id(),
        }
    }

    /// The hw device id (bits 15:0 of crspace 0xf0014) and revision (bits 19:16).
    pub fn hw_id(&self) -> Result<(u16, u16)> {
        Ok(split_hw_id(self.read4_in(AS_CR_SPACE, HW_ID_ADDR)?))
    }

    /// Whether the function is in flash-recovery ("livefish") mode: its PCI device id is a
    /// HW id (`is_livefish_device`).
    pub fn is_livefish(&self) -> bool {
        chips::is_livefish_pci_id(self.info.device_id)
    }

    /// Whether the function is one of the ConnectX PCIe-switch (bridge) functions
    /// (`is_pcie_switch_device`).
    pub fn is_pcie_switch(&self) -> bool {
        chips::is_pcie_switch(self.info.device_id)
    }

    /// The whole hw id dword (crspace 0xf0014): read in crspace, else (a path without
    /// address spaces) in the current one.
    pub fn hw_id_dword(&self) -> Result<u32> {
        self.read4_in(AS_CR_SPACE, HW_ID_ADDR)
            .or_else(|_| self.read4(HW_ID_ADDR))
    }

    /// The "ZombieFish" recovery state (`is_zombiefish_device`) of this device, whose hw id
    /// dword is `hw_id` ([`hw_id_dword`](Self::hw_id_dword)): `None` when that chip cannot be
    /// in it. On the config-space gateway: recovery space dword 0 has both "initializing"
    /// (bit 0) and "in recovery" (bit 1) set; on the memory path (Quantum-3, NVLink6 switch)
    /// the low 16 bits of crspace 0x152080 read AUTHENTICATION_FAILURE; elsewhere not.
    pub fn zombiefish(&self, hw_id: u32) -> Result<Option<Zombiefish>> {
        if !chips::may_be_zombiefish(hw_id) {
            return Ok(None);
        }
        let state = if self.is_memory() {
            let zombie = chips::ZOMBIEFISH_MEMORY_HW_IDS.contains(&hw_id)
                && self.read4(ZOMBIEFISH_MEMORY_STATUS_ADDR)? & 0xffff == AUTHENTICATION_FAILURE;
            Zombiefish {
                zombie,
                flash_control_vld: None,
            }
        } else if self.functional_vsec() {
            let v = self.read4_in(AS_RECOVERY, 0)?;
            Zombiefish {
                zombie: v & 3 == 3,
                flash_control_vld: Some((v >> 2) & 1 != 0),
            }
        } else {
            Zombiefish {
                zombie: false,
                flash_control_vld: None,
            }
        };
        Ok(Some(state))
    }
}

/// Crspace dword whose low 16 bits read AUTHENTICATION_FAILURE on a memory-mapped device in
/// ZombieFish recovery.
const ZOMBIEFISH_MEMORY_STATUS_ADDR: u32 = 0x152080;

/// What [`Device::zombiefish`] finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zombiefish {
    /// Whether the device is in ZombieFish recovery.
    pub zombie: bool,
    /// Bit 2 of recovery space dword 0 ("flash control valid"), where it was read (the
    /// config-space gateway).
    pub flash_control_vld: Option<bool>,
}

/// DMA pages of [`Device::alloc_dma_pages`]: the buffer, and the bus address of each page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmaPages {
    /// Virtual address of the buffer (page aligned).
    pub buf: u64,
    /// Bytes per page.
    pub page_size: u64,
    /// Bus address of each page, in order.
    pub bus_addrs: Vec<u64>,
}

/// A zeroed, page-aligned, locked buffer from the C allocator (its address as a number, so
/// that the device stays `Send + Sync`), unlocked and freed on drop.
struct DmaBuffer {
    addr: usize,
    len: usize,
}

impl DmaBuffer {
    fn new(len: usize, align: usize) -> Result<DmaBuffer> {
        let mut p: *mut c_void = std::ptr::null_mut();
        // SAFETY: out-pointer to a local; `align` is the page size, a power of two multiple
        // of the pointer size.
        if unsafe { libc::posix_memalign(&mut p, align, len) } != 0 || p.is_null() {
            return Err(Error::io(
                "no memory for the DMA buffer",
                std::io::Error::from_raw_os_error(libc::ENOMEM),
            ));
        }
        // SAFETY: p is a fresh allocation of len bytes, ours alone.
        unsafe {
            std::ptr::write_bytes(p.cast::<u8>(), 0, len);
            libc::mlock(p, len);
        }
        Ok(DmaBuffer {
            addr: p as usize,
            len,
        })
    }
}

impl Drop for DmaBuffer {
    fn drop(&mut self) {
        let p = self.addr as *mut c_void;
        // SAFETY: the allocation `new` made and locked; freed once, here.
        unsafe {
            libc::munlock(p, self.len);
            libc::free(p);
        }
    }
}

/// Dwords per chunk of [`Device::read_block_chunked`] and [`Device::write_block_chunked`]:
/// bounds each locked transaction and the scratch memory whatever length the caller asks.
pub const BLOCK_CHUNK: usize = 16 * 1024;

/// The destination of [`Device::read_block_chunked`].
pub trait ReadInto {
    /// Where dwords `first .. first + len` of the transfer are read to.
    fn chunk(&mut self, first: usize, len: usize) -> &mut [u32];
    /// The first `done` dwords of the chunk at `first` hold data (fewer than asked after a
    /// failure).
    fn filled(&mut self, first: usize, done: usize) {
        let _ = (first, done);
    }
}

/// The caller's dwords, read in place.
impl ReadInto for [u32] {
    fn chunk(&mut self, first: usize, len: usize) -> &mut [u32] {
        &mut self[first..first + len]
    }
}

/// A [`ReadInto`] through a scratch chunk: `sink(first, dwords)` gets each chunk read (the
/// part done, after a failure).
pub struct ReadVia<F: FnMut(usize, &[u32])> {
    buf: Vec<u32>,
    sink: F,
}

impl<F: FnMut(usize, &[u32])> ReadVia<F> {
    /// Hand each chunk to `sink`.
    pub fn new(sink: F) -> Self {
        ReadVia {
            buf: Vec::new(),
            sink,
        }
    }
}

impl<F: FnMut(usize, &[u32])> ReadInto for ReadVia<F> {
    fn chunk(&mut self, _first: usize, len: usize) -> &mut [u32] {
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
        &mut self.buf[..len]
    }

    fn filled(&mut self, first: usize, done: usize) {
        (self.sink)(first, &self.buf[..done]);
    }
}

/// The source of [`Device::write_block_chunked`].
pub trait WriteFrom {
    /// Dwords `first .. first + len` of the transfer.
    fn chunk(&mut self, first: usize, len: usize) -> &[u32];
}

/// The caller's dwords, written as they are.
impl WriteFrom for &[u32] {
    fn chunk(&mut self, first: usize, len: usize) -> &[u32] {
        &self[first..first + len]
    }
}

/// A [`WriteFrom`] through a scratch chunk that `source(first, dwords)` fills.
pub struct WriteVia<F: FnMut(usize, &mut [u32])> {
    buf: Vec<u32>,
    source: F,
}

impl<F: FnMut(usize, &mut [u32])> WriteVia<F> {
    /// Have `source` fill each chunk.
    pub fn new(source: F) -> Self {
        WriteVia {
            buf: Vec::new(),
            source,
        }
    }
}

impl<F: FnMut(usize, &mut [u32])> WriteFrom for WriteVia<F> {
    fn chunk(&mut self, first: usize, len: usize) -> &[u32] {
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
        (self.source)(first, &mut self.buf[..len]);
        &self.buf[..len]
    }
}

/// The protocols (`crate::proto`) run over a `Device`'s crspace.
impl Crspace for Device {
    fn read4_in(&self, space: u32, addr: u32) -> Result<u32> {
        Device::read4_in(self, space, addr)
    }
    fn write4_in(&self, space: u32, addr: u32, value: u32) -> Result<()> {
        Device::write4_in(self, space, addr, value)
    }
    fn read_block_in(&self, space: u32, addr: u32, out: &mut [u32]) -> Result<()> {
        Device::read_block_in(self, space, addr, out)
    }
    fn write_block_in(&self, space: u32, addr: u32, data: &[u32]) -> Result<()> {
        Device::write_block_in(self, space, addr, data)
    }
    fn supports_space(&self, space: u32) -> bool {
        Device::supports_space(self, space)
    }
    fn read_config_dword(&self, offset: u32) -> Result<u32> {
        Device::read_config_dword(self, offset)
    }
    fn path(&self) -> PathKind {
        Device::path(self)
    }
    fn hw_id(&self) -> Result<(u16, u16)> {
        Device::hw_id(self)
    }
    fn hw_id_at_open(&self) -> Result<(u16, u16)> {
        Device::hw_id_at_open(self)
    }
    fn is_livefish(&self) -> bool {
        Device::is_livefish(self)
    }
    fn owner_lock(&self) -> Option<Arc<LockFile>> {
        Device::owner_lock(self)
    }
    fn fwctl_node(&self) -> Option<Arc<FwctlNode>> {
        Device::fwctl_node(self)
    }
    fn proto_state(&self) -> &ProtoState {
        &self.proto
    }
    fn reg_side(&self) -> &Self {
        self.reg_device()
    }
}

fn no_dma(kind: PathKind) -> Error {
    Error::io(
        format!(
            "DMA pages need a kernel driver (the {} path has none)",
            kind.as_str()
        ),
        std::io::Error::from_raw_os_error(libc::ENOTTY),
    )
}

/// The whole-range check of [`Device::check_range`] on an already locked path.
fn range_ok(access: &dyn Access, space: u32, addr: u32, bytes: u64) -> Result<()> {
    let end = u64::from(addr) + bytes;
    if end > 1u64 << 32 {
        return Err(Error::InvalidArgument(format!(
            "block of {bytes:#x} bytes at {addr:#x} wraps past 4 GiB"
        )));
    }
    match access.addr_limit(space) {
        Some(limit) if bytes > 0 && end > limit => Err(Error::InvalidArgument(format!(
            "block of {bytes:#x} bytes at {addr:#x} goes past the path's address limit \
             {limit:#x}"
        ))),
        _ => Ok(()),
    }
}

/// Open `name` with the semaphore forced free, then close (`mclear_pci_semaphore`).
pub fn clear_semaphore(name: &str) -> Result<()> {
    let opts = OpenOptions {
        clear_semaphore: true,
        force: None,
    };
    Device::open_with(name, &opts).map(drop)
}

/// `mdevices_info` (as opposed to `mdevices_info_v`): the functions of
/// [`enumerate::list`]`(mask, false)`, each opened once; PCIe-switch functions without a
/// functional VSEC are dropped. Any failing open fails the whole call (stock returns NULL).
pub fn list_opened(mask: u32) -> Result<Vec<DeviceInfo>> {
    let mut out = Vec::new();
    for info in enumerate::list(mask, false)? {
        let dev = Device::open(&info.dev_name())?;
        if dev.is_pcie_switch() && !dev.functional_vsec() {
            continue;
        }
        out.push(info);
    }
    Ok(out)
}

/// The fwctl device path (`/dev/fwctl/fwctlN`) of each function of `infos`, in order (None
/// for a function without a fwctl node): one scan of the fwctl class for all of them
/// (`dev_info.pci.fwctl_dev`).
pub fn fwctl_dev_paths(infos: &[DeviceInfo]) -> Vec<Option<String>> {
    let nodes = fwctl::list(&SysfsRoot::default());
    infos
        .iter()
        .map(|d| {
            nodes
                .iter()
                .find(|(_, b)| *b == Some(d.bdf))
                .map(|(n, _)| format!("/dev/fwctl/{n}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn device_is_send_sync() {
        assert_send_sync::<Device>();
    }

    use crate::pci::tests_support::FakeSys;

    fn t() -> Tuning {
        Tuning {
            sem_timeout: std::time::Duration::from_millis(50),
            flag_timeout: std::time::Duration::from_millis(20),
            ..Tuning::default()
        }
    }

    /// Write the dword `v` at byte `off` of a device's `resource0` (a plain file here; crspace is big endian).
    fn poke_bar(fs: &FakeSys, bdf: &str, off: u64, v: u32) {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(fs.dir(bdf).join("resource0"))
            .unwrap();
        f.write_all_at(&v.to_be_bytes(), off).unwrap();
    }

    #[test]
    fn config_companion_and_the_connectx3_register_device() {
        let fs = FakeSys::new("companion");
        fs.add_device("0000:07:00.0", 0x15b3, 0x1003);
        fs.add_device("0000:05:00.0", 0x15b3, 0x1017);
        poke_bar(&fs, "0000:07:00.0", u64::from(HW_ID_ADDR), 0x1f5);
        let root = fs.root();
        let o = OpenOptions::default();
        // A memory-mapped ConnectX-3: register access runs on the config-space companion,
        // opened once and kept.
        let d = Device::open_in(&root, "0000:07:00.0", &o, t()).unwrap();
        assert_eq!(d.path(), PathKind::SysfsMemory);
        assert_eq!(d.hw_id_at_open().unwrap(), (0x1f5, 0));
        assert!(d.opened_companion().is_none());
        assert!(d.regs_need_config());
        let r = d.reg_device();
        assert_eq!(r.path(), PathKind::SysfsConfig);
        assert!(std::ptr::eq(r, d.config_companion().unwrap()));
        assert!(std::ptr::eq(r, d.opened_companion().unwrap()));
        assert!(std::ptr::eq(d.config_side(), r));
        // The companion is a config open: no companion of its own, it is its own config side.
        assert_eq!(r.config_companion().unwrap_err().errno(), libc::EOPNOTSUPP);
        assert!(std::ptr::eq(r.config_side(), r) && std::ptr::eq(r.reg_device(), r));
        // Another memory-mapped chip keeps register access on its own path.
        let forced = OpenOptions {
            force: Some(PathKind::SysfsMemory),
            ..Default::default()
        };
        let m = Device::open_in(&root, "0000:05:00.0", &forced, t()).unwrap();
        assert_eq!(m.path(), PathKind::SysfsMemory);
        assert!(!m.regs_need_config());
        assert!(std::ptr::eq(m.reg_device(), &m));
        assert!(m.opened_companion().is_none());
        // ... while its config side is the companion.
        assert_eq!(m.config_side().path(), PathKind::SysfsConfig);
        // No config file: the companion does not open, the device stays its own config side.
        let c = Device::open_in(&root, "0000:07:00.0", &o, t()).unwrap();
        std::fs::remove_file(fs.dir("0000:07:00.0").join("config")).unwrap();
        assert!(c.config_companion().is_err());
        assert!(std::ptr::eq(c.config_side(), &c) && std::ptr::eq(c.reg_device(), &c));
    }

    #[test]
    fn zombiefish_on_the_memory_path() {
        let fs = FakeSys::new("zombie");
        fs.add_device("0000:05:00.0", 0x15b3, 0xd2f4);
        let root = fs.root();
        let forced = OpenOptions {
            force: Some(PathKind::SysfsMemory),
            ..Default::default()
        };
        let d = Device::open_in(&root, "0000:05:00.0", &forced, t()).unwrap();
        assert_eq!(d.hw_id_dword().unwrap(), 0);
        assert_eq!(d.zombiefish(0).unwrap(), None);
        assert_eq!(d.zombiefish(0x209).unwrap(), None);
        let no = Zombiefish {
            zombie: false,
            flash_control_vld: None,
        };
        // A chip that can be a zombie, but whose state is not read on this path.
        assert_eq!(d.zombiefish(0x218).unwrap(), Some(no));
        assert_eq!(d.zombiefish(0x25b).unwrap(), Some(no));
        poke_bar(
            &fs,
            "0000:05:00.0",
            u64::from(ZOMBIEFISH_MEMORY_STATUS_ADDR),
            0x1_ffa6,
        );
        poke_bar(&fs, "0000:05:00.0", u64::from(HW_ID_ADDR), 0x25b);
        assert_eq!(d.hw_id_dword().unwrap(), 0x25b);
        let yes = Zombiefish {
            zombie: true,
            flash_control_vld: None,
        };
        assert_eq!(d.zombiefish(0x25b).unwrap(), Some(yes));
        assert_eq!(d.zombiefish(0x278).unwrap(), Some(yes));
        assert_eq!(d.zombiefish(0x218).unwrap(), Some(no));
    }

    #[test]
    fn chunked_blocks_cross_chunk_boundaries() {
        let fs = FakeSys::new("chunks");
        fs.add_device("0000:05:00.0", 0x15b3, 0x1017);
        let forced = OpenOptions {
            force: Some(PathKind::SysfsMemory),
            ..Default::default()
        };
        let d = Device::open_in(&fs.root(), "0000:05:00.0", &forced, t()).unwrap();
        let n = 2 * BLOCK_CHUNK + 3;
        let data: Vec<u32> = (0..n as u32).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
        d.write_block_chunked(0x1000, n, &mut data.as_slice())
            .unwrap();
        let mut back = vec![0u32; n];
        d.read_block_chunked(0x1000, n, back.as_mut_slice())
            .unwrap();
        assert_eq!(back, data);
        // Through scratch chunks: every dword once, in order.
        let mut seen = Vec::new();
        let mut firsts = Vec::new();
        d.read_block_chunked(
            0x1000,
            n,
            &mut ReadVia::new(|first, dw: &[u32]| {
                firsts.push(first);
                seen.extend_from_slice(dw);
            }),
        )
        .unwrap();
        assert_eq!(seen, data);
        assert_eq!(firsts, [0, BLOCK_CHUNK, 2 * BLOCK_CHUNK]);
        d.write_block_chunked(
            0x1000,
            n,
            &mut WriteVia::new(|first, dw: &mut [u32]| {
                for (i, v) in dw.iter_mut().enumerate() {
                    *v = !data[first + i];
                }
            }),
        )
        .unwrap();
        d.read_block_chunked(0x1000, n, back.as_mut_slice())
            .unwrap();
        assert!(back.iter().zip(&data).all(|(b, v)| *b == !*v));
        // Past the end of the 64 MiB map: refused before anything moves (0 bytes done).
        let (done, e) = d
            .read_block_chunked(0x400_0000 - 8, 4, back.as_mut_slice())
            .unwrap_err();
        assert_eq!((done, e.errno()), (0, libc::EINVAL));
    }

    #[test]
    fn dma_pages_through_a_driver_are_released_at_close() {
        let Some(_sim) = mtcr_sim::testing::in_sim(
            concat!(
                module_path!(),
                "::dma_pages_through_a_driver_are_released_at_close"
            ),
            "[[device]]\nbdf = \"0000:06:00.0\"\nmodel = \"connectx4\"\n\
             driver = \"mstflint_access\"\n",
        ) else {
            return;
        };
        let d = Device::open("0000:06:00.0").unwrap();
        assert_eq!(d.path(), PathKind::MstflintAccess);
        let p = d.alloc_dma_pages(3).unwrap();
        assert_eq!(p.bus_addrs.len(), 3);
        assert!(p.bus_addrs.iter().all(|&a| a != 0), "{:x?}", p.bus_addrs);
        assert!(p.buf != 0 && p.buf.is_multiple_of(p.page_size));
        // SAFETY: the buffer is ours, 3 pages long, alive until free_dma_pages.
        let bytes = unsafe { std::slice::from_raw_parts(p.buf as *const u8, 3 * 4096) };
        assert!(bytes.iter().all(|&b| b == 0));
        assert_eq!(d.alloc_dma_pages(1).unwrap_err().errno(), libc::EBUSY);
        d.free_dma_pages(3).unwrap();
        d.alloc_dma_pages(2).unwrap();
        // Closed while held: the driver is told to release them (the node keeps one
        // allocation across opens), so the next open pins again.
        drop(d);
        let d = Device::open("0000:06:00.0").unwrap();
        d.alloc_dma_pages(2).unwrap();
        d.free_dma_pages(2).unwrap();
    }

    #[test]
    fn register_access_on_a_memory_mapped_connectx3_goes_over_config() {
        use crate::proto::Registers;
        let Some(_sim) = mtcr_sim::testing::in_sim(
            concat!(
                module_path!(),
                "::register_access_on_a_memory_mapped_connectx3_goes_over_config"
            ),
            "[[device]]\nbdf = \"0000:07:00.0\"\nmodel = \"connectx3\"\n\
             gateway = \"legacy\"\ntools_hcr = true\n",
        ) else {
            return;
        };
        let d = Device::open("0000:07:00.0").unwrap();
        assert_eq!(d.path(), PathKind::SysfsMemory);
        assert!(d.regs_need_config());
        assert!(d.opened_companion().is_none());
        // As the C maccess_reg: the tools HCR over the config-space companion.
        assert_eq!(d.max_reg_size(), 268);
        let c = d
            .opened_companion()
            .expect("companion opened for the register path");
        assert_eq!(c.path(), PathKind::SysfsConfig);
        let mut mgir = [0u8; 160];
        let r = d.access_reg(0x9020, 1, &mut mgir, 160, 160).unwrap();
        assert_eq!(r.status, 0);
        assert_eq!(u16::from_be_bytes([mgir[2], mgir[3]]), 0x1f5, "MGIR hw id");
        assert!(std::ptr::eq(d.opened_companion().unwrap(), c));
    }

    #[test]
    fn dma_pages_need_a_driver() {
        let fs = FakeSys::new("dma");
        fs.add_device("0000:05:00.0", 0x15b3, 0x1017);
        let d = Device::open_in(&fs.root(), "05:00.0", &OpenOptions::default(), t()).unwrap();
        assert_eq!(d.alloc_dma_pages(1).unwrap_err().errno(), libc::ENOTTY);
        // Nothing is held after the failure: the next attempt fails the same way.
        assert_eq!(d.alloc_dma_pages(2).unwrap_err().errno(), libc::ENOTTY);
        assert_eq!(d.free_dma_pages(1).unwrap_err().errno(), libc::ENOTTY);
    }

    #[test]
    fn open_over_plain_files() {
        // A plain config file has no capability list: the legacy window is used, as the
        // stock tools do on such a file; resource0 is a plain 64 MiB file.
        let fs = FakeSys::new("api");
        fs.add_device("0000:05:00.0", 0x15b3, 0x1017);
        fs.add_device("0000:07:00.0", 0x15b3, 0x1003);
        fs.add_device("0000:08:00.0", 0x15b3, 0x6340);
        fs.add_device("0000:09:00.0", 0x8086, 0x1017);
        let root = fs.root();
        let o = OpenOptions::default();
        let d = Device::open_in(&root, "05:00.0", &o, t()).unwrap();
        assert_eq!(d.path(), PathKind::SysfsConfig);
        assert_eq!((d.mtype(), d.mdevs_flags()), (0x10, 0x20));
        assert!(!d.functional_vsec());
        assert_eq!(d.address_space(), 0);
        assert_eq!(
            d.set_address_space(AS_CR_SPACE).unwrap_err().errno(),
            libc::EINVAL
        );
        assert_eq!(d.read_config_dword(0).unwrap(), 0x1017_15b3);
        assert_eq!(d.info().device_id, 0x1017);
        assert_eq!(d.name(), "05:00.0");
        assert!(root.lock_dir.join("0000:05:00.0_config").exists());
        drop(d);

        let d = Device::open_in(
            &root,
            "/sys/bus/pci/devices/0000:05:00.0/resource0",
            &o,
            t(),
        )
        .unwrap();
        assert_eq!(d.path(), PathKind::SysfsMemory);
        assert_eq!(d.mtype(), 0x8);
        d.write4(0x100, 0xabcd).unwrap();
        assert_eq!(d.read4(0x100).unwrap(), 0xabcd);
        let mut out = [0u32; 3];
        d.read_block(0xfc, &mut out).unwrap();
        assert_eq!(out, [0, 0xabcd, 0]);
        assert_eq!(d.hw_id().unwrap(), (0, 0));
        assert_eq!(d.read_config_dword(0).unwrap(), 0x1017_15b3);
        assert_eq!(
            d.vpd_write4(0, [0; 4]).unwrap_err().errno(),
            libc::EOPNOTSUPP
        );

        // ConnectX-3: memory first.
        let d = Device::open_in(&root, "0000:07:00.0", &o, t()).unwrap();
        assert_eq!(d.path(), PathKind::SysfsMemory);
        let forced = OpenOptions {
            force: Some(PathKind::SysfsConfig),
            ..Default::default()
        };
        let d = Device::open_in(&root, "0000:07:00.0", &forced, t()).unwrap();
        assert_eq!(d.path(), PathKind::SysfsConfig);
        // ... falling back to config when resource0 is unusable.
        std::fs::remove_file(fs.dir("0000:07:00.0").join("resource0")).unwrap();
        let d = Device::open_in(&root, "0000:07:00.0", &o, t()).unwrap();
        assert_eq!(d.path(), PathKind::SysfsConfig);

        let e = Device::open_in(&root, "0000:08:00.0", &o, t()).unwrap_err();
        assert_eq!(e.errno(), libc::ENOTSUP);
        let e = Device::open_in(&root, "0000:09:00.0", &o, t()).unwrap_err();
        assert_eq!(e.errno(), libc::ENOTSUP);
        let e = Device::open_in(&root, "0000:0a:00.0", &o, t()).unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT);
        let e = Device::open_in(&root, "bogus name", &o, t()).unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL);

        // No sysfs config: the procfs file serves (as stock falls back).
        let cfg = fs.dir("0000:05:00.0").join("config");
        let proc_dir = root.proc.join("bus/pci/05");
        std::fs::create_dir_all(&proc_dir).unwrap();
        std::fs::rename(&cfg, proc_dir.join("00.0")).unwrap();
        let d = Device::open_in(&root, "05:00.0", &o, t()).unwrap();
        assert_eq!(d.path(), PathKind::SysfsConfig);
        let d = Device::open_in(&root, "/proc/bus/pci/05/00.0", &o, t()).unwrap();
        assert_eq!(d.path(), PathKind::SysfsConfig);
        std::fs::rename(proc_dir.join("00.0"), &cfg).unwrap();

        // Truncated config (container): resource0 still serves, unless config was asked
        // for, or there is no resource0: then a clear error.
        std::fs::write(fs.dir("0000:05:00.0").join("config"), [0u8; 64]).unwrap();
        let d = Device::open_in(&root, "05:00.0", &o, t()).unwrap();
        assert_eq!(d.path(), PathKind::SysfsMemory);
        let forced = OpenOptions {
            force: Some(PathKind::SysfsConfig),
            ..Default::default()
        };
        let e = Device::open_in(&root, "05:00.0", &forced, t()).unwrap_err();
        assert_eq!(e.errno(), libc::EPERM);
        assert!(e.to_string().contains("truncated to 64 bytes"), "{e}");
        std::fs::remove_file(fs.dir("0000:05:00.0").join("resource0")).unwrap();
        let e = Device::open_in(&root, "05:00.0", &o, t()).unwrap_err();
        assert_eq!(e.errno(), libc::EPERM);
        assert!(e.to_string().contains("truncated to 64 bytes"), "{e}");
    }
}
