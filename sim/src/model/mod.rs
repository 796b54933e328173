//! The device model: PCI config space with the VSEC gateway and the old address/data window,
//! crspace (shared with `resource0`), VPD, fault knobs and counters.
//!
//! CONTRACT (see the common brief, "Model API"): the public items below are what the
//! runtime (FUSE files, ioctl server) and the driver models call. Behaviour is documented in
//! `sim/README.md`.

mod bridge;
mod config_space;
mod counters;
mod crstore;
pub mod dma;
mod faults;
mod firmware;
mod flash;
mod fwupdate;
mod gateway;
mod hcr;
mod icmd;
mod legacy;
mod nvconfig;
mod registers;
mod reset;
mod spaces;
mod vpd;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};

use crate::config::{DeviceConfig, Faults, GatewayKind, ModelInfo};

pub use bridge::SimBridge;
pub use config_space::{
    bar0_address, BAR0_FLAGS, BAR0_SIZE, BRIDGE_DEVICE, BRIDGE_REVISION, BRIDGE_VENDOR,
    CONFIG_SIZE, LEGACY_ADDR_OFF, LEGACY_DATA_OFF, MSIX_OFF, PCIE_OFF, TRUNCATED_CONFIG_SIZE,
    VENDOR_MELLANOX, VPD_OFF, VSEC_OFF,
};
pub use counters::CounterSnapshot;
pub use crstore::{seed_pattern, CrStore};
pub use faults::{FAULT_SEM_PID, FAULT_SEM_TICKET};
pub use gateway::{
    ADDR_FLAG, ADDR_SYNDROME, CTRL_STATUS_MASK, CTRL_STATUS_OK, REG_ADDRESS, REG_COUNTER, REG_CTRL,
    REG_DATA, REG_SEMAPHORE, SYNDROME_ADDRESS_OUT_OF_RANGE,
};
pub use hcr::{
    HCR_ADDR, HCR_CMD, HCR_CR_MBOX, HCR_KNOB_BUSY_POLLS, HCR_KNOB_STATUS, HCR_OP_ACCESS_REG,
    HCR_OP_MBOX_READ, HCR_OP_MBOX_WRITE, HCR_OP_NOP, HCR_SEM,
};
pub use icmd::{
    ICMD_CTRL, ICMD_KNOB_BUSY_POLLS, ICMD_KNOB_DEV_BUSY, ICMD_MAILBOX, ICMD_MAX_CMD_SIZE,
    ICMD_MBOX_SIZE_ADDR,
};
pub use legacy::WO_ADDR_MAGIC;
pub use spaces::{
    AS_CR_SPACE, AS_ICMD, AS_ICMD_EXT, AS_ND_CRSPACE, AS_PCI_CRSPACE, AS_PCI_GLOBAL_SEMAPHORE,
    AS_PCI_SCAN_CRSPACE, AS_SCAN_CRSPACE, AS_SEMAPHORE,
};
pub use vpd::{parse_image as parse_vpd_image, VPD_FLAG};

use config_space::ConfigSpace;
use faults::FaultState;
use gateway::{Gateway, GwCtx, Xfer};
use legacy::Legacy;
use spaces::{Spaces, GW_ADDR_MASK};
use vpd::Vpd;

/// A failure as the kernel would report it to the caller (an errno value, positive).
pub type Errno = i32;

/// Crspace address of the hardware id register.
pub const HW_ID_ADDR: u32 = 0xf0014;

/// How often (1 ms apart) the in-kernel accessor retries a busy VSEC semaphore.
pub const KERNEL_SEM_RETRIES: u32 = 2048;

/// One simulated PCI function. Cheap to share (`Arc`), all methods take `&self`.
pub struct SimDevice {
    cfg: DeviceConfig,
    info: ModelInfo,
    cr: CrStore,
    /// Host pages the device reaches by DMA (pinned through a driver node).
    host: Arc<dma::HostMemory>,
    inner: Mutex<Inner>,
}

