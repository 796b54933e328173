//! `mdevices` / `mdevices_info` semantics (mtcr_api.md §6.1), returning Rust structs; the
//! C layer converts them.
//!
//! * Nothing is listed unless `mask` has `MDEVS_TAVOR_CR` (0x20).
//! * Entries of `/sys/bus/pci/devices` in ascending BDF order (stock uses directory order).
//! * Without `verbose`: only functions `.0`, and not virtual functions (`physfn` link).
//! * Vendor must be Mellanox (0x15b3) or NVIDIA (0x10de) and the PCI id supported
//!   (supported list, GPU or livefish; a missing `device` attribute counts as supported).

use std::path::Path;

use super::{sysfs, Bdf, DeviceInfo, SysfsRoot, VfInfo};
use crate::chips;
use crate::defs::MDEVS_TAVOR_CR;
use crate::error::{Error, Result};

/// Functions of interest, with their sysfs data, on the real system.
pub fn list(mask: u32, verbose: bool) -> Result<Vec<DeviceInfo>> {
    list_in(&SysfsRoot::default(), mask, verbose)
}

/// `mdevices`: the names ("DDDD:BB:DD.F") of the devices `list(mask, false)` returns.
#[cfg(any(test, feature = "__internal-api"))]
pub fn names(mask: u32) -> Result<Vec<String>> {
    Ok(list(mask, false)?.iter().map(|d| d.dev_name()).collect())
}

/// [`list`] under another root.
pub fn list_in(root: &SysfsRoot, mask: u32, verbose: bool) -> Result<Vec<DeviceInfo>> {
    if mask & MDEVS_TAVOR_CR == 0 {
        return Ok(Vec::new());
    }
    let dir = root.pci_devices();
    std::fs::read_dir(&dir).map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
    let mut out = Vec::new();
    for name in sysfs::list_dir_names(&dir) {
        let Some(bdf) = Bdf::parse_canonical(&name) else {
            continue;
        };
        if !verbose {
            if bdf.func != 0 {
                continue;
            }
            if !name.ends_with("00.0") && root.device_dir(bdf).join("physfn").exists() {
                continue;
            }
        }
        if !accepted(root, bdf) {
            continue;
        }
        if let Some(info) = device_info(root, bdf) {
            out.push(info);
        }
    }
    Ok(out)
}

/// Vendor Mellanox/NVIDIA and a supported PCI id.
pub fn accepted(root: &SysfsRoot, bdf: Bdf) -> bool {
    match sysfs::read_u16(root, bdf, "vendor") {
        Some(chips::VENDOR_MELLANOX) | Some(chips::VENDOR_NVIDIA) => {}
        _ => return false,
    }
    match sysfs::read_attr(&root.device_dir(bdf).join("device")) {
        None => true,
        Some(s) => sysfs::parse_u16_attr(&s).is_some_and(chips::is_supported),
    }
}

/// Everything sysfs says about one function (None when its directory is absent).
pub fn device_info(root: &SysfsRoot, bdf: Bdf) -> Option<DeviceInfo> {
    let dir = root.device_dir(bdf);
    if !dir.is_dir() {
        return None;
    }
    let attr = |a: &str| sysfs::read_u16(root, bdf, a);
    let (vendor, device, sub_dev, sub_ven) = (
        attr("vendor"),
        attr("device"),
        attr("subsystem_device"),
        attr("subsystem_vendor"),
    );
    let class = sysfs::read_attr(&dir.join("class")).and_then(|s| sysfs::parse_class_attr(&s));
    // The config header fills in what the attributes do not say (as stock reads it).
    let missing = vendor.is_none()
        || device.is_none()
        || sub_dev.is_none()
        || sub_ven.is_none()
        || class.is_none();
    let hdr = if missing {
        sysfs::read_config_header(root, bdf)
    } else {
        None
    };
    let cfg_u16 = |off: usize| hdr.map(|h| u16::from_le_bytes([h[off], h[off + 1]]));
    let cfg_u32 =
        |off: usize| hdr.map(|h| u32::from_le_bytes([h[off], h[off + 1], h[off + 2], h[off + 3]]));
    let class_id = class.or(cfg_u32(8).map(|v| v >> 8)).unwrap_or(0);
    let vfs = virtfns(&dir);
    Some(DeviceInfo {
        bdf,
        vendor_id: vendor.or(cfg_u16(0)).unwrap_or(0),
        device_id: device.or(cfg_u16(2)).unwrap_or(0),
        class_id,
        subsys_id: sub_dev.or(cfg_u16(0x2e)).unwrap_or(0),
        subsys_vendor_id: sub_ven.or(cfg_u16(0x2c)).unwrap_or(0),
        numa_node: sysfs::read_numa(root, bdf),
        ib_devs: sysfs::list_dir_names(&dir.join("infiniband")),
        net_devs: sysfs::list_dir_names(&dir.join("net")),
        virtfns: vfs.iter().map(|v| v.bdf).collect(),
        vfs,
    })
}

