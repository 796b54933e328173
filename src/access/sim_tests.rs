//! The gateway and the legacy window over the simulator's device model, in process (no FUSE):
//! [`ModelConfig`] adapts `mtcr_sim::model::SimDevice` to [`ConfigIo`]. The model counts
//! every config access, so these tests pin the cost per dword on the real model too.

use std::sync::Arc;
use std::time::Duration;

use mtcr_sim::config::{DeviceConfig, GatewayKind};
use mtcr_sim::model::{CrStore, SimDevice};

use super::gateway::{self, Gateway, Tuning};
use super::legacy::Legacy;
use super::{Access, ConfigIo};
use crate::error::{Error, Result};
use crate::types::*;

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

fn crstore() -> CrStore {
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

/// Open whatever the model offers, as `select::open_config` does.
fn open(dev: &Arc<SimDevice>) -> Box<dyn Access> {
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