struct Inner {
    cs: ConfigSpace,
    /// Functional VSEC gateway (gateway = vsec).
    gw: Option<Gateway>,
    /// 0x58/0x5c window (gateway = legacy / legacy_write_only / recovery).
    legacy: Option<Legacy>,
    /// VPD (when `vpd` is in the paths).
    vpd: Option<Vpd>,
    spaces: Spaces,
    faults: FaultState,
    counters: CounterSnapshot,
    /// The PCI link is down (the upstream port's Link Disable or Secondary Bus Reset set):
    /// config reads answer all ones, writes are dropped.
    link_down: bool,
}

impl SimDevice {
    /// Build from configuration. `crspace` is the 64 MiB big-endian backing store that
    /// `resource0` maps too; it is filled with the seed pattern, then `hw_id` at 0xf0014,
    /// then `cfg.registers`.
    pub fn new(cfg: &DeviceConfig, mut crspace: CrStore) -> Result<Arc<SimDevice>, String> {
        Self::validate(cfg)?;
        let info = ModelInfo::lookup(&cfg.model)?;
        let regs = cfg.initial_registers()?;
        let vpd = if cfg.has_path("vpd") {
            Some(Vpd::new(&cfg.vpd).map_err(|e| format!("device {}: {e}", cfg.bdf))?)
        } else {
            None
        };
        crspace.fill_pattern(cfg.seed);
        crspace.write(HW_ID_ADDR, info.hw_id_reg);
        icmd::prepare_crspace(&crspace, info.hw_id_reg);
        if cfg.tools_hcr {
            hcr::Hcr::prepare(&crspace);
        }
        let mut fw =
            firmware::Firmware::build(cfg).map_err(|e| format!("device {}: {e}", cfg.bdf))?;
        let host = Arc::new(dma::HostMemory::default());
        if let Some(up) = fw.as_mut().and_then(|f| f.update.as_mut()) {
            up.host = Some(host.clone());
        }
        if fw.is_some() {
            // The firmware runs from flash: cache replacement is active.
            let (off, cmd) = firmware::cache_rep_addrs(&cfg.model);
            crspace.write(off, 0x1000);
            crspace.write(cmd, 0);
        }
        for (a, v) in regs {
            crspace.write(a, v);
        }
        let mut inner = Inner {
            cs: ConfigSpace::build(cfg),
            gw: (cfg.gateway == GatewayKind::Vsec).then(Gateway::default),
            legacy: match cfg.gateway {
                GatewayKind::Vsec => None,
                GatewayKind::Legacy | GatewayKind::Recovery => Some(Legacy::new(false)),
                GatewayKind::LegacyWriteOnly => Some(Legacy::new(true)),
            },
            vpd,
            spaces: {
                let s = Spaces::with_icmd(info.hw_id_reg);
                let s = if cfg.tools_hcr {
                    s.with_hcr(info.hw_id_reg, cfg.tools_hcr_cr_mbox)
                } else {
                    s
                };
                if cfg.gateway == GatewayKind::Vsec && cfg.bar_icmd {
                    s.with_bar_icmd(info.hw_id_reg)
                } else {
                    s
                }
            },
            faults: FaultState::new(cfg.faults.clone(), 0),
            counters: CounterSnapshot::default(),
            link_down: false,
        };
        if let Some(fw) = fw {
            inner.spaces.set_firmware(fw);
        }
        Ok(Arc::new(SimDevice {
            cfg: cfg.clone(),
            info,
            cr: crspace,
            host,
            inner: Mutex::new(inner),
        }))
    }

