//! The non-volatile configuration store behind the NV access registers `mstconfig` uses:
//! MNVQC 0x9030 (is a configuration item supported, readable, writable), MNVDA 0x9024
//! (read / write an item), MNVDI 0x9025 (reset one item to its default), MNVIA 0x9033
//! (reset all), MNVGC 0x9034 (what MNVDA can read).
//!
//! Items ("TLVs") are keyed by their type dword: class 31:24, then for a global item its
//! index 23:0, for a per-port item the port 23:16 and the index 15:0. Each item has a
//! default (factory) value, the current value (what the running firmware uses) and the
//! next-boot value (what MNVDA SET wrote; it becomes current at the next firmware boot).
//! Item data are big-endian dwords; a parameter at "0xA.b" of width w is bits b..b+w-1 of
//! the dword at byte A, as mstconfig's database numbers them.
//!
//! MNVDA header (12 bytes): dword 0 length 8:0 (data bytes), writer host 11:9, version
//! 15:12, writer id 20:16, read_current 22, default 23, rd_en 24, over_en 25; dword 1 the
//! type; the data follow from dword 3. A GET reads the next-boot value unless `default` or
//! `read_current` asks for another.
//!
//! Items modelled (a ConnectX-5's PCI and link settings): GLOBAL_PCI_CAP (class 0, 129,
//! read-only: SR-IOV with up to [`MAX_VFS`] VFs, FPP), GLOBAL_PCI_CONF (class 0, 128:
//! SRIOV_EN, NUM_OF_VFS, FPP_EN...), VPI_LINK_TYPE (class 1, 18, ports 1 and 2: LINK_TYPE,
//! IB 1 or ETH 2). Values the firmware would refuse (more VFs than the capability, a link
//! type other than IB / ETH) are refused with BAD_PARAM.

use std::collections::BTreeMap;

use super::registers::{ST_BAD_PARAM, ST_METHOD_NOT_SUPP, ST_OK, ST_REG_NOT_SUPP};

/// Operation status "resource not available": MNVDA GET of an item nothing is stored for.
pub const ST_RES_NOT_AVLBL: u32 = 8;

pub const REG_MNVDA: u16 = 0x9024;
pub const REG_MNVDI: u16 = 0x9025;
pub const REG_MNVQC: u16 = 0x9030;
pub const REG_MNVIA: u16 = 0x9033;
pub const REG_MNVGC: u16 = 0x9034;

/// Minimum register sizes (MNVDA and MNVDI: the 12-byte header; data follow).
pub const NV_HDR: usize = 12;
pub const MNVQC_SIZE: usize = 8;
pub const MNVIA_SIZE: usize = 8;
pub const MNVGC_SIZE: usize = 16;

/// Most VFs per PF the capability item allows.
pub const MAX_VFS: u32 = 127;

pub const TYPE_GLOBAL_PCI_CONF: u32 = 128;
pub const TYPE_GLOBAL_PCI_CAP: u32 = 129;
pub const TYPE_VPI_LINK_TYPE: u32 = 1 << 24 | 18;

/// A per-port item's type for `port`.
pub fn port_type(base: u32, port: u32) -> u32 {
    base | (port & 0xff) << 16
}

struct Item {
    writable: bool,
    default: Vec<u32>,
    current: Vec<u32>,
    next: Vec<u32>,
}

pub(crate) struct NvConfig {
    items: BTreeMap<u32, Item>,
}

fn field(d: &[u32], dw: usize, bit: u32, width: u32) -> u32 {
    (d[dw] >> bit) & ((1u64 << width) - 1) as u32
}

