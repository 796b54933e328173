//! The gateway and the legacy window over the simulator's device model, in process (no FUSE):
//! [`ModelConfig`] adapts `mtcr_sim::model::SimDevice` to [`ConfigIo`]. The model counts
//! every config access, so these tests pin the cost per dword on the real model too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mtcr_sim::config::{DeviceConfig, Faults, GatewayKind};
use mtcr_sim::model::{CrStore, SimDevice};

use super::gateway::{self, Gateway, Tuning};
use super::legacy::Legacy;
use super::{Access, ConfigIo};
use crate::defs::*;
use crate::error::{Error, Result};

/// Config cycles straight into the model (pid = ours).
pub struct ModelConfig {
    pub dev: Arc<SimDevice>,
}

impl ConfigIo for ModelConfig {
    fn read_dword(&mut self, off: u32) -> Result<u32> {
        let mut b = [0u8; 4];
        match self.dev.config_read(off as u64, &mut b, std::process::id()) {
            Ok(4) => Ok(u32::from_le_bytes(b)),
            Ok(n) => Err(Error::io(
                format!("model config read {off:#x}"),
                std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("{n} bytes")),
            )),
            Err(e) => Err(Error::io(
                format!("model config read {off:#x}"),
                std::io::Error::from_raw_os_error(e),
            )),
        }
    }

    fn read_dwords(&mut self, off: u32, out: &mut [u32]) -> Result<()> {
        let mut b = vec![0u8; 4 * out.len()];
        match self.dev.config_read(off as u64, &mut b, std::process::id()) {
            Ok(n) if n == b.len() => {
                for (i, v) in out.iter_mut().enumerate() {
                    *v = u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
                }
                Ok(())
            }
            Ok(n) => Err(Error::io(
                format!("model config read {off:#x}"),
                std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("{n} bytes")),
            )),
            Err(e) => Err(Error::io(
                format!("model config read {off:#x}"),
                std::io::Error::from_raw_os_error(e),
            )),
        }
    }

    fn write_dword(&mut self, off: u32, v: u32) -> Result<()> {
        match self
            .dev
            .config_write(off as u64, &v.to_le_bytes(), std::process::id())
        {
            Ok(_) => Ok(()),
            Err(e) => Err(Error::io(
                format!("model config write {off:#x}"),
                std::io::Error::from_raw_os_error(e),
            )),
        }
    }
}