fn virtfns(dir: &Path) -> Vec<VfInfo> {
    let mut links: Vec<(u32, Bdf)> = sysfs::list_dir_names(dir)
        .into_iter()
        .filter_map(|n| {
            let num: u32 = n.strip_prefix("virtfn")?.parse().ok()?;
            Some((num, sysfs::link_bdf(&dir.join(&n))?))
        })
        .collect();
    links.sort();
    links
        .into_iter()
        .map(|(_, bdf)| {
            let vdir = dir.join(format!("../{bdf}"));
            VfInfo {
                bdf,
                ib_devs: sysfs::list_dir_names(&vdir.join("infiniband")),
                net_devs: sysfs::list_dir_names(&vdir.join("net")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::tests_support::FakeSys;

    #[test]
    fn enumeration_rules() {
        let fs = FakeSys::new("enum");
        fs.add_device("0000:05:00.0", 0x15b3, 0x1017);
        fs.add_device("0000:05:00.1", 0x15b3, 0x1017);
        fs.add_vf("0000:05:00.2", 0x15b3, 0x1018, "0000:05:00.0");
        fs.add_vf("0000:05:01.0", 0x15b3, 0x1018, "0000:05:00.0");
        fs.add_device("0000:06:00.0", 0x15b3, 0x6340); // unsupported id
        fs.add_device("0000:07:00.0", 0x8086, 0x1017); // other vendor
        fs.add_device("0000:08:00.0", 0x15b3, 0x020d); // livefish CX5
        fs.add_device("0000:00:1f.0", 0x10de, 0x2900); // GPU id
        fs.add_ib("mlx5_0", "0000:05:00.0");
        fs.add_net("0000:05:00.0", "enp5s0f0np0");
        fs.write_attr("0000:05:00.0", "numa_node", "1\n");
        let root = fs.root();

        let names: Vec<String> = list_in(&root, MDEVS_TAVOR_CR, false)
            .unwrap()
            .iter()
            .map(|d| d.dev_name())
            .collect();
        assert_eq!(names, ["0000:00:1f.0", "0000:05:00.0", "0000:08:00.0"]);

        let all: Vec<String> = list_in(&root, 0xffff_ffff, true)
            .unwrap()
            .iter()
            .map(|d| d.dev_name())
            .collect();
        assert_eq!(
            all,
            [
                "0000:00:1f.0",
                "0000:05:00.0",
                "0000:05:00.1",
                "0000:08:00.0"
            ]
        );
        // VFs (id 0x1018) are not in the supported list, as in stock; a VF with a
        // supported id shows only in verbose mode.
        fs.add_vf("0000:05:02.0", 0x15b3, 0x1017, "0000:05:00.1");
        let v: Vec<String> = list_in(&root, MDEVS_TAVOR_CR, true)
            .unwrap()
            .iter()
            .map(|d| d.dev_name())
            .collect();
        assert!(v.contains(&"0000:05:02.0".to_string()));
        let v: Vec<String> = list_in(&root, MDEVS_TAVOR_CR, false)
            .unwrap()
            .iter()
            .map(|d| d.dev_name())
            .collect();
        assert!(!v.contains(&"0000:05:02.0".to_string()));
        assert!(list_in(&root, 0x400, true).unwrap().is_empty());

        let d = device_info(&root, Bdf::parse_canonical("0000:05:00.0").unwrap()).unwrap();
        assert_eq!((d.vendor_id, d.device_id), (0x15b3, 0x1017));
        assert_eq!(d.class_id, 0x020000);
        assert_eq!((d.subsys_vendor_id, d.subsys_id), (0x15b3, 0x0007));
        assert_eq!(d.numa_node, "1");
        assert_eq!(d.ib_devs, ["mlx5_0"]);
        assert_eq!(d.net_devs, ["enp5s0f0np0"]);
        assert_eq!(
            d.virtfns,
            [
                Bdf::parse_canonical("0000:05:00.2").unwrap(),
                Bdf::parse_canonical("0000:05:01.0").unwrap()
            ]
        );
        assert_eq!(d.conf_dev(), "/sys/bus/pci/devices/0000:05:00.0/config");
        let d1 = device_info(&root, Bdf::parse_canonical("0000:05:00.1").unwrap()).unwrap();
        assert_eq!(d1.numa_node, "NA");
        // Attributes missing: the config header says it.
        std::fs::remove_file(fs.dir("0000:05:00.1").join("device")).unwrap();
        std::fs::remove_file(fs.dir("0000:05:00.1").join("class")).unwrap();
        let d1 = device_info(&root, Bdf::parse_canonical("0000:05:00.1").unwrap()).unwrap();
        assert_eq!((d1.device_id, d1.class_id), (0x1017, 0));
    }

    #[test]
    fn missing_devices_dir_is_an_error() {
        let fs = FakeSys::new("enum-missing");
        let mut root = fs.root();
        root.sys = root.sys.join("nonexistent");
        assert!(list_in(&root, MDEVS_TAVOR_CR, false).is_err());
    }
}
