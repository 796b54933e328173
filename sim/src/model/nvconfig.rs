//! The non-volatile configuration store behind the NV access registers `mstconfig` uses:
//! MNVQC 0x9030 (is a configuration item supported, readable, writable, its version), MNVDA
//! 0x9024 (read / write an item), MNVDI 0x9025 (reset one item to its default), MNVIA 0x9033
//! (reset all), MNVGC 0x9034 (what MNVDA can read), MNVGN 0x9035 (walk the items written to
//! NV, for `mstconfig backup`).
//!
//! Items ("TLVs") are keyed by their type dword: class 31:24, then for a global item its
//! index 23:0, for a per-port item the port 23:16 and the index 15:0, for a per-host /
//! per-function item (class 3) host 23:18, function 17:10 and the index 9:0 (host 0,
//! function 0 here). Each item has a default (factory) value, the current value (what the
//! running firmware uses) and the next-boot value (what MNVDA SET wrote; it becomes current
//! at the next firmware boot, [`NvConfig::boot`]). Item data are big-endian dwords; a
//! parameter at "0xA.b" of width w is bits b..b+w-1 of the dword at byte A, as mstconfig's
//! database numbers them.
//!
//! MNVDA header (12 bytes): dword 0 length 8:0 (data bytes), writer host 11:9, version
//! 15:12, writer id 20:16, read_current 22, default 23, rd_en 24, over_en 25; dword 1 the
//! type; the data follow from dword 3. A GET reads the next-boot value unless `default` or
//! `read_current` asks for another, and answers with the item's length, version and (for
//! the next-boot value) the writer of the last SET.
//!
//! The items modelled ([`ITEMS`]) are a ConnectX-5's PCI (SR-IOV, BAR sizes, MSI-X),
//! offload, link and expansion-ROM boot settings, with their capability items. Values the
//! firmware refuses (a parameter above its capability, an enumeration value it does not
//! know) are refused with BAD_PARAM, as are writes to a capability item, to an unknown item
//! or longer than the item; a shorter write changes the item's first bytes only, as its
//! header length says (mstconfig always writes whole items).
//!
//! Knobs: `[device.nvconfig]` in the simulator's configuration ([`NvConfigConfig`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::registers::{ST_BAD_PARAM, ST_METHOD_NOT_SUPP, ST_OK, ST_REG_NOT_SUPP};
use crate::config::NvConfigConfig;

/// Operation status "resource not available": MNVDA GET of an item nothing is stored for,
/// MNVGN on an empty NV area.
pub const ST_RES_NOT_AVLBL: u32 = 8;

pub const REG_MNVDA: u16 = 0x9024;
pub const REG_MNVDI: u16 = 0x9025;
pub const REG_MNVQC: u16 = 0x9030;
pub const REG_MNVIA: u16 = 0x9033;
pub const REG_MNVGC: u16 = 0x9034;
pub const REG_MNVGN: u16 = 0x9035;

/// Minimum register sizes (MNVDA and MNVDI: the 12-byte header; data follow).
pub const NV_HDR: usize = 12;
pub const MNVQC_SIZE: usize = 8;
pub const MNVIA_SIZE: usize = 8;
pub const MNVGC_SIZE: usize = 16;
/// MNVGN: nv_pointer @0, the item header @0x10, up to 128 data bytes @0x1c.
pub const MNVGN_SIZE: usize = 0x9c;
const MNVGN_DATA_MAX: usize = 128;

/// Most VFs per PF the capability item allows by default (`max_vfs` knob).
pub const MAX_VFS: u32 = 127;

#[cfg(test)]
pub const TYPE_GLOBAL_PCI_CONF: u32 = 128;
pub const TYPE_GLOBAL_PCI_CAP: u32 = 129;
#[cfg(test)]
pub const TYPE_VPI_LINK_TYPE: u32 = 1 << 24 | 18;

/// Ports the per-port items exist for (MGIR reports a dual-port card).
pub const PORTS: u32 = 2;

/// The mstconfig writer id MNVDA SET carries when the user did not give one.
const WRITER_ID_MASK: u32 = 0x1f << 16;

/// A per-port item's type for `port`.
pub fn port_type(base: u32, port: u32) -> u32 {
    base | (port & 0xff) << 16
}