    /// Everything [`SimDevice::new`] would refuse, without building the device (cheap):
    /// BDF, model, register addresses (inside crspace), VPD content (keyword names and
    /// lengths), `physfn` BDF, path names.
    pub fn validate(cfg: &DeviceConfig) -> Result<(), String> {
        crate::config::parse_bdf(&cfg.bdf).ok_or_else(|| format!("bad bdf {:?}", cfg.bdf))?;
        ModelInfo::lookup(&cfg.model)?;
        for (a, _) in cfg.initial_registers()? {
            if !CrStore::contains(a) {
                return Err(format!(
                    "device {}: register {a:#x} is outside crspace (64 MiB)",
                    cfg.bdf
                ));
            }
        }
        vpd::build_image(&cfg.vpd).map_err(|e| format!("device {}: {e}", cfg.bdf))?;
        firmware::validate(cfg).map_err(|e| format!("device {}: {e}", cfg.bdf))?;
        nvconfig::NvConfig::check_config(cfg).map_err(|e| format!("device {}: {e}", cfg.bdf))?;
        if cfg.tools_hcr_cr_mbox && !cfg.tools_hcr {
            return Err(format!(
                "device {}: tools_hcr_cr_mbox needs tools_hcr = true",
                cfg.bdf
            ));
        }
        if let Some(pf) = &cfg.physfn {
            crate::config::parse_bdf(pf)
                .ok_or_else(|| format!("device {}: bad physfn {pf:?}", cfg.bdf))?;
        }
        for p in &cfg.paths {
            if !["config", "resource0", "vpd"].contains(&p.as_str()) {
                return Err(format!(
                    "device {}: unknown path {p:?} (known: config, resource0, vpd)",
                    cfg.bdf
                ));
            }
        }
        Ok(())
    }

    pub fn bdf(&self) -> &str {
        &self.cfg.bdf
    }

    pub fn config(&self) -> &DeviceConfig {
        &self.cfg
    }

    pub fn model_info(&self) -> ModelInfo {
        self.info
    }

    /// Size `config` reports (4096, or 64 with the truncated-config fault).
    pub fn config_size(&self) -> u64 {
        if self.inner.lock().faults.faults.truncated_config {
            TRUNCATED_CONFIG_SIZE
        } else {
            CONFIG_SIZE
        }
    }

