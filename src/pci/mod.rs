//! Device names and enumeration.
//!
//! * [`name`]: every device-name form the stock library accepts (plus the MFT `/dev/mst/...`
//!   names), parsed purely, then resolved against sysfs.
//! * [`sysfs`]: reading sysfs attributes of a PCI function, robust to junk.
//! * [`enumerate`]: `mdevices` / `mdevices_info` semantics.
//! * [`ids`]: the supported PCI-id and livefish HW-id tables.

pub mod enumerate;
pub mod sysfs;

use std::fmt;
use std::path::{Path, PathBuf};

/// PCI domain:bus:device.function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Bdf {
    pub domain: u16,
    pub bus: u8,
    pub dev: u8,
    pub func: u8,
}

impl Bdf {
    /// Build, checking the ranges of device (0..=0x1f) and function (0..=7).
    pub fn new(domain: u16, bus: u8, dev: u8, func: u8) -> Option<Bdf> {
        if dev > 0x1f || func > 7 {
            return None;
        }
        Some(Bdf {
            domain,
            bus,
            dev,
            func,
        })
    }

    /// Parse the canonical sysfs form `DDDD:BB:DD.F` (hex, fixed widths, any case).
    pub fn parse_canonical(s: &str) -> Option<Bdf> {
        let b = s.as_bytes();
        if b.len() != 12 || b[4] != b':' || b[7] != b':' || b[10] != b'.' {
            return None;
        }
        let hex = |r: std::ops::Range<usize>| -> Option<u32> {
            let t = &s[r];
            if t.bytes().all(|c| c.is_ascii_hexdigit()) {
                u32::from_str_radix(t, 16).ok()
            } else {
                None
            }
        };
        Bdf::new(
            hex(0..4)? as u16,
            hex(5..7)? as u8,
            hex(8..10)? as u8,
            hex(11..12)? as u8,
        )
    }
}

impl fmt::Display for Bdf {
    /// `DDDD:BB:DD.F`, lower-case hex (the sysfs directory name).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.dev, self.func
        )
    }
}

/// One virtual function of a physical function (`virtfnN` links).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VfInfo {
    pub bdf: Bdf,
    pub ib_devs: Vec<String>,
    pub net_devs: Vec<String>,
}

/// What sysfs says about a function.
#[derive(Debug, Clone, Default)]
pub struct DeviceInfo {
    pub bdf: Bdf,
    pub vendor_id: u16,
    pub device_id: u16,
    pub class_id: u32,
    pub subsys_id: u16,
    pub subsys_vendor_id: u16,
    /// Content of the `numa_node` attribute, or "NA" when absent.
    pub numa_node: String,
    pub ib_devs: Vec<String>,
    pub net_devs: Vec<String>,
    /// BDFs of the virtual functions (`virtfn*` links), in link-number order.
    pub virtfns: Vec<Bdf>,
    /// The same virtual functions with their ib/net devices (`dev_info.pci.virtfn_arr`).
    pub vfs: Vec<VfInfo>,
}

impl DeviceInfo {
    /// `dev_info.dev_name` / `cr_dev`: "DDDD:BB:DD.F".
    pub fn dev_name(&self) -> String {
        self.bdf.to_string()
    }

    /// `dev_info.conf_dev`: "/sys/bus/pci/devices/DDDD:BB:DD.F/config".
    pub fn conf_dev(&self) -> String {
        format!("/sys/bus/pci/devices/{}/config", self.bdf)
    }
}

/// Directory of the stock lock files (shared with stock tools: same names, same locks).
pub const LOCK_DIR: &str = "/tmp/mstflint_lockfiles";

/// Where the library looks for sysfs, procfs, driver nodes and lock files. The default is the
/// real system; unit tests point it at a scratch tree (not settable from the environment).
#[derive(Debug, Clone)]
pub struct SysfsRoot {
    /// Replaces `/sys`.
    pub sys: PathBuf,
    /// Replaces `/proc`.
    pub proc: PathBuf,
    /// Replaces `/dev`.
    pub dev: PathBuf,
    /// Replaces `/tmp/mstflint_lockfiles`.
    pub lock_dir: PathBuf,
}

impl Default for SysfsRoot {
    fn default() -> Self {
        SysfsRoot {
            sys: PathBuf::from("/sys"),
            proc: PathBuf::from("/proc"),
            dev: PathBuf::from("/dev"),
            lock_dir: PathBuf::from(LOCK_DIR),
        }
    }
}

impl SysfsRoot {
    /// `/sys/bus/pci/devices`.
    pub fn pci_devices(&self) -> PathBuf {
        self.sys.join("bus/pci/devices")
    }

    /// `/sys/bus/pci/devices/<bdf>`.
    pub fn device_dir(&self, bdf: Bdf) -> PathBuf {
        self.pci_devices().join(bdf.to_string())
    }

    /// `/sys/class/infiniband`.
    pub fn infiniband_class(&self) -> PathBuf {
        self.sys.join("class/infiniband")
    }

