//! Gateway and legacy-window tests over the in-process fake config space: protocol, exact
//! config-access counts (the performance contract), fault handling.

use std::time::{Duration, Instant};

use super::fake::{FakeConfig, Kind};
use super::gateway::{self, Gateway, Tuning};
use super::legacy::Legacy;
use super::{Access, ConfigIo};
use crate::defs::*;

fn fast() -> Tuning {
    Tuning {
        sem_timeout: Duration::from_millis(50),
        flag_timeout: Duration::from_millis(20),
        ..Tuning::default()
    }
}

fn open_gw(fake: &FakeConfig, tuning: Tuning) -> Gateway<FakeConfig> {
    let mut io = fake.clone();
    let hdr = gateway::find_vsec(&mut io).unwrap().unwrap();
    assert_eq!(hdr.addr, 0x40);
    assert_eq!(hdr.vsc_type, gateway::VSC_TYPE_FUNCTIONAL);
    Gateway::new(io, hdr.addr, None, false, tuning)
        .map_err(|(e, _)| e)
        .unwrap()
}

fn pattern(space: u32, addr: u32) -> u32 {
    fake_state_value(space, addr)
}

fn fake_state_value(space: u32, addr: u32) -> u32 {
    FakeConfig::new(Kind::Vsec).st().cr_get(space, addr)
}

#[test]
fn probe_builds_cap_mask() {
    let fake = FakeConfig::new(Kind::Vsec);
    let mut gw = open_gw(&fake, fast());
    // ICMD_EXT(1) CR(2) ICMD(3) ND_CR(6) SCAN_CR(7) SEMAPHORE(bit 8) + INITIALIZED(0)
    assert_eq!(gw.cap_mask(), 0x1cf);
    assert!(gw.is_usable());
    let info = gw.gateway_info();
    assert!(info.functional_vsec && !info.pxir);
    assert!(gw.supports_space(AS_CR_SPACE) && gw.supports_space(AS_SEMAPHORE));
    assert!(!gw.supports_space(AS_EXPANSION_ROM) && !gw.supports_space(AS_PCI_CRSPACE));
    assert!(!gw.supports_space(0x55) && !gw.supports_space(AS_END));
    assert_eq!(fake.st().sem, 0, "semaphore released after the probe");
}

#[test]
fn probe_reads_the_hw_id_in_its_own_hold() {
    let fake = FakeConfig::new(Kind::Vsec);
    let mut io = fake.clone();
    let hdr = gateway::find_vsec(&mut io).unwrap().unwrap();
    fake.reset_counts();
    let mut gw = Gateway::new(io, hdr.addr, None, false, fast())
        .map_err(|(e, _)| e)
        .unwrap();
    // One hold: acquire (pair read, ticket write, CTRL..SEMAPHORE read) = 3, select with
    // read-back = 2 per probed space (15), the hw id read = 2, release = 1.
    let (r, w) = fake.counts();
    assert_eq!(r + w, 3 + 2 * gateway::PROBE_ORDER.len() as u64 + 2 + 1);
    assert_eq!(*gateway::PROBE_ORDER.last().unwrap(), AS_CR_SPACE);
    assert_eq!(gw.take_open_hw_id(), Some(pattern(2, 0xf0014)));
}

