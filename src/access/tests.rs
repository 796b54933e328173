//! Gateway and legacy-window tests over the simulator's device model in process
//! (`sim_tests::ModelConfig`): protocol, exact config-access counts (the performance
//! contract), fault handling. [`Recorder`] logs the config writes for the tests that watch
//! the protocol itself (semaphore timing, space selection).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mtcr_sim::config::{DeviceConfig, Faults, GatewayKind};
use mtcr_sim::model::SimDevice;

use super::gateway::{self, Gateway, Tuning};
use super::legacy::Legacy;
use super::sim_tests::{crstore, ModelConfig};
use super::{Access, ConfigIo};
use crate::defs::*;

/// VSEC offset of the model's functional VSEC.
const VSEC: u32 = 0x40;
/// The semaphore register.
const SEM: u32 = VSEC + 0xc;
/// The model's hw id (ConnectX-5).
const HW_ID: u32 = 0x20d;

fn fast() -> Tuning {
    Tuning {
        sem_timeout: Duration::from_millis(50),
        flag_timeout: Duration::from_millis(20),
        ..Tuning::default()
    }
}

fn device_with(gateway: GatewayKind, spaces: Option<Vec<u32>>) -> Arc<SimDevice> {
    let mut cfg = DeviceConfig {
        gateway,
        ..DeviceConfig::default()
    };
    if let Some(s) = spaces {
        cfg.spaces = s;
    }
    SimDevice::new(&cfg, crstore()).unwrap()
}

fn device() -> Arc<SimDevice> {
    device_with(GatewayKind::Vsec, None)
}

fn io(dev: &Arc<SimDevice>) -> ModelConfig {
    ModelConfig { dev: dev.clone() }
}

/// (config reads, config writes) so far.
fn counts(dev: &SimDevice) -> (u64, u64) {
    let c = dev.counters();
    (c.config_reads, c.config_writes)
}

/// Config accesses between two [`counts`].
fn since(dev: &SimDevice, before: (u64, u64)) -> (u64, u64) {
    let now = counts(dev);
    (now.0 - before.0, now.1 - before.1)
}

/// The semaphore register, read without side effects on the protocol.
fn sem(dev: &SimDevice) -> u32 {
    dev.config_dword(SEM).unwrap()
}

fn open_gw<C: ConfigIo>(mut io: C, tuning: Tuning) -> Gateway<C> {
    let hdr = gateway::find_vsec(&mut io).unwrap().unwrap();
    assert_eq!(hdr.addr, VSEC);
    assert_eq!(hdr.vsc_type, gateway::VSC_TYPE_FUNCTIONAL);
    Gateway::new(io, hdr.addr, None, false, tuning)
        .map_err(|(e, _)| e)
        .unwrap()
}

/// A carrier that logs every config write (when, offset, value) on its way to the model.
#[derive(Clone)]
struct Recorder {
    inner: Arc<Mutex<ModelConfig>>,
    writes: Arc<Mutex<Vec<(Instant, u32, u32)>>>,
}

impl Recorder {
    fn new(dev: &Arc<SimDevice>) -> Recorder {
        Recorder {
            inner: Arc::new(Mutex::new(io(dev))),
            writes: Arc::default(),
        }
    }

    /// The values written to config offset `off`, in order.
    fn written(&self, off: u32) -> Vec<u32> {
        let w = self.writes.lock().unwrap();
        w.iter().filter(|x| x.1 == off).map(|x| x.2).collect()
    }

    /// The longest time the semaphore stayed free (our release to our next acquisition):
    /// what a competing tool polling it sees.
    fn longest_sem_gap(&self) -> Duration {
        let w = self.writes.lock().unwrap();
        let mut freed: Option<Instant> = None;
        let mut longest = Duration::ZERO;
        for &(t, _, v) in w.iter().filter(|x| x.1 == SEM) {
            match (v, freed) {
                (0, _) => freed = Some(t),
                (_, Some(f)) => {
                    longest = longest.max(t - f);
                    freed = None;
                }
                _ => {}
            }
        }
        longest
    }
}

impl ConfigIo for Recorder {
    fn read_dword(&mut self, off: u32) -> crate::Result<u32> {
        self.inner.lock().unwrap().read_dword(off)
    }
    fn read_dwords(&mut self, off: u32, out: &mut [u32]) -> crate::Result<()> {
        self.inner.lock().unwrap().read_dwords(off, out)
    }
    fn write_dword(&mut self, off: u32, v: u32) -> crate::Result<()> {
        self.writes.lock().unwrap().push((Instant::now(), off, v));
        self.inner.lock().unwrap().write_dword(off, v)
    }
}

