//! Kernel-driver paths (issue 4) against the simulated drivers: one suite, the same assertions,
//! over every path (sysfs config, sysfs `resource0`, Gen-1 `mst_driver` in both naming modes
//! and its memory node, `mstflint_access`, MFT `mst_pciconf` and `mst_pci`), results compared
//! with the sysfs config path of the same function; selection, fallbacks, counters, DMA.
//! Every test re-runs itself inside `mtcr-sim run` (`mtcr_sim::testing::in_sim`).

use std::sync::Mutex;

use mtcr_sim::testing::in_sim;
use mtcr_ul::access::PathKind;
use mtcr_ul::defs::*;
use mtcr_ul::pci::enumerate;
use mtcr_ul::proto::Registers as _;
use mtcr_ul::{Device, OpenOptions};

/// One function per driver kind (distinct models, so `/dev/mst` numbering is unambiguous),
/// a ConnectX-3 with the Gen-1 memory node, and a card whose driver serves function 0 only.
const ALL: &str = r#"
[[device]]
bdf = "0000:05:00.0"
model = "connectx5"
driver = "mst_driver"
ib_devs = ["mlx5_0"]

[[device]]
bdf = "0000:06:00.0"
model = "connectx4"
driver = "mstflint_access"

[[device]]
bdf = "0000:07:00.0"
model = "connectx6"
driver = "mst_driver_mft"

[[device]]
bdf = "0000:08:00.0"
model = "connectx6dx"
driver = "mft_legacy"

[[device]]
bdf = "0000:09:00.0"
model = "connectx4lx"

[[device]]
bdf = "0000:0a:00.0"
model = "bluefield2"
driver = "mstflint_access"

[[device]]
bdf = "0000:0a:00.1"
model = "bluefield2"

[[device]]
bdf = "0000:0b:00.0"
model = "connectx3"
driver = "mst_driver"
"#;

/// (name to open, forced path or None for the default choice, path expected).
fn cases() -> Vec<(&'static str, Option<PathKind>, PathKind)> {
    use PathKind::*;
    vec![
        ("0000:05:00.0", None, MstDriver),
        ("0000:06:00.0", None, MstflintAccess),
        ("0000:07:00.0", None, MstDriver),
        ("/dev/mst/mt4123_pci_pciconf0", None, MstDriver),
        ("0000:08:00.0", None, MftPciconf),
        ("/dev/mst/mt4125_pci_cr0", None, MftPci),
        ("0000:09:00.0", None, SysfsConfig),
        ("0000:09:00.0", Some(SysfsMemory), SysfsMemory),
        ("0000:0b:00.0", None, MstDriverCr),
        ("0000:0b:00.0", Some(SysfsMemory), SysfsMemory),
    ]
}

fn open(name: &str, force: Option<PathKind>) -> Device {
    let o = OpenOptions {
        force,
        ..Default::default()
    };
    Device::open_with(name, &o).unwrap_or_else(|e| panic!("{name} ({force:?}): {e}"))
}

fn reference(d: &Device) -> Device {
    open(&d.bdf().to_string(), Some(PathKind::SysfsConfig))
}

fn pattern(seed: u32, n: usize) -> Vec<u32> {
    (0..n as u32)
        .map(|i| seed.wrapping_mul(0x9e37_79b9) ^ i.wrapping_mul(0x0101_0101) ^ 0x5a00_0000)
        .collect()
}

