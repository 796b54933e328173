//! Integration tests of the library against the simulated device (`mtcr-sim run`): every
//! test re-runs itself inside the simulator through `mtcr_sim::testing::in_sim`.

use std::process::Command;
use std::time::{Duration, Instant};

use mtcr_sim::config::Faults;
use mtcr_sim::testing::in_sim;
use mtcr_ul::access::PathKind;
use mtcr_ul::defs::*;
use mtcr_ul::pci::enumerate;
use mtcr_ul::{Device, OpenOptions};

const BDF: &str = "0000:05:00.0";

const CX5: &str = r#"
[[device]]
bdf = "0000:05:00.0"
model = "connectx5"
ib_devs = ["mlx5_0"]
net_devs = ["enp5s0f0np0"]
"#;

/// Tests that run stock tools use their own BDF, so that the stock lock files of parallel
/// simulator instances (shared `/tmp/mstflint_lockfiles`) do not interfere.
const DIFF_BDF: &str = "0000:0d:00.0";
const CONC_BDF: &str = "0000:0e:00.0";

fn cx5_at(bdf: &str) -> String {
    format!("[[device]]\nbdf = \"{bdf}\"\nmodel = \"connectx5\"\n")
}

fn config_accesses(sim: &mtcr_sim::testing::SimGuard) -> u64 {
    let c = sim.counters(BDF);
    c.config_reads + c.config_writes
}

#[test]
fn open_by_every_name_form() {
    let Some(_sim) = in_sim(concat!(module_path!(), "::open_by_every_name_form"), CX5) else {
        return;
    };
    let names = [
        ("05:00.0", PathKind::SysfsConfig),
        ("0000:05:00.0", PathKind::SysfsConfig),
        ("pciconf-05:00.0", PathKind::SysfsConfig),
        ("pciconf-0000:05:00.0", PathKind::SysfsConfig),
        (
            "/sys/bus/pci/devices/0000:05:00.0/config",
            PathKind::SysfsConfig,
        ),
        (
            "/sys/bus/pci/devices/0000:05:00.0/resource0",
            PathKind::SysfsMemory,
        ),
        ("mlx5_0", PathKind::SysfsConfig),
        ("/dev/mst/mt4119_pciconf0", PathKind::SysfsConfig),
        ("/dev/mst/mt4119_pci_cr0", PathKind::SysfsMemory),
    ];
    for (name, path) in names {
        let d = Device::open(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.path(), path, "{name}");
        assert_eq!(d.hw_id().unwrap(), (0x20d, 0), "{name}");
        assert_eq!(d.info().bdf.to_string(), BDF);
    }
    for bad in ["05:00", "mlx5_", "/dev/mst/mt4119", "garbage name"] {
        assert_eq!(
            Device::open(bad).unwrap_err().errno(),
            libc::EINVAL,
            "{bad}"
        );
    }
    // A device that is not there: ENOENT, as the stock library (its open fails on the missing
    // sysfs file); an RDMA name without its sysfs link: EINVAL, as stock.
    for absent in [
        "0000:06:00.0",
        "06:00.0",
        "pciconf-06:00.0",
        "/sys/bus/pci/devices/0000:06:00.0/config",
        "/sys/bus/pci/devices/0000:06:00.0/resource0",
        "/proc/bus/pci/06/00.0",
        "/dev/mst/mt4119_pciconf1",
    ] {
        assert_eq!(
            Device::open(absent).unwrap_err().errno(),
            libc::ENOENT,
            "{absent}"
        );
    }
    assert_eq!(Device::open("mlx5_3").unwrap_err().errno(), libc::EINVAL);
}