    /// Count one access, apply eio/vanish/delay. Returns the locked state.
    fn enter(
        &self,
        count: impl FnOnce(&mut CounterSnapshot),
    ) -> Result<MutexGuard<'_, Inner>, Errno> {
        let mut g = self.inner.lock();
        count(&mut g.counters);
        g.counters.accesses += 1;
        let n = g.counters.accesses;
        if let Err(e) = g.faults.gate(n) {
            g.counters.faults_injected += 1;
            return Err(e);
        }
        if let Some(d) = g.faults.delay() {
            drop(g);
            std::thread::sleep(d);
            g = self.inner.lock();
        }
        Ok(g)
    }

    /// A counted access with no other effect: drivers call it for ioctls that do not touch
    /// the device otherwise, so that `eio_after` / `vanish_after` / `delay_us` apply.
    pub fn access_gate(&self) -> Result<(), Errno> {
        self.enter(|_| {}).map(drop)
    }

    /// pread on `config`: any offset/length; returns bytes read (0 at/after the end).
    pub fn config_read(&self, off: u64, buf: &mut [u8], pid: u32) -> Result<usize, Errno> {
        let mut g = self.enter(|c| c.config_reads += 1)?;
        let size = g.size();
        if off >= size || buf.is_empty() {
            return Ok(0);
        }
        let n = buf.len().min((size - off) as usize);
        if g.link_down {
            // No device answers: the root port completes the read with all ones.
            buf[..n].fill(0xff);
            return Ok(n);
        }
        let end = off + n as u64;
        let mut dw = off & !3;
        while dw < end {
            let v = g
                .read_reg(dw as u32, pid, &self.cr, &self.cfg.spaces)
                .to_le_bytes();
            for (i, b) in v.iter().enumerate() {
                let a = dw + i as u64;
                if a >= off && a < end {
                    buf[(a - off) as usize] = *b;
                }
            }
            dw += 4;
        }
        Ok(n)
    }

    /// pwrite on `config`: byte-granular read-modify-write of the dwords touched; read-only
    /// bits ignore writes; 0 bytes written at/after the end.
    pub fn config_write(&self, off: u64, data: &[u8], pid: u32) -> Result<usize, Errno> {
        let mut g = self.enter(|c| c.config_writes += 1)?;
        if g.faults.faults.config_write_eperm || g.faults.faults.lockdown {
            g.counters.faults_injected += 1;
            return Err(libc::EPERM);
        }
        let size = g.size();
        if off >= size || data.is_empty() {
            return Ok(0);
        }
        let n = data.len().min((size - off) as usize);
        if g.link_down {
            return Ok(n);
        }
        let end = off + n as u64;
        let mut dw = off & !3;
        while dw < end {
            let mut bytes = g
                .peek_reg(dw as u32, &self.cr, &self.cfg.spaces)
                .to_le_bytes();
            let mut be = 0u8;
            for (i, b) in bytes.iter_mut().enumerate() {
                let a = dw + i as u64;
                if a >= off && a < end {
                    *b = data[(a - off) as usize];
                    be |= 1 << i;
                }
            }
            g.write_reg(
                dw as u32,
                u32::from_le_bytes(bytes),
                be,
                pid,
                &self.cr,
                &self.cfg.spaces,
            );
            dw += 4;
        }
        Ok(n)
    }

    /// pread on sysfs `vpd` (EOF at the image end). ENODEV without VPD.
    pub fn vpd_file_read(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let g = self.enter(|c| c.vpd_reads += 1)?;
        let v = g.vpd.as_ref().ok_or(libc::ENODEV)?;
        Ok(v.file_read(off, buf))
    }

    /// pwrite on sysfs `vpd`: dword-aligned offset and length inside the image (EINVAL
    /// otherwise, as Linux); only the VPD-W body changes.
    pub fn vpd_file_write(&self, off: u64, data: &[u8]) -> Result<usize, Errno> {
        let mut g = self.enter(|c| c.vpd_writes += 1)?;
        let v = g.vpd.as_mut().ok_or(libc::ENODEV)?;
        v.file_write(off, data)
    }

    /// Size of the sysfs `vpd` file (0 without VPD).
    pub fn vpd_size(&self) -> u64 {
        self.inner.lock().vpd.as_ref().map_or(0, Vpd::size)
    }

    /// Driver VPD read of the dword at `off` (offset masked to 15 bits, dword aligned).
    /// ENODEV when the device has no VPD capability.
    pub fn vpd_read4(&self, off: u32) -> Result<[u8; 4], Errno> {
        let g = self.enter(|c| c.vpd_reads += 1)?;
        let v = g.vpd.as_ref().ok_or(libc::ENODEV)?;
        Ok(v.read4(off))
    }

    pub fn vpd_write4(&self, off: u32, data: [u8; 4]) -> Result<(), Errno> {
        let mut g = self.enter(|c| c.vpd_writes += 1)?;
        let v = g.vpd.as_mut().ok_or(libc::ENODEV)?;
        v.write4(off, data);
        Ok(())
    }

    /// In-"kernel" crspace read (driver models). With a functional VSEC: EINVAL for an
    /// unsupported space, waits (1 ms steps, up to [`KERNEL_SEM_RETRIES`]) for a busy VSEC
    /// semaphore then EBUSY, ETIMEDOUT under `flag_stuck`. Without one (legacy window) the
    /// space is ignored (crspace). EINVAL for addr >= 2^30, EFAULT outside the space.
    pub fn cr_read(&self, space: u32, addr: u32) -> Result<u32, Errno> {
        self.kernel_access(space, addr, None)
    }

    pub fn cr_write(&self, space: u32, addr: u32, value: u32) -> Result<(), Errno> {
        self.kernel_access(space, addr, Some(value)).map(drop)
    }

    fn kernel_access(&self, space: u32, addr: u32, write: Option<u32>) -> Result<u32, Errno> {
        let mut g = self.enter(|_| {})?;
        if addr > GW_ADDR_MASK {
            return Err(libc::EINVAL);
        }
        if g.gw.is_none() {
            if !CrStore::contains(addr) {
                return Err(libc::EFAULT);
            }
            return Ok(match write {
                None => {
                    g.counters.kernel_reads += 1;
                    g.spaces.cr_read(&self.cr, addr)
                }
                Some(v) => {
                    g.counters.kernel_writes += 1;
                    g.spaces.cr_write(&self.cr, addr, v);
                    v
                }
            });
        }
        if !g.space_ok(space, &self.cfg.spaces) {
            return Err(libc::EINVAL);
        }
        let mut tries = 0;
        while !g.gw.as_ref().is_some_and(Gateway::sem_free) || g.faults.sem_held() {
            tries += 1;
            if tries > KERNEL_SEM_RETRIES {
                g.counters.faults_injected += 1;
                return Err(libc::EBUSY);
            }
            drop(g);
            std::thread::sleep(Duration::from_millis(1));
            g = self.inner.lock();
        }
        if g.faults.faults.flag_stuck {
            g.counters.faults_injected += 1;
            return Err(libc::ETIMEDOUT);
        }
        let Inner {
            gw,
            spaces,
            counters,
            faults,
            ..
        } = &mut *g;
        if let Some(gw) = gw.as_mut() {
            gw.next_ticket();
        }
        let mut ctx = GwCtx {
            cr: &self.cr,
            spaces,
            counters,
            faults,
            cfg_spaces: &self.cfg.spaces,
        };
        match gateway::transfer(&mut ctx, space, addr, write) {
            Xfer::Done(v) => {
                if write.is_some() {
                    ctx.counters.kernel_writes += 1;
                } else {
                    ctx.counters.kernel_reads += 1;
                }
                Ok(v)
            }
            Xfer::OutOfRange { .. } => Err(libc::EFAULT),
            Xfer::Unsupported => Err(libc::EINVAL),
        }
    }

    /// Run an access-register mailbox (operation TLV, register TLV, register; host values of
    /// the big-endian dwords) on the registers the ICMD mailbox serves — same registers, same
    /// state (the fwctl driver model's ACCESS_REG). A counted access (faults apply). Returns
    /// the command status (0: ran; the register status is in the operation TLV).
    pub fn access_register(&self, mbox: &mut [u32]) -> Result<u32, Errno> {
        let mut g = self.enter(|_| {})?;
        Ok(g.spaces.access_register(mbox))
    }

    /// BAR pages whose accesses the memory path must forward one by one
    /// ([`SimDevice::bar_access`]); empty when the BAR is plain crspace.
    pub fn bar_trap_pages(&self) -> &'static [u32] {
        self.inner.lock().spaces.bar_trap_pages()
    }

    /// One dword access through the memory path in a forwarded page (`write` = the value
    /// stored): the ICMD interface there, else crspace. Not counted, no faults (a BAR access
    /// cannot fail). Returns the value read (or written).
    pub fn bar_access(&self, off: u32, write: Option<u32>) -> u32 {
        let mut g = self.inner.lock();
        if !CrStore::contains(off) {
            return 0xffff_ffff;
        }
        match write {
            None => g.spaces.bar_read(&self.cr, off),
            Some(v) => {
                g.spaces.bar_write(&self.cr, off, v);
                v
            }
        }
    }

    /// Kernel-side config dword read (drivers: MST_PARAMS, READ_DWORD_FROM_CONFIG_SPACE).
    /// Register side effects apply; faults apply; `config_reads` is not counted; the full
    /// 4 KiB is visible (no truncation). The low two offset bits are ignored; EINVAL for an
    /// offset beyond 0xffc.
    pub fn config_dword(&self, off: u32) -> Result<u32, Errno> {
        let mut g = self.enter(|_| {})?;
        if off as u64 + 4 > CONFIG_SIZE {
            return Err(libc::EINVAL);
        }
        Ok(g.read_reg(off & !3, 0, &self.cr, &self.cfg.spaces))
    }

    /// Whether an address space is supported (functional VSEC, configured `spaces` minus
    /// the `unsupported_spaces` fault).
    pub fn space_supported(&self, space: u32) -> bool {
        let g = self.inner.lock();
        g.gw.is_some() && g.space_ok(space, &self.cfg.spaces)
    }

    /// Offset of the functional VSEC in config space (None for legacy / recovery devices).
    pub fn vsec_offset(&self) -> Option<u32> {
        (self.cfg.gateway == GatewayKind::Vsec).then_some(VSEC_OFF)
    }

    /// Current value of crspace 0xf0014.
    pub fn hw_id(&self) -> u32 {
        self.cr.read(HW_ID_ADDR)
    }

    pub fn pci_device_id(&self) -> u16 {
        self.info.pci_device_id
    }

    /// BAR0 bus address (for the sysfs `resource` file); size [`BAR0_SIZE`], flags 0x...c.
    pub fn bar0_address(&self) -> u64 {
        bar0_address(crate::config::parse_bdf(&self.cfg.bdf).unwrap_or((0, 0, 0, 0)))
    }

    /// The crspace store (direct access for diagnostics and tests; no faults, no counting).
    pub fn crspace(&self) -> &CrStore {
        &self.cr
    }

    /// The file backing crspace (None for an anonymous store): the runtime serves it as
    /// `resource0` and for driver mmaps.
    pub fn crspace_file(&self) -> Option<&std::fs::File> {
        self.cr.file()
    }

    /// The device's PCI link went down and up again (its upstream port's link disabled and
    /// re-enabled, a secondary bus reset) or, `perst`, PERST was asserted (warm reboot): the
    /// config space is back to its power-on values (command register 0, BARs unassigned) and
    /// a firmware reset armed by MFRL for that event reboots the firmware from flash
    /// (`sim/FIRMWARE.md`, "Reset and activation"). Returns whether it did.
    pub fn pci_reset(&self, perst: bool) -> bool {
        let mut g = self.inner.lock();
        g.cs = ConfigSpace::after_reset(&self.cfg);
        g.spaces
            .firmware_mut()
            .is_some_and(|fw| fw.pci_reset(perst))
    }

    /// The upstream port took the link down (Link Disable, Secondary Bus Reset): config
    /// space stops answering until [`Self::link_up`].
    pub fn link_down(&self) {
        self.inner.lock().link_down = true;
    }

    /// The link came back up after [`Self::link_down`]: a PCI reset of the function (see
    /// [`Self::pci_reset`]); returns whether the firmware rebooted. Nothing happens when the
    /// link was not down.
    pub fn link_up(&self) -> bool {
        if !std::mem::replace(&mut self.inner.lock().link_down, false) {
            return false;
        }
        self.pci_reset(false)
    }

    /// Whether the link is down (see [`Self::link_down`]).
    pub fn is_link_down(&self) -> bool {
        self.inner.lock().link_down
    }

    /// Replace the fault knobs. Restarts the semaphore-hold clock and the access count that
    /// `eio_after` / `vanish_after` use.
    pub fn set_faults(&self, f: Faults) {
        let mut g = self.inner.lock();
        let base = g.counters.accesses;
        g.faults = FaultState::new(f, base);
    }

    pub fn faults(&self) -> Faults {
        self.inner.lock().faults.faults.clone()
    }

    /// Count an ioctl (by name) or an mmap; used by the driver models and the server.
    pub fn count_ioctl(&self, name: &str) {
        self.inner.lock().counters.count_ioctl(name);
    }

    pub fn count_mmap(&self) {
        self.inner.lock().counters.mmaps += 1;
    }

    pub fn counters(&self) -> CounterSnapshot {
        use std::sync::atomic::Ordering::Relaxed;
        let mut c = self.inner.lock().counters.clone();
        c.dma_reads = self.host.reads.load(Relaxed);
        c.dma_writes = self.host.writes.load(Relaxed);
        c.dma_bytes = self.host.bytes.load(Relaxed);
        c
    }

    /// The host memory this device reaches by DMA (the driver models map pinned pages).
    pub fn host_memory(&self) -> &dma::HostMemory {
        &self.host
    }
}