/// The common assertions for one open device.
fn suite(d: &Device, label: &str) {
    let r = reference(d);
    // hw_id and the header.
    assert_eq!(d.hw_id().unwrap(), r.hw_id().unwrap(), "{label}");
    assert_eq!(
        d.read_config_dword(0).unwrap(),
        r.read_config_dword(0).unwrap(),
        "{label}"
    );
    // Single dwords, both directions across paths.
    d.write4(0x1_0000, 0x1234_5678).unwrap();
    assert_eq!(d.read4(0x1_0000).unwrap(), 0x1234_5678, "{label}");
    assert_eq!(
        r.read4_in(AS_CR_SPACE, 0x1_0000).unwrap(),
        0x1234_5678,
        "{label}"
    );
    r.write4_in(AS_CR_SPACE, 0x1_0004, 0xfeed_f00d).unwrap();
    assert_eq!(d.read4(0x1_0004).unwrap(), 0xfeed_f00d, "{label}");
    // Blocks of 1..4096 dwords (around the 64-dword driver limit).
    for (k, n) in [1usize, 2, 63, 64, 65, 128, 129, 1000, 4096]
        .into_iter()
        .enumerate()
    {
        let addr = 0x2_0000;
        let data = pattern(k as u32 + 1, n);
        d.write_block(addr, &data).unwrap();
        let mut back = vec![0u32; n];
        d.read_block(addr, &mut back).unwrap();
        assert_eq!(back, data, "{label}: block of {n}");
        let mut via_ref = vec![0u32; n];
        r.read_block_in(AS_CR_SPACE, addr, &mut via_ref).unwrap();
        assert_eq!(via_ref, data, "{label}: block of {n} seen through sysfs");
    }
    // An unwritten region reads the same on both paths.
    let mut a = vec![0u32; 300];
    let mut b = vec![0u32; 300];
    d.read_block(0x3_0000, &mut a).unwrap();
    r.read_block_in(AS_CR_SPACE, 0x3_0000, &mut b).unwrap();
    assert_eq!(a, b, "{label}: seeded contents");
    // Address spaces: where the path has a gateway, ICMD and semaphore are selectable, a
    // bogus space is refused, crspace comes back.
    if d.functional_vsec() {
        for sp in [AS_ICMD, AS_SEMAPHORE, AS_CR_SPACE] {
            d.set_address_space(sp)
                .unwrap_or_else(|e| panic!("{label}: space {sp:#x}: {e}"));
            assert_eq!(d.address_space(), sp);
        }
        assert_eq!(
            d.read4_in(AS_ICMD, 0).unwrap(),
            r.read4_in(AS_ICMD, 0).unwrap(),
            "{label}: icmd space"
        );
        assert!(d.set_address_space(0x55).is_err(), "{label}");
        assert_eq!(d.address_space(), AS_CR_SPACE);
    } else {
        assert_eq!(
            d.set_address_space(AS_ICMD).unwrap_err().errno(),
            libc::EINVAL,
            "{label}"
        );
    }
    // VPD reads match the sysfs file at aligned and unaligned offsets.
    let raw = std::fs::read(format!("/sys/bus/pci/devices/{}/vpd", d.bdf())).unwrap();
    for off in [0u32, 4, 5, 30] {
        let o = off as usize;
        assert_eq!(
            d.vpd_read4(off).unwrap().as_slice(),
            &raw[o..o + 4],
            "{label}: vpd at {off}"
        );
    }
}

/// `mfile.tp` as the stock library sets it after the open (MST_DRIVER_CONF / MST_DRIVER_CR are
/// only its name parser's results): MST_PCICONF on config nodes, MST_PCI on memory nodes.
fn expected_mtype(k: PathKind) -> (u32, u32) {
    match k {
        PathKind::SysfsConfig | PathKind::MftPciconf => (MST_PCICONF, MDEVS_TAVOR_CR),
        PathKind::SysfsMemory | PathKind::MftPci => (MST_PCI, MDEVS_TAVOR_CR),
        PathKind::MstDriver | PathKind::MstflintAccess => (MST_PCICONF, 0),
        PathKind::MstDriverCr => (MST_PCI, 0),
        PathKind::Fwctl => (MST_FWCTL_CONTROL_DRIVER, MDEVS_TAVOR_CR),
    }
}

