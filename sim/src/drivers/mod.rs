//! Kernel-driver ioctl ABIs served on the simulated driver nodes.
//!
//! Four kernel interfaces are modelled (facts: `shared/reference/kernel_abis.md`):
//! * mstflint's own `mstflint_access` (§3.1) on `/dev/DDDD:BB:DD.F_mstconf` — [`mstflint_access`];
//! * the unified `mst_driver` Gen-1 (§2.2), in mstflint mode (`_mstconf` / `_mstcr`) and in MFT
//!   mode (`/dev/mst/mt<id>_pci_pciconf<f>` / `..._pci_pci_cr<f>`) — [`mst_driver`];
//! * MFT's legacy `mst_pciconf` and `mst_pci` (§4.1) on `/dev/mst/mt<id>_pciconf<n>` /
//!   `mt<id>_pci_cr<n>` — [`mft`].
//!
//! Entry points used by the runtime: [`nodes_for`] (or [`nodes_for_all`]), [`ioctl`],
//! [`ioctl_name`], [`mmap_allowed`], [`FdState`] (one per open file description; dropping it is
//! the `release()` of the node, which frees the fd's ConnectX work-around slot).
//!
//! State the kernel keeps per device node (per minor) — "stopped" flag, DMA pinning, MFT INIT
//! binding, work-around slots — lives in a registry keyed by the device object and node kind, so
//! it outlives one open file like the kernel's does. [`forget_device`] drops it (for tests that
//! create and destroy devices).
//!
//! Where the real kernel would overrun a buffer, crash or deadlock, the model returns an error
//! instead and logs a warning; each such place says so.

pub mod fwctl;
pub mod mft;
pub mod mst_driver;
pub mod mstflint_access;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::config::{parse_bdf, DeviceConfig, DriverKind};
use crate::model::{Errno, SimDevice};

// ------------------------------------------------------------------------------------------
// ioctl number encoding (x86_64 / asm-generic)

// Defined once in `mtcr-sim-abi` (the preload uses the same functions).
pub use mtcr_sim_abi::ioc::{
    io, ioc, ioc_dir, ioc_size, ior, iow, iowr, IOC_NONE, IOC_READ, IOC_WRITE,
};

// ------------------------------------------------------------------------------------------
// Shared constants

/// Address spaces (VSEC space numbers).
pub const SPACE_ICMD_EXT: u32 = 0x1;
pub const SPACE_CR: u32 = 0x2;
pub const SPACE_ICMD: u32 = 0x3;
pub const SPACE_SEMAPHORE: u32 = 0xa;
/// Block ioctls carry at most this many data bytes (the kernel buffers are this big).
pub const MAX_BLOCK_BYTES: usize = 256;
/// The simulated BAR0 size (crspace, served by `resource0` and MFT's mst_pci mmap).
pub const BAR0_SIZE: u64 = 0x400_0000;
/// ConnectX work-around slots per device.
pub const CONNECTX_WA_SLOTS: usize = 3;
/// Fake bus address of DMA page `i` of a pinned buffer.
pub const fn fake_dma_address(i: u64) -> u64 {
    0x1000_0000 + i * 4096
}

// ------------------------------------------------------------------------------------------
// Nodes

/// Which driver node an fd is open on (decides the ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// mstflint_access: `/dev/DDDD:BB:DD.F_mstconf`.
    MstflintAccessConf,
    /// Gen-1 mst_driver, mstflint mode: `/dev/DDDD:BB:DD.F_mstconf`.
    MstDriverConf,
    /// Gen-1 mst_driver, mstflint mode: `/dev/DDDD:BB:DD.F_mstcr` (ConnectX-3 family only).
    MstDriverCr,
    /// Gen-1 mst_driver, MFT mode: `/dev/mst/mt<id>_pci_pciconf<func>`.
    MstDriverMftConf,
    /// Gen-1 mst_driver, MFT mode: `/dev/mst/mt<id>_pci_pci_cr<func>` (ConnectX-3 family only).
    MstDriverMftCr,
    /// MFT mst_pciconf: `/dev/mst/mt<id>_pciconf<n>`.
    MftPciconf,
    /// MFT mst_pci: `/dev/mst/mt<id>_pci_cr<n>`.
    MftPciCr,
}

