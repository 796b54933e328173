//! The simulator's configuration: a TOML file listing devices and their fault knobs.
//! Documented, with an example per feature, in `sim/README.md`.
//!
//! CONTRACT shared by the model, the driver models and the runtime: field names and meanings
//! below are fixed; new optional fields may be added (with `#[serde(default)]`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    #[serde(default = "default_devices", rename = "device")]
    pub devices: Vec<DeviceConfig>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            devices: default_devices(),
        }
    }
}

fn default_devices() -> Vec<DeviceConfig> {
    vec![DeviceConfig::default()]
}

impl SimConfig {
    /// Parse TOML text and check it (valid BDFs, no duplicates, known models).
    pub fn from_toml(text: &str) -> Result<SimConfig, String> {
        let cfg: SimConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Read and parse a file.
    pub fn from_file(path: &std::path::Path) -> Result<SimConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for d in &self.devices {
            parse_bdf(&d.bdf).ok_or_else(|| format!("bad bdf {:?} (want DDDD:BB:DD.F)", d.bdf))?;
            if !seen.insert(d.bdf.to_ascii_lowercase()) {
                return Err(format!("device {} listed twice", d.bdf));
            }
            ModelInfo::lookup(&d.model)?;
        }
        Ok(())
    }
}

/// The PCI Express root port above the simulated functions of one bus (`sim/README.md`,
/// "Upstream bridges"): at bus 0 of the functions' domain, secondary and subordinate bus
/// the functions' bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    /// `DDDD:00:DD.0`.
    pub bdf: String,
    pub secondary: u8,
    /// Root port number (Link Capabilities 31:24) and physical slot number, from 1.
    pub port: u8,
    /// Indexes (into the device list) of the functions below it.
    pub below: Vec<usize>,
}

/// One root port per (domain, bus) of the devices, buses other than 0 (functions on bus 0
/// sit on the root complex itself), in ascending order: device numbers 1, 2, ... of bus 0,
/// skipping the numbers that simulated functions on bus 0 of that domain use.
pub fn bridges(devices: &[DeviceConfig]) -> Vec<BridgeSpec> {
    let parsed: Vec<Option<(u16, u8, u8, u8)>> =
        devices.iter().map(|d| parse_bdf(&d.bdf)).collect();
    let mut buses: Vec<(u16, u8)> = parsed
        .iter()
        .flatten()
        .filter(|b| b.1 != 0)
        .map(|b| (b.0, b.1))
        .collect();
    buses.sort_unstable();
    buses.dedup();
    let mut out: Vec<BridgeSpec> = Vec::new();
    let mut next: std::collections::BTreeMap<u16, u8> = std::collections::BTreeMap::new();
    for (dom, bus) in buses {
        let n = next.entry(dom).or_insert(1);
        while *n <= 0x1f
            && parsed
                .iter()
                .flatten()
                .any(|b| b.0 == dom && b.1 == 0 && b.2 == *n)
        {
            *n += 1;
        }
        if *n > 0x1f {
            break;
        }
        let below = (0..devices.len())
            .filter(|&i| parsed[i].is_some_and(|b| b.0 == dom && b.1 == bus))
            .collect();
        out.push(BridgeSpec {
            bdf: format!("{dom:04x}:00:{:02x}.0", *n),
            secondary: bus,
            port: *n,
            below,
        });
        *n += 1;
    }
    out
}

/// Parse "DDDD:BB:DD.F" (hex) into (domain, bus, dev, func).
pub fn parse_bdf(s: &str) -> Option<(u16, u8, u8, u8)> {
    let (dom, rest) = s.split_once(':')?;
    let (bus, rest) = rest.split_once(':')?;
    let (dev, func) = rest.split_once('.')?;
    if dom.len() != 4 || bus.len() != 2 || dev.len() != 2 || func.len() != 1 {
        return None;
    }
    let dev = u8::from_str_radix(dev, 16).ok()?;
    let func = u8::from_str_radix(func, 16).ok()?;
    if dev > 0x1f || func > 7 {
        return None;
    }
    Some((
        u16::from_str_radix(dom, 16).ok()?,
        u8::from_str_radix(bus, 16).ok()?,
        dev,
        func,
    ))
}