#[test]
fn probe_builds_cap_mask() {
    let dev = device();
    let mut gw = open_gw(io(&dev), fast());
    // ICMD_EXT(1) CR(2) ICMD(3) ND_CR(6) SCAN_CR(7) SEMAPHORE(bit 8) + INITIALIZED(0)
    assert_eq!(gw.cap_mask(), 0x1cf);
    assert!(gw.is_usable());
    let info = gw.gateway_info();
    assert!(info.functional_vsec && !info.pxir);
    assert!(gw.supports_space(AS_CR_SPACE) && gw.supports_space(AS_SEMAPHORE));
    assert!(!gw.supports_space(AS_EXPANSION_ROM) && !gw.supports_space(AS_PCI_CRSPACE));
    assert!(!gw.supports_space(0x55) && !gw.supports_space(AS_END));
    assert_eq!(sem(&dev), 0, "semaphore released after the probe");
}

#[test]
fn probe_reads_the_hw_id_in_its_own_hold() {
    let dev = device();
    let mut io = io(&dev);
    let hdr = gateway::find_vsec(&mut io).unwrap().unwrap();
    let c0 = counts(&dev);
    let a0 = dev.counters().semaphore_acquired;
    let mut gw = Gateway::new(io, hdr.addr, None, false, fast())
        .map_err(|(e, _)| e)
        .unwrap();
    // One hold: acquire (pair read, ticket write, CTRL..SEMAPHORE read) = 3, select with
    // read-back = 2 per probed space (15), the hw id read = 2, release = 1.
    let (r, w) = since(&dev, c0);
    assert_eq!(r + w, 3 + 2 * gateway::PROBE_ORDER.len() as u64 + 2 + 1);
    assert_eq!(dev.counters().semaphore_acquired - a0, 1, "one hold");
    assert_eq!(*gateway::PROBE_ORDER.last().unwrap(), AS_CR_SPACE);
    assert_eq!(gw.take_open_hw_id(), Some(HW_ID));
}

#[test]
fn read_write_roundtrip_and_exact_costs() {
    let dev = device();
    let mut gw = open_gw(io(&dev), fast());
    // The probe ends in crspace and reads the hw id in the same hold, once.
    assert_eq!(gw.take_open_hw_id(), Some(HW_ID));
    assert_eq!(gw.take_open_hw_id(), None);
    let c = counts(&dev);
    assert_eq!(gw.read4(AS_CR_SPACE, HW_ID_ADDR).unwrap(), HW_ID);
    assert_eq!(
        since(&dev, c),
        (3, 3),
        "the probe left crspace selected: read4 = 6 config accesses"
    );
    let c = counts(&dev);
    assert_eq!(gw.read4(AS_CR_SPACE, HW_ID_ADDR).unwrap(), HW_ID);
    assert_eq!(since(&dev, c), (3, 3), "read4 = 6 config accesses");
    let c = counts(&dev);
    gw.write4(AS_CR_SPACE, 0x20_1000, 0xdead_beef).unwrap();
    assert_eq!(since(&dev, c), (3, 4), "write4 = 7 config accesses");
    assert_eq!(gw.read4(AS_CR_SPACE, 0x20_1000).unwrap(), 0xdead_beef);
    assert_eq!(dev.cr_read(AS_CR_SPACE, 0x20_1000).unwrap(), 0xdead_beef);
    // Space 0 means crspace.
    assert_eq!(gw.read4(0, 0x20_1000).unwrap(), 0xdead_beef);
    // Spaces are distinct.
    dev.cr_write(AS_ICMD, 0x3000, 0x1cd).unwrap();
    let c = counts(&dev);
    assert_eq!(gw.read4(AS_ICMD, 0x3000).unwrap(), 0x1cd);
    assert_eq!(since(&dev, c), (4, 4), "a space change costs 2 more");
    assert_ne!(gw.read4(AS_CR_SPACE, 0x3000).unwrap(), 0x1cd);
    assert_eq!(sem(&dev), 0);

    for n in [1usize, 3, 64, 4096] {
        let mut out = vec![0u32; n];
        let data: Vec<u32> = (0..n as u32).map(|i| i.wrapping_mul(0x0101_0101)).collect();
        let c = counts(&dev);
        gw.write_block(AS_CR_SPACE, 0x30_0000, &data).unwrap();
        let (r, w) = since(&dev, c);
        let holds = n.div_ceil(Tuning::default().max_hold_dwords) as u64;
        assert_eq!(r + w, 3 * n as u64 + 4 * holds, "write block of {n}");
        let c = counts(&dev);
        gw.read_block(AS_CR_SPACE, 0x30_0000, &mut out).unwrap();
        let (r, w) = since(&dev, c);
        assert_eq!(r + w, 2 * n as u64 + 4 * holds, "read block of {n}");
        assert_eq!(out, data);
        for (i, v) in data.iter().enumerate().step_by(97) {
            assert_eq!(
                dev.cr_read(AS_CR_SPACE, 0x30_0000 + 4 * i as u32).unwrap(),
                *v
            );
        }
    }
    assert_eq!(dev.counters().interleaved_transactions, 0);
}