#[test]
fn identity_of_the_gateway() {
    let Some(_sim) = in_sim(concat!(module_path!(), "::identity_of_the_gateway"), CX5) else {
        return;
    };
    let d = Device::open(BDF).unwrap();
    assert_eq!(d.mtype(), MST_PCICONF);
    assert_eq!(d.mdevs_flags(), MDEVS_TAVOR_CR);
    assert!(d.functional_vsec());
    assert_eq!(d.vsec_addr(), 0x40);
    // INITIALIZED + ICMD_EXT, CR_SPACE, ICMD, ND_CRSPACE, SCAN_CRSPACE, SEMAPHORE.
    assert_eq!(d.vsec_cap_mask(), 0x1cf);
    assert!(!d.pxir_vsec());
    assert_eq!(d.address_space(), AS_CR_SPACE);
    assert_eq!(d.read_config_dword(0).unwrap(), 0x1017_15b3);
    d.set_address_space(AS_ICMD).unwrap();
    assert_eq!(d.address_space(), AS_ICMD);
    assert_eq!(
        d.set_address_space(AS_EXPANSION_ROM).unwrap_err().errno(),
        libc::EINVAL
    );
    assert_eq!(d.address_space(), AS_ICMD);
    // hw_id reads crspace whatever the current space.
    assert_eq!(d.hw_id().unwrap(), (0x20d, 0));
}

#[test]
fn round_trips_agree_across_paths() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::round_trips_agree_across_paths"),
        CX5,
    ) else {
        return;
    };
    let cfg = Device::open(BDF).unwrap();
    let mem = Device::open("/sys/bus/pci/devices/0000:05:00.0/resource0").unwrap();
    for (i, addr) in (0x20_0000u32..0x20_0100).step_by(4).enumerate() {
        let v = 0x5a00_0000 | i as u32;
        cfg.write4(addr, v).unwrap();
        assert_eq!(cfg.read4(addr).unwrap(), v);
        assert_eq!(mem.read4(addr).unwrap(), v, "memory sees config writes");
        mem.write4(addr, !v).unwrap();
        assert_eq!(cfg.read4(addr).unwrap(), !v, "config sees memory writes");
    }
    // Unwritten addresses read the same through both paths.
    for addr in (0x30_0000u32..0x30_0400).step_by(16) {
        assert_eq!(
            cfg.read4(addr).unwrap(),
            mem.read4(addr).unwrap(),
            "{addr:#x}"
        );
    }
}

#[test]
fn blocks_of_1_3_64_4096_dwords() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::blocks_of_1_3_64_4096_dwords"),
        CX5,
    ) else {
        return;
    };
    let d = Device::open(BDF).unwrap();
    let mem = Device::open("/sys/bus/pci/devices/0000:05:00.0/resource0").unwrap();
    for (k, n) in [1usize, 3, 64, 4096].into_iter().enumerate() {
        let base = 0x40_0000 + (k as u32) * 0x10_0000;
        let data: Vec<u32> = (0..n as u32)
            .map(|i| i.wrapping_mul(0x0100_0193) ^ 0xa5a5_0000)
            .collect();
        d.write_block(base, &data).unwrap();
        let mut back = vec![0u32; n];
        d.read_block(base, &mut back).unwrap();
        assert_eq!(back, data, "block of {n}");
        let mut via_mem = vec![0u32; n];
        mem.read_block(base, &mut via_mem).unwrap();
        assert_eq!(via_mem, data, "memory path, block of {n}");
        for i in [0, n / 2, n - 1] {
            assert_eq!(d.read4(base + 4 * i as u32).unwrap(), data[i]);
        }
    }
}

