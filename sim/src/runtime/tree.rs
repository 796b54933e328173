//! Builds the sysfs-like tree of the simulated devices: one directory per device with the
//! plain attribute files the stock library reads, and empty placeholder files where the
//! FUSE files (`config`, `vpd`) and the crspace backing file (`resource0`) get bind-mounted.
//! As in Linux, the directories sit in the device hierarchy under `/sys/devices`
//! (`pciDDDD:00/<root port>/<function>`) and `/sys/bus/pci/devices/<bdf>` are links to them.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::{BridgeSpec, DeviceConfig};

/// A placeholder that must receive a bind mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindTarget {
    pub dev_index: usize,
    pub what: BindWhat,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindWhat {
    Config,
    Vpd,
    Resource0,
    /// `config` of the root port `dev_index` (an index into the bridge list).
    BridgeConfig,
}

use crate::model::{bar0_address, BAR0_SIZE};

/// Start address of BAR0 of a device: the one its config space (and the driver models)
/// report.
pub fn bar0_start(bdf: &str) -> u64 {
    bar0_address(crate::config::parse_bdf(bdf).unwrap_or((0, 0, 0, 0)))
}

/// The `resource` file as Linux prints it: 13 lines "start end flags" (6 BARs, the ROM and
/// the 6 SR-IOV BARs); BAR0 is a 64-bit prefetchable memory BAR of 64 MiB.
pub fn resource_text(bdf: &str) -> String {
    let mut s = String::new();
    let start = bar0_start(bdf);
    s.push_str(&format!(
        "0x{:016x} 0x{:016x} 0x{:016x}\n",
        start,
        start + BAR0_SIZE - 1,
        0x0014_220cu64
    ));
    for _ in 1..13 {
        s.push_str(&format!("0x{:016x} 0x{:016x} 0x{:016x}\n", 0, 0, 0));
    }
    s
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    let mut f = fs::File::create(path).map_err(|e| format!("create {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

fn mkdir(path: &Path) -> Result<(), String> {
    fs::create_dir_all(path).map_err(|e| format!("mkdir {}: {e}", path.display()))
}

fn link(target: &str, at: &Path) -> Result<(), String> {
    symlink(target, at).map_err(|e| format!("symlink {}: {e}", at.display()))
}

/// The directory of the host bridge (root bus) of a domain under `/sys/devices`.
pub fn host_bridge_dir(domain: u16) -> String {
    format!("pci{domain:04x}:00")
}

/// The host bridge directories the devices need (`pci0000:00`, ...), in order.
pub fn host_bridge_dirs(devices: &[DeviceConfig]) -> Vec<String> {
    let mut v: Vec<String> = devices
        .iter()
        .filter_map(|d| crate::config::parse_bdf(&d.bdf))
        .map(|b| host_bridge_dir(b.0))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Path of a function's directory relative to `/sys/devices`: below its root port
/// (`pci0000:00/0000:00:01.0/0000:05:00.0`), or on the root bus.
pub fn device_rel_path(bdf: &str, bridges: &[BridgeSpec]) -> String {
    let dom = crate::config::parse_bdf(bdf).map_or(0, |b| b.0);
    let host = host_bridge_dir(dom);
    let parsed = crate::config::parse_bdf(bdf);
    match bridges.iter().find(|b| {
        let bb = crate::config::parse_bdf(&b.bdf);
        matches!((bb, parsed), (Some(x), Some(y)) if x.0 == y.0 && b.secondary == y.1)
    }) {
        Some(b) => format!("{host}/{}/{bdf}", b.bdf),
        None => format!("{host}/{bdf}"),
    }
}

/// A relative link target from directory `from` to `to` (both relative to the same root).
fn relative(from: &str, to: &str) -> String {
    let f: Vec<&str> = from.split('/').collect();
    let t: Vec<&str> = to.split('/').collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out: Vec<&str> = vec![".."; f.len() - common];
    out.extend(&t[common..]);
    out.join("/")
}

/// `resource` of a root port: 17 lines (6 BARs, ROM, 6 SR-IOV BARs, 4 bridge windows), all
/// empty but the prefetchable memory window (line 16) covering the BARs below.
pub fn bridge_resource_text(devices: &[DeviceConfig], b: &BridgeSpec) -> String {
    let starts: Vec<u64> = b
        .below
        .iter()
        .map(|&i| bar0_start(&devices[i].bdf))
        .collect();
    let mut s = String::new();
    for line in 0..17 {
        match (line, starts.iter().min(), starts.iter().max()) {
            (15, Some(lo), Some(hi)) => s.push_str(&format!(
                "0x{lo:016x} 0x{:016x} 0x{:016x}\n",
                hi + BAR0_SIZE - 1,
                0x0010_2201u64
            )),
            _ => s.push_str(&format!("0x{0:016x} 0x{0:016x} 0x{0:016x}\n", 0)),
        }
    }
    s
}

/// Populate `sys` (standing at `/sys`; `devices/pciDDDD:00` for every domain of
/// [`host_bridge_dirs`] and `bus/pci/devices` are fresh tmpfs directories) with one
/// directory per root port and per device, and the `bus/pci/devices` links to them.
/// Returns the placeholders that need bind mounts.
pub fn build_pci_devices(
    sys: &Path,
    devices: &[DeviceConfig],
    bridges: &[BridgeSpec],
) -> Result<Vec<BindTarget>, String> {
    let mut binds = Vec::new();
    let bus = sys.join("bus/pci/devices");
    mkdir(&bus)?;
    for (j, b) in bridges.iter().enumerate() {
        let dom = crate::config::parse_bdf(&b.bdf).map_or(0, |x| x.0);
        let rel = format!("{}/{}", host_bridge_dir(dom), b.bdf);
        let dir = sys.join("devices").join(&rel);
        mkdir(&dir)?;
        let numa = b.below.first().map_or(-1, |&i| devices[i].numa_node);
        for (name, text) in [
            ("vendor", format!("0x{:04x}\n", crate::model::BRIDGE_VENDOR)),
            ("device", format!("0x{:04x}\n", crate::model::BRIDGE_DEVICE)),
            ("class", "0x060400\n".to_string()),
            ("subsystem_vendor", "0x0000\n".to_string()),
            ("subsystem_device", "0x0000\n".to_string()),
            (
                "revision",
                format!("0x{:02x}\n", crate::model::BRIDGE_REVISION),
            ),
            ("numa_node", format!("{numa}\n")),
            ("resource", bridge_resource_text(devices, b)),
            ("enable", "1\n".to_string()),
            ("irq", "0\n".to_string()),
            ("secondary_bus_number", format!("{}\n", b.secondary)),
            ("subordinate_bus_number", format!("{}\n", b.secondary)),
        ] {
            write_file(&dir.join(name), &text, 0o444)?;
        }
        let p = dir.join("config");
        write_file(&p, "", 0o644)?;
        binds.push(BindTarget {
            dev_index: j,
            what: BindWhat::BridgeConfig,
            path: p,
        });
        link(&format!("../../../devices/{rel}"), &bus.join(&b.bdf))?;
    }
    for (i, d) in devices.iter().enumerate() {
        let m = d.model_info();
        let rel = device_rel_path(&d.bdf, bridges);
        let dir = sys.join("devices").join(&rel);
        mkdir(&dir)?;
        link(&format!("../../../devices/{rel}"), &bus.join(&d.bdf))?;
        write_file(
            &dir.join("vendor"),
            &format!("0x{:04x}\n", d.vendor()),
            0o444,
        )?;
        write_file(
            &dir.join("device"),
            &format!("0x{:04x}\n", m.pci_device_id),
            0o444,
        )?;
        write_file(&dir.join("class"), &format!("0x{:06x}\n", m.class), 0o444)?;
        write_file(
            &dir.join("subsystem_vendor"),
            &format!("0x{:04x}\n", d.vendor()),
            0o444,
        )?;
        write_file(
            &dir.join("subsystem_device"),
            &format!("0x{:04x}\n", m.subsystem_device),
            0o444,
        )?;
        write_file(&dir.join("revision"), "0x00\n", 0o444)?;
        write_file(&dir.join("numa_node"), &format!("{}\n", d.numa_node), 0o644)?;
        write_file(&dir.join("resource"), &resource_text(&d.bdf), 0o444)?;
        write_file(&dir.join("enable"), "1\n", 0o644)?;
        write_file(&dir.join("irq"), "0\n", 0o444)?;
        if !d.ib_devs.is_empty() {
            for n in &d.ib_devs {
                mkdir(&dir.join("infiniband").join(n))?;
            }
        }
        if !d.net_devs.is_empty() {
            for n in &d.net_devs {
                mkdir(&dir.join("net").join(n))?;
            }
        }
        if let Some(pf) = &d.physfn {
            let to = device_rel_path(pf, bridges);
            link(&relative(&rel, &to), &dir.join("physfn"))?;
        }
        let vfs = devices
            .iter()
            .filter(|v| v.physfn.as_deref() == Some(d.bdf.as_str()));
        for (n, vf) in vfs.enumerate() {
            let to = device_rel_path(&vf.bdf, bridges);
            link(&relative(&rel, &to), &dir.join(format!("virtfn{n}")))?;
        }
        for (name, what, mode) in [
            ("config", BindWhat::Config, 0o644),
            ("vpd", BindWhat::Vpd, 0o600),
            ("resource0", BindWhat::Resource0, 0o600),
        ] {
            if d.has_path(name) {
                let p = dir.join(name);
                write_file(&p, "", mode)?;
                binds.push(BindTarget {
                    dev_index: i,
                    what,
                    path: p,
                });
            }
        }
    }
    Ok(binds)
}

/// Directory and file name of a device under `/proc/bus/pci` ("05", "00.0"; the directory
/// is "DDDD:BB" outside domain 0, as Linux names it).
pub fn proc_bus_pci_name(bdf: &str) -> Option<(String, String)> {
    let (dom, bus, dev, func) = crate::config::parse_bdf(bdf)?;
    let dir = if dom == 0 {
        format!("{bus:02x}")
    } else {
        format!("{dom:04x}:{bus:02x}")
    };
    Some((dir, format!("{dev:02x}.{func:x}")))
}

/// `/proc/bus/pci/devices` as Linux prints it, for the domain-0 devices: bus+devfn,
/// vendor+device, irq, 7 resource starts (with flag bits) and 7 sizes (17 fields).
pub fn proc_devices_text(devices: &[DeviceConfig]) -> String {
    let mut s = String::new();
    for d in devices {
        let Some((0, bus, dev, func)) = crate::config::parse_bdf(&d.bdf) else {
            continue;
        };
        let m = d.model_info();
        let devfn = (u32::from(dev) << 3) | u32::from(func);
        s.push_str(&format!(
            "{bus:02x}{devfn:02x}\t{:04x}{:04x}\t{:x}",
            d.vendor(),
            m.pci_device_id,
            0
        ));
        let starts = [bar0_start(&d.bdf) | 0xc, 0, 0, 0, 0, 0, 0];
        let sizes = [BAR0_SIZE, 0, 0, 0, 0, 0, 0];
        for v in starts.iter().chain(sizes.iter()) {
            s.push_str(&format!("\t{v:16x}"));
        }
        s.push_str("\t\n");
    }
    s
}

/// Populate `root` (the tmpfs standing at `/proc/bus/pci`): `devices` and one placeholder
/// per device with a `config` file (bind target for the FUSE config file).
pub fn build_proc_bus_pci(
    root: &Path,
    devices: &[DeviceConfig],
) -> Result<Vec<BindTarget>, String> {
    write_file(&root.join("devices"), &proc_devices_text(devices), 0o444)?;
    let mut binds = Vec::new();
    for (i, d) in devices.iter().enumerate() {
        if !d.has_path("config") {
            continue;
        }
        let Some((dir, file)) = proc_bus_pci_name(&d.bdf) else {
            continue;
        };
        mkdir(&root.join(&dir))?;
        let p = root.join(dir).join(file);
        write_file(&p, "", 0o644)?;
        binds.push(BindTarget {
            dev_index: i,
            what: BindWhat::Config,
            path: p,
        });
    }
    Ok(binds)
}

/// Populate `root` (standing at `/sys/class/infiniband`) with `<ibdev>/device` links to the
/// devices' directories (absolute targets inside the namespace).
pub fn build_infiniband_class(root: &Path, devices: &[DeviceConfig]) -> Result<(), String> {
    for d in devices {
        for n in &d.ib_devs {
            let dir = root.join(n);
            mkdir(&dir)?;
            link(
                &format!("../../../bus/pci/devices/{}", d.bdf),
                &dir.join("device"),
            )?;
        }
    }
    Ok(())
}

/// `/sys/class/fwctl` (standing at `root`): `fwctlN/device` -> the PCI function, for every
/// (device index, node name) of `drivers::fwctl::nodes_for_all`.
pub fn build_fwctl_class(
    root: &Path,
    devices: &[DeviceConfig],
    nodes: &[(usize, String)],
) -> Result<(), String> {
    for (i, n) in nodes {
        let dir = root.join(n);
        mkdir(&dir)?;
        link(
            &format!("../../../bus/pci/devices/{}", devices[*i].bdf),
            &dir.join("device"),
        )?;
        write_file(
            &dir.join("dev"),
            &format!("239:{}\n", n.trim_start_matches("fwctl")),
            0o444,
        )?;
    }
    Ok(())
}

/// Create the empty driver node files (`paths` absolute, e.g. `/dev/mst/mt4119_pciconf0`)
/// below `dev_root` (standing at `/dev`).
pub fn build_dev_nodes(dev_root: &Path, paths: &[String]) -> Result<(), String> {
    for p in paths {
        let rel = p
            .strip_prefix("/dev/")
            .ok_or_else(|| format!("node path {p:?} is not under /dev"))?;
        let full = dev_root.join(rel);
        if let Some(parent) = full.parent() {
            mkdir(parent)?;
        }
        write_file(&full, "", 0o600)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;

    fn tmpdir(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("mtcr-sim-tree-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        p
    }

    #[test]
    fn proc_bus_pci_layout() {
        assert_eq!(
            proc_bus_pci_name("0000:05:00.1"),
            Some(("05".into(), "00.1".into()))
        );
        assert_eq!(
            proc_bus_pci_name("0001:81:1f.7"),
            Some(("0001:81".into(), "1f.7".into()))
        );
        let cfg = SimConfig::from_toml(
            "[[device]]\nbdf = \"0000:05:00.1\"\n[[device]]\nbdf = \"0001:05:00.0\"\n",
        )
        .unwrap();
        let t = proc_devices_text(&cfg.devices);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 1, "domain 0 only: {t}");
        let f: Vec<&str> = lines[0].split('\t').map(str::trim).collect();
        assert_eq!(f[0], "0501");
        assert_eq!(f[1], "15b31017");
        assert_eq!(f.len(), 18);
        assert_eq!(u64::from_str_radix(f[10], 16).unwrap(), 0x400_0000);
        assert_eq!(f[11], "0");
        let root = tmpdir("proc");
        let binds = build_proc_bus_pci(&root, &cfg.devices).unwrap();
        assert_eq!(binds.len(), 2);
        assert!(root.join("05/00.1").is_file());
        assert!(root.join("0001:05/00.0").is_file());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn device_paths_and_relative_links() {
        let cfg = SimConfig::from_toml(
            "[[device]]\nbdf = \"0000:00:05.0\"\n[[device]]\nbdf = \"0000:81:00.0\"\n",
        )
        .unwrap();
        let b = crate::config::bridges(&cfg.devices);
        assert_eq!(
            device_rel_path("0000:00:05.0", &b),
            "pci0000:00/0000:00:05.0"
        );
        assert_eq!(
            device_rel_path("0000:81:00.0", &b),
            "pci0000:00/0000:00:01.0/0000:81:00.0"
        );
        assert_eq!(
            device_rel_path("0000:82:00.0", &b),
            "pci0000:00/0000:82:00.0"
        );
        assert_eq!(relative("a/b/c", "a/b/d"), "../d");
        assert_eq!(relative("a/b/c", "a/e/f"), "../../e/f");
        assert_eq!(
            host_bridge_dirs(&cfg.devices),
            vec!["pci0000:00".to_string()]
        );
    }

    #[test]
    fn resource_has_64mib_bar0() {
        let t = resource_text("0000:05:00.0");
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 13);
        let f: Vec<u64> = lines[0]
            .split(' ')
            .map(|x| u64::from_str_radix(x.trim_start_matches("0x"), 16).unwrap())
            .collect();
        assert_eq!(f[0], bar0_start("0000:05:00.0"));
        assert_ne!(f[0], bar0_start("0000:06:00.0"));
        assert_eq!(f[1] - f[0] + 1, 0x400_0000);
        assert_eq!(lines[1], format!("0x{0:016x} 0x{0:016x} 0x{0:016x}", 0));
    }

    #[test]
    fn builds_device_dirs_links_and_placeholders() {
        let root = tmpdir("pci");
        let cfg = SimConfig::from_toml(
            r#"
[[device]]
bdf = "0000:05:00.0"
ib_devs = ["mlx5_0"]
net_devs = ["eth0"]
[[device]]
bdf = "0000:05:00.1"
model = "connectx4lx"
paths = ["config"]
physfn = "0000:05:00.0"
numa_node = 1
"#,
        )
        .unwrap();
        let bridges = crate::config::bridges(&cfg.devices);
        let binds = build_pci_devices(&root, &cfg.devices, &bridges).unwrap();
        let bus = root.join("bus/pci/devices");
        assert_eq!(
            fs::read_link(bus.join("0000:05:00.0")).unwrap(),
            PathBuf::from("../../../devices/pci0000:00/0000:00:01.0/0000:05:00.0")
        );
        assert_eq!(
            fs::read_link(bus.join("0000:00:01.0")).unwrap(),
            PathBuf::from("../../../devices/pci0000:00/0000:00:01.0")
        );
        let br = bus.join("0000:00:01.0");
        assert_eq!(fs::read_to_string(br.join("class")).unwrap(), "0x060400\n");
        assert_eq!(fs::read_to_string(br.join("vendor")).unwrap(), "0x8086\n");
        assert_eq!(
            fs::read_to_string(br.join("secondary_bus_number")).unwrap(),
            "5\n"
        );
        let res = fs::read_to_string(br.join("resource")).unwrap();
        assert_eq!(res.lines().count(), 17);
        assert!(res
            .lines()
            .nth(15)
            .unwrap()
            .starts_with(&format!("0x{:016x} ", bar0_start("0000:05:00.0"))));
        let d0 = bus.join("0000:05:00.0");
        assert_eq!(fs::read_to_string(d0.join("vendor")).unwrap(), "0x15b3\n");
        assert_eq!(fs::read_to_string(d0.join("device")).unwrap(), "0x1017\n");
        assert_eq!(fs::read_to_string(d0.join("class")).unwrap(), "0x020000\n");
        assert_eq!(fs::read_to_string(d0.join("numa_node")).unwrap(), "-1\n");
        assert!(d0.join("infiniband/mlx5_0").is_dir());
        assert!(d0.join("net/eth0").is_dir());
        assert_eq!(
            fs::read_link(d0.join("virtfn0")).unwrap(),
            PathBuf::from("../0000:05:00.1")
        );
        let d1 = bus.join("0000:05:00.1");
        assert_eq!(fs::read_to_string(d1.join("device")).unwrap(), "0x1015\n");
        assert_eq!(fs::read_to_string(d1.join("numa_node")).unwrap(), "1\n");
        assert!(d1.join("physfn").join("vendor").exists());
        assert!(!d1.join("vpd").exists());
        // The root port's config; device 0 has config, vpd, resource0; device 1 only config.
        assert_eq!(binds.len(), 5);
        assert_eq!(binds[0].what, BindWhat::BridgeConfig);
        assert_eq!(binds[4].dev_index, 1);
        assert_eq!(binds[4].what, BindWhat::Config);
        assert!(binds.iter().all(|b| b.path.is_file()));

        let ib = tmpdir("ib");
        build_infiniband_class(&ib, &cfg.devices).unwrap();
        assert_eq!(
            fs::read_link(ib.join("mlx5_0/device")).unwrap(),
            PathBuf::from("../../../bus/pci/devices/0000:05:00.0")
        );

        let dev = tmpdir("dev");
        build_dev_nodes(
            &dev,
            &[
                "/dev/mst/mt4119_pciconf0".into(),
                "/dev/0000:05:00.0_mstconf".into(),
            ],
        )
        .unwrap();
        assert!(dev.join("mst/mt4119_pciconf0").is_file());
        assert!(dev.join("0000:05:00.0_mstconf").is_file());
        assert!(build_dev_nodes(&dev, &["/tmp/x".into()]).is_err());
        for p in [root, ib, dev] {
            fs::remove_dir_all(p).unwrap();
        }
    }
}