impl NodeKind {
    pub const ALL: [NodeKind; 7] = [
        NodeKind::MstflintAccessConf,
        NodeKind::MstDriverConf,
        NodeKind::MstDriverCr,
        NodeKind::MstDriverMftConf,
        NodeKind::MstDriverMftCr,
        NodeKind::MftPciconf,
        NodeKind::MftPciCr,
    ];
    fn is_gen1(self) -> bool {
        matches!(
            self,
            NodeKind::MstDriverConf
                | NodeKind::MstDriverCr
                | NodeKind::MstDriverMftConf
                | NodeKind::MstDriverMftCr
        )
    }
}

/// One node to create under `/dev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Absolute path, e.g. "/dev/0000:05:00.0_mstconf" or "/dev/mst/mt4119_pciconf0".
    pub path: String,
    pub kind: NodeKind,
}

/// PCI device ids the Gen-1 mst_driver creates a config node for (`mst_device.c` tables).
pub const GEN1_SUPPORTED_IDS: &[u16] = &[
    4099, 4103, 4113, 4115, 4117, 4119, 4121, 4123, 4125, 4127, 41682, 41686, 0x1f6, 0x1f8, 0x1ff,
    0x209, 0x20b, 0x20d, 0x20f, 0x212, 0x216, 0x211,
];
/// ConnectX-3 / ConnectX-3 Pro: the only ids that also get a memory (`cr`) node from Gen-1.
pub const CX3_IDS: &[u16] = &[4099, 4103];

/// Nodes for one device, as if it were the only device with its PCI device id.
///
/// * `mstflint_access`: `_mstconf` only (the `_mstcr` creation is unreachable in the real
///   module); none for a virtual function (the module skips VFs).
/// * `mst_driver` (Gen-1): nodes only for ids in [`GEN1_SUPPORTED_IDS`] (e.g. none for a
///   ConnectX-7, none for a VF); the memory node only for ConnectX-3 / ConnectX-3 Pro. MFT mode names end in
///   the PCI *function* number.
/// * MFT legacy: `mt<id>_pciconf<n>` and `mt<id>_pci_cr<n>` with `n` = 0 here; use
///   [`nodes_for_all`] to number several devices with one id.
pub fn nodes_for(cfg: &DeviceConfig) -> Vec<NodeSpec> {
    nodes_for_all(std::slice::from_ref(cfg))
        .pop()
        .unwrap_or_default()
}