    /// Map a path given by the user under the real `/sys` or `/proc` into this root
    /// (identity for the default root).
    pub fn map_user_path(&self, p: &Path) -> PathBuf {
        if let Ok(rest) = p.strip_prefix("/sys") {
            return self.sys.join(rest);
        }
        if let Ok(rest) = p.strip_prefix("/proc") {
            return self.proc.join(rest);
        }
        p.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bdf_display_and_parse() {
        let b = Bdf::new(0, 5, 0, 0).unwrap();
        assert_eq!(b.to_string(), "0000:05:00.0");
        assert_eq!(Bdf::parse_canonical("0000:05:00.0"), Some(b));
        assert_eq!(
            Bdf::parse_canonical("ABCD:EF:1F.7"),
            Bdf::new(0xabcd, 0xef, 0x1f, 7)
        );
        assert_eq!(Bdf::parse_canonical("0000:05:20.0"), None);
        assert_eq!(Bdf::parse_canonical("0000:05:00.8"), None);
        assert_eq!(Bdf::parse_canonical("0000:05:00.00"), None);
        assert_eq!(Bdf::parse_canonical("0000-05:00.0"), None);
        assert_eq!(Bdf::parse_canonical("000g:05:00.0"), None);
        assert_eq!(Bdf::parse_canonical("+000:05:00.0"), None);
        // Multi-byte characters never split a slice.
        for s in [
            "é00:05:00.0",
            "00é:05:00.0",
            "0000:é:00.0",
            "0000:05:é.0",
            "0000:05:0é.",
            "0000:05:00.é",
            "ééééééé",
        ] {
            assert_eq!(Bdf::parse_canonical(s), None, "{s}");
        }
    }
}

/// A scratch sysfs tree for unit tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::SysfsRoot;
    use std::fs;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    pub struct FakeSys {
        pub base: PathBuf,
    }

    impl FakeSys {
        pub fn new(tag: &str) -> FakeSys {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let base = std::env::temp_dir().join(format!(
                "mtcr-test-{}-{}-{}",
                tag,
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&base);
            fs::create_dir_all(base.join("sys/bus/pci/devices")).unwrap();
            fs::create_dir_all(base.join("sys/class/infiniband")).unwrap();
            fs::create_dir_all(base.join("proc")).unwrap();
            fs::create_dir_all(base.join("dev")).unwrap();
            FakeSys { base }
        }

        pub fn root(&self) -> SysfsRoot {
            SysfsRoot {
                sys: self.base.join("sys"),
                proc: self.base.join("proc"),
                dev: self.base.join("dev"),
                lock_dir: self.base.join("locks"),
            }
        }

        pub fn dir(&self, bdf: &str) -> PathBuf {
            self.base.join("sys/bus/pci/devices").join(bdf)
        }

        pub fn write_attr(&self, bdf: &str, attr: &str, content: &str) {
            fs::write(self.dir(bdf).join(attr), content).unwrap();
        }

        pub fn add_device(&self, bdf: &str, vendor: u16, device: u16) {
            fs::create_dir_all(self.dir(bdf)).unwrap();
            self.write_attr(bdf, "vendor", &format!("{vendor:#06x}\n"));
            self.write_attr(bdf, "device", &format!("{device:#06x}\n"));
            self.write_attr(bdf, "class", "0x020000\n");
            self.write_attr(bdf, "subsystem_vendor", "0x15b3\n");
            self.write_attr(bdf, "subsystem_device", "0x0007\n");
            let mut cfg = vec![0u8; 4096];
            cfg[0..2].copy_from_slice(&vendor.to_le_bytes());
            cfg[2..4].copy_from_slice(&device.to_le_bytes());
            fs::write(self.dir(bdf).join("config"), cfg).unwrap();
            let r0 = fs::File::create(self.dir(bdf).join("resource0")).unwrap();
            r0.set_len(0x400_0000).unwrap();
        }

        pub fn add_vf(&self, bdf: &str, vendor: u16, device: u16, pf: &str) {
            self.add_device(bdf, vendor, device);
            symlink(format!("../{pf}"), self.dir(bdf).join("physfn")).unwrap();
            let n = fs::read_dir(self.dir(pf))
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with("virtfn")
                })
                .count();
            symlink(format!("../{bdf}"), self.dir(pf).join(format!("virtfn{n}"))).unwrap();
        }

        pub fn add_ib(&self, name: &str, bdf: &str) {
            let d = self.base.join("sys/class/infiniband").join(name);
            fs::create_dir_all(&d).unwrap();
            symlink(self.dir(bdf), d.join("device")).unwrap();
            fs::create_dir_all(self.dir(bdf).join("infiniband").join(name)).unwrap();
        }

        pub fn add_net(&self, bdf: &str, name: &str) {
            fs::create_dir_all(self.dir(bdf).join("net").join(name)).unwrap();
        }
    }

    impl Drop for FakeSys {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.base);
        }
    }
}