impl NvConfig {
    /// A ConnectX-5's store with factory defaults: SR-IOV off (0 VFs), FPP on, both ports
    /// Ethernet.
    pub fn connectx5() -> NvConfig {
        let mut items = BTreeMap::new();
        let mut add = |ty: u32, writable: bool, d: Vec<u32>| {
            items.insert(
                ty,
                Item {
                    writable,
                    default: d.clone(),
                    current: d.clone(),
                    next: d,
                },
            );
        };
        // max_vfs_per_pf_valid; sriov_support, fpp_support, max_num_pfs 1, max_vfs_per_pf.
        add(
            TYPE_GLOBAL_PCI_CAP,
            false,
            vec![1 << 31, 1 << 31 | 1 << 29 | 1 << 16 | MAX_VFS, 0, 0, 0],
        );
        // sriov_valid, fpp_valid, num_pfs_valid; fpp_en, num_pfs 1 (sriov_en 0,
        // total_vfs 0).
        add(
            TYPE_GLOBAL_PCI_CONF,
            true,
            vec![1 << 31 | 1 << 29 | 1 << 28, 1 << 29 | 1 << 16, 0],
        );
        for port in 1..=2 {
            add(port_type(TYPE_VPI_LINK_TYPE, port), true, vec![2 << 2]);
        }
        NvConfig { items }
    }

    /// Whether the firmware would take `data` for item `ty`.
    fn valid(ty: u32, data: &[u32]) -> bool {
        match ty {
            TYPE_GLOBAL_PCI_CONF => {
                let total_vfs = field(data, 1, 0, 16);
                let num_pfs = field(data, 1, 16, 8);
                total_vfs <= MAX_VFS && num_pfs <= 1
            }
            t if t & !(0xff << 16) == TYPE_VPI_LINK_TYPE => {
                matches!(field(data, 0, 2, 2), 1 | 2)
            }
            _ => true,
        }
    }

    /// A firmware boot: the next-boot values become current.
    pub fn boot(&mut self) {
        for it in self.items.values_mut() {
            it.current = it.next.clone();
        }
    }

    pub fn reg_get(&mut self, id: u16, input: &[u32], out: &mut [u32]) -> u32 {
        match id {
            REG_MNVQC => {
                out[0] = input[0];
                out[1] = match self.items.get(&input[0]) {
                    // support_rd 0, support_wr 1, version 7:4 (0).
                    Some(it) => 1 | u32::from(it.writable) << 1,
                    None => 0,
                };
                ST_OK
            }
            REG_MNVGC => {
                // nvda_read_factory_settings, nvda_read_current_settings.
                out[0] = 0b11;
                ST_OK
            }
            REG_MNVDA => {
                let hdr = input[0];
                let Some(it) = self.items.get(&input[1]) else {
                    // Nothing stored under this type.
                    return ST_RES_NOT_AVLBL;
                };
                let src = if hdr >> 23 & 1 == 1 {
                    &it.default
                } else if hdr >> 22 & 1 == 1 {
                    &it.current
                } else {
                    &it.next
                };
                if out.len() < 3 + src.len() {
                    return ST_BAD_PARAM;
                }
                out[0] = (hdr & !0x1ff) | (4 * src.len() as u32);
                out[1] = input[1];
                out[2] = input[2];
                out[3..3 + src.len()].copy_from_slice(src);
                ST_OK
            }
            REG_MNVDI | REG_MNVIA => ST_METHOD_NOT_SUPP,
            _ => ST_REG_NOT_SUPP,
        }
    }