/// Which kernel driver, if any, serves nodes for this device.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DriverKind {
    /// No driver: sysfs paths only.
    #[default]
    None,
    /// mstflint's `mstflint_access`: `/dev/DDDD:BB:DD.F_mstconf`.
    MstflintAccess,
    /// Unified `mst_driver` Gen-1 in mstflint mode: `/dev/DDDD:BB:DD.F_mstconf` and `_mstcr`.
    MstDriver,
    /// Unified `mst_driver` Gen-1 in MFT mode: `/dev/mst/mtNNNN_pci_pciconfF`, `..._pci_pci_crF`.
    MstDriverMft,
    /// MFT's legacy `mst_pciconf` + `mst_pci`: `/dev/mst/mtNNNN_pciconf0`, `mtNNNN_pci_cr0`.
    MftLegacy,
}

/// How crspace is reached through config space.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum GatewayKind {
    /// Functional vendor-specific capability (type 0) at 0x40 ... plus nothing at 0x58.
    #[default]
    Vsec,
    /// No VSEC: the older address (0x58) / data (0x5c) window.
    Legacy,
    /// Legacy window whose address register is write-only (reads back 0xbadacce5).
    LegacyWriteOnly,
    /// A recovery VSEC (type 2, not functional) plus the legacy window.
    Recovery,
}

/// One simulated PCI function.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// "DDDD:BB:DD.F", lower-case hex.
    #[serde(default = "default_bdf")]
    pub bdf: String,
    /// Device model name (see [`ModelInfo::lookup`]): "connectx5" (default), "connectx3",
    /// "connectx3pro", "connectx4", "connectx4lx", "connectx6", "connectx6dx", "connectx7",
    /// "bluefield2", ...
    #[serde(default = "default_model")]
    pub model: String,
    /// Seed of the pattern unwritten crspace addresses read.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Sysfs files present besides `vendor`, `device`, `class`, `subsystem_*`, `numa_node`,
    /// `resource`: any of "config", "resource0", "vpd".
    #[serde(default = "default_paths")]
    pub paths: Vec<String>,
    #[serde(default)]
    pub gateway: GatewayKind,
    /// Address spaces the VSEC supports (numbers as in the reference). Default: the spaces a
    /// ConnectX-5 reports (see [`default_spaces`]).
    #[serde(default = "default_spaces")]
    pub spaces: Vec<u32>,
    #[serde(default)]
    pub driver: DriverKind,
    /// Crspace registers set at start (address -> value), e.g. `"0xf0014" = 0x20d`.
    /// Keys are hex ("0x...") or decimal strings.
    #[serde(default)]
    pub registers: BTreeMap<String, u32>,
    /// VPD content; defaults to a realistic ConnectX-5 image.
    #[serde(default)]
    pub vpd: VpdConfig,
    /// Names under `infiniband/` and `net/` in the device's sysfs directory.
    #[serde(default)]
    pub ib_devs: Vec<String>,
    #[serde(default)]
    pub net_devs: Vec<String>,
    /// `numa_node` file content; -1 by default.
    #[serde(default = "default_numa")]
    pub numa_node: i32,
    /// Physical function of this VF (BDF), making it a virtual function (`physfn` link).
    #[serde(default)]
    pub physfn: Option<String>,
    #[serde(default)]
    pub faults: Faults,
    /// PCI vendor id shown in config space and sysfs (`vendor`, `subsystem_vendor`);
    /// default Mellanox 0x15b3. Another value makes a non-Mellanox function (bad-input tests).
    #[serde(default)]
    pub vendor_id: Option<u16>,
    /// A tools HCR (ConnectX-3 family command interface) at crspace 0x80780 with the tools
    /// semaphore at 0xf03bc (see `model::hcr`). Off by default.
    #[serde(default)]
    pub tools_hcr: bool,
    /// With `tools_hcr`: the mailbox is also mapped into crspace at 0xe0000 ("CR mailbox").
    #[serde(default)]
    pub tools_hcr_cr_mbox: bool,
    /// The flash and the firmware on it (see `sim/FIRMWARE.md`).
    #[serde(default)]
    pub firmware: FirmwareConfig,
    /// A fwctl node (Linux 6.15 mlx5 fwctl driver): `/dev/fwctl/fwctlN` (N in BDF order among
    /// the devices with `fwctl`) and `/sys/class/fwctl/fwctlN/device` linking to the function
    /// (see `drivers::fwctl`). Off by default.
    #[serde(default)]
    pub fwctl: bool,
    /// The NV configuration store of the firmware (`mstconfig`; see `sim/FIRMWARE.md`).
    #[serde(default)]
    pub nvconfig: NvConfigConfig,
    /// Serve the ICMD interface on the memory path (`resource0`, MFT's `mst_pci`) too, by
    /// forwarding the accesses to its BAR pages (see sim/RUNNING.md). On by default; off for
    /// programs run under valgrind, which does not emulate the page forwarding (a SIGSEGV
    /// handler and the CPU's single-step flag): the memory path is then plain crspace.
    #[serde(default = "default_true")]
    pub bar_icmd: bool,
}