/// Nodes for every device of a configuration (same order as `cfgs`). MFT legacy nodes are
/// numbered per PCI device id: the n-th distinct slot (domain:bus:dev, in BDF order) with that
/// id gets `<n>`, and functions other than 0 get a `.F` suffix (`mt4119_pciconf0.1`, the MFT
/// `mst start` convention). Gen-1 MFT-mode names of two cards with the same id collide: the
/// real driver's second `device_create` fails, so only the first device (in BDF order) gets them.
pub fn nodes_for_all(cfgs: &[DeviceConfig]) -> Vec<Vec<NodeSpec>> {
    let mut taken = std::collections::HashSet::new();
    // Devices in BDF order for numbering and collision decisions.
    let mut order: Vec<usize> = (0..cfgs.len()).collect();
    order.sort_by_key(|&i| parse_bdf(&cfgs[i].bdf.to_ascii_lowercase()));
    let mut out = vec![Vec::new(); cfgs.len()];
    for &i in &order {
        let cfg = &cfgs[i];
        let Some((dom, bus, dev, func)) = parse_bdf(&cfg.bdf.to_ascii_lowercase()) else {
            continue;
        };
        let Ok(info) = crate::config::ModelInfo::lookup(&cfg.model) else {
            continue;
        };
        let id = info.pci_device_id;
        let dbdf = format!("{dom:04x}:{bus:02x}:{dev:02x}.{func:x}");
        // A simulated VF carries its PF's device id; real VF ids (e.g. 4120) are not in the
        // Gen-1 tables, so VFs get no Gen-1 node.
        let gen1_matches = GEN1_SUPPORTED_IDS.contains(&id) && cfg.physfn.is_none();
        let mut push = |path: String, kind: NodeKind| {
            if taken.insert(path.clone()) {
                out[i].push(NodeSpec { path, kind });
            }
        };
        match cfg.driver {
            DriverKind::None => {}
            DriverKind::MstflintAccess => {
                if cfg.physfn.is_none() {
                    push(format!("/dev/{dbdf}_mstconf"), NodeKind::MstflintAccessConf);
                }
            }
            DriverKind::MstDriver => {
                if gen1_matches {
                    push(format!("/dev/{dbdf}_mstconf"), NodeKind::MstDriverConf);
                    if CX3_IDS.contains(&id) {
                        push(format!("/dev/{dbdf}_mstcr"), NodeKind::MstDriverCr);
                    }
                }
            }
            DriverKind::MstDriverMft => {
                if gen1_matches {
                    push(
                        format!("/dev/mst/mt{id}_pci_pciconf{func}"),
                        NodeKind::MstDriverMftConf,
                    );
                    if CX3_IDS.contains(&id) {
                        push(
                            format!("/dev/mst/mt{id}_pci_pci_cr{func}"),
                            NodeKind::MstDriverMftCr,
                        );
                    }
                }
            }
            DriverKind::MftLegacy => {
                // Instance number: index of this slot among the distinct slots with this id.
                let mut slots: Vec<(u16, u8, u8)> = cfgs
                    .iter()
                    .filter(|c| {
                        c.driver == DriverKind::MftLegacy
                            && crate::config::ModelInfo::lookup(&c.model)
                                .map(|m| m.pci_device_id == id)
                                .unwrap_or(false)
                    })
                    .filter_map(|c| parse_bdf(&c.bdf.to_ascii_lowercase()))
                    .map(|(d, b, s, _)| (d, b, s))
                    .collect();
                slots.sort();
                slots.dedup();
                let n = slots
                    .iter()
                    .position(|s| *s == (dom, bus, dev))
                    .unwrap_or(0);
                let suffix = if func == 0 {
                    String::new()
                } else {
                    format!(".{func}")
                };
                push(
                    format!("/dev/mst/mt{id}_pciconf{n}{suffix}"),
                    NodeKind::MftPciconf,
                );
                push(
                    format!("/dev/mst/mt{id}_pci_cr{n}{suffix}"),
                    NodeKind::MftPciCr,
                );
            }
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// What the driver models need from a device

/// The device operations the driver models use. Implemented for the model's [`SimDevice`];
/// tests may implement it for a fake.
pub trait DriverDevice {
    /// (domain, bus, device, function).
    fn location(&self) -> (u16, u8, u8, u8);
    /// Crspace dword through the VSEC gateway with `space` (semaphore, space select, flag).
    fn gw_read(&self, space: u32, addr: u32) -> Result<u32, Errno>;
    fn gw_write(&self, space: u32, addr: u32, value: u32) -> Result<(), Errno>;
    /// Crspace dword through the legacy 0x58/0x5c window (no space).
    fn legacy_read(&self, addr: u32) -> Result<u32, Errno>;
    fn legacy_write(&self, addr: u32, value: u32) -> Result<(), Errno>;
    /// Crspace dword through the BAR (memory-mapped access, big-endian conversion done).
    fn mem_read(&self, addr: u32) -> Result<u32, Errno>;
    fn mem_write(&self, addr: u32, value: u32) -> Result<(), Errno>;
    /// Kernel-side config-space dword read.
    fn config_dword(&self, off: u32) -> Result<u32, Errno>;
    /// VPD dword through the VPD capability (data bytes in VPD order).
    fn vpd_read4(&self, off: u32) -> Result<[u8; 4], Errno>;
    fn vpd_write4(&self, off: u32, data: [u8; 4]) -> Result<(), Errno>;
    /// Offset of a *functional* VSEC.
    fn vsec_offset(&self) -> Option<u32>;
    fn space_supported(&self, space: u32) -> bool;
    /// Whether the VSEC semaphore cannot be taken now (another owner holds it).
    fn semaphore_busy(&self) -> bool;
    fn count_ioctl(&self, name: &str);
    /// A counted device access with no effect, for ioctls that do not otherwise touch the
    /// device (so the access-count, vanish and delay faults apply to them too).
    fn gate(&self) -> Result<(), Errno>;
    /// BAR0 bus address (the sysfs `resource` start).
    fn bar0_address(&self) -> u64 {
        bar0_from_config(self)
    }
    /// Key of this device in the per-node state registry.
    fn state_key(&self) -> usize;
    /// Pages pinned by GET_DMA_PAGES became visible to the device at `bus` (the device's
    /// DMA then reaches `va..` of process `pid`). Default: the device does no DMA.
    fn dma_map(&self, _bus: u64, _va: u64, _pages: u32, _pid: i32) {}
    /// The pages mapped at `bus` were released.
    fn dma_unmap(&self, _bus: u64) {}
}

impl DriverDevice for SimDevice {
    fn location(&self) -> (u16, u8, u8, u8) {
        parse_bdf(&self.bdf().to_ascii_lowercase()).unwrap_or((0, 0, 0, 0))
    }
    fn gw_read(&self, space: u32, addr: u32) -> Result<u32, Errno> {
        self.cr_read(space, addr)
    }
    fn gw_write(&self, space: u32, addr: u32, value: u32) -> Result<(), Errno> {
        self.cr_write(space, addr, value)
    }
    // Without a functional VSEC the model's kernel access goes through the legacy window
    // (space ignored). On a VSEC device, which has no legacy window in this model, the
    // driver's legacy access is approximated by a CR-space gateway access.
    fn legacy_read(&self, addr: u32) -> Result<u32, Errno> {
        self.cr_read(SPACE_CR, addr)
    }
    fn legacy_write(&self, addr: u32, value: u32) -> Result<(), Errno> {
        self.cr_write(SPACE_CR, addr, value)
    }
    fn mem_read(&self, addr: u32) -> Result<u32, Errno> {
        self.access_gate()?;
        Ok(self.crspace().read(addr))
    }
    fn mem_write(&self, addr: u32, value: u32) -> Result<(), Errno> {
        self.access_gate()?;
        self.crspace().write(addr, value);
        Ok(())
    }
    fn config_dword(&self, off: u32) -> Result<u32, Errno> {
        SimDevice::config_dword(self, off)
    }
    fn vpd_read4(&self, off: u32) -> Result<[u8; 4], Errno> {
        SimDevice::vpd_read4(self, off)
    }
    fn vpd_write4(&self, off: u32, data: [u8; 4]) -> Result<(), Errno> {
        SimDevice::vpd_write4(self, off, data)
    }
    fn vsec_offset(&self) -> Option<u32> {
        SimDevice::vsec_offset(self)
    }
    fn space_supported(&self, space: u32) -> bool {
        SimDevice::space_supported(self, space)
    }
    /// Only a semaphore held forever counts: the kernel retries for seconds, and the model's
    /// gateway access itself waits out (or reports EBUSY for) a time-limited hold.
    fn semaphore_busy(&self) -> bool {
        self.faults().semaphore_held_forever
    }
    fn count_ioctl(&self, name: &str) {
        SimDevice::count_ioctl(self, name)
    }
    fn gate(&self) -> Result<(), Errno> {
        self.access_gate()
    }
    fn bar0_address(&self) -> u64 {
        SimDevice::bar0_address(self)
    }
    fn state_key(&self) -> usize {
        self as *const SimDevice as usize
    }
    fn dma_map(&self, bus: u64, va: u64, pages: u32, pid: i32) {
        self.host_memory().map(crate::model::dma::DmaMapping {
            bus,
            va,
            pages,
            pid,
        });
    }
    fn dma_unmap(&self, bus: u64) {
        self.host_memory().unmap(bus);
    }
}

// ------------------------------------------------------------------------------------------
// Per-node (per-minor) and per-fd state

/// DMA pages pinned by GET_DMA_PAGES (one outstanding allocation per node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DmaPin {
    pub start: u64,
    pub pages: u32,
    /// The pinning process (the caller of the ioctl; 0 when not known).
    pub pid: i32,
}

/// What an MFT INIT bound a minor to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MftBinding {
    /// mst_pciconf: gateway registers given to INIT.
    pub addr_reg: u32,
    pub data_reg: u32,
    /// mst_pci: BAR start / size recorded by PCI_INIT.
    pub bar_start: u64,
    pub bar_size: u64,
}

/// State the kernel keeps per device node.
#[derive(Debug, Default)]
pub struct NodeState {
    /// mstflint_access: PCICONF_STOP marked the device uninitialized.
    pub(crate) stopped: bool,
    /// Work-around slots in use (mstflint_access / mst_pci: per fd, released on close).
    pub(crate) wa_slots: [bool; CONNECTX_WA_SLOTS],
    /// Gen-1: number of PCI_CONNECTX_WA calls (the slot is per device, never released).
    pub(crate) wa_calls: u32,
    pub(crate) dma: Option<DmaPin>,
    /// Gen-1: MST_INIT on a VSEC node moved the semaphore offset to VSEC+0xa.
    pub(crate) sem_corrupted: bool,
    /// Gen-1: an ioctl returned while still holding the device mutex; every later ioctl on
    /// the device would block forever in the real kernel.
    pub(crate) wedged: bool,
    /// MFT: binding made by INIT (None = unbound).
    pub(crate) mft: Option<MftBinding>,
    /// MFT mst_pciconf: capability mask computed (MFT kernel numbering), once per binding.
    pub(crate) cap_mask: Option<u32>,
}

type NodeRef = Arc<Mutex<NodeState>>;

static REGISTRY: Mutex<Option<HashMap<(usize, NodeKind), NodeRef>>> = Mutex::new(None);

fn node_state<D: DriverDevice + ?Sized>(dev: &D, kind: NodeKind) -> NodeRef {
    let mut reg = REGISTRY.lock();
    reg.get_or_insert_with(HashMap::new)
        .entry((dev.state_key(), kind))
        .or_default()
        .clone()
}

/// Drop the kernel-side node state of a device (call before dropping a device in tests that
/// create many; the runtime's devices live for the whole run).
pub fn forget_device(dev: &SimDevice) {
    forget_key(DriverDevice::state_key(dev));
}

pub(crate) fn forget_key(key: usize) {
    if let Some(m) = REGISTRY.lock().as_mut() {
        m.retain(|(k, _), _| *k != key);
    }
}

/// Per open file description of a driver node. `Default` is an fd opened O_RDWR; dropping it
/// is the node's `release()` (frees the fd's ConnectX work-around slot).
pub struct FdState {
    /// The node's kernel-side state and which (device, kind) it belongs to.
    node: Option<NodeRef>,
    attached: Option<(usize, NodeKind)>,
    /// Work-around slot index held by this fd (mstflint_access, mst_pci).
    wa_slot: Option<usize>,
    /// `open()` flags (access mode checked by the MFT modules).
    pub open_flags: i32,
    /// The process using the fd (the server's peer; 0: unknown). DMA pages it pins are read
    /// from its memory.
    pub pid: i32,
}

impl Default for FdState {
    fn default() -> Self {
        FdState::new(libc::O_RDWR)
    }
}

impl std::fmt::Debug for FdState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FdState")
            .field("attached", &self.node.is_some())
            .field("wa_slot", &self.wa_slot)
            .field("open_flags", &self.open_flags)
            .finish()
    }
}

