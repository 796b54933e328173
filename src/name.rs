//! Device names: every form the stock library accepts (mtcr_api.md §2, forms 5–11) plus MFT's
//! `/dev/mst/...` node names and any RDMA device name present in `/sys/class/infiniband`.
//!
//! [`parse`] is pure (no filesystem access) so it can be unit-tested and fuzzed and yields a
//! [`NameForm`]; [`resolve`] then looks the parsed name up in sysfs and yields a [`Target`]:
//! what the name designates (a file, a `/dev/mst` node, a function, a fwctl node), which the
//! open plan (`open::plan`) turns into the paths to try.
//!
//! | Form | Example | Path constraint |
//! |---|---|---|
//! | file ending in `/config` | `/sys/bus/pci/devices/0000:05:00.0/config` | config only, that file |
//! | file ending in `/resource0` | `/sys/bus/pci/devices/0000:05:00.0/resource0` | memory only, that file |
//! | `/proc/bus/pci/DDDD:BB/DD.F`, `/proc/bus/pci/BB/DD.F` | `/proc/bus/pci/05/00.0` | config only, that file |
//! | RDMA device | `mlx5_0`, `mlx4_1`, `mthca0`, any name under `/sys/class/infiniband` | mlx5_*: config preferred |
//! | `BB:DD.F`, `DDDD:BB:DD.F` (hex) | `05:00.0`, `0000:05:00.0` | default |
//! | `pciconf-BB:DD.F`, `pciconf-DDDD:BB:DD.F` | `pciconf-05:00.0` | config preferred |
//! | `/dev/mst/mtNNNN_pciconfN[.F]` | `/dev/mst/mt4119_pciconf0` | config preferred |
//! | `/dev/mst/mtNNNN_pci_crN` | `/dev/mst/mt4099_pci_cr0` | memory only |
//! | `/dev/mst/mtNNNN_pci_pciconfF`, `/dev/mst/mtNNNN_pci_pci_crF` | `/dev/mst/mt4119_pci_pciconf0` | as above |
//! | anything containing `fwctl` (checked first) | `fwctl0`, `/dev/fwctl/fwctl0` | that fwctl node only |
//!
//! `/dev/mst` names carry the PCI device id in decimal (`mt4119` = 0x1017). MFT's
//! `mtNNNN_pciconfN[.F]` / `mtNNNN_pci_crN` names number the *cards* with that id: `N` is the
//! index, in ascending BDF order, among the non-VF functions 0 with that device id, and `.F`
//! selects function F of that card (default 0). The unified driver's MFT-mode names
//! `mtNNNN_pci_pciconfF` / `mtNNNN_pci_pci_crF` carry the *function* instead: they resolve to
//! function F of the first card (ascending BDF) with that id. The names resolve through sysfs
//! whether or not the node exists. The inverse (the node names of a function) is
//! `access::driver::nodes`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::pci::{sysfs, Bdf, SysfsRoot};

/// Longest name accepted (longer names are rejected as malformed).
pub const MAX_NAME_LEN: usize = 4096;

/// Kind of a `/dev/mst` node name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MstName {
    /// `mtNNNN_pciconfN[.F]`: card index and function.
    Pciconf { index: u32, func: u8 },
    /// `mtNNNN_pci_crN`: card index.
    PciCr { index: u32 },
    /// `mtNNNN_pci_pciconfF` (unified driver, MFT mode): function.
    DriverPciconf { func: u8 },
    /// `mtNNNN_pci_pci_crF` (unified driver, MFT mode): function.
    DriverPciCr { func: u8 },
}

/// A syntactically valid name, before any filesystem lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameForm {
    /// A config-space file (`.../config` or `/proc/bus/pci/...`): config path forced.
    ConfigFile { path: PathBuf, bdf: Bdf },
    /// A `.../resource0` file: memory path forced.
    Resource0 { path: PathBuf, bdf: Bdf },
    /// An RDMA device name. `mlx5` names prefer config access (as stock); `well_known` is
    /// true for the `mthcaN`/`mlx4_N`/`mlx5_N` patterns stock accepts.
    Rdma {
        name: String,
        mlx5: bool,
        well_known: bool,
    },
    /// A BDF, possibly with the `pciconf-` prefix.
    Bdf { bdf: Bdf, pciconf: bool },
    /// A `/dev/mst/mtNNNN_...` node name (`dev_id` converted from decimal).
    Mst {
        path: PathBuf,
        dev_id: u16,
        kind: MstName,
    },
    /// A name containing `fwctl`: the node `path` (`/dev/fwctl/` prepended unless the name
    /// contains it).
    Fwctl { path: PathBuf },
}