fn default_true() -> bool {
    true
}

impl Default for DeviceConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn default_bdf() -> String {
    "0000:05:00.0".into()
}
fn default_model() -> String {
    "connectx5".into()
}
fn default_seed() -> u64 {
    1
}
fn default_paths() -> Vec<String> {
    vec!["config".into(), "resource0".into(), "vpd".into()]
}
fn default_numa() -> i32 {
    -1
}

/// Spaces a ConnectX-5 VSEC supports: ICMD_EXT, CR_SPACE, ICMD, SEMAPHORE, and the
/// ND/scan crspaces.
pub fn default_spaces() -> Vec<u32> {
    vec![0x1, 0x2, 0x3, 0x6, 0x7, 0xa]
}

impl DeviceConfig {
    /// The PCI vendor id (`vendor_id`, default 0x15b3).
    pub fn vendor(&self) -> u16 {
        self.vendor_id.unwrap_or(0x15b3)
    }

    pub fn has_path(&self, name: &str) -> bool {
        self.paths.iter().any(|p| p == name)
    }
    pub fn model_info(&self) -> ModelInfo {
        ModelInfo::lookup(&self.model).expect("validated")
    }
    /// Initial registers with parsed addresses.
    pub fn initial_registers(&self) -> Result<Vec<(u32, u32)>, String> {
        self.registers
            .iter()
            .map(|(k, v)| {
                let a = if let Some(h) = k.strip_prefix("0x").or_else(|| k.strip_prefix("0X")) {
                    u32::from_str_radix(h, 16)
                } else {
                    k.parse()
                };
                a.map(|a| (a, *v))
                    .map_err(|_| format!("bad register address {k:?}"))
            })
            .collect()
    }
}

/// Identity of a device model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelInfo {
    pub name: &'static str,
    pub pci_device_id: u16,
    /// Value of crspace 0xf0014 (hw_id in bits 15:0, revision in 19:16).
    pub hw_id_reg: u32,
    pub class: u32,
    pub subsystem_device: u16,
    pub description: &'static str,
}

impl ModelInfo {
    pub const ALL: &'static [ModelInfo] = &[
        ModelInfo {
            name: "connectx3",
            pci_device_id: 0x1003,
            hw_id_reg: 0x0001_01f5,
            class: 0x020000,
            subsystem_device: 0x0006,
            description: "ConnectX-3",
        },
        ModelInfo {
            name: "connectx3pro",
            pci_device_id: 0x1007,
            hw_id_reg: 0x0001_01f7,
            class: 0x020000,
            subsystem_device: 0x0006,
            description: "ConnectX-3 Pro",
        },
        ModelInfo {
            name: "connectx4",
            pci_device_id: 0x1013,
            hw_id_reg: 0x0000_0209,
            class: 0x020700,
            subsystem_device: 0x0008,
            description: "ConnectX-4",
        },
        ModelInfo {
            name: "connectx4lx",
            pci_device_id: 0x1015,
            hw_id_reg: 0x0000_020b,
            class: 0x020000,
            subsystem_device: 0x0003,
            description: "ConnectX-4 Lx",
        },
        ModelInfo {
            name: "connectx5",
            pci_device_id: 0x1017,
            hw_id_reg: 0x0000_020d,
            class: 0x020000,
            subsystem_device: 0x0007,
            description: "ConnectX-5",
        },
        ModelInfo {
            name: "connectx6",
            pci_device_id: 0x101b,
            hw_id_reg: 0x0000_020f,
            class: 0x020700,
            subsystem_device: 0x0006,
            description: "ConnectX-6",
        },
        ModelInfo {
            name: "connectx6dx",
            pci_device_id: 0x101d,
            hw_id_reg: 0x0000_0212,
            class: 0x020000,
            subsystem_device: 0x0016,
            description: "ConnectX-6 Dx",
        },
        ModelInfo {
            name: "connectx7",
            pci_device_id: 0x1021,
            hw_id_reg: 0x0000_0218,
            class: 0x020000,
            subsystem_device: 0x0020,
            description: "ConnectX-7",
        },
        ModelInfo {
            name: "bluefield2",
            pci_device_id: 0xa2d6,
            hw_id_reg: 0x0000_0214,
            class: 0x020000,
            subsystem_device: 0x0061,
            description: "BlueField-2",
        },
    ];

    pub fn lookup(name: &str) -> Result<ModelInfo, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|m| m.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|m| m.name).collect();
                format!("unknown model {name:?} (known: {})", names.join(", "))
            })
    }
}