impl FdState {
    /// An fd opened with `open_flags` (not yet attached to a node).
    pub fn new(open_flags: i32) -> FdState {
        FdState {
            node: None,
            attached: None,
            wa_slot: None,
            open_flags,
            pid: 0,
        }
    }
    /// State of an fd just opened on `kind` of `dev` with `open_flags`, attached to the node's
    /// kernel-side state (so [`mmap_allowed`] sees an earlier INIT made through another fd).
    pub fn open(dev: &SimDevice, kind: NodeKind, open_flags: i32) -> FdState {
        Self::open_on(dev, kind, open_flags)
    }
    pub fn open_on<D: DriverDevice + ?Sized>(dev: &D, kind: NodeKind, open_flags: i32) -> FdState {
        let mut st = FdState::new(open_flags);
        st.attach(dev, kind);
        st
    }
    /// Attach to the node state of (dev, kind), releasing what was held on another node.
    fn attach<D: DriverDevice + ?Sized>(&mut self, dev: &D, kind: NodeKind) -> NodeRef {
        let id = (dev.state_key(), kind);
        if self.attached != Some(id) {
            self.release();
            self.node = Some(node_state(dev, kind));
            self.attached = Some(id);
        }
        self.node.clone().unwrap_or_else(|| node_state(dev, kind))
    }
    /// Free the fd's work-around slot (the node's `release()`).
    fn release(&mut self) {
        if let (Some(node), Some(slot)) = (&self.node, self.wa_slot.take()) {
            if let Some(s) = node.lock().wa_slots.get_mut(slot) {
                *s = false;
            }
        }
    }
    fn can_read(&self) -> bool {
        self.open_flags & libc::O_ACCMODE != libc::O_WRONLY
    }
    fn can_write(&self) -> bool {
        self.open_flags & libc::O_ACCMODE != libc::O_RDONLY
    }
}