#[test]
fn one_suite_over_every_path() {
    let Some(_sim) = in_sim(concat!(module_path!(), "::one_suite_over_every_path"), ALL) else {
        return;
    };
    for (name, force, want) in cases() {
        let d = open(name, force);
        let label = format!("{name} via {}", want.as_str());
        assert_eq!(d.path(), want, "{label}");
        assert_eq!(
            (d.mtype(), d.mdevs_flags()),
            expected_mtype(want),
            "{label}"
        );
        // mfile.fd: the node's descriptor on driver paths (tools issue ioctls on it).
        match d.node_fd() {
            Some(fd) => {
                assert!(want.is_driver(), "{label}");
                let t = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
                assert!(
                    t.starts_with("/dev/"),
                    "{label}: fd {fd} is {}",
                    t.display()
                );
            }
            None => assert!(!want.is_driver(), "{label}: driver path without fd"),
        }
        // The memory node's open took the ConnectX ordering slot (0xf0384 + 4 * slot).
        if want == PathKind::MstDriverCr {
            let slot = d.connectx_wa_slot().expect("ordering slot");
            assert!(
                (0xf0384..=0xf0390).contains(&slot),
                "{label}: slot {slot:#x}"
            );
        }
        suite(&d, &label);
    }
}

#[test]
fn names_enumeration_and_forcing() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::names_enumeration_and_forcing"),
        ALL,
    ) else {
        return;
    };
    use PathKind::*;
    for (name, want) in [
        ("05:00.0", MstDriver),
        ("pciconf-05:00.0", MstDriver),
        ("pciconf-0000:05:00.0", MstDriver),
        ("mlx5_0", MstDriver),
        ("/sys/bus/pci/devices/0000:05:00.0/config", SysfsConfig),
        ("/sys/bus/pci/devices/0000:05:00.0/resource0", SysfsMemory),
        ("06:00.0", MstflintAccess),
        ("/dev/mst/mt4123_pci_pciconf0", MstDriver),
        ("/dev/mst/mt4125_pciconf0", MftPciconf),
        ("/dev/mst/mt4125_pci_cr0", MftPci),
        // A /dev/mst name uses the node it names; absent, sysfs serves the function.
        ("/dev/mst/mt4119_pciconf0", SysfsConfig),
        ("/dev/mst/mt4117_pciconf0", SysfsConfig),
        ("/dev/mst/mt4117_pci_cr0", SysfsMemory),
        ("0a:00.0", MstflintAccess),
        ("0a:00.1", SysfsConfig),
        ("0b:00.0", MstDriverCr),
    ] {
        let d = Device::open(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.path(), want, "{name}");
        assert_eq!(d.hw_id().unwrap(), reference(&d).hw_id().unwrap(), "{name}");
    }
    // Enumeration lists every function whatever the driver, and each opens on its best path.
    let list = enumerate::list(MDEVS_ALL, true).unwrap();
    let names: Vec<String> = list.iter().map(|i| i.dev_name()).collect();
    for b in [
        "0000:05:00.0",
        "0000:06:00.0",
        "0000:07:00.0",
        "0000:08:00.0",
        "0000:09:00.0",
        "0000:0a:00.0",
        "0000:0a:00.1",
        "0000:0b:00.0",
    ] {
        assert!(names.iter().any(|n| n == b), "{b} not in {names:?}");
    }
    for info in &list {
        let d = Device::open(&info.dev_name()).unwrap();
        assert_eq!(d.info().device_id, info.device_id);
    }
    // Forcing each kind: on a function it serves it is used; elsewhere a clear error.
    for k in PathKind::ALL {
        let served = match k {
            SysfsConfig | SysfsMemory => "0000:09:00.0",
            MstDriver => "0000:05:00.0",
            MstDriverCr => "0000:0b:00.0",
            MstflintAccess => "0000:06:00.0",
            MftPciconf | MftPci => "0000:08:00.0",
            // fwctl nodes: tests/fwctl.rs.
            Fwctl => continue,
        };
        let d = open(served, Some(k));
        assert_eq!(d.path(), k);
        if k.is_driver() {
            let e = Device::open_with(
                "0000:09:00.0",
                &OpenOptions {
                    force: Some(k),
                    ..Default::default()
                },
            )
            .unwrap_err();
            assert_eq!(e.errno(), libc::ENODEV, "{k:?}: {e}");
            assert!(e.to_string().contains(k.as_str()), "{e}");
        }
    }
    // Asking for memory: the driver's memory node, else resource0; config names stay config.
    for (name, want) in [
        ("0000:08:00.0", MftPci),
        ("0000:0b:00.0", MstDriverCr),
        ("0000:05:00.0", SysfsMemory),
        ("/sys/bus/pci/devices/0000:05:00.0/config", SysfsConfig),
    ] {
        let d = Device::open_prefer_memory(name, &OpenOptions::default()).unwrap();
        assert_eq!(d.path(), want, "{name}");
    }
    // The mstflint_access node does not speak Gen-1: forcing mst_driver there fails clearly.
    let e = Device::open_with(
        "0000:06:00.0",
        &OpenOptions {
            force: Some(MstDriver),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL, "{e}");
    assert!(e.to_string().contains("MST_GET_DEVICE_PARAMETERS"), "{e}");
}