#[test]
fn config_accesses_per_dword() {
    let Some(sim) = in_sim(concat!(module_path!(), "::config_accesses_per_dword"), CX5) else {
        return;
    };
    let d = Device::open(BDF).unwrap();
    let c0 = config_accesses(&sim);
    // The open's probe ends in crspace, so no read needs a select.
    d.read4(0xf0014).unwrap();
    let c1 = config_accesses(&sim);
    assert_eq!(c1 - c0, 6, "first read4");
    d.read4(0xf0014).unwrap();
    let c2 = config_accesses(&sim);
    assert_eq!(c2 - c1, 6, "read4");
    d.write4(0x20_0000, 1).unwrap();
    let c3 = config_accesses(&sim);
    assert_eq!(c3 - c2, 7, "write4");
    for n in [1usize, 3, 64, 4096] {
        let mut out = vec![0u32; n];
        let a = config_accesses(&sim);
        d.read_block(0x10_0000, &mut out).unwrap();
        let b = config_accesses(&sim);
        let holds = n.div_ceil(4096) as u64;
        assert_eq!(b - a, 2 * n as u64 + 4 * holds, "read block of {n}");
        d.write_block(0x50_0000, &out).unwrap();
        let c = config_accesses(&sim);
        assert_eq!(c - b, 3 * n as u64 + 4 * holds, "write block of {n}");
    }
    let s = sim.counters(BDF);
    assert_eq!(s.interleaved_transactions, 0);
}

#[test]
fn vpd_matches_the_sysfs_file() {
    let Some(_sim) = in_sim(concat!(module_path!(), "::vpd_matches_the_sysfs_file"), CX5) else {
        return;
    };
    let d = Device::open(BDF).unwrap();
    let raw = std::fs::read(format!("/sys/bus/pci/devices/{BDF}/vpd")).unwrap();
    assert!(raw.len() >= 16);
    assert_eq!(raw[0], 0x82, "VPD starts with the identifier string tag");
    for off in [0u32, 1, 2, 3, 4, 7, 8, 13] {
        let o = off as usize;
        assert_eq!(
            d.vpd_read4(off).unwrap(),
            [raw[o], raw[o + 1], raw[o + 2], raw[o + 3]],
            "{off}"
        );
    }
    assert_eq!(
        d.vpd_write4(0, [1, 2, 3, 4]).unwrap_err().errno(),
        libc::EOPNOTSUPP
    );
}

/// VPD read up to its very end, as mstvpd does: it reads 4 bytes at the end tag's offset, and
/// the `vpd` file ends one byte later; bytes past the end read as 0 (stock accepts the short
/// read). Every offset of the file is readable, on every name form.
#[test]
fn vpd_reads_to_the_end() {
    let Some(_sim) = in_sim(concat!(module_path!(), "::vpd_reads_to_the_end"), CX5) else {
        return;
    };
    let raw = std::fs::read(format!("/sys/bus/pci/devices/{BDF}/vpd")).unwrap();
    assert_eq!(raw[raw.len() - 1], 0x78, "the image ends with the end tag");
    for name in [BDF, "/sys/bus/pci/devices/0000:05:00.0/resource0"] {
        let d = Device::open(name).unwrap();
        for off in 0..raw.len() {
            let want: Vec<u8> = (0..4)
                .map(|i| raw.get(off + i).copied().unwrap_or(0))
                .collect();
            assert_eq!(
                d.vpd_read4(off as u32).unwrap().to_vec(),
                want,
                "{name} at {off}"
            );
        }
        assert!(
            d.vpd_read4(raw.len() as u32).is_err(),
            "{name}: past the end"
        );
    }
}

/// Unaligned single dwords, as stock: a read returns the dword the offset lies in (mstmcra
/// DEV 0x20002); a write through the gateway writes that dword, a write on the memory path
/// stores the value's 4 big-endian bytes at the offset (stock's unaligned store).
#[test]
fn unaligned_dwords_as_stock() {
    let toml = format!("{CX5}\n[[device]]\nbdf = \"0000:06:00.0\"\ngateway = \"legacy\"\n");
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::unaligned_dwords_as_stock"),
        &toml,
    ) else {
        return;
    };
    let cfg = Device::open(BDF).unwrap();
    let mem = Device::open("/sys/bus/pci/devices/0000:05:00.0/resource0").unwrap();
    let leg = Device::open("0000:06:00.0").unwrap();
    assert!(cfg.functional_vsec() && !leg.functional_vsec() && mem.is_memory());
    for d in [&cfg, &mem, &leg] {
        let base = 0x20000u32;
        let v = d.read4(base).unwrap();
        for off in 1..4 {
            assert_eq!(d.read4(base + off).unwrap(), v, "{:?} {off}", d.path());
        }
        // A write through a gateway lands on the aligned dword.
        if !d.is_memory() {
            d.write4(0x21002, 0x1234_5678).unwrap();
            assert_eq!(d.read4(0x21000).unwrap(), 0x1234_5678, "{:?}", d.path());
        }
    }
    cfg.write4(0x22000, 0x1122_3344).unwrap();
    cfg.write4(0x22004, 0x5566_7788).unwrap();
    mem.write4(0x22002, 0xaabb_ccdd).unwrap();
    assert_eq!(cfg.read4(0x22000).unwrap(), 0x1122_aabb);
    assert_eq!(cfg.read4(0x22004).unwrap(), 0xccdd_7788);
}