impl Drop for FdState {
    fn drop(&mut self) {
        self.release();
    }
}

/// Result of one ioctl: what `ioctl()` returns (>= 0), or -errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoctlOutcome {
    pub ret: i64,
}

impl IoctlOutcome {
    pub fn ok(v: i64) -> Self {
        IoctlOutcome { ret: v }
    }
    pub fn err(e: Errno) -> Self {
        IoctlOutcome { ret: -(e as i64) }
    }
}

/// Everything a handler gets.
pub(crate) struct Call<'a, D: DriverDevice + ?Sized> {
    pub dev: &'a D,
    pub kind: NodeKind,
    pub node: &'a mut NodeState,
    pub wa_slot: &'a mut Option<usize>,
    pub can_read: bool,
    pub can_write: bool,
    /// The calling process ([`FdState::pid`]).
    pub pid: i32,
}

impl<D: DriverDevice + ?Sized> Call<'_, D> {
    /// RELEASE_DMA_PAGES: drop the node's pinned pages (and the device's view of them).
    pub(crate) fn release_dma(&mut self) -> Option<DmaPin> {
        let pin = self.node.dma.take()?;
        self.dev.dma_unmap(fake_dma_address(0));
        Some(pin)
    }
}

/// Serve one ioctl on a node of `dev`. `arg` holds the caller's argument bytes
/// (`_IOC_SIZE(request)` of them); outputs are written in place.
pub fn ioctl(
    dev: &SimDevice,
    kind: NodeKind,
    st: &mut FdState,
    request: u32,
    arg: &mut [u8],
) -> IoctlOutcome {
    ioctl_on(dev, kind, st, request, arg)
}