pub(crate) fn crstore() -> CrStore {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let p = std::env::temp_dir().join(format!(
        "mtcr-core-cr-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .unwrap();
    let _ = std::fs::remove_file(&p);
    CrStore::from_file(f).unwrap()
}

fn device(gw: GatewayKind) -> Arc<SimDevice> {
    let cfg = DeviceConfig {
        gateway: gw,
        ..DeviceConfig::default()
    };
    SimDevice::new(&cfg, crstore()).unwrap()
}

fn accesses(dev: &SimDevice) -> u64 {
    let c = dev.counters();
    c.config_reads + c.config_writes
}

fn tuning() -> Tuning {
    Tuning {
        sem_timeout: Duration::from_millis(100),
        flag_timeout: Duration::from_millis(50),
        ..Tuning::default()
    }
}

/// Open whatever the model offers, as `sysfs_config::open` does.
pub(crate) fn open(dev: &Arc<SimDevice>) -> Box<dyn Access> {
    let mut io = ModelConfig { dev: dev.clone() };
    match gateway::find_vsec(&mut io).unwrap() {
        Some(h) if h.vsc_type == gateway::VSC_TYPE_FUNCTIONAL => {
            let gw = Gateway::new(io, h.addr, None, false, tuning())
                .map_err(|(e, _)| e)
                .unwrap();
            assert!(gw.is_usable());
            Box::new(gw)
        }
        _ => Box::new(Legacy::new(io, None).unwrap()),
    }
}

#[test]
fn model_legacy_windows() {
    for kind in [
        GatewayKind::Legacy,
        GatewayKind::LegacyWriteOnly,
        GatewayKind::Recovery,
    ] {
        let dev = device(kind);
        let mut a = open(&dev);
        assert!(!a.gateway_info().functional_vsec, "{kind:?}");
        assert_eq!(a.read4(0, HW_ID_ADDR).unwrap() & 0xffff, 0x20d, "{kind:?}");
        let c0 = accesses(&dev);
        a.read4(0, HW_ID_ADDR).unwrap();
        assert_eq!(
            accesses(&dev) - c0,
            2,
            "{kind:?}: 2 config accesses per dword"
        );
        a.write4(0, 0x20_0000, 0x600d_f00d).unwrap();
        assert_eq!(
            a.read4(AS_CR_SPACE, 0x20_0000).unwrap(),
            0x600d_f00d,
            "{kind:?}"
        );
        assert_eq!(dev.cr_read(AS_CR_SPACE, 0x20_0000).unwrap(), 0x600d_f00d);
        let data: Vec<u32> = (0..64).collect();
        a.write_block(0, 0x30_0000, &data).unwrap();
        let mut out = vec![0u32; 64];
        a.read_block(0, 0x30_0000, &mut out).unwrap();
        assert_eq!(out, data);
    }
}
#[test]
fn model_vsec_gateway() {
    let dev = device(GatewayKind::Vsec);
    let mut a = open(&dev);
    let info = a.gateway_info();
    assert!(info.functional_vsec);
    assert_eq!(info.vsec_addr, 0x40);
    assert_eq!(info.cap_mask, 0x1cf);
    assert_eq!(a.read4(AS_CR_SPACE, HW_ID_ADDR).unwrap(), 0x20d);

    let c0 = accesses(&dev);
    a.read4(AS_CR_SPACE, HW_ID_ADDR).unwrap();
    let c1 = accesses(&dev);
    assert_eq!(c1 - c0, 6, "read4");
    a.write4(AS_CR_SPACE, 0x20_0000, 0x1234_5678).unwrap();
    let c2 = accesses(&dev);
    assert_eq!(c2 - c1, 7, "write4");
    a.read4(AS_ICMD, 0).unwrap();
    assert_eq!(accesses(&dev) - c2, 8, "read4 changing the space");
    a.read4(AS_CR_SPACE, 0).unwrap();
    assert_eq!(dev.cr_read(AS_CR_SPACE, 0x20_0000).unwrap(), 0x1234_5678);
    for n in [1usize, 3, 64, 4096] {
        let data: Vec<u32> = (0..n as u32).map(|i| i ^ 0xa5a5_a5a5).collect();
        let a0 = accesses(&dev);
        a.write_block(AS_CR_SPACE, 0x40_0000, &data).unwrap();
        let a1 = accesses(&dev);
        let holds = n.div_ceil(Tuning::default().max_hold_dwords) as u64;
        assert_eq!(a1 - a0, 3 * n as u64 + 4 * holds, "write block of {n}");
        let mut out = vec![0u32; n];
        a.read_block(AS_CR_SPACE, 0x40_0000, &mut out).unwrap();
        assert_eq!(
            accesses(&dev) - a1,
            2 * n as u64 + 4 * holds,
            "read block of {n}"
        );
        assert_eq!(out, data);
    }
    // Other spaces are reachable and distinct from crspace.
    a.write4(AS_ICMD, 0x3000, 77).unwrap();
    assert_eq!(a.read4(AS_ICMD, 0x3000).unwrap(), 77);
    assert_eq!(dev.cr_read(AS_ICMD, 0x3000).unwrap(), 77);
    assert_eq!(
        a.read4(AS_EXPANSION_ROM, 0).unwrap_err().errno(),
        libc::EINVAL
    );
    assert_eq!(dev.counters().interleaved_transactions, 0);
}

#[test]
fn model_faults() {
    let dev = device(GatewayKind::Vsec);
    let mut a = open(&dev);
    dev.set_faults(Faults {
        semaphore_held_forever: true,
        ..Faults::default()
    });
    let t = Instant::now();
    assert_eq!(a.read4(AS_CR_SPACE, 0).unwrap_err().errno(), libc::EBUSY);
    assert!(t.elapsed() < Duration::from_secs(1));
    dev.set_faults(Faults {
        flag_stuck: true,
        ..Faults::default()
    });
    let t = Instant::now();
    assert_eq!(
        a.read4(AS_CR_SPACE, 0).unwrap_err().errno(),
        libc::ETIMEDOUT
    );
    assert!(t.elapsed() < Duration::from_secs(1));
    dev.set_faults(Faults::default());
    assert_eq!(
        a.read4(AS_CR_SPACE, HW_ID_ADDR).unwrap(),
        0x20d,
        "recovered"
    );
    dev.set_faults(Faults {
        config_write_eperm: true,
        ..Faults::default()
    });
    assert_eq!(a.read4(AS_CR_SPACE, 0).unwrap_err().errno(), libc::EPERM);
    dev.set_faults(Faults::default());
    // EIO part way through a block: setup (semaphore 3, crspace already selected) and five
    // dwords (2 each) succeed, the 14th access fails.
    dev.set_faults(Faults {
        eio_after: 3 + 2 * 5 + 1,
        ..Faults::default()
    });
    let mut out = [0u32; 64];
    let e = a.read_block(AS_CR_SPACE, 0, &mut out).unwrap_err();
    assert_eq!((e.errno(), e.done_bytes()), (libc::EIO, 20), "{e}");
    dev.set_faults(Faults::default());
    // Semaphore held by someone else for a while, then free: waited for.
    dev.set_faults(Faults {
        semaphore_held_ms: 30,
        ..Faults::default()
    });
    a.write4(AS_CR_SPACE, HW_ID_ADDR + 4, 0).ok();
    let t = Instant::now();
    assert_eq!(a.read4(AS_CR_SPACE, HW_ID_ADDR).unwrap(), 0x20d);
    assert!(t.elapsed() < Duration::from_secs(1));
}