#[test]
fn one_ioctl_per_block_on_the_unified_driver() {
    let Some(sim) = in_sim(
        concat!(
            module_path!(),
            "::one_ioctl_per_block_on_the_unified_driver"
        ),
        ALL,
    ) else {
        return;
    };
    let ioctl = |bdf: &str, name: &str| sim.counters(bdf).ioctls.get(name).copied().unwrap_or(0);
    let d = open("0000:05:00.0", None);
    for n in [1usize, 64, 65, 4096] {
        let before = ioctl("0000:05:00.0", "MST_READ");
        let mut out = vec![0u32; n];
        d.read_block(0x4_0000, &mut out).unwrap();
        assert_eq!(
            ioctl("0000:05:00.0", "MST_READ") - before,
            n.div_ceil(64) as u64,
            "read of {n} dwords"
        );
        let before = ioctl("0000:05:00.0", "MST_WRITE");
        d.write_block(0x4_0000, &out).unwrap();
        assert_eq!(
            ioctl("0000:05:00.0", "MST_WRITE") - before,
            n.div_ceil(64) as u64,
            "write of {n} dwords"
        );
    }
    // The same on the buffer ioctls of mstflint_access and MFT.
    for (bdf, name) in [
        ("0000:06:00.0", "PCICONF_READ4_BUFFER"),
        ("0000:08:00.0", "PCICONF_READ4_BUFFER_EX"),
    ] {
        let d = open(bdf, None);
        let before = ioctl(bdf, name);
        let mut out = vec![0u32; 4096];
        d.read_block(0x4_0000, &mut out).unwrap();
        assert_eq!(ioctl(bdf, name) - before, 64, "{bdf} {name}");
    }
    // mstflint_access: the open costs the Gen-1 probe (refused), the parameters and the hw id
    // read; other address spaces are probed on first use, once each.
    let bdf = "0000:06:00.0";
    let all = || sim.counters(bdf).ioctls.values().sum::<u64>();
    let before = all();
    let m = open(bdf, None);
    assert_eq!(all() - before, 3, "{:?}", sim.counters(bdf).ioctls);
    assert_eq!(
        m.vsec_cap_mask(),
        (1 << VCC_INITIALIZED) | (1 << VCC_CRSPACE_SPACE_SUPPORTED)
    );
    let before = all();
    for _ in 0..2 {
        m.set_address_space(AS_ICMD).unwrap();
        m.set_address_space(AS_CR_SPACE).unwrap();
        m.set_address_space(0).unwrap();
        assert!(m.set_address_space(AS_PCI_CRSPACE).is_err());
    }
    assert_eq!(all() - before, 2, "one probe each for ICMD and PCI_CRSPACE");
    drop(m);
    // No config-space traffic from userspace on a driver path.
    let c0 = sim.counters("0000:05:00.0");
    let mut out = vec![0u32; 256];
    d.read_block(0x4_0000, &mut out).unwrap();
    let c1 = sim.counters("0000:05:00.0");
    assert_eq!(
        c1.config_reads + c1.config_writes,
        c0.config_reads + c0.config_writes
    );
}

/// Log lines the library emits (a minimal logger for this test process).
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
struct Capture;
impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        LOG.lock()
            .unwrap()
            .push(format!("{} {}", r.level(), r.args()));
    }
    fn flush(&self) {}
}