/// [`ioctl`] for any [`DriverDevice`].
pub fn ioctl_on<D: DriverDevice + ?Sized>(
    dev: &D,
    kind: NodeKind,
    st: &mut FdState,
    request: u32,
    arg: &mut [u8],
) -> IoctlOutcome {
    let name = ioctl_name(kind, request);
    dev.count_ioctl(name);
    let node = st.attach(dev, kind);
    let mut ns = node.lock();
    if kind.is_gen1() && ns.wedged {
        // The real kernel blocks forever on the device mutex; report a deadlock instead.
        log::warn!("{name}: device mutex still held by an earlier MST_VPD_* (would deadlock)");
        return IoctlOutcome::err(libc::EDEADLK);
    }
    let known = name != UNKNOWN;
    if known && arg.len() != ioc_size(request) {
        // The kernel copies exactly _IOC_SIZE bytes; a shorter buffer faults.
        return IoctlOutcome::err(libc::EFAULT);
    }
    let (can_read, can_write) = (st.can_read(), st.can_write());
    let mut call = Call {
        dev,
        kind,
        node: &mut ns,
        wa_slot: &mut st.wa_slot,
        can_read,
        can_write,
        pid: st.pid,
    };
    match kind {
        NodeKind::MstflintAccessConf => mstflint_access::handle(&mut call, request, arg),
        NodeKind::MstDriverConf
        | NodeKind::MstDriverCr
        | NodeKind::MstDriverMftConf
        | NodeKind::MstDriverMftCr => mst_driver::handle(&mut call, request, arg),
        NodeKind::MftPciconf => mft::handle_pciconf(&mut call, request, arg),
        NodeKind::MftPciCr => mft::handle_pci(&mut call, request, arg),
    }
}

/// Name an unknown request is counted under.
pub const UNKNOWN: &str = "UNKNOWN";

/// Name of `request` in the ABI served on `kind` ([`UNKNOWN`] when that ABI has no such number).
pub fn ioctl_name(kind: NodeKind, request: u32) -> &'static str {
    let n = match kind {
        NodeKind::MstflintAccessConf => mstflint_access::name(request),
        NodeKind::MstDriverConf
        | NodeKind::MstDriverCr
        | NodeKind::MstDriverMftConf
        | NodeKind::MstDriverMftCr => mst_driver::name(request),
        NodeKind::MftPciconf => mft::pciconf_name(request),
        NodeKind::MftPciCr => mft::pci_name(request),
    };
    n.unwrap_or(UNKNOWN)
}

