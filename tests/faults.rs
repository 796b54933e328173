//! Every fault knob of the simulator, through the real sysfs path (inside `mtcr-sim run`):
//! the failure comes with a meaningful errno within a bounded time (docs/RELIABILITY.md),
//! names its cause, leaks no descriptor, and the same handle works again once the fault
//! clears. Opens under each fault either fail cleanly or fall over to a path that works.

use std::time::{Duration, Instant};

use mtcr_sim::config::Faults;
use mtcr_sim::testing::in_sim;
use mtcr_ul::access::PathKind;
use mtcr_ul::defs::*;
use mtcr_ul::{Device, OpenOptions};

/// Own BDF (stock lock files in /tmp are shared between simulator instances).
const BDF: &str = "0000:11:00.0";

fn cx5() -> String {
    format!("[[device]]\nbdf = \"{BDF}\"\nmodel = \"connectx5\"\n")
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

struct Case {
    name: &'static str,
    faults: Faults,
    /// errno of a crspace read on the VSEC path.
    errno: i32,
    /// What the message must mention.
    says: &'static str,
    /// Upper bound of one failing call.
    bound: Duration,
}

fn cases() -> Vec<Case> {
    let f = Faults::default;
    vec![
        Case {
            name: "semaphore held forever",
            faults: Faults {
                semaphore_held_forever: true,
                ..f()
            },
            errno: libc::EBUSY,
            says: "mclear_pci_semaphore",
            bound: Duration::from_secs(4),
        },
        Case {
            name: "gateway flag stuck",
            faults: Faults {
                flag_stuck: true,
                ..f()
            },
            errno: libc::ETIMEDOUT,
            says: "",
            bound: Duration::from_secs(2),
        },
        Case {
            name: "EIO from the 5th access",
            faults: Faults {
                eio_after: 5,
                ..f()
            },
            errno: libc::EIO,
            says: "",
            bound: Duration::from_secs(2),
        },
        Case {
            name: "device gone",
            faults: Faults {
                vanish_after: 2,
                ..f()
            },
            errno: libc::ENODEV,
            says: "",
            bound: Duration::from_secs(2),
        },
        Case {
            name: "config writes refused (lockdown)",
            faults: Faults {
                config_write_eperm: true,
                ..f()
            },
            errno: libc::EPERM,
            says: "kernel driver",
            bound: Duration::from_secs(2),
        },
        Case {
            name: "config truncated to 64 bytes",
            faults: Faults {
                truncated_config: true,
                ..f()
            },
            errno: libc::EPERM,
            says: "truncated",
            bound: Duration::from_secs(2),
        },
    ]
}

#[test]
fn each_fault_fails_clearly_and_clears() {
    let Some(sim) = in_sim(
        concat!(module_path!(), "::each_fault_fails_clearly_and_clears"),
        &cx5(),
    ) else {
        return;
    };
    let d = Device::open(BDF).unwrap();
    assert_eq!(d.path(), PathKind::SysfsConfig);
    let fds0 = open_fds();
    let cfg_only = OpenOptions {
        force: Some(PathKind::SysfsConfig),
        ..Default::default()
    };
    let mut runs = 0;
    for c in cases() {
        for round in 0..3 {
            sim.set_faults(BDF, c.faults.clone());
            let t = Instant::now();
            let e = d.read4(HW_ID_ADDR).unwrap_err();
            let took = t.elapsed();
            assert_eq!(e.errno(), c.errno, "{}: read4: {e}", c.name);
            assert!(took < c.bound, "{}: read4 took {took:?}", c.name);
            assert!(e.to_string().contains(c.says), "{}: {e}", c.name);
            let t = Instant::now();
            let mut out = vec![0u32; 300];
            let e = d.read_block(0x10_0000, &mut out).unwrap_err();
            assert_eq!(e.errno(), c.errno, "{}: read_block: {e}", c.name);
            assert!(t.elapsed() < c.bound, "{}: read_block slow", c.name);
            let e = d.write_block(0x10_0000, &out).unwrap_err();
            assert_eq!(e.errno(), c.errno, "{}: write_block: {e}", c.name);
            // Opening the config path under the fault ends in bounded time, never panics;
            // the default open falls over to resource0 where that still works.
            let t = Instant::now();
            match Device::open_with(BDF, &cfg_only) {
                // The open does not use what failed (e.g. the flag): the first access does.
                Ok(x) => assert_eq!(
                    x.read4(HW_ID_ADDR).unwrap_err().errno(),
                    c.errno,
                    "{}",
                    c.name
                ),
                Err(e) => assert!(e.errno() > 0, "{}", c.name),
            }
            assert!(
                t.elapsed() < c.bound,
                "{}: open took {:?}",
                c.name,
                t.elapsed()
            );
            match Device::open(BDF) {
                Ok(m) if m.path() == PathKind::SysfsMemory => {
                    assert_eq!(m.hw_id().unwrap().0, 0x20d, "{}", c.name);
                }
                Ok(m) => assert_eq!(
                    m.read4(HW_ID_ADDR).unwrap_err().errno(),
                    c.errno,
                    "{}",
                    c.name
                ),
                Err(e) => assert!(e.errno() > 0, "{}", c.name),
            }
            sim.set_faults(BDF, Faults::default());
            assert_eq!(
                d.read4(HW_ID_ADDR).unwrap() & 0xffff,
                0x20d,
                "{} (round {round}): works again once cleared",
                c.name
            );
            let data: Vec<u32> = (0..300).map(|i| i * 7 + round).collect();
            d.write_block(0x10_0000, &data).unwrap();
            d.read_block(0x10_0000, &mut out).unwrap();
            assert_eq!(out, data, "{}: blocks work again", c.name);
            runs += 1;
        }
    }
    assert_eq!(
        open_fds(),
        fds0,
        "descriptors leaked over {runs} fault runs"
    );
    assert_eq!(sim.counters(BDF).interleaved_transactions, 0);
}

#[test]
fn unsupported_space_and_slow_device() {
    let Some(sim) = in_sim(
        concat!(module_path!(), "::unsupported_space_and_slow_device"),
        &cx5(),
    ) else {
        return;
    };
    let d = Device::open(BDF).unwrap();
    assert_eq!(d.read4_in(AS_ICMD, 0x100).map(|_| ()).ok(), Some(()));
    // A space the device does not implement: EINVAL, and crspace unaffected.
    assert_eq!(
        d.read4_in(AS_EXPANSION_ROM, 0).unwrap_err().errno(),
        libc::EINVAL
    );
    assert_eq!(
        d.set_address_space(0x1234).unwrap_err().errno(),
        libc::EINVAL
    );
    // A space disabled by the knob after the open: refused at the gateway (the device says
    // no at selection), other spaces still fine.
    sim.set_faults(
        BDF,
        Faults {
            unsupported_spaces: vec![AS_ICMD],
            ..Default::default()
        },
    );
    let t = Instant::now();
    let e = d.read4_in(AS_ICMD, 0x100).unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL, "{e}");
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(d.read4(HW_ID_ADDR).unwrap() & 0xffff, 0x20d);
    sim.set_faults(BDF, Faults::default());
    d.read4_in(AS_ICMD, 0x100).unwrap();
    // A slow device (2 ms per config access): correct values, time proportional to the work
    // (no timeout fires: the flag bound counts polls, not wall time spent in the access).
    sim.set_faults(
        BDF,
        Faults {
            delay_us: 2000,
            ..Default::default()
        },
    );
    let t = Instant::now();
    d.write4(0x12_0000, 0x5105_5105).unwrap();
    assert_eq!(d.read4(0x12_0000).unwrap(), 0x5105_5105);
    let data: Vec<u32> = (0..32).collect();
    d.write_block(0x12_0100, &data).unwrap();
    let mut out = vec![0u32; 32];
    d.read_block(0x12_0100, &mut out).unwrap();
    assert_eq!(out, data);
    let took = t.elapsed();
    assert!(took < Duration::from_secs(20), "slow device: {took:?}");
    sim.set_faults(BDF, Faults::default());
    assert_eq!(sim.counters(BDF).interleaved_transactions, 0);
}
