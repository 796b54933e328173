//! The PCI Express root port above the simulated functions of a bus (`sim/README.md`,
//! "Upstream bridges"): its config space as `lspci` / `setpci` and mstfwreset read and write
//! it, and the link it controls. Link Disable (Link Control bit 4) or Secondary Bus Reset
//! (Bridge Control bit 6) set takes the link of every function below down; cleared again,
//! the link comes back up and each function goes through its PCI reset
//! ([`SimDevice::link_up`]: config space back to power-on values, a firmware reset armed for
//! a link toggle fires).

use std::sync::Arc;

use parking_lot::Mutex;

use super::config_space::{
    ConfigSpace, BRIDGE_CTL, BRIDGE_CTL_SBR, BRIDGE_PCIE_OFF, CONFIG_SIZE, LNKCTL,
    LNKCTL_LINK_DISABLE, LNKSTA, LNKSTA_DOWN, LNKSTA_UP,
};
use super::{Errno, SimDevice, BAR0_SIZE};
use crate::config::BridgeSpec;

/// One root port. Cheap to share (`Arc`), all methods take `&self`.
pub struct SimBridge {
    bdf: String,
    below: Vec<Arc<SimDevice>>,
    inner: Mutex<BridgeState>,
}

struct BridgeState {
    cs: ConfigSpace,
    /// The link to the functions below is down (Link Disable or Secondary Bus Reset set).
    down: bool,
    /// Link toggles completed (down and up again).
    toggles: u32,
}

impl SimBridge {
    /// The root port of `spec`; `devices` is the whole device list (`spec.below` indexes it).
    pub fn new(spec: &BridgeSpec, devices: &[Arc<SimDevice>]) -> Arc<SimBridge> {
        let below: Vec<Arc<SimDevice>> = spec
            .below
            .iter()
            .filter_map(|&i| devices.get(i).cloned())
            .collect();
        // The prefetchable window covers the BARs below (1 MiB granularity).
        let bars: Vec<u64> = below
            .iter()
            .filter_map(|d| crate::config::parse_bdf(d.bdf()))
            .map(super::bar0_address)
            .collect();
        let window = match (bars.iter().min(), bars.iter().max()) {
            (Some(&lo), Some(&hi)) => (lo, hi + BAR0_SIZE - 1),
            _ => (0xfff0_0000, 0x000f_ffff), // base above limit: no window
        };
        Arc::new(SimBridge {
            bdf: spec.bdf.clone(),
            below,
            inner: Mutex::new(BridgeState {
                cs: ConfigSpace::root_port(spec.port, spec.secondary, window),
                down: false,
                toggles: 0,
            }),
        })
    }

    pub fn bdf(&self) -> &str {
        &self.bdf
    }

    /// Whether the link to the functions below is down.
    pub fn link_down(&self) -> bool {
        self.inner.lock().down
    }

    /// Link toggles (down, then up again) since the start.
    pub fn toggles(&self) -> u32 {
        self.inner.lock().toggles
    }

    fn dword(st: &BridgeState, off: u32) -> u32 {
        let v = st.cs.dword(off);
        if off == BRIDGE_PCIE_OFF + LNKCTL {
            debug_assert_eq!(LNKSTA, LNKCTL + 2);
            let sta = if st.down { LNKSTA_DOWN } else { LNKSTA_UP };
            (v & 0xffff) | u32::from(sta) << 16
        } else {
            v
        }
    }