/// Whether `mmap(offset, len)` on a node succeeds (the runtime then maps the crspace file at
/// `offset`). Only MFT's mst_pci implements mmap (the BAR recorded by PCI_INIT); other nodes have
/// no mmap file operation (ENODEV).
pub fn mmap_allowed(kind: NodeKind, st: &FdState, offset: u64, len: u64) -> Result<(), Errno> {
    match kind {
        NodeKind::MftPciCr => {
            let size = st
                .node
                .as_ref()
                .and_then(|n| n.lock().mft.map(|b| b.bar_size))
                .unwrap_or(0);
            if offset < size && offset.checked_add(len).is_some_and(|end| end <= size) {
                Ok(())
            } else {
                Err(libc::EINVAL)
            }
        }
        _ => Err(libc::ENODEV),
    }
}

// ------------------------------------------------------------------------------------------
// Helpers shared by the ABIs

/// Little-endian u32 at `off` (0 when out of range; handlers check sizes first).
pub(crate) fn rd32(a: &[u8], off: usize) -> u32 {
    a.get(off..off + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0)
}
pub(crate) fn wr32(a: &mut [u8], off: usize, v: u32) {
    if let Some(b) = a.get_mut(off..off + 4) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}
pub(crate) fn rd64(a: &[u8], off: usize) -> u64 {
    a.get(off..off + 8)
        .map(|b| {
            let mut x = [0u8; 8];
            x.copy_from_slice(b);
            u64::from_le_bytes(x)
        })
        .unwrap_or(0)
}
pub(crate) fn wr64(a: &mut [u8], off: usize, v: u64) {
    if let Some(b) = a.get_mut(off..off + 8) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}

/// Find a standard capability by id walking the list from 0x34 (loop-protected).
pub(crate) fn find_capability<D: DriverDevice + ?Sized>(dev: &D, id: u8) -> Option<u32> {
    let status = dev.config_dword(0x4).ok()? >> 16;
    if status & 0x10 == 0 {
        return None;
    }
    let mut ptr = dev.config_dword(0x34).ok()? & 0xfc;
    for _ in 0..48 {
        if ptr < 0x40 {
            return None;
        }
        let hdr = dev.config_dword(ptr).ok()?;
        if hdr & 0xff == id as u32 {
            return Some(ptr);
        }
        ptr = (hdr >> 8) & 0xfc;
    }
    None
}

/// Identity fields every "params" ioctl reports.
pub(crate) struct Ids {
    pub vendor: u32,
    pub device: u32,
    pub subsystem_vendor: u32,
    pub subsystem_device: u32,
    pub multifunction: u32,
}

pub(crate) fn read_ids<D: DriverDevice + ?Sized>(dev: &D) -> Ids {
    let id = dev.config_dword(0).unwrap_or(0xffff_ffff);
    let sub = dev.config_dword(0x2c).unwrap_or(0xffff_ffff);
    let hdr = dev.config_dword(0xc).unwrap_or(0);
    Ids {
        vendor: id & 0xffff,
        device: id >> 16,
        subsystem_vendor: sub & 0xffff,
        subsystem_device: sub >> 16,
        multifunction: u32::from((hdr >> 16) & 0x80 != 0),
    }
}

/// BAR0 physical address from config space (64-bit memory BAR at 0x10/0x14).
pub(crate) fn bar0_from_config<D: DriverDevice + ?Sized>(dev: &D) -> u64 {
    let lo = dev.config_dword(0x10).unwrap_or(0);
    let hi = if lo & 0x6 == 0x4 {
        dev.config_dword(0x14).unwrap_or(0)
    } else {
        0
    };
    ((hi as u64) << 32) | (lo & !0xf) as u64
}

/// Take the lowest free work-around slot for this fd (mstflint_access / mst_pci semantics):
/// -EPERM if the fd already has one, -ENOLCK if all are taken; returns slot + 1.
pub(crate) fn take_wa_slot<D: DriverDevice + ?Sized>(c: &mut Call<'_, D>) -> Result<u32, Errno> {
    if c.wa_slot.is_some() {
        return Err(libc::EPERM);
    }
    let i = c
        .node
        .wa_slots
        .iter()
        .position(|s| !*s)
        .ok_or(libc::ENOLCK)?;
    c.node.wa_slots[i] = true;
    *c.wa_slot = Some(i);
    Ok(i as u32 + 1)
}

#[cfg(test)]
pub(crate) mod fake;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_model;

#[cfg(test)]
mod tests_e2e;