/// What a parameter may hold.
#[derive(Clone, Copy)]
pub(crate) enum Allowed {
    /// Anything its width holds.
    Any,
    /// One of these values.
    OneOf(&'static [u32]),
    /// At most the value of this field of this (capability) item.
    CapField(u32, &'static str),
}

/// One parameter of an item. `name` is mstconfig's name (the database's parameter name
/// where mstconfig has none); per-port items get `_P<port>` appended in the knobs.
pub(crate) struct Field {
    pub name: &'static str,
    pub dw: usize,
    pub bit: u32,
    pub width: u32,
    pub default: u32,
    pub allowed: Allowed,
}

/// A configuration item: class, index, size in bytes, version (MNVQC), read-only
/// capability item or writable configuration, parameters (unlisted bits default to 0 and
/// take any value).
pub(crate) struct ItemDef {
    pub name: &'static str,
    pub class: u32,
    pub index: u32,
    pub per_port: bool,
    pub size: usize,
    pub version: u32,
    pub writable: bool,
    pub fields: &'static [Field],
}

const fn f(name: &'static str, dw: usize, bit: u32, width: u32, default: u32) -> Field {
    Field {
        name,
        dw,
        bit,
        width,
        default,
        allowed: Allowed::Any,
    }
}

const fn fa(
    name: &'static str,
    dw: usize,
    bit: u32,
    width: u32,
    default: u32,
    allowed: Allowed,
) -> Field {
    Field {
        name,
        dw,
        bit,
        width,
        default,
        allowed,
    }
}

/// The items of a ConnectX-5 (defaults as such a card leaves the factory).
pub(crate) static ITEMS: &[ItemDef] = &[
    ItemDef {
        name: "GLOBAL_PCI_CAP",
        class: 0,
        index: 129,
        per_port: false,
        size: 20,
        version: 0,
        writable: false,
        fields: &[
            f("pf_bar_size_supported", 0, 24, 1, 1),
            f("vf_bar_size_supported", 0, 25, 1, 1),
            f("num_pf_msix_supported", 0, 26, 1, 1),
            f("num_vf_msix_supported", 0, 27, 1, 1),
            f("max_vfs_per_pf_valid", 0, 31, 1, 1),
            f("max_vfs_per_pf", 1, 0, 16, MAX_VFS),
            f("max_num_pfs", 1, 16, 8, 1),
            f("fpp_support", 1, 29, 1, 1),
            f("sriov_support", 1, 31, 1, 1),
            f("max_log_pf_uar_bar_size", 2, 0, 6, 10),
            f("max_log_vf_uar_bar_size", 2, 6, 6, 4),
            f("max_num_pf_msix", 2, 12, 10, 127),
            f("max_num_vf_msix", 2, 22, 10, 127),
        ],
    },
    ItemDef {
        name: "GLOBAL_PCI_CONF",
        class: 0,
        index: 128,
        per_port: false,
        size: 12,
        version: 0,
        writable: true,
        fields: &[
            f("pf_bar_size_valid", 0, 24, 1, 1),
            f("vf_bar_size_valid", 0, 25, 1, 1),
            f("num_pf_msix_valid", 0, 26, 1, 1),
            f("num_vf_msix_valid", 0, 27, 1, 1),
            f("num_pfs_valid", 0, 28, 1, 1),
            f("fpp_valid", 0, 29, 1, 1),
            f("sriov_valid", 0, 31, 1, 1),
            fa(
                "NUM_OF_VFS",
                1,
                0,
                16,
                0,
                Allowed::CapField(TYPE_GLOBAL_PCI_CAP, "max_vfs_per_pf"),
            ),
            fa(
                "NUM_OF_PF",
                1,
                16,
                8,
                1,
                Allowed::CapField(TYPE_GLOBAL_PCI_CAP, "max_num_pfs"),
            ),
            f("FPP_EN", 1, 29, 1, 1),
            f("SRIOV_EN", 1, 31, 1, 0),
            fa(
                "PF_LOG_BAR_SIZE",
                2,
                0,
                6,
                5,
                Allowed::CapField(TYPE_GLOBAL_PCI_CAP, "max_log_pf_uar_bar_size"),
            ),
            fa(
                "VF_LOG_BAR_SIZE",
                2,
                6,
                6,
                1,
                Allowed::CapField(TYPE_GLOBAL_PCI_CAP, "max_log_vf_uar_bar_size"),
            ),
            fa(
                "NUM_PF_MSIX",
                2,
                12,
                10,
                63,
                Allowed::CapField(TYPE_GLOBAL_PCI_CAP, "max_num_pf_msix"),
            ),
            fa(
                "NUM_VF_MSIX",
                2,
                22,
                10,
                11,
                Allowed::CapField(TYPE_GLOBAL_PCI_CAP, "max_num_vf_msix"),
            ),
        ],
    },
    ItemDef {
        name: "SW_OFFLOAD_CONF",
        class: 0,
        index: 266,
        per_port: false,
        size: 8,
        version: 1,
        writable: true,
        fields: &[
            fa("CQE_COMPRESSION", 0, 0, 3, 0, Allowed::OneOf(&[0, 1])),
            fa(
                "PCI_ATOMIC_MODE",
                0,
                12,
                3,
                0,
                Allowed::OneOf(&[0, 1, 2, 3, 4]),
            ),
            f("LRO_LOG_TIMEOUT0", 1, 0, 4, 6),
            f("LRO_LOG_TIMEOUT1", 1, 4, 4, 7),
            f("LRO_LOG_TIMEOUT2", 1, 8, 4, 8),
            f("LRO_LOG_TIMEOUT3", 1, 12, 4, 13),
        ],
    },
    ItemDef {
        name: "ROM_CAP",
        class: 0,
        index: 257,
        per_port: false,
        size: 4,
        version: 0,
        writable: false,
        fields: &[
            f("boot_legacy_interrupt_disable_supported", 0, 22, 1, 1),
            f("boot_ip_ver", 0, 31, 1, 1),
        ],
    },
    ItemDef {
        name: "VPI_LINK_TYPE",
        class: 1,
        index: 18,
        per_port: true,
        size: 4,
        version: 0,
        writable: true,
        fields: &[fa("LINK_TYPE", 0, 2, 2, 2, Allowed::OneOf(&[1, 2]))],
    },
    ItemDef {
        name: "KEEP_LINK_UP",
        class: 1,
        index: 400,
        per_port: true,
        size: 4,
        version: 1,
        writable: true,
        fields: &[
            f("KEEP_ETH_LINK_UP", 0, 0, 1, 1),
            f("KEEP_IB_LINK_UP", 0, 1, 1, 0),
            f("KEEP_LINK_UP_ON_BOOT", 0, 2, 1, 0),
            f("KEEP_LINK_UP_ON_STANDBY", 0, 3, 1, 0),
        ],
    },
    ItemDef {
        name: "ROM_BOOT_CONF1",
        class: 3,
        index: 545,
        per_port: false,
        size: 4,
        version: 1,
        writable: true,
        fields: &[
            f("BOOT_VLAN", 0, 0, 12, 1),
            fa(
                "LEGACY_BOOT_PROTOCOL",
                0,
                16,
                8,
                1,
                Allowed::OneOf(&[0, 1, 2, 4, 5]),
            ),
            f("BOOT_RETRY_CNT1", 0, 24, 3, 0),
            f("BOOT_INTERRUPT_DIS", 0, 27, 1, 0),
            f("BOOT_VLAN_EN", 0, 30, 1, 0),
            f("boot_option_rom_en", 0, 31, 1, 1),
        ],
    },
    ItemDef {
        name: "ROM_BOOT_CONF2",
        class: 3,
        index: 405,
        per_port: false,
        size: 4,
        version: 2,
        writable: true,
        fields: &[
            f("IP_VER", 0, 8, 2, 0),
            f("BOOT_UNDI_NETWORK_WAIT", 0, 16, 8, 0),
        ],
    },
    ItemDef {
        name: "ROM_IB_BOOT_CONF",
        class: 3,
        index: 546,
        per_port: false,
        size: 4,
        version: 0,
        writable: true,
        fields: &[f("BOOT_PKEY", 0, 0, 16, 0)],
    },
];

fn mask(width: u32) -> u32 {
    ((1u64 << width) - 1) as u32
}

fn get_field(d: &[u32], fd: &Field) -> u32 {
    (d[fd.dw] >> fd.bit) & mask(fd.width)
}

fn put_field(d: &mut [u32], fd: &Field, v: u32) {
    let m = mask(fd.width) << fd.bit;
    d[fd.dw] = (d[fd.dw] & !m) | ((v << fd.bit) & m);
}

impl ItemDef {
    fn base_type(&self) -> u32 {
        self.class << 24 | self.index
    }

    fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields
            .iter()
            .find(|fd| fd.name.eq_ignore_ascii_case(name))
    }

    fn defaults(&self) -> Vec<u32> {
        let mut d = vec![0u32; self.size.div_ceil(4)];
        for fd in self.fields {
            put_field(&mut d, fd, fd.default);
        }
        d
    }
}

/// One item of the NV file: the next-boot data and who wrote it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedItem {
    writer: u32,
    host: u32,
    data: Vec<u32>,
}