impl Inner {
    fn size(&self) -> u64 {
        if self.faults.faults.truncated_config {
            TRUNCATED_CONFIG_SIZE
        } else {
            CONFIG_SIZE
        }
    }

    fn space_ok(&self, space: u32, cfg_spaces: &[u32]) -> bool {
        cfg_spaces.contains(&space) && !self.faults.space_disabled(space)
    }

    fn is_gw_reg(&self, off: u32) -> bool {
        self.gw.is_some()
            && (VSEC_OFF + gateway::REG_CTRL..=VSEC_OFF + gateway::REG_DATA).contains(&off)
    }

    /// Register read by `pid` with side effects.
    fn read_reg(&mut self, off: u32, pid: u32, cr: &CrStore, cfg_spaces: &[u32]) -> u32 {
        if self.is_gw_reg(off) {
            let Inner {
                gw,
                spaces,
                counters,
                faults,
                ..
            } = self;
            let mut ctx = GwCtx {
                cr,
                spaces,
                counters,
                faults,
                cfg_spaces,
            };
            return gw
                .as_mut()
                .map_or(0, |g| g.read(off - VSEC_OFF, pid, &mut ctx));
        }
        if let Some(l) = self.legacy.as_mut() {
            if off == LEGACY_ADDR_OFF {
                return l.peek_addr();
            }
            if off == LEGACY_DATA_OFF {
                return l.read_data(cr, &mut self.spaces, &mut self.counters);
            }
        }
        self.peek_plain(off)
    }