#[test]
fn read_write_roundtrip_and_exact_costs() {
    let fake = FakeConfig::new(Kind::Vsec);
    let mut gw = open_gw(&fake, fast());
    // The probe ends in crspace and reads the hw id in the same hold, once.
    assert_eq!(gw.take_open_hw_id(), Some(pattern(2, 0xf0014)));
    assert_eq!(gw.take_open_hw_id(), None);
    fake.reset_counts();
    assert_eq!(gw.read4(AS_CR_SPACE, 0xf0014).unwrap(), pattern(2, 0xf0014));
    assert_eq!(
        fake.counts(),
        (3, 3),
        "the probe left crspace selected: read4 = 6 config accesses"
    );
    fake.reset_counts();
    assert_eq!(gw.read4(AS_CR_SPACE, 0xf0014).unwrap(), pattern(2, 0xf0014));
    assert_eq!(fake.counts(), (3, 3), "read4 = 6 config accesses");
    fake.reset_counts();
    gw.write4(AS_CR_SPACE, 0x1000, 0xdead_beef).unwrap();
    assert_eq!(fake.counts(), (3, 4), "write4 = 7 config accesses");
    assert_eq!(gw.read4(AS_CR_SPACE, 0x1000).unwrap(), 0xdead_beef);
    // Space 0 means crspace.
    assert_eq!(gw.read4(0, 0x1000).unwrap(), 0xdead_beef);
    // Spaces are distinct.
    fake.reset_counts();
    assert_eq!(gw.read4(AS_ICMD, 0x1000).unwrap(), pattern(3, 0x1000));
    assert_eq!(fake.counts(), (4, 4), "a space change costs 2 more");
    assert_eq!(fake.st().sem, 0);
    gw.read4(AS_CR_SPACE, 0).unwrap();

    for n in [1usize, 3, 64, 4096] {
        let mut out = vec![0u32; n];
        fake.reset_counts();
        gw.read_block(AS_CR_SPACE, 0x2000, &mut out).unwrap();
        let (r, w) = fake.counts();
        let holds = n.div_ceil(Tuning::default().max_hold_dwords) as u64;
        assert_eq!(r + w, 2 * n as u64 + 4 * holds, "read block of {n}");
        for (i, v) in out.iter().enumerate() {
            assert_eq!(*v, pattern(2, 0x2000 + 4 * i as u32));
        }
        let data: Vec<u32> = (0..n as u32).map(|i| i.wrapping_mul(0x0101_0101)).collect();
        fake.reset_counts();
        gw.write_block(AS_CR_SPACE, 0x8000, &data).unwrap();
        let (r, w) = fake.counts();
        assert_eq!(r + w, 3 * n as u64 + 4 * holds, "write block of {n}");
        gw.read_block(AS_CR_SPACE, 0x8000, &mut out).unwrap();
        assert_eq!(out, data);
    }
}

#[test]
fn long_blocks_release_the_semaphore_between_holds() {
    let fake = FakeConfig::new(Kind::Vsec);
    let mut gw = open_gw(
        &fake,
        Tuning {
            max_hold_dwords: 100,
            ..fast()
        },
    );
    let mut out = vec![0u32; 250];
    fake.reset_counts();
    gw.read_block(AS_CR_SPACE, 0, &mut out).unwrap();
    let (r, w) = fake.counts();
    assert_eq!(
        r + w,
        2 * 250 + 4 * 3,
        "three holds (crspace still selected from the probe)"
    );
    assert_eq!(out[249], pattern(2, 249 * 4));
}

#[test]
fn back_to_back_holds_leave_other_users_a_turn() {
    // A caller that takes the semaphore again right after releasing it (a loop of blocks or
    // dwords) must still leave it free, now and then, longer than the 1 ms a stock tool
    // sleeps between polls; otherwise such a tool never gets it and gives up (seen in CI).
    let fake = FakeConfig::new(Kind::Vsec);
    let mut gw = open_gw(
        &fake,
        Tuning {
            hold_budget: Duration::from_millis(20),
            ..fast()
        },
    );
    fake.st().longest_sem_gap = Duration::ZERO;
    let start = Instant::now();
    let mut out = vec![0u32; 64];
    while start.elapsed() < Duration::from_millis(100) {
        gw.read_block(AS_CR_SPACE, 0, &mut out).unwrap();
        gw.read4(AS_CR_SPACE, 0).unwrap();
    }
    let gap = fake.st().longest_sem_gap;
    assert!(gap >= gateway::HOLD_GAP, "longest free gap {gap:?}");
}