struct Item {
    def: &'static ItemDef,
    default: Vec<u32>,
    current: Vec<u32>,
    next: Vec<u32>,
    /// Writer id and host of the last write (MNVDA SET) of the next-boot value; None:
    /// nothing written to NV (the defaults apply).
    writer: Option<(u32, u32)>,
}

pub(crate) struct NvConfig {
    items: BTreeMap<u32, Item>,
    /// The NV file (`[device.nvconfig] file`), rewritten after every change.
    file: Option<PathBuf>,
}

impl NvConfig {
    /// A ConnectX-5's store with factory defaults.
    pub fn connectx5() -> NvConfig {
        let mut items = BTreeMap::new();
        for def in ITEMS {
            let ports = if def.per_port { 1..=PORTS } else { 0..=0 };
            for port in ports {
                let d = def.defaults();
                items.insert(
                    port_type(def.base_type(), port),
                    Item {
                        def,
                        default: d.clone(),
                        current: d.clone(),
                        next: d,
                        writer: None,
                    },
                );
            }
        }
        NvConfig { items, file: None }
    }

    /// The store a device configuration asks for: the ConnectX-5 defaults, the capability
    /// knob, then `values` (current and next boot, as if set and booted) and `pending`
    /// (next boot only), each checked as an MNVDA SET would be.
    pub fn from_config(cfg: &NvConfigConfig) -> Result<NvConfig, String> {
        let nv = Self::build(cfg)?;
        nv.save();
        Ok(nv)
    }

    /// [`NvConfig::from_config`] without writing the NV file.
    fn build(cfg: &NvConfigConfig) -> Result<NvConfig, String> {
        let mut nv = NvConfig::connectx5();
        let file = cfg.file.as_ref().map(PathBuf::from);
        if let Some(max) = cfg.max_vfs {
            if max > 0xffff {
                return Err(format!("nvconfig.max_vfs {max}: at most 65535"));
            }
            for it in nv
                .items
                .values_mut()
                .filter(|i| i.def.name == "GLOBAL_PCI_CAP")
            {
                let fd = it.def.field("max_vfs_per_pf").expect("catalogue");
                for d in [&mut it.default, &mut it.current, &mut it.next] {
                    put_field(d, fd, max);
                }
            }
        }
        if let Some(path) = &file {
            nv.load(path)
                .map_err(|e| format!("nvconfig.file {}: {e}", path.display()))?;
        }
        for (map, booted) in [(&cfg.values, true), (&cfg.pending, false)] {
            for (name, &v) in map {
                let key = if booted { "values" } else { "pending" };
                nv.set_named(name, v)
                    .map_err(|e| format!("nvconfig.{key}.{name}: {e}"))?;
            }
            if booted {
                nv.boot();
            }
        }
        nv.file = file;
        Ok(nv)
    }