    /// Register value without side effects, as the base of a partial write's
    /// read-modify-write.
    fn peek_reg(&mut self, off: u32, cr: &CrStore, cfg_spaces: &[u32]) -> u32 {
        if self.is_gw_reg(off) {
            let Inner {
                gw,
                spaces,
                counters,
                faults,
                ..
            } = self;
            let ctx = GwCtx {
                cr,
                spaces,
                counters,
                faults,
                cfg_spaces,
            };
            return gw.as_ref().map_or(0, |g| g.peek(off - VSEC_OFF, &ctx));
        }
        if let Some(l) = self.legacy.as_ref() {
            if off == LEGACY_ADDR_OFF {
                return l.merge_base_addr();
            }
            if off == LEGACY_DATA_OFF {
                return l.peek_data(cr);
            }
        }
        self.peek_plain(off)
    }

    fn peek_plain(&self, off: u32) -> u32 {
        if let Some(v) = self.vpd.as_ref() {
            if off == VPD_OFF {
                return (self.cs.dword(off) & 0xffff) | (v.cap_addr() as u32) << 16;
            }
            if off == VPD_OFF + 4 {
                return v.cap_data();
            }
        }
        self.cs.dword(off)
    }

    /// Register write; `value` is the merged dword, `be` the bytes actually written.
    fn write_reg(
        &mut self,
        off: u32,
        value: u32,
        be: u8,
        pid: u32,
        cr: &CrStore,
        cfg_spaces: &[u32],
    ) {
        if self.is_gw_reg(off) {
            let Inner {
                gw,
                spaces,
                counters,
                faults,
                ..
            } = self;
            let mut ctx = GwCtx {
                cr,
                spaces,
                counters,
                faults,
                cfg_spaces,
            };
            if let Some(g) = gw.as_mut() {
                g.write(off - VSEC_OFF, value, pid, &mut ctx);
            }
            return;
        }
        if let Some(l) = self.legacy.as_mut() {
            if off == LEGACY_ADDR_OFF {
                l.write_addr(value, cr, &mut self.spaces, &mut self.counters);
                return;
            }
            if off == LEGACY_DATA_OFF {
                l.write_data(value, cr, &mut self.spaces, &mut self.counters);
                return;
            }
        }
        if let Some(v) = self.vpd.as_mut() {
            if off == VPD_OFF {
                if be & 0b1100 != 0 {
                    if v.cap_command((value >> 16) as u16) {
                        self.counters.vpd_writes += 1;
                    } else {
                        self.counters.vpd_reads += 1;
                    }
                }
                self.cs.write_dword(off, value, be & 0b0011);
                return;
            }
            if off == VPD_OFF + 4 {
                v.set_cap_data(value);
                return;
            }
        }
        self.cs.write_dword(off, value, be);
    }
}