#[test]
fn bad_arguments_cost_nothing() {
    let fake = FakeConfig::new(Kind::Vsec);
    let mut gw = open_gw(&fake, fast());
    fake.reset_counts();
    assert_eq!(
        gw.read4(AS_CR_SPACE, 1 << 30).unwrap_err().errno(),
        libc::EINVAL
    );
    assert_eq!(
        gw.read4(AS_EXPANSION_ROM, 0).unwrap_err().errno(),
        libc::EINVAL
    );
    let mut out = [0u32; 4];
    assert_eq!(
        gw.read_block(AS_CR_SPACE, 0x3fff_fff8, &mut out)
            .unwrap_err()
            .errno(),
        libc::EINVAL
    );
    assert_eq!(fake.counts(), (0, 0));
}

#[test]
fn semaphore_busy_is_ebusy_in_bounded_time() {
    let fake = FakeConfig::new(Kind::Vsec);
    let mut gw = open_gw(&fake, fast());
    fake.st().sem_busy = true;
    let t = Instant::now();
    let e = gw.read4(AS_CR_SPACE, 0).unwrap_err();
    assert_eq!(e.errno(), libc::EBUSY, "{e}");
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    let mut out = [0u32; 8];
    let e = gw.read_block(AS_CR_SPACE, 0, &mut out).unwrap_err();
    assert_eq!(e.errno(), libc::EBUSY);
    assert!(
        !matches!(e, crate::Error::Partial { .. }),
        "nothing transferred: plain error"
    );
    fake.st().sem_busy = false;
    assert!(gw.read4(AS_CR_SPACE, 0).is_ok());
    // Closing with a stuck semaphore is quick.
    fake.st().sem_busy = true;
    let t = Instant::now();
    gw.close();
    assert!(t.elapsed() < Duration::from_millis(500));

    // At open: busy -> EBUSY; a stale owner is cleared by the clear option.
    let fake = FakeConfig::new(Kind::Vsec);
    fake.st().sem = 0x77;
    let r = Gateway::new(fake.clone(), 0x40, None, false, fast());
    assert_eq!(r.err().map(|(e, _)| e.errno()), Some(libc::EBUSY));
    let gw = Gateway::new(fake.clone(), 0x40, None, true, fast())
        .map_err(|(e, _)| e)
        .unwrap();
    assert!(gw.is_usable());
    assert_eq!(fake.st().sem, 0);
}

#[test]
fn stuck_flag_times_out_and_releases_the_semaphore() {
    let fake = FakeConfig::new(Kind::Vsec);
    let mut gw = open_gw(&fake, fast());
    fake.st().flag_stuck = true;
    let t = Instant::now();
    let e = gw.read4(AS_CR_SPACE, 0x10).unwrap_err();
    assert_eq!(e.errno(), libc::ETIMEDOUT, "{e}");
    assert!(t.elapsed() < Duration::from_millis(500));
    assert_eq!(fake.st().sem, 0);
    let e = gw.write4(AS_CR_SPACE, 0x10, 1).unwrap_err();
    assert_eq!(e.errno(), libc::ETIMEDOUT);
    let mut out = [0u32; 4];
    let e = gw.read_block(AS_CR_SPACE, 0, &mut out).unwrap_err();
    assert_eq!((e.errno(), e.done_bytes()), (libc::ETIMEDOUT, 0));
    assert!(matches!(e, crate::Error::Partial { .. }));
    assert_eq!(fake.st().sem, 0);
}

#[test]
fn eio_part_way_reports_partial_progress() {
    let fake = FakeConfig::new(Kind::Vsec);
    let mut gw = open_gw(&fake, fast());
    fake.reset_counts();
    // Hold setup: 2 reads + 1 write (the probe left crspace selected) = 3 accesses, then 2
    // per dword: let 5 dwords through, fail in the 6th.
    fake.st().eio_after = 3 + 2 * 5 + 1;
    let mut out = [0u32; 16];
    let e = gw.read_block(AS_CR_SPACE, 0, &mut out).unwrap_err();
    assert_eq!((e.errno(), e.done_bytes()), (libc::EIO, 20), "{e}");
    fake.st().eio_after = 0;
    // The release failed with EIO too: our ticket is still in the semaphore, and the next
    // transaction frees it instead of timing out.
    assert_ne!(fake.st().sem, 0);
    assert_eq!(gw.read4(AS_CR_SPACE, 4).unwrap(), pattern(2, 4));
    assert_eq!(fake.st().sem, 0);
    fake.st().eperm_writes = true;
    let e = gw.write4(AS_CR_SPACE, 0, 1).unwrap_err();
    assert_eq!(e.errno(), libc::EPERM);
}