/// Which file a file name designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A config-space file (`.../config`, `/proc/bus/pci/...`): the config path only.
    Config,
    /// A `.../resource0` file: the memory path only.
    Resource0,
}

/// What a name designates, looked up in sysfs (the result of [`resolve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A file that allows only its own path (mapped into the root), of function `bdf`.
    File {
        path: PathBuf,
        kind: FileKind,
        bdf: Bdf,
    },
    /// A `/dev/mst` node name: that node (whether or not it exists), of function `bdf`.
    Node {
        path: PathBuf,
        name: MstName,
        bdf: Bdf,
    },
    /// A function, by address or RDMA device name. `prefer_config`: the name asks for config
    /// access first (`pciconf-...`, `mlx5_N`).
    Bdf { bdf: Bdf, prefer_config: bool },
    /// A fwctl node (`fwctlN`, `/dev/fwctl/fwctlN`), mapped into the root. Its PCI function
    /// (if any) is found through the fwctl class (`access::fwctl::node_bdf`).
    Fwctl { path: PathBuf },
}

impl Target {
    /// The PCI function named, when the name is a PCI name (every form but fwctl).
    #[cfg(any(test, feature = "__internal-api"))]
    pub fn bdf(&self) -> Option<Bdf> {
        match self {
            Target::File { bdf, .. } | Target::Node { bdf, .. } | Target::Bdf { bdf, .. } => {
                Some(*bdf)
            }
            Target::Fwctl { .. } => None,
        }
    }
}

impl MstName {
    /// Whether the name is one of a memory node (`pci_cr`, `pci_pci_cr`).
    pub fn is_memory(self) -> bool {
        matches!(self, MstName::PciCr { .. } | MstName::DriverPciCr { .. })
    }
}

fn bad(name: &str) -> Error {
    Error::InvalidArgument(format!("Unable to parse device name {name}"))
}