#[test]
fn enumeration() {
    let toml = r#"
[[device]]
bdf = "0000:05:00.0"
ib_devs = ["mlx5_0"]
net_devs = ["enp5s0f0np0"]
numa_node = 0
[[device]]
bdf = "0000:05:00.1"
ib_devs = ["mlx5_1"]
[[device]]
bdf = "0000:81:00.0"
model = "connectx7"
"#;
    let Some(_sim) = in_sim(concat!(module_path!(), "::enumeration"), toml) else {
        return;
    };
    let list = enumerate::list(MDEVS_ALL, false).unwrap();
    let names: Vec<String> = list.iter().map(|d| d.dev_name()).collect();
    assert_eq!(names, ["0000:05:00.0", "0000:81:00.0"]);
    let d = &list[0];
    assert_eq!((d.vendor_id, d.device_id), (0x15b3, 0x1017));
    assert_eq!(d.ib_devs, ["mlx5_0"]);
    assert_eq!(d.net_devs, ["enp5s0f0np0"]);
    assert_eq!(d.numa_node, "0");
    assert_eq!(list[1].device_id, 0x1021);
    let verbose = enumerate::list(MDEVS_ALL, true).unwrap();
    assert_eq!(verbose.len(), 3);
    assert!(enumerate::list(MDEVS_IB, false).unwrap().is_empty());
    assert_eq!(enumerate::names(MDEVS_ALL).unwrap(), names);
    let opened = mtcr_ul::device::list_opened(MDEVS_ALL).unwrap();
    assert_eq!(opened.len(), 2);
}

fn write_config(off: u64, v: u32) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/sys/bus/pci/devices/{BDF}/config"))
        .unwrap();
    f.write_at(&v.to_le_bytes(), off).unwrap();
}

#[test]
fn clear_semaphore_frees_a_stale_owner() {
    let Some(sim) = in_sim(
        concat!(module_path!(), "::clear_semaphore_frees_a_stale_owner"),
        CX5,
    ) else {
        return;
    };
    // A process killed while holding the semaphore leaves its ticket there: the next open
    // finds the same ticket with an idle gateway and no owner lock for the stale period,
    // frees it and goes on (docs/RELIABILITY.md), within the 2 s semaphore bound.
    let freed0 = sim.counters(BDF).semaphore_freed_by_other;
    // Written by another process (the simulator tells owners apart by pid).
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "printf '\\064\\022\\000\\000' | dd of=/sys/bus/pci/devices/{BDF}/config \
             bs=4 seek=19 count=1 conv=notrunc status=none"
        ))
        .status()
        .unwrap();
    assert!(st.success());
    let t = Instant::now();
    let d = Device::open(BDF).unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(d.hw_id().unwrap().0, 0x20d);
    assert_eq!(sim.counters(BDF).semaphore_freed_by_other, freed0 + 1);
    drop(d);
    // mclear_pci_semaphore frees it at once.
    write_config(0x4c, 0x1234);
    let t = Instant::now();
    mtcr_ul::device::clear_semaphore(BDF).unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    let d = Device::open(BDF).unwrap();
    assert_eq!(d.hw_id().unwrap().0, 0x20d);
    drop(d);
    // The fault knob: held forever -> EBUSY in bounded time, then released.
    let d = Device::open(BDF).unwrap();
    sim.set_faults(
        BDF,
        Faults {
            semaphore_held_forever: true,
            ..Default::default()
        },
    );
    let t = Instant::now();
    assert_eq!(d.read4(0xf0014).unwrap_err().errno(), libc::EBUSY);
    assert!(t.elapsed() < Duration::from_secs(5));
    let mut out = [0u32; 16];
    assert_eq!(d.read_block(0, &mut out).unwrap_err().errno(), libc::EBUSY);
    sim.set_faults(BDF, Faults::default());
    assert_eq!(d.read4(0xf0014).unwrap(), 0x20d);
}