#[test]
fn long_blocks_release_the_semaphore_between_holds() {
    let dev = device();
    let mut gw = open_gw(
        io(&dev),
        Tuning {
            max_hold_dwords: 100,
            ..fast()
        },
    );
    let data: Vec<u32> = (0..250).map(|i| i * 3 + 1).collect();
    gw.write_block(AS_CR_SPACE, 0x40_0000, &data).unwrap();
    let mut out = vec![0u32; 250];
    let c = counts(&dev);
    let a0 = dev.counters().semaphore_acquired;
    gw.read_block(AS_CR_SPACE, 0x40_0000, &mut out).unwrap();
    let (r, w) = since(&dev, c);
    assert_eq!(
        r + w,
        2 * 250 + 4 * 3,
        "three holds (crspace still selected from the probe)"
    );
    assert_eq!(dev.counters().semaphore_acquired - a0, 3);
    assert_eq!(out, data);
}

#[test]
fn back_to_back_holds_leave_other_users_a_turn() {
    // A caller that takes the semaphore again right after releasing it (a loop of blocks or
    // dwords) must still leave it free, now and then, longer than the 1 ms a stock tool
    // sleeps between polls; otherwise such a tool never gets it and gives up (seen in CI).
    let dev = device();
    let rec = Recorder::new(&dev);
    let mut gw = open_gw(
        rec.clone(),
        Tuning {
            hold_budget: Duration::from_millis(20),
            ..fast()
        },
    );
    rec.writes.lock().unwrap().clear();
    let start = Instant::now();
    let mut out = vec![0u32; 64];
    while start.elapsed() < Duration::from_millis(100) {
        gw.read_block(AS_CR_SPACE, 0, &mut out).unwrap();
        gw.read4(AS_CR_SPACE, 0).unwrap();
    }
    let gap = rec.longest_sem_gap();
    assert!(gap >= gateway::HOLD_GAP, "longest free gap {gap:?}");
}

#[test]
fn bad_arguments_cost_nothing() {
    let dev = device();
    let mut gw = open_gw(io(&dev), fast());
    let c = counts(&dev);
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
    assert_eq!(since(&dev, c), (0, 0));
}

#[test]
fn semaphore_busy_is_ebusy_in_bounded_time() {
    let dev = device();
    let mut gw = open_gw(io(&dev), fast());
    let held = Faults {
        semaphore_held_forever: true,
        ..Faults::default()
    };
    dev.set_faults(held.clone());
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
    dev.set_faults(Faults::default());
    assert!(gw.read4(AS_CR_SPACE, 0).is_ok());
    // Closing with a stuck semaphore is quick.
    dev.set_faults(held);
    let t = Instant::now();
    gw.close();
    assert!(t.elapsed() < Duration::from_millis(500));

    // At open: a semaphore another process took -> EBUSY; the clear option frees it.
    let dev = device();
    dev.config_write(SEM as u64, &0x77u32.to_le_bytes(), 1)
        .unwrap();
    assert_eq!(sem(&dev), 0x77);
    let r = Gateway::new(io(&dev), VSEC, None, false, fast());
    assert_eq!(r.err().map(|(e, _)| e.errno()), Some(libc::EBUSY));
    let gw = Gateway::new(io(&dev), VSEC, None, true, fast())
        .map_err(|(e, _)| e)
        .unwrap();
    assert!(gw.is_usable());
    assert_eq!(sem(&dev), 0);
}

#[test]
fn stuck_flag_times_out_and_releases_the_semaphore() {
    let dev = device();
    let mut gw = open_gw(io(&dev), fast());
    dev.set_faults(Faults {
        flag_stuck: true,
        ..Faults::default()
    });
    let t = Instant::now();
    let e = gw.read4(AS_CR_SPACE, 0x10).unwrap_err();
    assert_eq!(e.errno(), libc::ETIMEDOUT, "{e}");
    assert!(t.elapsed() < Duration::from_millis(500));
    assert_eq!(sem(&dev), 0);
    let e = gw.write4(AS_CR_SPACE, 0x10, 1).unwrap_err();
    assert_eq!(e.errno(), libc::ETIMEDOUT);
    let mut out = [0u32; 4];
    let e = gw.read_block(AS_CR_SPACE, 0, &mut out).unwrap_err();
    assert_eq!((e.errno(), e.done_bytes()), (libc::ETIMEDOUT, 0));
    assert!(matches!(e, crate::Error::Partial { .. }));
    assert_eq!(sem(&dev), 0);
}