/// Drop CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH from this thread's effective set (Linux
/// capabilities are per thread), so that file modes apply to root here.
fn drop_dac_caps() {
    #[repr(C)]
    struct Hdr {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut h = Hdr {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: valid header and two data structs, as capget/capset v3 expect.
    unsafe {
        assert_eq!(libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()), 0);
        d[0].effective &= !((1 << 1) | (1 << 2));
        assert_eq!(libc::syscall(libc::SYS_capset, &mut h, d.as_ptr()), 0);
    }
}

#[test]
fn fallbacks_end_on_a_working_path() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::fallbacks_end_on_a_working_path"),
        ALL,
    ) else {
        return;
    };
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    // 1. A node of another ABI: a `_mstconf` that answers nothing we know (a plain file here,
    //    ENOTTY) is skipped with a log line; sysfs config serves.
    let fake = "/dev/0000:09:00.0_mstconf";
    std::fs::write(fake, b"").unwrap();
    let d = open("0000:09:00.0", None);
    assert_eq!(d.path(), PathKind::SysfsConfig);
    suite(&d, "wrong-ABI node skipped");
    {
        let log = LOG.lock().unwrap();
        assert!(
            log.iter()
                .any(|l| l.starts_with("WARN") && l.contains(fake) && l.contains("another ABI")),
            "{log:?}"
        );
    }
    // Forcing that "driver" is a clear error, not a fallback.
    let e = Device::open_with(
        "0000:09:00.0",
        &OpenOptions {
            force: Some(PathKind::MstflintAccess),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.errno(), libc::ENOTTY, "{e}");
    std::fs::remove_file(fake).unwrap();

    // 2. The Gen-1 probe on a mstflint_access node (the same node name) is answered EINVAL:
    //    logged, skipped, mstflint_access used.
    LOG.lock().unwrap().clear();
    let d = open("0000:06:00.0", None);
    assert_eq!(d.path(), PathKind::MstflintAccess);
    assert!(
        LOG.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("mst_driver path") && l.contains("another ABI")),
        "{:?}",
        LOG.lock().unwrap()
    );

    // 3. Permission denied on the node: skipped, sysfs config serves (or a clear EACCES
    //    when the driver is forced).
    let node = "/dev/0000:06:00.0_mstconf";
    let meta = std::fs::metadata(node).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(node, std::fs::Permissions::from_mode(0o000)).unwrap();
    let (path, forced_err) = std::thread::spawn(|| {
        drop_dac_caps();
        let d = Device::open_in(
            &Default::default(),
            "0000:06:00.0",
            &OpenOptions::default(),
            Default::default(),
        )
        .unwrap();
        let e = Device::open_in(
            &Default::default(),
            "0000:06:00.0",
            &OpenOptions {
                force: Some(PathKind::MstflintAccess),
                ..Default::default()
            },
            Default::default(),
        )
        .unwrap_err();
        (d.path(), e.errno())
    })
    .join()
    .unwrap();
    std::fs::set_permissions(node, meta.permissions()).unwrap();
    assert_eq!(path, PathKind::SysfsConfig);
    assert_eq!(forced_err, libc::EPERM);

    // 4. Driver node for one function but not the other of the same card.
    assert_eq!(open("0000:0a:00.0", None).path(), PathKind::MstflintAccess);
    let d1 = open("0000:0a:00.1", None);
    assert_eq!(d1.path(), PathKind::SysfsConfig);
    suite(&d1, "function without node");
}

/// The driver devices of [`ALL`] with a writable VPD-W section.
fn with_vpd_w() -> String {
    let mut out = String::new();
    for dev in ALL.split("[[device]]").skip(1) {
        out.push_str("[[device]]");
        out.push_str(dev);
        out.push_str("[device.vpd]\nrw = [[\"V1\", \"user data area\"]]\n\n");
    }
    out
}