#[test]
fn faults_give_clear_errors() {
    let Some(sim) = in_sim(concat!(module_path!(), "::faults_give_clear_errors"), CX5) else {
        return;
    };
    let d = Device::open(BDF).unwrap();
    sim.set_faults(
        BDF,
        Faults {
            flag_stuck: true,
            ..Default::default()
        },
    );
    let t = Instant::now();
    assert_eq!(d.read4(0xf0014).unwrap_err().errno(), libc::ETIMEDOUT);
    assert!(t.elapsed() < Duration::from_secs(2));
    sim.set_faults(
        BDF,
        Faults {
            config_write_eperm: true,
            ..Default::default()
        },
    );
    let e = d.read4(0xf0014).unwrap_err();
    assert_eq!(e.errno(), libc::EPERM);
    assert!(e.to_string().contains("lockdown"), "{e}");
    let cfg_only = OpenOptions {
        force: Some(PathKind::SysfsConfig),
        ..Default::default()
    };
    let e = Device::open_with(BDF, &cfg_only).unwrap_err();
    assert_eq!(e.errno(), libc::EPERM);
    assert!(e.to_string().contains("kernel driver"), "{e}");
    // mopen falls over to resource0, which needs no config cycles.
    let m = Device::open(BDF).unwrap();
    assert_eq!(m.path(), PathKind::SysfsMemory);
    assert_eq!(m.hw_id().unwrap().0, 0x20d);
    sim.set_faults(
        BDF,
        Faults {
            truncated_config: true,
            ..Default::default()
        },
    );
    let e = Device::open_with(BDF, &cfg_only).unwrap_err();
    assert_eq!(e.errno(), libc::EPERM);
    let msg = e.to_string();
    assert!(
        msg.contains("truncated") && msg.contains("kernel driver"),
        "{msg}"
    );
    let m = Device::open(BDF).unwrap();
    assert_eq!(m.path(), PathKind::SysfsMemory);
    assert_eq!(m.hw_id().unwrap().0, 0x20d);
    // The memory path does not need config space.
    let m = Device::open_with(
        BDF,
        &OpenOptions {
            force: Some(PathKind::SysfsMemory),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(m.hw_id().unwrap().0, 0x20d);
    sim.set_faults(BDF, Faults::default());
    assert_eq!(d.hw_id().unwrap().0, 0x20d);
}

#[test]
fn legacy_windows() {
    let toml = r#"
[[device]]
bdf = "0000:05:00.0"
gateway = "legacy"
[[device]]
bdf = "0000:06:00.0"
gateway = "legacy_write_only"
[[device]]
bdf = "0000:07:00.0"
gateway = "recovery"
"#;
    let Some(_sim) = in_sim(concat!(module_path!(), "::legacy_windows"), toml) else {
        return;
    };
    for bdf in ["0000:05:00.0", "0000:06:00.0", "0000:07:00.0"] {
        let d = Device::open(bdf).unwrap();
        assert!(!d.functional_vsec(), "{bdf}");
        assert_eq!(d.path(), PathKind::SysfsConfig);
        assert_eq!(d.hw_id().unwrap(), (0x20d, 0), "{bdf}");
        d.write4(0x20_0000, 0x600d_f00d).unwrap();
        assert_eq!(d.read4(0x20_0000).unwrap(), 0x600d_f00d, "{bdf}");
        let mut out = [0u32; 5];
        d.write_block(0x20_0100, &[1, 2, 3, 4, 5]).unwrap();
        d.read_block(0x20_0100, &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4, 5]);
        assert_eq!(
            d.set_address_space(AS_ICMD).unwrap_err().errno(),
            libc::EINVAL
        );
    }
}

#[test]
fn connectx3_uses_memory_first() {
    let toml = r#"
[[device]]
bdf = "0000:05:00.0"
model = "connectx3"
gateway = "legacy"
"#;
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::connectx3_uses_memory_first"),
        toml,
    ) else {
        return;
    };
    let d = Device::open(BDF).unwrap();
    assert_eq!(d.path(), PathKind::SysfsMemory);
    assert_eq!(d.mtype(), MST_PCI);
    assert_eq!(d.hw_id().unwrap(), (0x1f5, 1));
    d.write4(0x20_0000, 7).unwrap();
    assert_eq!(d.read4(0x20_0000).unwrap(), 7);
    let c = Device::open("pciconf-05:00.0").unwrap();
    assert_eq!(c.path(), PathKind::SysfsConfig);
    assert_eq!(c.read4(0x20_0000).unwrap(), 7);
}

