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

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::access::fwctl::{self, FwctlAccess, FwctlNode, FwctlOrigin};
use crate::access::gateway::Tuning;
use crate::access::lock::LockFile;
use crate::access::mmio::Window;
use crate::access::sysfs_config::SysfsConfig;
use crate::access::PathKind;
use crate::access::{is_crspace, vpd, Access, ConfigIo, GatewayInfo};
use crate::chips;
use crate::defs::{AS_CR_SPACE, HW_ID_ADDR};
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
}

impl Drop for Device {
    fn drop(&mut self) {
        self.inner.get_mut().access.close();
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