    pub fn reg_set(&mut self, id: u16, data: &[u32]) -> u32 {
        match id {
            REG_MNVDA => {
                let len = (data[0] & 0x1ff) as usize;
                let Some(it) = self.items.get_mut(&data[1]) else {
                    return ST_BAD_PARAM;
                };
                if !it.writable {
                    return ST_BAD_PARAM;
                }
                if len & 3 != 0 || len > 4 * it.next.len() || data.len() < 3 + len / 4 {
                    return ST_BAD_PARAM;
                }
                let mut new = it.next.clone();
                new[..len / 4].copy_from_slice(&data[3..3 + len / 4]);
                if !Self::valid(data[1], &new) {
                    return ST_BAD_PARAM;
                }
                it.next = new;
                ST_OK
            }
            REG_MNVDI => match self.items.get_mut(&data[1]) {
                Some(it) if it.writable => {
                    it.next = it.default.clone();
                    ST_OK
                }
                _ => ST_BAD_PARAM,
            },
            REG_MNVIA => {
                for it in self.items.values_mut().filter(|i| i.writable) {
                    it.next = it.default.clone();
                }
                ST_OK
            }
            REG_MNVQC | REG_MNVGC => ST_METHOD_NOT_SUPP,
            _ => ST_REG_NOT_SUPP,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(nv: &mut NvConfig, ty: u32, flags: u32) -> (u32, Vec<u32>) {
        let mut out = vec![0u32; 3 + 64];
        let st = nv.reg_get(REG_MNVDA, &[flags | 256, ty, 0], &mut out);
        let len = (out[0] & 0x1ff) as usize / 4;
        (st, out[3..3 + len].to_vec())
    }

    #[test]
    fn query_set_reset() {
        let mut nv = NvConfig::connectx5();
        let mut q = [0u32; 2];
        nv.reg_get(REG_MNVQC, &[TYPE_GLOBAL_PCI_CONF, 0], &mut q);
        assert_eq!(q[1] & 3, 3, "read and write");
        nv.reg_get(REG_MNVQC, &[TYPE_GLOBAL_PCI_CAP, 0], &mut q);
        assert_eq!(q[1] & 3, 1, "read only");
        nv.reg_get(REG_MNVQC, &[0x1234, 0], &mut q);
        assert_eq!(q[1] & 3, 0, "unknown");
        // SRIOV_EN=1 NUM_OF_VFS=16: next boot changes, current does not.
        let (_, d) = get(&mut nv, TYPE_GLOBAL_PCI_CONF, 0);
        let mut w = vec![12, TYPE_GLOBAL_PCI_CONF, 0];
        w.extend_from_slice(&d);
        w[4] |= 1 << 31 | 16;
        assert_eq!(nv.reg_set(REG_MNVDA, &w), ST_OK);
        assert_eq!(get(&mut nv, TYPE_GLOBAL_PCI_CONF, 0).1[1] & 0xffff, 16);
        assert_eq!(get(&mut nv, TYPE_GLOBAL_PCI_CONF, 1 << 22).1[1] & 0xffff, 0);
        assert_eq!(get(&mut nv, TYPE_GLOBAL_PCI_CONF, 1 << 23).1[1] & 0xffff, 0);
        nv.boot();
        assert_eq!(
            get(&mut nv, TYPE_GLOBAL_PCI_CONF, 1 << 22).1[1] & 0xffff,
            16
        );
        // Too many VFs, a bad link type, a read-only item: refused.
        w[4] = (w[4] & !0xffff) | (MAX_VFS + 1);
        assert_eq!(nv.reg_set(REG_MNVDA, &w), ST_BAD_PARAM);
        let lt = port_type(TYPE_VPI_LINK_TYPE, 1);
        assert_eq!(nv.reg_set(REG_MNVDA, &[4, lt, 0, 3 << 2]), ST_BAD_PARAM);
        assert_eq!(nv.reg_set(REG_MNVDA, &[4, lt, 0, 1 << 2]), ST_OK);
        assert_eq!(
            nv.reg_set(REG_MNVDA, &[4, TYPE_GLOBAL_PCI_CAP, 0, 0]),
            ST_BAD_PARAM
        );
        // Reset all: next boot back to the defaults.
        assert_eq!(nv.reg_set(REG_MNVIA, &[0, 0]), ST_OK);
        assert_eq!(get(&mut nv, lt, 0).1, [2 << 2]);
        assert_eq!(get(&mut nv, TYPE_GLOBAL_PCI_CONF, 0).1[1] & 0xffff, 0);
    }
}