fn mstmcra(args: &[&str]) -> String {
    let out = Command::new("mstmcra")
        .args(args)
        .output()
        .expect("run mstmcra");
    assert!(
        out.status.success(),
        "mstmcra {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn parse_hex(s: &str) -> u32 {
    let t = s.trim();
    u32::from_str_radix(t.trim_start_matches("0x").trim_start_matches("0X"), 16)
        .unwrap_or_else(|_| panic!("not hex: {t:?}"))
}

#[test]
fn differential_with_stock_mstmcra() {
    let Some(sim) = in_sim(
        concat!(module_path!(), "::differential_with_stock_mstmcra"),
        &cx5_at(DIFF_BDF),
    ) else {
        return;
    };
    let d = Device::open(DIFF_BDF).unwrap();
    d.write4(0x20_0000, 0x1234_5678).unwrap();
    let mut addrs: Vec<u32> = vec![0xf0014, 0x20_0000, 0, 4, 0x3ff_fffc];
    let mut x = 0x2545_f491u32;
    while addrs.len() < 300 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        addrs.push((x % 0x400_0000) & !3);
    }
    for a in &addrs {
        let stock = parse_hex(&mstmcra(&[DIFF_BDF, &format!("{a:#x}")]));
        assert_eq!(d.read4(*a).unwrap(), stock, "address {a:#x}");
    }
    // Blocks: stock prints "0xADDR 0xVALUE" per dword.
    for (base, bytes) in [(0xf0000u32, 64usize), (0x12_3400, 4096)] {
        let text = mstmcra(&[DIFF_BDF, &format!("{base:#x},{bytes}")]);
        let stock: Vec<(u32, u32)> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut it = l.split_whitespace();
                (parse_hex(it.next().unwrap()), parse_hex(it.next().unwrap()))
            })
            .collect();
        assert_eq!(stock.len(), bytes / 4);
        let mut ours = vec![0u32; bytes / 4];
        d.read_block(base, &mut ours).unwrap();
        for (i, (a, v)) in stock.iter().enumerate() {
            assert_eq!(*a, base + 4 * i as u32);
            assert_eq!(ours[i], *v, "block dword at {a:#x}");
        }
    }
    // A value written by the stock tool is read by us, and the other way round.
    mstmcra(&[DIFF_BDF, "0x200004", "0xcafe0001"]);
    assert_eq!(d.read4(0x20_0004).unwrap(), 0xcafe_0001);
    assert_eq!(parse_hex(&mstmcra(&[DIFF_BDF, "0x200000"])), 0x1234_5678);
    assert_eq!(sim.counters(DIFF_BDF).interleaved_transactions, 0);
}