#[test]
fn vpd_writes_and_dma_pages() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::vpd_writes_and_dma_pages"),
        &with_vpd_w(),
    ) else {
        return;
    };
    // VPD writes: accepted by every driver (in the VPD-W area), refused by sysfs.
    for (name, force) in [
        ("0000:05:00.0", None),
        ("0000:06:00.0", None),
        ("/dev/mst/mt4123_pci_pciconf0", None),
        ("0000:08:00.0", None),
    ] {
        let d = open(name, force);
        let raw = std::fs::read(format!("/sys/bus/pci/devices/{}/vpd", d.bdf())).unwrap();
        // A dword of the VPD-W body (the image ends with the 0x78 tag, dword aligned).
        assert_eq!(raw.last(), Some(&0x78));
        let off = (raw.len() - 8) as u32;
        let old = d.vpd_read4(off).unwrap();
        let new = [0xa5, 0x5a, 0x3c, 0xc3];
        match d.vpd_write4(off, new) {
            Ok(()) => {
                assert_eq!(d.vpd_read4(off).unwrap(), new, "{name}");
                let file = std::fs::read(format!("/sys/bus/pci/devices/{}/vpd", d.bdf())).unwrap();
                assert_eq!(&file[off as usize..off as usize + 4], &new, "{name}");
                d.vpd_write4(off, old).unwrap();
            }
            Err(e) => panic!("{name}: VPD write at {off:#x}: {e}"),
        }
        assert!(d.vpd_write4(off + 1, new).is_err());
    }
    let s = open("0000:09:00.0", None);
    assert_eq!(
        s.vpd_write4(0, [0; 4]).unwrap_err().errno(),
        libc::EOPNOTSUPP
    );

    // DMA pages: pinned through each driver, ENOTTY without one.
    let ps = 4096usize;
    for (name, max) in [
        ("0000:05:00.0", 32usize),
        ("0000:06:00.0", 32),
        ("0000:08:00.0", 8),
    ] {
        let d = open(name, None);
        assert_eq!(d.max_dma_pages(), max, "{name}");
        let layout = std::alloc::Layout::from_size_align(4 * ps, ps).unwrap();
        // SAFETY: non-zero size.
        let buf = unsafe { std::alloc::alloc_zeroed(layout) };
        let addrs = d.get_dma_pages(buf as u64, 4).unwrap();
        assert_eq!(addrs.len(), 4);
        assert!(addrs.iter().all(|&a| a != 0), "{name}: {addrs:x?}");
        d.release_dma_pages(4).unwrap();
        assert_eq!(
            d.get_dma_pages(buf as u64, max + 1).unwrap_err().errno(),
            libc::EINVAL
        );
        assert_eq!(
            d.get_dma_pages(buf as u64 + 1, 1).unwrap_err().errno(),
            libc::EINVAL
        );
        // SAFETY: allocated above with this layout.
        unsafe { std::alloc::dealloc(buf, layout) };
    }
    let e = s.get_dma_pages(4096, 1).unwrap_err();
    assert_eq!(e.errno(), libc::ENOTTY);
    assert_eq!(s.release_dma_pages(1).unwrap_err().errno(), libc::ENOTTY);
}

/// Register access (ICMD) on every config-side driver path, over several opens: probing the
/// semaphore space on mstflint_access must not leave the ICMD semaphore (semaphore space
/// address 0, lock-on-read) taken — it did, and every ICMD command then timed out
/// (ME_ICMD_STATUS_SEMAPHORE_TO) where upstream's library answers.
#[test]
fn register_access_through_drivers() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::register_access_through_drivers"),
        ALL,
    ) else {
        return;
    };
    for name in ["0000:05:00.0", "0000:06:00.0", "0000:08:00.0"] {
        for round in 0..3 {
            let d = open(name, None);
            // Touch every space first, as tools do (mset_addr_space probes).
            for sp in [AS_ICMD, AS_SEMAPHORE, AS_ICMD_EXT, AS_CR_SPACE] {
                let _ = d.supports_space(sp);
            }
            let mut b = vec![0u8; 160];
            let r = d
                .access_reg(0x9020, 1, &mut b, 160, 160)
                .unwrap_or_else(|e| panic!("{name} round {round}: MGIR: {e}"));
            assert_eq!(r.status, 0, "{name} round {round}");
            let id = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0xffff;
            assert_eq!(
                id,
                u32::from(d.hw_id().unwrap().0),
                "{name}: MGIR device_id"
            );
        }
    }
}