/// The device's flash and firmware (`[device.firmware]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FirmwareConfig {
    /// Model a flash with firmware. Default: on for the FS4 models (connectx5, connectx6),
    /// off for the others (their flash registers answer "not supported").
    #[serde(default)]
    pub flash: Option<bool>,
    /// Version of the generated image preloaded into the flash (default 16.35.1012 on a
    /// ConnectX-5, 20.35.1012 on a ConnectX-6: the major number is the device's).
    #[serde(default)]
    pub fw_version: Option<String>,
    /// PSID of the generated image.
    #[serde(default = "default_psid")]
    pub psid: String,
    /// Flash size in bytes: a power of two, 1 MiB to 16 MiB. It holds two image slots of
    /// half its size each, the device data sitting in the top of the second one.
    #[serde(default = "default_flash_size")]
    pub flash_size: usize,
    /// An image file (e.g. from `mtcr-sim image`) to put in slot 0 instead of a generated
    /// one; its device data (DTOC) goes to the top of the flash.
    #[serde(default)]
    pub image: Option<String>,
    /// A file backing the flash: used as the flash when it exists (its size must be
    /// `flash_size`), else created from the image; every flash change is written to it, so
    /// the flash persists across runs.
    #[serde(default)]
    pub flash_file: Option<String>,
    /// Serve the firmware-controlled component update (MCQS, MCQI, MCC, MCDA, MQIS) and
    /// advertise it in MCAM, so the tools burn and query through it ("fw_ctrl") instead of
    /// the flash registers. Off by default (see `sim/FIRMWARE.md`, "Component update").
    #[serde(default)]
    pub fw_update: bool,
    /// With `fw_update`: also serve MCDD (0x905c, the component sent through host pages the
    /// driver pinned, `GET_DMA_PAGES`) and advertise it in MCAM, so the tools burn by DMA
    /// where the access path offers DMA pages (a driver node) and fall back to MCDA
    /// elsewhere (see `sim/FIRMWARE.md`, "DMA burn"). Off by default.
    #[serde(default)]
    pub dma: bool,
    /// How long (ms) an update handle survives without a command from its owner before the
    /// firmware drops it (a killed burn then blocks the next one no longer than this).
    #[serde(default = "default_update_timeout_ms")]
    pub update_timeout_ms: u64,
}

fn default_update_timeout_ms() -> u64 {
    10_000
}

impl Default for FirmwareConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

/// `[device.nvconfig]`: the NV configuration store's starting state. Parameter names are
/// mstconfig's (`SRIOV_EN`, `NUM_OF_VFS`, `LINK_TYPE_P1`, ...; the items modelled are listed
/// in `sim/FIRMWARE.md`); values are checked as the firmware checks a write.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NvConfigConfig {
    /// Most VFs per PF the capability item allows (default 127).
    #[serde(default)]
    pub max_vfs: Option<u32>,
    /// Values already configured and in use (current and next boot).
    #[serde(default)]
    pub values: BTreeMap<String, u32>,
    /// Values written for the next boot only (pending, as after `mstconfig set`).
    #[serde(default)]
    pub pending: BTreeMap<String, u32>,
    /// A file keeping the items written to NV across runs: read at start when it exists
    /// (a simulator start is a boot: what it holds becomes current), rewritten after every
    /// change.
    #[serde(default)]
    pub file: Option<String>,
}

fn default_psid() -> String {
    "MT_0000000008".into()
}
fn default_flash_size() -> usize {
    2 << 20
}

/// VPD image content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VpdConfig {
    /// Identifier string (large resource tag 0x82).
    #[serde(default = "default_vpd_id")]
    pub id: String,
    /// Read-only keywords in order (PN, EC, SN, V0..V3, ...); "RV" (checksum) is added.
    #[serde(default = "default_vpd_ro")]
    pub ro: Vec<(String, String)>,
    /// Read-write keywords (e.g. V1..), in the 0x91 section; "RW" filler added.
    #[serde(default)]
    pub rw: Vec<(String, String)>,
}