#[test]
fn threads_share_a_device() {
    let Some(sim) = in_sim(concat!(module_path!(), "::threads_share_a_device"), CX5) else {
        return;
    };
    let d = std::sync::Arc::new(Device::open(BDF).unwrap());
    let handles: Vec<_> = (0..4u32)
        .map(|t| {
            let d = d.clone();
            std::thread::spawn(move || {
                let base = 0x60_0000 + t * 0x1000;
                for i in 0..200u32 {
                    d.write4(base + 4 * (i % 64), i ^ t).unwrap();
                    assert_eq!(d.read4(base + 4 * (i % 64)).unwrap(), i ^ t);
                    assert_eq!(d.hw_id().unwrap().0, 0x20d);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(sim.counters(BDF).interleaved_transactions, 0);
}

#[test]
fn concurrent_with_stock_tool() {
    let Some(sim) = in_sim(
        concat!(module_path!(), "::concurrent_with_stock_tool"),
        &cx5_at(CONC_BDF),
    ) else {
        return;
    };
    let d = std::sync::Arc::new(Device::open(CONC_BDF).unwrap());
    let data: Vec<u32> = (0..2048u32).collect();
    d.write_block(0x70_0000, &data).unwrap();
    let reader = {
        let d = d.clone();
        std::thread::spawn(move || {
            for _ in 0..10 {
                let mut out = vec![0u32; 2048];
                d.read_block(0x70_0000, &mut out).unwrap();
                assert_eq!(out, (0..2048u32).collect::<Vec<_>>());
            }
        })
    };
    for _ in 0..20 {
        assert_eq!(parse_hex(&mstmcra(&[CONC_BDF, "0xf0014"])), 0x20d);
    }
    reader.join().unwrap();
    assert_eq!(sim.counters(CONC_BDF).interleaved_transactions, 0);
}

#[test]
fn force_path_from_the_environment() {
    let toml = r#"
[[device]]
bdf = "0000:05:00.0"
[[device]]
bdf = "0000:06:00.0"
model = "connectx3"
gateway = "legacy"
"#;
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::force_path_from_the_environment"),
        toml,
    ) else {
        return;
    };
    // This test runs alone in its own process inside the simulator: setting the variable
    // cannot disturb other tests.
    std::env::set_var("MTCR_FORCE_PATH", "memory");
    let d = Device::open(BDF).unwrap();
    assert_eq!(d.path(), PathKind::SysfsMemory);
    assert_eq!(d.hw_id().unwrap().0, 0x20d);
    // A name that allows only one path wins over the variable.
    let d = Device::open("/sys/bus/pci/devices/0000:05:00.0/config").unwrap();
    assert_eq!(d.path(), PathKind::SysfsConfig);
    std::env::set_var("MTCR_FORCE_PATH", "config");
    let d = Device::open("0000:06:00.0").unwrap();
    assert_eq!(d.path(), PathKind::SysfsConfig);
    assert_eq!(d.hw_id().unwrap(), (0x1f5, 1));
    std::env::set_var("MTCR_FORCE_PATH", "bogus");
    let d = Device::open("0000:06:00.0").unwrap();
    assert_eq!(
        d.path(),
        PathKind::SysfsMemory,
        "unknown values are ignored"
    );
    std::env::remove_var("MTCR_FORCE_PATH");
}

#[test]
fn vanished_device() {
    let Some(sim) = in_sim(concat!(module_path!(), "::vanished_device"), CX5) else {
        return;
    };
    let d = Device::open(BDF).unwrap();
    sim.set_faults(
        BDF,
        Faults {
            vanish_after: 1,
            ..Default::default()
        },
    );
    let t = Instant::now();
    assert_eq!(d.read4(0xf0014).unwrap_err().errno(), libc::ENODEV);
    let mut out = [0u32; 8];
    assert_eq!(d.read_block(0, &mut out).unwrap_err().errno(), libc::ENODEV);
    assert!(t.elapsed() < Duration::from_secs(2));
    drop(d); // close must not hang or panic
    assert!(t.elapsed() < Duration::from_secs(3));
}