fn hex_field(s: &str, max_len: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Parse `BB:DD.F` or `DDDD:BB:DD.F` (hex, 1–4 / 1–2 / 1–2 / 1 digits).
pub fn parse_bdf_lenient(s: &str) -> Option<Bdf> {
    let (head, func) = s.rsplit_once('.')?;
    let parts: Vec<&str> = head.split(':').collect();
    let (dom, bus, dev) = match parts.as_slice() {
        [b, d] => ("0", *b, *d),
        [a, b, d] => (*a, *b, *d),
        _ => return None,
    };
    Bdf::new(
        hex_field(dom, 4)? as u16,
        hex_field(bus, 2)? as u8,
        hex_field(dev, 2)? as u8,
        hex_field(func, 1)? as u8,
    )
}

fn parse_proc_path(rest: &str) -> Option<Bdf> {
    // "DDDD:BB/DD.F" or "BB/DD.F"
    let (bus_part, devfn) = rest.split_once('/')?;
    let (dom, bus) = match bus_part.split_once(':') {
        Some((d, b)) => (d, b),
        None => ("0", bus_part),
    };
    let (dev, func) = devfn.split_once('.')?;
    Bdf::new(
        hex_field(dom, 4)? as u16,
        hex_field(bus, 2)? as u8,
        hex_field(dev, 2)? as u8,
        hex_field(func, 1)? as u8,
    )
}

fn parse_decimal(s: &str, max_len: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_mst(name: &str) -> Option<NameForm> {
    let rest = name.strip_prefix("/dev/mst/mt")?;
    let (id, kind) = rest.split_once('_')?;
    let dev_id = u16::try_from(parse_decimal(id, 5)?).ok()?;
    let func = |s: &str| -> Option<u8> {
        let f = parse_decimal(s, 1)?;
        (f <= 7).then_some(f as u8)
    };
    let kind = if let Some(f) = kind.strip_prefix("pci_pci_cr") {
        MstName::DriverPciCr { func: func(f)? }
    } else if let Some(f) = kind.strip_prefix("pci_pciconf") {
        MstName::DriverPciconf { func: func(f)? }
    } else if let Some(n) = kind.strip_prefix("pci_cr") {
        MstName::PciCr {
            index: parse_decimal(n, 3)?,
        }
    } else if let Some(n) = kind.strip_prefix("pciconf") {
        match n.split_once('.') {
            Some((i, f)) => MstName::Pciconf {
                index: parse_decimal(i, 3)?,
                func: func(f)?,
            },
            None => MstName::Pciconf {
                index: parse_decimal(n, 3)?,
                func: 0,
            },
        }
    } else {
        return None;
    };
    Some(NameForm::Mst {
        path: PathBuf::from(name),
        dev_id,
        kind,
    })
}

fn well_known_rdma(name: &str) -> Option<bool> {
    for (prefix, mlx5) in [("mthca", false), ("mlx4_", false), ("mlx5_", true)] {
        if let Some(n) = name.strip_prefix(prefix) {
            if parse_decimal(n, 5).is_some() {
                return Some(mlx5);
            }
        }
    }
    None
}

fn plausible_rdma(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.')
        && name.bytes().next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// Parse a device name without touching the filesystem.
pub fn parse(name: &str) -> Result<NameForm> {
    if name.is_empty() || name.contains('\0') {
        return Err(bad(name));
    }
    // fwctl names come first, whatever else they look like, and any length is left to the
    // open of the node.
    if name.contains("fwctl") {
        let path = if name.contains("/dev/fwctl/") {
            PathBuf::from(name)
        } else {
            PathBuf::from(format!("/dev/fwctl/{name}"))
        };
        return Ok(NameForm::Fwctl { path });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(bad(name));
    }
    if let Some(dir) = name.strip_suffix("/config") {
        let bdf = last_component_bdf(dir).ok_or_else(|| bad(name))?;
        return Ok(NameForm::ConfigFile {
            path: PathBuf::from(name),
            bdf,
        });
    }
    if let Some(dir) = name.strip_suffix("/resource0") {
        let bdf = last_component_bdf(dir).ok_or_else(|| bad(name))?;
        return Ok(NameForm::Resource0 {
            path: PathBuf::from(name),
            bdf,
        });
    }
    if let Some(rest) = name.strip_prefix("/proc/bus/pci/") {
        let bdf = parse_proc_path(rest).ok_or_else(|| bad(name))?;
        return Ok(NameForm::ConfigFile {
            path: PathBuf::from(name),
            bdf,
        });
    }
    if name.starts_with("/dev/mst/") {
        return parse_mst(name).ok_or_else(|| bad(name));
    }
    if let Some(mlx5) = well_known_rdma(name) {
        return Ok(NameForm::Rdma {
            name: name.to_string(),
            mlx5,
            well_known: true,
        });
    }
    if let Some(rest) = name.strip_prefix("pciconf-") {
        let bdf = parse_bdf_lenient(rest).ok_or_else(|| bad(name))?;
        return Ok(NameForm::Bdf { bdf, pciconf: true });
    }
    if let Some(bdf) = parse_bdf_lenient(name) {
        return Ok(NameForm::Bdf {
            bdf,
            pciconf: false,
        });
    }
    if plausible_rdma(name) && !name.contains(':') {
        return Ok(NameForm::Rdma {
            name: name.to_string(),
            mlx5: false,
            well_known: false,
        });
    }
    Err(bad(name))
}

fn last_component_bdf(dir: &str) -> Option<Bdf> {
    let base = Path::new(dir).file_name()?.to_str()?;
    parse_bdf_lenient(base).filter(|_| base.matches(':').count() == 2)
}

/// Functions (not VFs) in sysfs with the given PCI device id and a Mellanox/NVIDIA vendor,
/// ascending BDF order.
pub(crate) fn functions_with_id(root: &SysfsRoot, dev_id: u16) -> Vec<Bdf> {
    let mut v: Vec<Bdf> = sysfs::list_dir_names(&root.pci_devices())
        .iter()
        .filter_map(|n| Bdf::parse_canonical(n))
        .filter(|b| sysfs::read_u16(root, *b, "device") == Some(dev_id))
        .filter(|b| {
            matches!(
                sysfs::read_u16(root, *b, "vendor"),
                Some(crate::chips::VENDOR_MELLANOX) | Some(crate::chips::VENDOR_NVIDIA)
            )
        })
        .filter(|b| !root.device_dir(*b).join("physfn").exists())
        .collect();
    v.sort();
    v
}

fn require_function(root: &SysfsRoot, bdf: Bdf, name: &str) -> Result<()> {
    if root.device_dir(bdf).exists() {
        Ok(())
    } else {
        Err(absent(format!(
            "{name}: no PCI function {bdf} in {}",
            root.pci_devices().display()
        )))
    }
}

/// A name that parses but names no device present here: ENOENT, as the stock library reports
/// it (its open fails on the missing sysfs/procfs file).
pub(crate) fn absent(what: String) -> Error {
    Error::io(what, std::io::Error::from_raw_os_error(libc::ENOENT))
}

/// Parse `name` and look it up under `root`.
pub fn resolve(name: &str, root: &SysfsRoot) -> Result<Target> {
    match parse(name)? {
        NameForm::ConfigFile { path, bdf } => file_target(name, root, &path, FileKind::Config, bdf),
        NameForm::Resource0 { path, bdf } => {
            file_target(name, root, &path, FileKind::Resource0, bdf)
        }
        NameForm::Bdf { bdf, pciconf } => {
            require_function(root, bdf, name)?;
            Ok(Target::Bdf {
                bdf,
                prefer_config: pciconf,
            })
        }
        NameForm::Rdma {
            name: ib,
            mlx5,
            well_known,
        } => {
            let link = root.infiniband_class().join(&ib).join("device");
            let ib_dir_exists = root.infiniband_class().join(&ib).exists();
            if !ib_dir_exists && !well_known {
                return Err(bad(name));
            }
            // Stock: "Unable to read link ..." and EINVAL.
            let bdf = sysfs::link_bdf(&link).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{name}: no RDMA device {ib} (no {} link)",
                    link.display()
                ))
            })?;
            require_function(root, bdf, name)?;
            Ok(Target::Bdf {
                bdf,
                prefer_config: mlx5,
            })
        }
        NameForm::Mst { path, dev_id, kind } => {
            let bdf = mst_function(root, dev_id, kind).ok_or_else(|| {
                absent(format!(
                    "{name}: no matching device with PCI id {dev_id} ({dev_id:#x})"
                ))
            })?;
            require_function(root, bdf, name)?;
            Ok(Target::Node {
                path: root.map_user_path(&path),
                name: kind,
                bdf,
            })
        }
        NameForm::Fwctl { path } => Ok(Target::Fwctl {
            path: match path.strip_prefix("/dev") {
                Ok(rest) => root.dev.join(rest),
                Err(_) => path,
            },
        }),
    }
}