impl Default for VpdConfig {
    fn default() -> Self {
        VpdConfig {
            id: default_vpd_id(),
            ro: default_vpd_ro(),
            rw: vec![],
        }
    }
}

fn default_vpd_id() -> String {
    "ConnectX-5 EN adapter card, 100GbE single-port QSFP28, PCIe3.0 x16".into()
}
fn default_vpd_ro() -> Vec<(String, String)> {
    [
        ("PN", "MCX515A-CCAT"),
        ("EC", "A7"),
        ("SN", "MT1943X01234"),
        ("V0", "PCIeGen3 x16"),
        ("V2", "MCX515A-CCAT"),
        ("V3", "3f5c8a2e6b0d11eaa0c1b8599f3a4c10"),
        ("VA", "MLX:MODL=CX515A:MN=MLNX:CSKU=V2:UUID=V3:PCI=V0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Fault knobs (all off by default). Also settable at run time (`mtcr-sim fault`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// The VSEC semaphore is held by another owner for this many ms from start (0 = no).
    #[serde(default)]
    pub semaphore_held_ms: u64,
    /// The VSEC semaphore is held by another owner forever.
    #[serde(default)]
    pub semaphore_held_forever: bool,
    /// The gateway flag never completes (reads never become ready, writes never finish).
    #[serde(default)]
    pub flag_stuck: bool,
    /// Every access (config, vpd, ioctl, crspace) from the Nth on fails with EIO (0 = never).
    #[serde(default)]
    pub eio_after: u64,
    /// The device vanishes at the Nth access: everything after fails with ENODEV (0 = never).
    #[serde(default)]
    pub vanish_after: u64,
    /// Address spaces reported unsupported even if `spaces` lists them.
    #[serde(default)]
    pub unsupported_spaces: Vec<u32>,
    /// Delay per access, microseconds.
    #[serde(default)]
    pub delay_us: u64,
    /// `config` shows only its first 64 bytes (unprivileged caller / container).
    #[serde(default)]
    pub truncated_config: bool,
    /// Config writes fail with EPERM (kernel lockdown).
    #[serde(default)]
    pub config_write_eperm: bool,
    /// Kernel lockdown: config writes and `resource0` mappings both fail with EPERM (the
    /// mmap refusal needs the preload, which asks only when some device has `fwctl` or
    /// starts with `lockdown`).
    #[serde(default)]
    pub lockdown: bool,
    /// The caller lacks CAP_SYS_RAWIO as far as fwctl is concerned: FWCTL_RPC with the write
    /// scope (FWCTL_RPC_DEBUG_WRITE_FULL) fails with EPERM (as for a process without it).
    #[serde(default)]
    pub fwctl_no_rawio: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_one_connectx5() {
        let c = SimConfig::from_toml("").unwrap();
        assert_eq!(c.devices.len(), 1);
        let d = &c.devices[0];
        assert_eq!(d.bdf, "0000:05:00.0");
        assert_eq!(d.model_info().pci_device_id, 0x1017);
        assert_eq!(d.model_info().hw_id_reg & 0xffff, 0x20d);
        assert_eq!(d.driver, DriverKind::None);
        assert!(d.has_path("config") && d.has_path("resource0") && d.has_path("vpd"));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(SimConfig::from_toml("[[device]]\nbdf = \"05:00.0\"").is_err());
        assert!(SimConfig::from_toml("[[device]]\nmodel = \"nope\"").is_err());
        assert!(SimConfig::from_toml("[[device]]\nbogus = 1").is_err());
        let two = "[[device]]\nbdf=\"0000:05:00.0\"\n[[device]]\nbdf=\"0000:05:00.0\"";
        assert!(SimConfig::from_toml(two).is_err());
    }

    #[test]
    fn registers_and_faults_parse() {
        let c = SimConfig::from_toml(
            "[[device]]\ndriver = \"mstflint_access\"\n[device.registers]\n\"0x100\" = 7\n\"64\" = 9\n[device.faults]\neio_after = 3\n",
        )
        .unwrap();
        let d = &c.devices[0];
        assert_eq!(d.driver, DriverKind::MstflintAccess);
        let mut r = d.initial_registers().unwrap();
        r.sort();
        assert_eq!(r, vec![(64, 9), (0x100, 7)]);
        assert_eq!(d.faults.eio_after, 3);
    }
}