#[test]
fn eio_part_way_reports_partial_progress() {
    let dev = device();
    let mut gw = open_gw(io(&dev), fast());
    // Hold setup: 2 reads + 1 write (the probe left crspace selected) = 3 accesses, then 2
    // per dword: let 5 dwords through, fail in the 6th.
    dev.set_faults(Faults {
        eio_after: 3 + 2 * 5 + 1,
        ..Faults::default()
    });
    let mut out = [0u32; 16];
    let e = gw.read_block(AS_CR_SPACE, 0, &mut out).unwrap_err();
    assert_eq!((e.errno(), e.done_bytes()), (libc::EIO, 20), "{e}");
    dev.set_faults(Faults::default());
    // The release failed with EIO too: our ticket is still in the semaphore, and the next
    // transaction frees it instead of timing out.
    assert_ne!(sem(&dev), 0);
    assert_eq!(gw.read4(AS_CR_SPACE, HW_ID_ADDR).unwrap(), HW_ID);
    assert_eq!(sem(&dev), 0);
    dev.set_faults(Faults {
        config_write_eperm: true,
        ..Faults::default()
    });
    let e = gw.write4(AS_CR_SPACE, 0, 1).unwrap_err();
    assert_eq!(e.errno(), libc::EPERM);
}

#[test]
fn pxir_syndrome_switches_to_the_pci_space() {
    // A device listing "PCI" spaces reports an out-of-range syndrome; the gateway then
    // retries the same address in the PCI twin of the space (the model's PCI crspace
    // aliases crspace, so the switch is seen in the space selections).
    let spaces = vec![0x1, 0x2, 0x3, 0xa, 0x102, 0x103, 0x10a];
    let dev = device_with(GatewayKind::Vsec, Some(spaces));
    let rec = Recorder::new(&dev);
    let mut gw = open_gw(rec.clone(), fast());
    assert!(gw.gateway_info().pxir);
    let ctrl = VSEC + 0x4;
    let selects = |rec: &Recorder| -> Vec<u32> {
        rec.written(ctrl).into_iter().map(|v| v & 0xffff).collect()
    };
    rec.writes.lock().unwrap().clear();
    assert_eq!(gw.read4(AS_CR_SPACE, HW_ID_ADDR).unwrap(), HW_ID);
    assert_eq!(selects(&rec), Vec::<u32>::new(), "in range: no switch");
    // Beyond the 64 MiB crspace (but below 2^30): out of range in both twins.
    let far = 0x800_0000;
    assert_eq!(gw.read4(AS_CR_SPACE, far).unwrap(), 0);
    assert_eq!(selects(&rec), [AS_PCI_CRSPACE]);
    rec.writes.lock().unwrap().clear();
    gw.write4(AS_CR_SPACE, far, 7).unwrap();
    assert_eq!(selects(&rec), [AS_CR_SPACE, AS_PCI_CRSPACE]);
    let addr = rec.written(VSEC + 0x10);
    assert_eq!(addr.len(), 2, "the write is issued twice: {addr:x?}");
    assert!(addr.iter().all(|a| a & 0x3fff_ffff == far));
}

#[test]
fn vsec_without_minimum_spaces_is_not_usable() {
    let dev = device_with(GatewayKind::Vsec, Some(vec![0x2]));
    let gw = open_gw(io(&dev), fast());
    assert!(!gw.is_usable());
    let (io, _) = gw.into_inner();
    let mut l = Legacy::new(io, None).unwrap();
    // The model's VSEC device has no window at 0x58: the point is only that fallback works.
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
    for kind in [GatewayKind::Legacy, GatewayKind::LegacyWriteOnly] {
        let dev = device_with(kind, None);
        let mut io = io(&dev);
        assert_eq!(gateway::find_vsec(&mut io).unwrap(), None);
        let mut l = Legacy::new(io, None).unwrap();
        assert_eq!(l.write_only_address(), kind == GatewayKind::LegacyWriteOnly);
        let c = counts(&dev);
        assert_eq!(l.read4(0, HW_ID_ADDR).unwrap() & 0xffff, HW_ID);
        assert_eq!(since(&dev, c), (1, 1));
        l.write4(AS_CR_SPACE, 0x50_0500, 0x1234).unwrap();
        assert_eq!(dev.cr_read(AS_CR_SPACE, 0x50_0500).unwrap(), 0x1234);
        assert_eq!(l.read4(AS_CR_SPACE, 0x50_0500).unwrap(), 0x1234);
        let mut out = [0u32; 3];
        let c = counts(&dev);
        l.read_block(0, 0x50_04fc, &mut out).unwrap();
        assert_eq!(since(&dev, c), (3, 3));
        assert_eq!(out[1], 0x1234);
        assert_eq!(l.read4(AS_ICMD, 0).unwrap_err().errno(), libc::EINVAL);
        l.write_block(0, 0x50_0600, &[1, 2, 3]).unwrap();
        l.read_block(0, 0x50_0600, &mut out).unwrap();
        assert_eq!(out, [1, 2, 3]);
    }
}