fn file_target(
    name: &str,
    root: &SysfsRoot,
    path: &Path,
    kind: FileKind,
    bdf: Bdf,
) -> Result<Target> {
    let path = root.map_user_path(path);
    if !path.exists() {
        return Err(absent(format!("{name}: file not found")));
    }
    Ok(Target::File { path, kind, bdf })
}

/// The function a `/dev/mst` name designates (see the module docs), if present.
fn mst_function(root: &SysfsRoot, dev_id: u16, kind: MstName) -> Option<Bdf> {
    let cards = functions_with_id(root, dev_id);
    let card = |index: u32| cards.iter().filter(|b| b.func == 0).nth(index as usize);
    match kind {
        MstName::Pciconf { index, func } => card(index).map(|c| Bdf { func, ..*c }),
        MstName::PciCr { index } => card(index).copied(),
        MstName::DriverPciconf { func } | MstName::DriverPciCr { func } => {
            cards.iter().find(|b| b.func == func).copied()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pci::tests_support::FakeSys;

    fn b(d: u16, bus: u8, dev: u8, f: u8) -> Bdf {
        Bdf::new(d, bus, dev, f).unwrap()
    }

    #[test]
    fn parse_table() {
        let cases: &[(&str, NameForm)] = &[
            (
                "05:00.0",
                NameForm::Bdf {
                    bdf: b(0, 5, 0, 0),
                    pciconf: false,
                },
            ),
            (
                "0000:05:00.0",
                NameForm::Bdf {
                    bdf: b(0, 5, 0, 0),
                    pciconf: false,
                },
            ),
            (
                "abcd:EF:1f.7",
                NameForm::Bdf {
                    bdf: b(0xabcd, 0xef, 0x1f, 7),
                    pciconf: false,
                },
            ),
            (
                "5:0.1",
                NameForm::Bdf {
                    bdf: b(0, 5, 0, 1),
                    pciconf: false,
                },
            ),
            (
                "pciconf-05:00.0",
                NameForm::Bdf {
                    bdf: b(0, 5, 0, 0),
                    pciconf: true,
                },
            ),
            (
                "pciconf-0001:05:00.0",
                NameForm::Bdf {
                    bdf: b(1, 5, 0, 0),
                    pciconf: true,
                },
            ),
            (
                "/sys/bus/pci/devices/0000:05:00.0/config",
                NameForm::ConfigFile {
                    path: "/sys/bus/pci/devices/0000:05:00.0/config".into(),
                    bdf: b(0, 5, 0, 0),
                },
            ),
            (
                "/sys/devices/pci0000:00/0000:00:01.0/0000:05:00.1/config",
                NameForm::ConfigFile {
                    path: "/sys/devices/pci0000:00/0000:00:01.0/0000:05:00.1/config".into(),
                    bdf: b(0, 5, 0, 1),
                },
            ),
            (
                "/sys/bus/pci/devices/0000:05:00.0/resource0",
                NameForm::Resource0 {
                    path: "/sys/bus/pci/devices/0000:05:00.0/resource0".into(),
                    bdf: b(0, 5, 0, 0),
                },
            ),
            (
                "/proc/bus/pci/0000:05/00.0",
                NameForm::ConfigFile {
                    path: "/proc/bus/pci/0000:05/00.0".into(),
                    bdf: b(0, 5, 0, 0),
                },
            ),
            (
                "/proc/bus/pci/05/00.0",
                NameForm::ConfigFile {
                    path: "/proc/bus/pci/05/00.0".into(),
                    bdf: b(0, 5, 0, 0),
                },
            ),
            (
                "mlx5_0",
                NameForm::Rdma {
                    name: "mlx5_0".into(),
                    mlx5: true,
                    well_known: true,
                },
            ),
            (
                "mlx4_12",
                NameForm::Rdma {
                    name: "mlx4_12".into(),
                    mlx5: false,
                    well_known: true,
                },
            ),
            (
                "mthca0",
                NameForm::Rdma {
                    name: "mthca0".into(),
                    mlx5: false,
                    well_known: true,
                },
            ),
            (
                "rocep5s0",
                NameForm::Rdma {
                    name: "rocep5s0".into(),
                    mlx5: false,
                    well_known: false,
                },
            ),
            (
                "/dev/mst/mt4119_pciconf0",
                NameForm::Mst {
                    path: "/dev/mst/mt4119_pciconf0".into(),
                    dev_id: 4119,
                    kind: MstName::Pciconf { index: 0, func: 0 },
                },
            ),
            (
                "/dev/mst/mt4119_pciconf1.1",
                NameForm::Mst {
                    path: "/dev/mst/mt4119_pciconf1.1".into(),
                    dev_id: 4119,
                    kind: MstName::Pciconf { index: 1, func: 1 },
                },
            ),
            (
                "/dev/mst/mt4099_pci_cr0",
                NameForm::Mst {
                    path: "/dev/mst/mt4099_pci_cr0".into(),
                    dev_id: 4099,
                    kind: MstName::PciCr { index: 0 },
                },
            ),
            (
                "/dev/mst/mt4119_pci_pciconf1",
                NameForm::Mst {
                    path: "/dev/mst/mt4119_pci_pciconf1".into(),
                    dev_id: 4119,
                    kind: MstName::DriverPciconf { func: 1 },
                },
            ),
            (
                "/dev/mst/mt4119_pci_pci_cr0",
                NameForm::Mst {
                    path: "/dev/mst/mt4119_pci_pci_cr0".into(),
                    dev_id: 4119,
                    kind: MstName::DriverPciCr { func: 0 },
                },
            ),
            (
                "fwctl1",
                NameForm::Fwctl {
                    path: "/dev/fwctl/fwctl1".into(),
                },
            ),
            (
                "/dev/fwctl/fwctl0",
                NameForm::Fwctl {
                    path: "/dev/fwctl/fwctl0".into(),
                },
            ),
        ];
        for (name, want) in cases {
            assert_eq!(&parse(name).unwrap(), want, "{name}");
        }
    }

    #[test]
    fn parse_rejects_garbage() {
        let long = "a".repeat(MAX_NAME_LEN + 1);
        let long_bdf = format!("0000:05:00.0{}", "0".repeat(5000));
        let bad_names: &[&str] = &[
            "",
            "   ",
            "05:00",
            "05:20.0",
            "05:00.8",
            "05:00.10",
            "100:00.0",
            "12345:05:00.0",
            "0000:05:00:00.0",
            "g5:00.0",
            "05:00.0 ",
            " 05:00.0",
            "05:00.-1",
            "pciconf-",
            "pciconf-xyz",
            "pciconf-05:00",
            "/sys/bus/pci/devices/config",
            "/sys/bus/pci/devices/foo/config",
            "/sys/bus/pci/devices/05:00.0/resource0",
            "/proc/bus/pci/",
            "/proc/bus/pci/05",
            "/proc/bus/pci/05/00",
            "/proc/bus/pci/zz/00.0",
            "/dev/mst/mt4119",
            "/dev/mst/mt4119_pciconf",
            "/dev/mst/mtx_pciconf0",
            "/dev/mst/mt99999999_pciconf0",
            "/dev/mst/mt70000_pciconf0",
            "/dev/mst/mt4119_pciconf0.8",
            "/dev/mst/mt4119_pci_pciconf9",
            "/dev/mst/mt4119_bogus0",
            "/dev/mst/",
            "/dev/nonsense",
            "a\0b",
            "mlx5_0/../../etc",
            "../mlx5_0",
            "mlx\u{e9}5_0",
            "\u{1}\u{2}",
            "0x05:00.0",
            &long,
            &long_bdf,
            "..",
            "-mlx5_0",
            "fwctl\0",
        ];
        for n in bad_names {
            let e = parse(n).expect_err(n);
            assert_eq!(e.errno(), libc::EINVAL, "{n:?}");
            assert!(e.to_string().contains("Unable to parse device name"), "{e}");
        }
    }

    #[test]
    fn parse_never_panics_on_odd_bytes() {
        // A small deterministic fuzz: every string over an alphabet of the characters the
        // grammar cares about, up to length 5, plus mutations of valid names.
        let alphabet = [
            '0', '5', 'f', ':', '.', '/', '-', '_', 'x', 'm', '\u{0}', '\u{ffff}',
        ];
        let mut stack = vec![String::new()];
        let mut n = 0;
        while let Some(s) = stack.pop() {
            let _ = parse(&s);
            n += 1;
            if s.chars().count() < 4 {
                for c in alphabet {
                    let mut t = s.clone();
                    t.push(c);
                    stack.push(t);
                }
            }
        }
        assert!(n > 10_000);
        for base in [
            "0000:05:00.0",
            "/dev/mst/mt4119_pciconf0",
            "/proc/bus/pci/05/00.0",
        ] {
            for i in 0..base.len() {
                for c in ['\u{0}', ':', '.', '9', 'z', '/'] {
                    let mut t: Vec<char> = base.chars().collect();
                    t[i] = c;
                    let t: String = t.into_iter().collect();
                    let _ = parse(&t);
                    let _ = parse(&t[..i]);
                }
            }
        }
    }

    #[test]
    fn resolve_against_fake_sysfs() {
        let fs = FakeSys::new("resolve");
        fs.add_device("0000:05:00.0", 0x15b3, 0x1017);
        fs.add_device("0000:05:00.1", 0x15b3, 0x1017);
        fs.add_device("0000:06:00.0", 0x15b3, 0x1017);
        fs.add_device("0000:07:00.0", 0x15b3, 0x1003);
        fs.add_device("0000:08:00.0", 0x8086, 0x1017); // wrong vendor
        fs.add_vf("0000:05:00.2", 0x15b3, 0x1018, "0000:05:00.0");
        fs.add_ib("mlx5_0", "0000:05:00.0");
        fs.add_ib("mlx5_1", "0000:05:00.1");
        fs.add_ib("rocep6s0", "0000:06:00.0");
        let root = fs.root();
        let r = |n: &str| resolve(n, &root);
        let bdf = |s: &str| Bdf::parse_canonical(s).unwrap();

        let pl = |s: &str, prefer_config| Target::Bdf {
            bdf: bdf(s),
            prefer_config,
        };
        assert_eq!(r("05:00.0").unwrap(), pl("0000:05:00.0", false));
        assert_eq!(r("pciconf-0000:05:00.1").unwrap(), pl("0000:05:00.1", true));
        assert_eq!(r("0000:09:00.0").unwrap_err().errno(), libc::ENOENT);

        assert_eq!(r("mlx5_1").unwrap(), pl("0000:05:00.1", true));
        assert_eq!(r("rocep6s0").unwrap(), pl("0000:06:00.0", false));
        assert_eq!(r("mlx5_7").unwrap_err().errno(), libc::EINVAL);
        assert_eq!(r("notadevice").unwrap_err().errno(), libc::EINVAL);

        let cfg = format!("{}/bus/pci/devices/0000:05:00.0/config", "/sys");
        assert_eq!(
            r(&cfg).unwrap(),
            Target::File {
                path: root.sys.join("bus/pci/devices/0000:05:00.0/config"),
                kind: FileKind::Config,
                bdf: bdf("0000:05:00.0"),
            }
        );
        assert_eq!(
            r("/sys/bus/pci/devices/0000:05:00.0/resource0").unwrap(),
            Target::File {
                path: root.sys.join("bus/pci/devices/0000:05:00.0/resource0"),
                kind: FileKind::Resource0,
                bdf: bdf("0000:05:00.0"),
            }
        );
        assert_eq!(
            r("/sys/bus/pci/devices/0000:09:00.0/config")
                .unwrap_err()
                .errno(),
            libc::ENOENT
        );

        let node = |n: &str, name, b: &str| Target::Node {
            path: PathBuf::from(format!("/dev/mst/{n}")),
            name,
            bdf: bdf(b),
        };
        let conf = |index, func| MstName::Pciconf { index, func };
        assert_eq!(
            r("/dev/mst/mt4119_pciconf0").unwrap(),
            node("mt4119_pciconf0", conf(0, 0), "0000:05:00.0")
        );
        assert_eq!(
            r("/dev/mst/mt4119_pciconf1").unwrap(),
            node("mt4119_pciconf1", conf(1, 0), "0000:06:00.0")
        );
        assert_eq!(
            r("/dev/mst/mt4119_pciconf0.1").unwrap(),
            node("mt4119_pciconf0.1", conf(0, 1), "0000:05:00.1")
        );
        assert_eq!(
            r("/dev/mst/mt4119_pciconf1.1").unwrap_err().errno(),
            libc::ENOENT
        );
        assert_eq!(
            r("/dev/mst/mt4119_pciconf2").unwrap_err().errno(),
            libc::ENOENT
        );
        let x = r("/dev/mst/mt4099_pci_cr0").unwrap();
        assert_eq!(
            x,
            node(
                "mt4099_pci_cr0",
                MstName::PciCr { index: 0 },
                "0000:07:00.0"
            )
        );
        assert!(matches!(x, Target::Node { name, .. } if name.is_memory()));
        assert_eq!(
            r("/dev/mst/mt4119_pci_pciconf1").unwrap().bdf(),
            Some(bdf("0000:05:00.1"))
        );
        assert_eq!(
            r("/dev/mst/mt4119_pci_pci_cr0").unwrap(),
            node(
                "mt4119_pci_pci_cr0",
                MstName::DriverPciCr { func: 0 },
                "0000:05:00.0"
            )
        );
        // fwctl names: the node under the root's /dev, whatever else the name looks like.
        for n in ["fwctl0", "/dev/fwctl/fwctl0"] {
            let t = r(n).unwrap();
            assert_eq!(
                t,
                Target::Fwctl {
                    path: root.dev.join("fwctl/fwctl0")
                }
            );
            assert_eq!(t.bdf(), None);
        }
        // The VF (id 4120) is not a card.
        assert_eq!(
            r("/dev/mst/mt4120_pciconf0").unwrap_err().errno(),
            libc::ENOENT
        );
    }
}