    /// pread on the bridge's `config`: any offset and length, EOF at 4 KiB.
    pub fn config_read(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let st = self.inner.lock();
        if off >= CONFIG_SIZE || buf.is_empty() {
            return Ok(0);
        }
        let n = buf.len().min((CONFIG_SIZE - off) as usize);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            let a = off + i as u64;
            let dw = Self::dword(&st, (a & !3) as u32);
            *b = dw.to_le_bytes()[(a & 3) as usize];
        }
        Ok(n)
    }

    /// pwrite on the bridge's `config`: writable bits only (the rest ignore writes); a change
    /// of the link state (Link Disable, Secondary Bus Reset) acts on the functions below
    /// once the write is done.
    pub fn config_write(&self, off: u64, data: &[u8]) -> Result<usize, Errno> {
        let mut st = self.inner.lock();
        if off >= CONFIG_SIZE || data.is_empty() {
            return Ok(0);
        }
        let n = data.len().min((CONFIG_SIZE - off) as usize);
        let end = off + n as u64;
        let mut dw = off & !3;
        while dw < end {
            let mut value = [0u8; 4];
            let mut be = 0u8;
            for (i, v) in value.iter_mut().enumerate() {
                let a = dw + i as u64;
                if a >= off && a < end {
                    *v = data[(a - off) as usize];
                    be |= 1 << i;
                }
            }
            st.cs.write_dword(dw as u32, u32::from_le_bytes(value), be);
            dw += 4;
        }
        let lnkctl = st.cs.dword(BRIDGE_PCIE_OFF + LNKCTL) as u16;
        let bctl = (st.cs.dword(BRIDGE_CTL & !3) >> 16) as u16;
        let down = lnkctl & LNKCTL_LINK_DISABLE != 0 || bctl & BRIDGE_CTL_SBR != 0;
        if down != st.down {
            st.down = down;
            if down {
                for d in &self.below {
                    d.link_down();
                }
            } else {
                st.toggles += 1;
                for d in &self.below {
                    d.link_up();
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{bridges, SimConfig};
    use crate::model::CrStore;

    fn setup(toml: &str) -> (Vec<Arc<SimDevice>>, Vec<Arc<SimBridge>>) {
        let cfg = SimConfig::from_toml(toml).unwrap();
        let devs: Vec<Arc<SimDevice>> = cfg
            .devices
            .iter()
            .map(|c| SimDevice::new(c, CrStore::anonymous()).unwrap())
            .collect();
        let br = bridges(&cfg.devices)
            .iter()
            .map(|s| SimBridge::new(s, &devs))
            .collect();
        (devs, br)
    }

    fn rd32(b: &SimBridge, off: u64) -> u32 {
        let mut x = [0u8; 4];
        assert_eq!(b.config_read(off, &mut x).unwrap(), 4);
        u32::from_le_bytes(x)
    }

    fn dev32(d: &SimDevice, off: u64) -> u32 {
        let mut x = [0u8; 4];
        assert_eq!(d.config_read(off, &mut x, 1).unwrap(), 4);
        u32::from_le_bytes(x)
    }

    #[test]
    fn root_port_header_and_capability() {
        let (_, br) = setup("");
        assert_eq!(br.len(), 1);
        let b = &br[0];
        assert_eq!(b.bdf(), "0000:00:01.0");
        assert_eq!(rd32(b, 0), 0x2030_8086);
        assert_eq!(rd32(b, 8) >> 8, 0x06_0400);
        assert_eq!(rd32(b, 0xc) >> 16 & 0x7f, 1, "type 1 header");
        assert_eq!(
            rd32(b, 0x18),
            0x0005_0500,
            "primary 0, secondary = subordinate 5"
        );
        let pf = rd32(b, 0x24);
        assert_eq!(pf & 0xf, 1, "64-bit prefetchable window");
        let base = u64::from(rd32(b, 0x28)) << 32 | u64::from(pf & 0xfff0) << 16;
        assert_eq!(base, crate::model::bar0_address((0, 5, 0, 0)));
        assert_eq!(rd32(b, 0x34) & 0xff, 0x40);
        assert_eq!(rd32(b, 0x40) & 0xff, 0x10, "PCI Express");
        assert_eq!(rd32(b, 0x40) >> 16 & 0xf0, 0x40, "root port");
        assert_ne!(
            rd32(b, 0x4c) & 1 << 20,
            0,
            "DLL Link Active reporting capable"
        );
        assert_eq!(rd32(b, 0x54) & 1 << 6, 0, "no hot-plug");
        assert_eq!(rd32(b, 0x50) >> 16 & 0x2000, 0x2000, "DLL Link Active");
        // Read-only fields ignore writes; a write past the end writes nothing.
        b.config_write(0, &[0xff; 4]).unwrap();
        b.config_write(0x18, &[0xff; 4]).unwrap();
        assert_eq!(rd32(b, 0), 0x2030_8086);
        assert_eq!(rd32(b, 0x18), 0x0005_0500);
        assert_eq!(b.config_write(4096, &[1]).unwrap(), 0);
        let mut big = vec![0u8; 8192];
        assert_eq!(b.config_read(0, &mut big).unwrap(), 4096);
        assert_eq!(b.config_read(4095, &mut big).unwrap(), 1);
    }

    #[test]
    fn link_disable_toggle_resets_the_functions_below() {
        let (devs, br) = setup(
            "[[device]]\nbdf = \"0000:05:00.0\"\n[[device]]\nbdf = \"0000:05:00.1\"\n\
             [[device]]\nbdf = \"0000:07:00.0\"\n",
        );
        assert_eq!(br.len(), 2);
        let (b, d) = (&br[0], &devs[0]);
        let cmd = dev32(d, 4);
        let bar = dev32(d, 0x10);
        assert_eq!(cmd & 0xffff, 6);
        // Link Disable set: the functions below read all ones; writes are dropped.
        let old = rd32(b, 0x50);
        b.config_write(0x50, &(old | 0x10).to_le_bytes()).unwrap();
        assert!(b.link_down());
        assert!(d.is_link_down() && devs[1].is_link_down() && !devs[2].is_link_down());
        assert_eq!(rd32(b, 0x50) >> 16 & 0x2000, 0, "DLL Link Active clear");
        assert_eq!(dev32(d, 0), 0xffff_ffff);
        assert_eq!(dev32(&devs[1], 0), 0xffff_ffff);
        assert_ne!(dev32(&devs[2], 0), 0xffff_ffff, "another bus");
        assert_eq!(d.config_write(4, &[0, 0], 1).unwrap(), 2);
        // Cleared: back up, with power-on config space.
        b.config_write(0x50, &old.to_le_bytes()).unwrap();
        assert!(!b.link_down());
        assert_eq!(b.toggles(), 1);
        assert_eq!(dev32(d, 0), 0x1017_15b3);
        assert_eq!(dev32(d, 4) & 0xffff, 0, "command cleared");
        assert_eq!(dev32(d, 0x10), 0xc, "BAR unassigned");
        // The tool's restore.
        d.config_write(0x10, &bar.to_le_bytes(), 1).unwrap();
        d.config_write(4, &cmd.to_le_bytes()[..2], 1).unwrap();
        assert_eq!(dev32(d, 0x10), bar);
        // Secondary bus reset does the same.
        b.config_write(0x3e, &[0x40, 0]).unwrap();
        assert!(b.link_down());
        b.config_write(0x3e, &[0, 0]).unwrap();
        assert_eq!(b.toggles(), 2);
        assert_eq!(dev32(d, 0x10), 0xc);
        // Writing Link Disable again while it is set changes nothing.
        b.config_write(0x50, &[0x10]).unwrap();
        b.config_write(0x50, &[0x10]).unwrap();
        b.config_write(0x50, &[0]).unwrap();
        assert_eq!(b.toggles(), 3);
    }

    #[test]
    fn bus_zero_functions_have_no_bridge_and_numbers_are_skipped() {
        let cfg = SimConfig::from_toml(
            "[[device]]\nbdf = \"0000:00:01.0\"\n[[device]]\nbdf = \"0000:81:00.0\"\n\
             [[device]]\nbdf = \"0000:05:00.0\"\n[[device]]\nbdf = \"0001:05:00.0\"\n",
        )
        .unwrap();
        let b = bridges(&cfg.devices);
        let got: Vec<(&str, u8, Vec<usize>)> = b
            .iter()
            .map(|s| (s.bdf.as_str(), s.secondary, s.below.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("0000:00:02.0", 5, vec![2]),
                ("0000:00:03.0", 0x81, vec![1]),
                ("0001:00:01.0", 5, vec![3]),
            ]
        );
    }
}