#[test]
fn pxir_syndrome_switches_to_the_pci_space() {
    let fake = FakeConfig::new(Kind::Vsec);
    fake.st().spaces = vec![0x1, 0x2, 0x3, 0xa, 0x102, 0x103, 0x10a];
    fake.st().pxir_limit = Some(0x10_0000);
    let mut gw = open_gw(&fake, fast());
    assert!(gw.gateway_info().pxir);
    assert_eq!(gw.read4(AS_CR_SPACE, 0x100).unwrap(), pattern(2, 0x100));
    assert_eq!(
        gw.read4(AS_CR_SPACE, 0x20_0000).unwrap(),
        pattern(0x102, 0x20_0000)
    );
    gw.write4(AS_CR_SPACE, 0x20_0000, 7).unwrap();
    assert_eq!(fake.st().cr_get(0x102, 0x20_0000), 7);
}

#[test]
fn vsec_without_minimum_spaces_is_not_usable() {
    let fake = FakeConfig::new(Kind::Vsec);
    fake.st().spaces = vec![0x2];
    let gw = open_gw(&fake, fast());
    assert!(!gw.is_usable());
    let (io, _) = gw.into_inner();
    let mut l = Legacy::new(io, None).unwrap();
    // The fake's VSEC device has no window at 0x58: the point is only that fallback works.
    assert!(l.read4(0, 0).is_ok());
}

#[test]
fn capability_walk_is_bounded() {
    struct Loop;
    impl ConfigIo for Loop {
        fn read_dword(&mut self, off: u32) -> crate::Result<u32> {
            Ok(match off {
                0x34 => 0x40,
                0x40 => 0x0000_5001,
                0x50 => 0x0000_4005, // back to 0x40
                _ => 0,
            })
        }
        fn write_dword(&mut self, _: u32, _: u32) -> crate::Result<()> {
            Ok(())
        }
    }
    assert_eq!(gateway::find_vsec(&mut Loop).unwrap(), None);
    struct Low;
    impl ConfigIo for Low {
        fn read_dword(&mut self, off: u32) -> crate::Result<u32> {
            Ok(if off == 0x34 { 0x20 } else { 0x09 })
        }
        fn write_dword(&mut self, _: u32, _: u32) -> crate::Result<()> {
            Ok(())
        }
    }
    assert_eq!(gateway::find_vsec(&mut Low).unwrap(), None);
}

#[test]
fn legacy_window_roundtrip_and_costs() {
    for kind in [Kind::Legacy, Kind::LegacyWo] {
        let fake = FakeConfig::new(kind);
        let mut io = fake.clone();
        assert_eq!(gateway::find_vsec(&mut io).unwrap(), None);
        let mut l = Legacy::new(io, None).unwrap();
        assert_eq!(l.write_only_address(), kind == Kind::LegacyWo);
        fake.reset_counts();
        assert_eq!(l.read4(0, 0xf0014).unwrap(), pattern(2, 0xf0014));
        assert_eq!(fake.counts(), (1, 1));
        l.write4(AS_CR_SPACE, 0x500, 0x1234).unwrap();
        assert_eq!(fake.st().cr_get(2, 0x500), 0x1234);
        assert_eq!(l.read4(AS_CR_SPACE, 0x500).unwrap(), 0x1234);
        let mut out = [0u32; 3];
        fake.reset_counts();
        l.read_block(0, 0x4fc, &mut out).unwrap();
        assert_eq!(fake.counts(), (3, 3));
        assert_eq!(out[1], 0x1234);
        assert_eq!(l.read4(AS_ICMD, 0).unwrap_err().errno(), libc::EINVAL);
        l.write_block(0, 0x600, &[1, 2, 3]).unwrap();
        l.read_block(0, 0x600, &mut out).unwrap();
        assert_eq!(out, [1, 2, 3]);
    }
}