    /// Read the NV file (absent or empty: nothing written yet), then boot: its values
    /// become current.
    fn load(&mut self, path: &std::path::Path) -> Result<(), String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        let saved: BTreeMap<String, SavedItem> =
            toml::from_str(&text).map_err(|e| e.to_string())?;
        for (key, s) in saved {
            let ty = key
                .strip_prefix("0x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad item type {key:?}"))?;
            let it = self
                .items
                .get(&ty)
                .filter(|it| it.def.writable)
                .ok_or_else(|| format!("item {key}: not a writable item"))?;
            if s.data.len() != it.next.len() || s.writer > 0x1f || s.host > 7 {
                return Err(format!("item {key}: bad length, writer or host"));
            }
            if !self.valid(ty, &s.data) {
                return Err(format!("item {key}: values the firmware refuses"));
            }
            let it = self.items.get_mut(&ty).expect("checked above");
            it.next = s.data;
            it.writer = Some((s.writer, s.host));
        }
        self.boot();
        Ok(())
    }

    /// Rewrite the NV file (when there is one) with the items written to NV. A failure is
    /// reported on stderr: the register access itself succeeded.
    fn save(&self) {
        let Some(path) = &self.file else {
            return;
        };
        let saved: BTreeMap<String, SavedItem> = self
            .items
            .iter()
            .filter_map(|(ty, it)| {
                let (writer, host) = it.writer?;
                Some((
                    format!("0x{ty:08x}"),
                    SavedItem {
                        writer,
                        host,
                        data: it.next.clone(),
                    },
                ))
            })
            .collect();
        let tmp = path.with_extension("tmp");
        let r = toml::to_string(&saved)
            .map_err(|e| e.to_string())
            .and_then(|t| std::fs::write(&tmp, t).map_err(|e| e.to_string()))
            .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| e.to_string()));
        if let Err(e) = r {
            eprintln!("mtcr-sim: nvconfig.file {}: {e}", path.display());
        }
    }

    /// What [`NvConfig::from_config`] would refuse, plus `[device.nvconfig]` settings on a
    /// device without a firmware model (they would have no effect).
    pub fn check_config(cfg: &crate::config::DeviceConfig) -> Result<(), String> {
        if cfg.nvconfig != NvConfigConfig::default() && !super::firmware::enabled(cfg) {
            return Err("[device.nvconfig] needs the firmware model (firmware.flash)".into());
        }
        NvConfig::build(&cfg.nvconfig).map(drop)
    }

    /// Set one parameter's next-boot value by name (`NAME` or, for a per-port item,
    /// `NAME_P<port>`), checked like an MNVDA SET.
    fn set_named(&mut self, name: &str, v: u32) -> Result<(), String> {
        let (base, port) = match name.rsplit_once("_P") {
            Some((b, p)) if p.parse::<u32>().is_ok() => (b, p.parse::<u32>().unwrap_or(0)),
            _ => (name, 0),
        };
        let ty = self
            .items
            .iter()
            .find(|(ty, it)| {
                it.def.writable
                    && it.def.field(base).is_some()
                    && (it.def.per_port == (port != 0))
                    && (**ty >> 16) & 0xff == port
            })
            .map(|(ty, _)| *ty)
            .ok_or_else(|| "no such writable parameter".to_string())?;
        let it = &self.items[&ty];
        let fd = it.def.field(base).expect("found above");
        if v > mask(fd.width) {
            return Err(format!("{v} does not fit in {} bits", fd.width));
        }
        let mut new = it.next.clone();
        put_field(&mut new, fd, v);
        if !self.valid(ty, &new) {
            return Err(format!("{v} is refused by the firmware"));
        }
        let it = self.items.get_mut(&ty).expect("found above");
        it.next = new;
        it.writer = Some((0, 0));
        Ok(())
    }

    /// The current value of a capability field (0 when absent).
    fn cap(&self, ty: u32, name: &str) -> u32 {
        self.items
            .get(&ty)
            .and_then(|it| it.def.field(name).map(|fd| get_field(&it.current, fd)))
            .unwrap_or(0)
    }

    /// Whether the firmware would take `data` for item `ty`.
    fn valid(&self, ty: u32, data: &[u32]) -> bool {
        let Some(it) = self.items.get(&ty) else {
            return false;
        };
        it.def.fields.iter().all(|fd| {
            let v = get_field(data, fd);
            match fd.allowed {
                Allowed::Any => true,
                Allowed::OneOf(vals) => vals.contains(&v),
                Allowed::CapField(cap, name) => v <= self.cap(cap, name),
            }
        })
    }

    /// A firmware boot: the next-boot values become current.
    pub fn boot(&mut self) {
        for it in self.items.values_mut() {
            it.current = it.next.clone();
        }
    }

    /// Named parameters of the item `ty` in the chosen value (0 default, 1 current, 2 next
    /// boot), for tests and diagnostics.
    #[cfg(test)]
    pub fn values(&self, ty: u32, which: u8) -> Vec<(&'static str, u32)> {
        let it = &self.items[&ty];
        let d = match which {
            0 => &it.default,
            1 => &it.current,
            _ => &it.next,
        };
        it.def
            .fields
            .iter()
            .map(|fd| (fd.name, get_field(d, fd)))
            .collect()
    }

    pub fn reg_get(&mut self, id: u16, input: &[u32], out: &mut [u32]) -> u32 {
        match id {
            REG_MNVQC => {
                out[0] = input[0];
                out[1] = match self.items.get(&input[0]) {
                    // support_rd 0, support_wr 1, version 7:4.
                    Some(it) => 1 | u32::from(it.def.writable) << 1 | (it.def.version & 0xf) << 4,
                    None => 0,
                };
                ST_OK
            }
            REG_MNVGC => {
                // nvda_read_factory_settings, nvda_read_current_settings (no writes to
                // other hosts' items).
                out[0] = 0b11;
                ST_OK
            }
            REG_MNVDA => {
                let hdr = input[0];
                let Some(it) = self.items.get(&input[1]) else {
                    // Nothing stored under this type.
                    return ST_RES_NOT_AVLBL;
                };
                let (src, writer) = if hdr >> 23 & 1 == 1 {
                    (&it.default, None)
                } else if hdr >> 22 & 1 == 1 {
                    (&it.current, None)
                } else {
                    (&it.next, it.writer)
                };
                if out.len() < 3 + src.len() {
                    return ST_BAD_PARAM;
                }
                let (wid, whost) = writer.unwrap_or((0, 0));
                out.fill(0);
                out[0] = (hdr & !(0x1ff | 0x7 << 9 | 0xf << 12 | WRITER_ID_MASK))
                    | it.def.size as u32
                    | whost << 9
                    | (it.def.version & 0xf) << 12
                    | wid << 16;
                out[1] = input[1];
                out[3..3 + src.len()].copy_from_slice(src);
                ST_OK
            }
            REG_MNVGN => self.get_next(input[0], out),
            REG_MNVDI | REG_MNVIA => ST_METHOD_NOT_SUPP,
            _ => ST_REG_NOT_SUPP,
        }
    }

    /// MNVGN: the item written to NV at position `ptr` (0: the first) with the pointer to
    /// the following one; pointer 0 once past the last. An NV area nothing was written to
    /// answers "resource not available".
    fn get_next(&self, ptr: u32, out: &mut [u32]) -> u32 {
        let written: Vec<(&u32, &Item)> = self
            .items
            .iter()
            .filter(|(_, it)| it.writer.is_some())
            .collect();
        if written.is_empty() {
            return ST_RES_NOT_AVLBL;
        }
        out.fill(0);
        let Some((ty, it)) = written.get(ptr as usize) else {
            return ST_OK;
        };
        let (wid, whost) = it.writer.unwrap_or((0, 0));
        let len = it.def.size.min(MNVGN_DATA_MAX);
        out[0] = ptr + 1;
        out[4] = len as u32 | whost << 9 | (it.def.version & 0xf) << 12 | wid << 16;
        out[5] = **ty;
        let n = len.div_ceil(4);
        out[7..7 + n].copy_from_slice(&it.next[..n]);
        ST_OK
    }

    pub fn reg_set(&mut self, id: u16, data: &[u32]) -> u32 {
        let st = self.set(id, data);
        if st == ST_OK {
            self.save();
        }
        st
    }

    fn set(&mut self, id: u16, data: &[u32]) -> u32 {
        match id {
            REG_MNVDA => {
                let hdr = data[0];
                let len = (hdr & 0x1ff) as usize;
                let ty = data[1];
                let Some(it) = self.items.get(&ty) else {
                    return ST_BAD_PARAM;
                };
                if !it.def.writable {
                    return ST_BAD_PARAM;
                }
                if len & 3 != 0 || len > 4 * it.next.len() || data.len() < 3 + len / 4 {
                    return ST_BAD_PARAM;
                }
                let mut new = it.next.clone();
                new[..len / 4].copy_from_slice(&data[3..3 + len / 4]);
                if !self.valid(ty, &new) {
                    return ST_BAD_PARAM;
                }
                let it = self.items.get_mut(&ty).expect("checked above");
                it.next = new;
                it.writer = Some(((hdr >> 16) & 0x1f, (hdr >> 9) & 0x7));
                ST_OK
            }
            REG_MNVDI => match self.items.get_mut(&data[1]) {
                Some(it) if it.def.writable => {
                    it.next = it.default.clone();
                    it.writer = None;
                    ST_OK
                }
                _ => ST_BAD_PARAM,
            },
            REG_MNVIA => {
                // target 2:0: only 0 (all items) exists.
                if data[0] & 0x7 != 0 {
                    return ST_BAD_PARAM;
                }
                for it in self.items.values_mut().filter(|i| i.def.writable) {
                    it.next = it.default.clone();
                    it.writer = None;
                }
                ST_OK
            }
            REG_MNVQC | REG_MNVGC | REG_MNVGN => ST_METHOD_NOT_SUPP,
            _ => ST_REG_NOT_SUPP,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(nv: &mut NvConfig, ty: u32, flags: u32) -> (u32, Vec<u32>) {
        let mut out = vec![0u32; 3 + 64];
        let st = nv.reg_get(REG_MNVDA, &[flags | 256, ty, 0], &mut out);
        let len = (out[0] & 0x1ff) as usize / 4;
        (st, out[3..3 + len].to_vec())
    }

    fn value(nv: &NvConfig, ty: u32, which: u8, name: &str) -> u32 {
        nv.values(ty, which)
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name}"))
            .1
    }

    const PCI: u32 = TYPE_GLOBAL_PCI_CONF;

    #[test]
    fn query_set_reset() {
        let mut nv = NvConfig::connectx5();
        let mut q = [0u32; 2];
        nv.reg_get(REG_MNVQC, &[PCI, 0], &mut q);
        assert_eq!(q[1] & 3, 3, "read and write");
        nv.reg_get(REG_MNVQC, &[TYPE_GLOBAL_PCI_CAP, 0], &mut q);
        assert_eq!(q[1] & 3, 1, "read only");
        nv.reg_get(REG_MNVQC, &[2 << 24 | 405, 0], &mut q);
        assert_eq!(q[1], 0, "unknown");
        nv.reg_get(REG_MNVQC, &[3 << 24 | 405, 0], &mut q);
        assert_eq!(q[1], 3 | 2 << 4, "ROM_BOOT_CONF2 version 2");
        // SRIOV_EN=1 NUM_OF_VFS=16: next boot changes, current does not.
        let (st, d) = get(&mut nv, PCI, 0);
        assert_eq!(st, ST_OK);
        assert_eq!(d.len(), 3);
        let mut w = vec![12 | 0x1f << 16, PCI, 0];
        w.extend_from_slice(&d);
        w[4] |= 1 << 31 | 16;
        assert_eq!(nv.reg_set(REG_MNVDA, &w), ST_OK);
        assert_eq!(get(&mut nv, PCI, 0).1[1] & 0xffff, 16);
        assert_eq!(get(&mut nv, PCI, 1 << 22).1[1] & 0xffff, 0);
        assert_eq!(get(&mut nv, PCI, 1 << 23).1[1] & 0xffff, 0);
        assert_eq!(value(&nv, PCI, 2, "SRIOV_EN"), 1);
        assert_eq!(value(&nv, PCI, 2, "NUM_PF_MSIX"), 63, "others kept");
        nv.boot();
        assert_eq!(get(&mut nv, PCI, 1 << 22).1[1] & 0xffff, 16);
        // Too many VFs, MSI-X or BAR size, a bad link type, a read-only item: refused,
        // nothing changed.
        w[4] = (w[4] & !0xffff) | (MAX_VFS + 1);
        assert_eq!(nv.reg_set(REG_MNVDA, &w), ST_BAD_PARAM);
        let mut w2 = vec![12, PCI, 0];
        w2.extend_from_slice(&get(&mut nv, PCI, 0).1);
        w2[5] |= 0x3f;
        assert_eq!(nv.reg_set(REG_MNVDA, &w2), ST_BAD_PARAM, "PF BAR size 63");
        assert_eq!(value(&nv, PCI, 2, "NUM_OF_VFS"), 16);
        let lt = port_type(TYPE_VPI_LINK_TYPE, 1);
        assert_eq!(nv.reg_set(REG_MNVDA, &[4, lt, 0, 3 << 2]), ST_BAD_PARAM);
        assert_eq!(nv.reg_set(REG_MNVDA, &[4, lt, 0, 1 << 2]), ST_OK);
        assert_eq!(
            nv.reg_set(REG_MNVDA, &[4, TYPE_GLOBAL_PCI_CAP, 0, 0]),
            ST_BAD_PARAM
        );
        assert_eq!(
            nv.reg_set(REG_MNVDA, &[4, 0x55, 0, 0]),
            ST_BAD_PARAM,
            "unknown"
        );
        assert_eq!(
            nv.reg_set(REG_MNVDA, &[8, lt, 0, 1 << 2, 0]),
            ST_BAD_PARAM,
            "long"
        );
        let rom = 3 << 24 | 545;
        assert_eq!(nv.reg_set(REG_MNVDA, &[4, rom, 0, 3 << 16]), ST_BAD_PARAM);
        assert_eq!(nv.reg_set(REG_MNVDA, &[4, rom, 0, 2 << 16 | 7]), ST_OK);
        assert_eq!(value(&nv, rom, 2, "LEGACY_BOOT_PROTOCOL"), 2);
        assert_eq!(value(&nv, rom, 2, "BOOT_VLAN"), 7);
        // Reset one item, then all: next boot back to the defaults; current unchanged.
        assert_eq!(nv.reg_set(REG_MNVDI, &[0, rom, 0]), ST_OK);
        assert_eq!(value(&nv, rom, 2, "BOOT_VLAN"), 1);
        assert_eq!(value(&nv, lt, 2, "LINK_TYPE"), 1);
        assert_eq!(nv.reg_set(REG_MNVIA, &[1, 0]), ST_BAD_PARAM, "target 1");
        assert_eq!(nv.reg_set(REG_MNVIA, &[0, 0]), ST_OK);
        assert_eq!(get(&mut nv, lt, 0).1, [2 << 2]);
        assert_eq!(get(&mut nv, PCI, 0).1[1] & 0xffff, 0);
        assert_eq!(value(&nv, PCI, 1, "NUM_OF_VFS"), 16, "current until a boot");
        nv.boot();
        assert_eq!(value(&nv, PCI, 1, "NUM_OF_VFS"), 0);
    }

    #[test]
    fn header_and_methods() {
        let mut nv = NvConfig::connectx5();
        let ty = 3 << 24 | 405;
        let mut out = vec![0u32; 3 + 64];
        assert_eq!(nv.reg_get(REG_MNVDA, &[256, ty, 0], &mut out), ST_OK);
        assert_eq!(out[0] & 0x1ff, 4, "length");
        assert_eq!((out[0] >> 12) & 0xf, 2, "version");
        assert_eq!(out[1], ty);
        assert_eq!(
            nv.reg_get(REG_MNVDA, &[256, 0x1234, 0], &mut out),
            ST_RES_NOT_AVLBL
        );
        let mut short = vec![0u32; 3];
        assert_eq!(
            nv.reg_get(REG_MNVDA, &[0, TYPE_GLOBAL_PCI_CONF, 0], &mut short),
            ST_BAD_PARAM
        );
        let mut g = [0u32; 4];
        assert_eq!(nv.reg_get(REG_MNVGC, &[0; 4], &mut g), ST_OK);
        assert_eq!(g[0], 3);
        assert_eq!(nv.reg_set(REG_MNVQC, &[0, 0]), ST_METHOD_NOT_SUPP);
        assert_eq!(nv.reg_get(REG_MNVIA, &[0, 0], &mut g), ST_METHOD_NOT_SUPP);
        // The writer of the last SET is reported with the next-boot value only.
        let lt = port_type(TYPE_VPI_LINK_TYPE, 2);
        assert_eq!(nv.reg_set(REG_MNVDA, &[4 | 6 << 16, lt, 0, 1 << 2]), ST_OK);
        nv.reg_get(REG_MNVDA, &[256, lt, 0], &mut out);
        assert_eq!((out[0] >> 16) & 0x1f, 6);
        nv.reg_get(REG_MNVDA, &[256 | 1 << 23, lt, 0], &mut out);
        assert_eq!((out[0] >> 16) & 0x1f, 0);
        assert_eq!(out[3], 2 << 2, "default");
    }

    #[test]
    fn backup_walk() {
        let mut nv = NvConfig::connectx5();
        let mut out = vec![0u32; MNVGN_SIZE / 4];
        assert_eq!(nv.reg_get(REG_MNVGN, &[0], &mut out), ST_RES_NOT_AVLBL);
        let lt1 = port_type(TYPE_VPI_LINK_TYPE, 1);
        let rom = 3 << 24 | 545;
        assert_eq!(
            nv.reg_set(REG_MNVDA, &[4 | 6 << 16, rom, 0, 1 << 31]),
            ST_OK
        );
        assert_eq!(nv.reg_set(REG_MNVDA, &[4 | 6 << 16, lt1, 0, 1 << 2]), ST_OK);
        let mut seen = vec![];
        let mut ptr = 0;
        loop {
            assert_eq!(nv.reg_get(REG_MNVGN, &[ptr], &mut out), ST_OK);
            if out[0] == 0 {
                break;
            }
            ptr = out[0];
            assert_eq!(out[4] & 0x1ff, 4);
            assert_eq!((out[4] >> 16) & 0x1f, 6);
            seen.push((out[5], out[7]));
        }
        assert_eq!(seen, [(lt1, 1 << 2), (rom, 1 << 31)]);
    }

    #[test]
    fn nv_file_keeps_written_items_across_runs() {
        let path = std::env::temp_dir().join(format!("mtcr-sim-nv-{}.toml", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let cfg = NvConfigConfig {
            file: Some(path.display().to_string()),
            ..Default::default()
        };
        let mut nv = NvConfig::from_config(&cfg).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), "");
        let lt2 = port_type(TYPE_VPI_LINK_TYPE, 2);
        assert_eq!(nv.reg_set(REG_MNVDA, &[4 | 9 << 16, lt2, 0, 1 << 2]), ST_OK);
        assert_eq!(nv.reg_set(REG_MNVDA, &[4, lt2, 0, 3 << 2]), ST_BAD_PARAM);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("0x01020012"), "{text}");
        // The next run is a boot: the written value is current.
        let nv2 = NvConfig::from_config(&cfg).unwrap();
        assert_eq!(value(&nv2, lt2, 1, "LINK_TYPE"), 1);
        assert_eq!(value(&nv2, lt2, 0, "LINK_TYPE"), 2);
        assert_eq!(nv2.items[&lt2].writer, Some((9, 0)));
        // Reset all: nothing written any more.
        let mut nv3 = NvConfig::from_config(&cfg).unwrap();
        assert_eq!(nv3.reg_set(REG_MNVIA, &[0, 0]), ST_OK);
        assert!(!std::fs::read_to_string(&path).unwrap().contains("0x0"));
        // A file the firmware would refuse is a configuration error.
        std::fs::write(
            &path,
            "[0x00000080]\nwriter = 0\nhost = 0\ndata = [0, 200, 0]\n",
        )
        .unwrap();
        let e = NvConfig::from_config(&cfg).err().unwrap();
        assert!(e.contains("refuses"), "{e}");
        std::fs::write(
            &path,
            "[0x00000081]\nwriter = 0\nhost = 0\ndata = [0, 0, 0, 0, 0]\n",
        )
        .unwrap();
        assert!(NvConfig::from_config(&cfg).is_err(), "capability item");
        let _ = std::fs::remove_file(&path);
    }

    /// The NV registers through the ICMD mailbox as mstconfig sends them (MNVDA with the
    /// register TLV sized by the header length), on a device with and without firmware.
    #[test]
    fn through_the_icmd_mailbox() {
        use crate::model::firmware::Firmware;
        use crate::model::icmd::{Icmd, ICMD_CTRL, ICMD_MAILBOX, OPCODE_ACCESS_REGISTER};
        let run = |icmd: &mut Icmd, id: u16, method: u32, reg: &[u32], n: usize| {
            let mut m = vec![
                1 << 27 | 4 << 16,
                u32::from(id) << 16 | method << 8 | 1,
                0,
                0,
            ];
            m.push(3 << 27 | ((n as u32 + 1) << 16));
            m.extend_from_slice(reg);
            m.resize(5 + n, 0);
            for (i, d) in m.iter().enumerate() {
                icmd.write(ICMD_MAILBOX + 4 * i as u32, *d);
            }
            icmd.write(ICMD_CTRL, OPCODE_ACCESS_REGISTER << 16 | 1);
            let out: Vec<u32> = (0..5 + n)
                .map(|i| icmd.read(ICMD_MAILBOX + 4 * i as u32).unwrap())
                .collect();
            ((out[0] >> 8) & 0x7f, out[5..].to_vec())
        };
        let cfg = crate::config::SimConfig::from_toml("").unwrap().devices[0].clone();
        let mut icmd = Icmd::new(0x20d);
        assert_eq!(
            run(&mut icmd, REG_MNVQC, 1, &[PCI, 0], 2).0,
            ST_REG_NOT_SUPP
        );
        icmd.set_firmware(Firmware::build(&cfg).unwrap().unwrap());
        let (st, q) = run(&mut icmd, REG_MNVQC, 1, &[PCI, 0], 2);
        assert_eq!((st, q[1] & 3), (ST_OK, 3));
        // GET with room for 256 data bytes (67 dwords), as mstconfig asks.
        let (st, d) = run(&mut icmd, REG_MNVDA, 1, &[256, PCI, 0], 67);
        assert_eq!(st, ST_OK);
        assert_eq!(d[0] & 0x1ff, 12);
        assert_eq!(d[4] & 0xffff_0000, 1 << 29 | 1 << 16, "FPP_EN, 1 PF");
        // SET of the 12-byte item (TLV of 6 dwords): 16 VFs.
        let mut w = vec![12 | 9 << 16, PCI, 0];
        w.extend_from_slice(&d[3..6]);
        w[4] |= 1 << 31 | 16;
        assert_eq!(run(&mut icmd, REG_MNVDA, 2, &w, 6).0, ST_OK);
        let (_, d) = run(&mut icmd, REG_MNVDA, 1, &[256, PCI, 0], 67);
        assert_eq!(d[4] & 0xffff, 16);
        assert_eq!((d[0] >> 16) & 0x1f, 9, "writer");
        // A TLV shorter than the header is refused before the store sees it.
        assert_eq!(run(&mut icmd, REG_MNVDA, 1, &[256, PCI], 2).0, ST_BAD_PARAM);
        let (st, g) = run(&mut icmd, REG_MNVGN, 1, &[0], MNVGN_SIZE / 4);
        assert_eq!((st, g[0], g[5]), (ST_OK, 1, PCI));
        assert_eq!(run(&mut icmd, REG_MNVIA, 2, &[0, 0], 2).0, ST_OK);
        let (_, d) = run(&mut icmd, REG_MNVDA, 1, &[256, PCI, 0], 67);
        assert_eq!(d[4] & 0xffff, 0);
    }

    #[test]
    fn knobs() {
        let mut cfg = NvConfigConfig {
            max_vfs: Some(8),
            ..Default::default()
        };
        cfg.values.insert("SRIOV_EN".into(), 1);
        cfg.values.insert("NUM_OF_VFS".into(), 8);
        cfg.pending.insert("LINK_TYPE_P2".into(), 1);
        let nv = NvConfig::from_config(&cfg).unwrap();
        assert_eq!(value(&nv, PCI, 1, "NUM_OF_VFS"), 8);
        assert_eq!(value(&nv, PCI, 2, "NUM_OF_VFS"), 8);
        assert_eq!(value(&nv, PCI, 0, "NUM_OF_VFS"), 0);
        let lt2 = port_type(TYPE_VPI_LINK_TYPE, 2);
        assert_eq!(value(&nv, lt2, 1, "LINK_TYPE"), 2);
        assert_eq!(value(&nv, lt2, 2, "LINK_TYPE"), 1);
        assert_eq!(
            value(&nv, TYPE_GLOBAL_PCI_CAP, 1, "max_vfs_per_pf"),
            8,
            "capability"
        );
        cfg.values.insert("NUM_OF_VFS".into(), 9);
        let e = NvConfig::from_config(&cfg).err().unwrap();
        assert!(e.contains("NUM_OF_VFS") && e.contains("refused"), "{e}");
        for bad in ["LINK_TYPE", "LINK_TYPE_P3", "NOPE", "max_vfs_per_pf"] {
            let mut c = NvConfigConfig::default();
            c.pending.insert(bad.into(), 1);
            assert!(NvConfig::from_config(&c).is_err(), "{bad}");
        }
        // Knobs need the firmware model; the device validation checks them.
        let dev = |t: &str| crate::config::SimConfig::from_toml(t).unwrap().devices[0].clone();
        let cx4 = dev("[[device]]\nmodel = \"connectx4\"\n[device.nvconfig]\nmax_vfs = 8");
        assert!(NvConfig::check_config(&cx4).is_err());
        assert!(NvConfig::check_config(&dev("[[device]]\nmodel = \"connectx4\"")).is_ok());
        let bad = dev("[[device]]\n[device.nvconfig]\nvalues = { NUM_OF_VFS = 200 }");
        assert!(crate::model::SimDevice::validate(&bad).is_err());
        let mut c = NvConfigConfig::default();
        c.pending.insert("BOOT_VLAN".into(), 4096);
        assert!(NvConfig::from_config(&c).err().unwrap().contains("12 bits"));
    }
}
