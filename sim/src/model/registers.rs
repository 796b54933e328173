//! Access registers executed by the ICMD mailbox (opcode 0x9001, ACCESS_REGISTER).
//!
//! The mailbox holds big-endian dwords (mstflint's adb bit numbering: bit 0 = MSB of byte 0):
//! * Operation TLV (4 dwords): dword0 type 31:27 (=1), len 26:16 (=4), dr 15, status 14:8;
//!   dword1 register_id 31:16, r 15 (response), method 14:8 (1 GET, 2 SET), class 7:0 (=1);
//!   dwords 2..3 transaction id.
//! * Reg TLV header (1 dword): type 31:27 (=3), len 26:16 in dwords (header included).
//! * Register contents.
//!
//! Registers implemented, with their real ids and sizes (bytes): MGIR 0x9020 (160), MCAM
//! 0x907f (72), MFRL 0x9028 (8), MPCIR 0x905a (16), MCQS 0x9060 (16), MCQI 0x9061 (148) and
//! MPEGC 0x9056 (44, plain read/write storage). A shorter register TLV than the register
//! is refused with BAD_PARAM; longer ones are accepted (the extra bytes read as 0).
//!
//! With a firmware model ([`super::firmware`]) the flash registers MFPA, MFBA (variable
//! length: 12-byte header plus data), MFBE and MFMC are served by [`super::flash`], and MGIR
//! reports the running firmware's version, date and PSID.

use std::collections::HashMap;

use super::firmware::Firmware;
use super::flash::{self, REG_MFBA, REG_MFBE, REG_MFMC, REG_MFPA};
use super::fwupdate::{self, REG_MCC, REG_MCDA, REG_MCDD, REG_MQIS, REG_MVTS};
use super::nvconfig::{self, REG_MNVDA, REG_MNVDI, REG_MNVGC, REG_MNVGN, REG_MNVIA, REG_MNVQC};

pub const REG_MGIR: u16 = 0x9020;
pub const REG_MCAM: u16 = 0x907f;
pub const REG_MFRL: u16 = 0x9028;
pub const REG_MPCIR: u16 = 0x905a;
pub const REG_MCQS: u16 = 0x9060;
pub const REG_MCQI: u16 = 0x9061;
pub const REG_MPEGC: u16 = 0x9056;
pub const REG_MFAI: u16 = 0x9029;

/// Operation-TLV status codes (firmware values, mapped by `return_by_reg_status`).
pub const ST_OK: u32 = 0;
pub const ST_DEV_BUSY: u32 = 1;
pub const ST_UNKNOWN_TLV: u32 = 3;
pub const ST_REG_NOT_SUPP: u32 = 4;
pub const ST_CLASS_NOT_SUPP: u32 = 5;
pub const ST_METHOD_NOT_SUPP: u32 = 6;
pub const ST_BAD_PARAM: u32 = 7;

const METHOD_GET: u32 = 1;
const METHOD_SET: u32 = 2;

/// Register size in bytes for the ids the device knows.
pub fn reg_size(id: u16) -> Option<usize> {
    Some(match id {
        REG_MGIR => 160,
        REG_MCAM => 72,
        REG_MFRL => 8,
        REG_MPCIR => 16,
        REG_MCQS => fwupdate::MCQS_SIZE,
        REG_MCQI => fwupdate::MCQI_SIZE,
        REG_MPEGC => 44,
        REG_MFPA => flash::MFPA_SIZE,
        REG_MFBA => flash::MFBA_HEADER,
        REG_MFBE => flash::MFBE_SIZE,
        REG_MFMC => flash::MFMC_SIZE,
        REG_MFAI => 16,
        REG_MCC => fwupdate::MCC_SIZE,
        REG_MCDA => fwupdate::MCDA_SIZE,
        REG_MCDD => fwupdate::MCDD_SIZE,
        REG_MQIS => fwupdate::MQIS_SIZE,
        REG_MVTS => fwupdate::MVTS_SIZE,
        REG_MNVDA | REG_MNVDI => nvconfig::NV_HDR,
        REG_MNVQC => nvconfig::MNVQC_SIZE,
        REG_MNVIA => nvconfig::MNVIA_SIZE,
        REG_MNVGC => nvconfig::MNVGC_SIZE,
        REG_MNVGN => nvconfig::MNVGN_SIZE,
        _ => return None,
    })
}

/// Register state of one device.
pub(crate) struct Registers {
    hw_id_reg: u32,
    /// Writable storage (MPEGC contents, MFRL reset level, MPCIR).
    stored: HashMap<u16, Vec<u32>>,
    /// Sim knob: the next `dev_busy` commands answer DEV_BUSY.
    pub dev_busy: u32,
    /// Flash and running firmware (devices with a firmware model).
    pub fw: Option<Firmware>,
}

fn is_flash_reg(id: u16) -> bool {
    matches!(id, REG_MFPA | REG_MFBA | REG_MFBE | REG_MFMC | REG_MFAI)
}

fn is_nv_reg(id: u16) -> bool {
    matches!(
        id,
        REG_MNVDA | REG_MNVDI | REG_MNVQC | REG_MNVIA | REG_MNVGC | REG_MNVGN
    )
}

/// Registers served only by a device with a firmware model.
fn needs_fw(id: u16) -> bool {
    is_flash_reg(id) || is_nv_reg(id)
}

impl Registers {
    pub fn new(hw_id_reg: u32) -> Registers {
        Registers {
            hw_id_reg,
            stored: HashMap::new(),
            dev_busy: 0,
            fw: None,
        }
    }

    /// Execute ACCESS_REGISTER on the mailbox dwords (host values of the big-endian
    /// dwords) in place. Returns the ICMD status (0: the command ran; the register status
    /// is in the operation TLV).
    pub fn access(&mut self, mbox: &mut [u32]) -> u32 {
        if mbox.len() < 5 {
            return 4; // ICMD BAD_PARAM
        }
        let d0 = mbox[0];
        let d1 = mbox[1];
        let status = self.run(mbox);
        mbox[0] = (d0 & !(0x7f << 8)) | (status & 0x7f) << 8;
        mbox[1] = d1 | 1 << 15;
        0
    }

    fn run(&mut self, mbox: &mut [u32]) -> u32 {
        let (d0, d1, hdr) = (mbox[0], mbox[1], mbox[4]);
        if d0 >> 27 != 1 || (d0 >> 16) & 0x7ff != 4 || hdr >> 27 != 3 {
            return ST_UNKNOWN_TLV;
        }
        if d1 & 0xff != 1 {
            return ST_CLASS_NOT_SUPP;
        }
        if self.dev_busy > 0 {
            self.dev_busy -= 1;
            return ST_DEV_BUSY;
        }
        let id = (d1 >> 16) as u16;
        let method = (d1 >> 8) & 0x7f;
        let Some(size) = reg_size(id) else {
            return ST_REG_NOT_SUPP;
        };
        if needs_fw(id) && self.fw.is_none() {
            return ST_REG_NOT_SUPP;
        }
        let fw_update = self.fw.as_ref().is_some_and(|f| f.update.is_some());
        if matches!(id, REG_MCC | REG_MCDA | REG_MQIS | REG_MVTS) && !fw_update {
            return ST_REG_NOT_SUPP;
        }
        let dma = self
            .fw
            .as_ref()
            .and_then(|f| f.update.as_ref())
            .is_some_and(|u| u.dma);
        if id == REG_MCDD && !dma {
            return ST_REG_NOT_SUPP;
        }
        if method != METHOD_GET && method != METHOD_SET {
            return ST_METHOD_NOT_SUPP;
        }
        let tlv_dwords = ((hdr >> 16) & 0x7ff) as usize;
        let data_dwords = tlv_dwords.saturating_sub(1);
        if data_dwords * 4 < size || 5 + data_dwords > mbox.len() {
            return ST_BAD_PARAM;
        }
        let data = &mut mbox[5..5 + data_dwords];
        // MFBA and MNVDA / MNVDI carry as much data as their TLV holds.
        let n = if matches!(id, REG_MFBA | REG_MNVDA | REG_MNVDI) {
            data_dwords
        } else {
            size / 4
        };
        // The component update registers (with `fw_update`) answer in place, SET too.
        if fw_update
            && matches!(
                id,
                REG_MCC | REG_MCDA | REG_MCDD | REG_MQIS | REG_MCQS | REG_MCQI | REG_MVTS
            )
        {
            let fw = self.fw.as_mut().expect("fw_update");
            let now = std::time::Instant::now();
            return fwupdate::access(fw, id, method == METHOD_SET, &mut data[..n], now);
        }
        if method == METHOD_SET {
            return self.set(id, &data[..n]);
        }
        let mut out = vec![0u32; n];
        let st = self.get(id, &data[..n], &mut out);
        if st == ST_OK {
            data.fill(0);
            data[..n].copy_from_slice(&out);
        }
        st
    }

    fn get(&mut self, id: u16, input: &[u32], out: &mut [u32]) -> u32 {
        if is_nv_reg(id) {
            if let Some(st) = self
                .fw
                .as_ref()
                .filter(|_| id == nvconfig::REG_MNVDA)
                .and_then(|fw| fwupdate::mnvda_mac_guid(fw, input, out))
            {
                return st;
            }
            return match self.fw.as_mut() {
                Some(fw) => fw.nv.reg_get(id, input, out),
                None => ST_REG_NOT_SUPP,
            };
        }
        if is_flash_reg(id) {
            return match self.fw.as_mut() {
                // MFAI is write-only.
                Some(_) if id == REG_MFAI => ST_METHOD_NOT_SUPP,
                Some(fw) => fw.flash.reg_get(id, input, out),
                None => ST_REG_NOT_SUPP,
            };
        }
        match id {
            REG_MGIR => {
                // hw_info: device_hw_revision 31:16, device_id 15:0.
                let hw = self.hw_id_reg;
                out[0] = ((hw >> 16) & 0xf) << 16 | (hw & 0xffff);
                // hw_dev_id @0x8 (mstflint's fwctl open takes the hw id from here).
                out[2] = hw & 0xffff;
                // fw_info @0x20: major 23:16, minor 15:8 (16.35.2000 style versions kept
                // in the extended fields @0x44..0x4c), build id, date, PSID @0x30.
                out[8] = 16 << 16 | 35 << 8;
                out[9] = 0x0000_2000;
                out[10] = 0x2024 << 16 | 0x0115; // year, month/day (BCD-ish)
                let psid = *b"MT_0000000008\0\0\0";
                for (i, c) in psid.chunks(4).enumerate() {
                    out[12 + i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                }
                out[17] = 16;
                out[18] = 35;
                out[19] = 2000;
                if let Some(fw) = self.fw.as_ref() {
                    // hw_info.num_ports (27:16 of dword 1): a dual-port card.
                    out[1] |= 2 << 16;
                    // hw_info.uptime @0x1c: seconds since the firmware booted.
                    out[7] = fw.reset.uptime();
                }
                if let Some(fw) = self.fw.as_ref() {
                    fwupdate::mgir_mfg_mac(fw, out);
                }
                if let Some(r) = self.fw.as_ref().and_then(|f| f.running.as_ref()) {
                    let (maj, min, sub) = r.version;
                    out[8] = (u32::from(maj) & 0xff) << 16
                        | (u32::from(min) & 0xff) << 8
                        | (u32::from(sub) & 0xff);
                    // month 31:24, day 23:16, year 15:0 (BCD, as the tools print them).
                    let bcd = |v: u32| u32::from_str_radix(&v.to_string(), 16).unwrap_or(0);
                    let (y, m, d) = r.date;
                    out[10] = bcd(u32::from(m)) << 24 | bcd(u32::from(d)) << 16 | bcd(u32::from(y));
                    let mut psid = [0u8; 16];
                    let n = r.psid.len().min(16);
                    psid[..n].copy_from_slice(&r.psid.as_bytes()[..n]);
                    for (i, c) in psid.chunks(4).enumerate() {
                        out[12 + i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                    }
                    out[17] = u32::from(maj);
                    out[18] = u32::from(min);
                    out[19] = u32::from(sub);
                }
                ST_OK
            }
            REG_MCAM => {
                // access_reg_group 23:16, feature_group 7:0 echo the request.
                out[0] = input[0] & 0x00ff_00ff;
                if (input[0] >> 16) & 0xff == 0 {
                    // mng_access_reg_cap_mask @0x8 (128 bits, bit n = register 0x9000+n,
                    // counted from the least significant bit of the last dword).
                    let flash_regs: &[u16] = if self.fw.is_some() {
                        &[
                            REG_MFPA, REG_MFBA, REG_MFBE, REG_MFMC, REG_MFAI, REG_MNVDA, REG_MNVDI,
                            REG_MNVQC, REG_MNVIA, REG_MNVGC, REG_MNVGN,
                        ]
                    } else {
                        &[]
                    };
                    let update = self.fw.as_ref().and_then(|f| f.update.as_ref());
                    let update_regs: &[u16] = match update {
                        Some(u) if u.dma => &[REG_MCC, REG_MCDA, REG_MQIS, REG_MVTS, REG_MCDD],
                        Some(_) => &[REG_MCC, REG_MCDA, REG_MQIS, REG_MVTS],
                        None => &[],
                    };
                    for &id in [
                        REG_MGIR, REG_MCAM, REG_MFRL, REG_MPCIR, REG_MCQS, REG_MCQI, REG_MPEGC,
                    ]
                    .iter()
                    .chain(flash_regs)
                    .chain(update_regs)
                    {
                        let bit = (id - 0x9000) as usize;
                        out[2 + 3 - bit / 32] |= 1 << (bit % 32);
                    }
                }
                ST_OK
            }
            REG_MFRL if self.fw.is_some() => {
                out[1] = self.fw.as_ref().map_or(0, |f| f.mfrl_get());
                ST_OK
            }
            REG_MFRL => {
                let level = self.stored.get(&REG_MFRL).map_or(0, |v| v[1] & 0xff);
                // reset_type capabilities 15:8 (level 3 supported), reset_level 7:0.
                out[1] = 0x08 << 8 | level;
                ST_OK
            }
            REG_MPCIR => {
                out.copy_from_slice(
                    self.stored
                        .get(&REG_MPCIR)
                        .map_or(&[0u32; 4][..], |v| &v[..]),
                );
                ST_OK
            }
            REG_MCQS => {
                let index = input[0] & 0xffff;
                if index > 1 {
                    return ST_BAD_PARAM;
                }
                // last_index_flag 31, component_index 15:0; identifier 15:0 (1 = boot
                // image, 0xa = device data...); component_size; status (1 = present).
                out[0] = u32::from(index == 1) << 31 | index;
                out[1] = if index == 0 { 0x1 } else { 0xa };
                out[2] = if index == 0 { 0x0010_0000 } else { 0x1000 };
                out[3] = 0x1;
                ST_OK
            }
            REG_MCQI => {
                let index = input[0] & 0xffff;
                if index > 1 {
                    return ST_BAD_PARAM;
                }
                out[..7].copy_from_slice(&input[..7]);
                let info_type = input[4] & 0x1f;
                if info_type == 0 {
                    // Capabilities: supported_info_bitmask, component_size,
                    // max_component_size, log_mcda_word_size 31:28 | mcda_max_write_size.
                    out[7] = 0x3;
                    out[8] = 0x0010_0000;
                    out[9] = 0x0100_0000;
                    out[10] = 2 << 28 | 0x400;
                    out[6] = (out[6] & !0xffff) | 16;
                }
                ST_OK
            }
            REG_MPEGC => {
                if let Some(v) = self.stored.get(&REG_MPEGC) {
                    out.copy_from_slice(v);
                }
                ST_OK
            }
            _ => ST_REG_NOT_SUPP,
        }
    }

    fn set(&mut self, id: u16, data: &[u32]) -> u32 {
        if is_nv_reg(id) {
            if let Some(st) = self
                .fw
                .as_mut()
                .filter(|_| id == nvconfig::REG_MNVDA)
                .and_then(|fw| fwupdate::mnvda_set_mac_guid(fw, data))
            {
                return st;
            }
            return match self.fw.as_mut() {
                Some(fw) => fw.nv.reg_set(id, data),
                None => ST_REG_NOT_SUPP,
            };
        }
        if is_flash_reg(id) {
            return match self.fw.as_mut() {
                Some(fw) if id == REG_MFAI => fw.set_mfai(data),
                Some(fw) => fw.flash.reg_set(id, data),
                None => ST_REG_NOT_SUPP,
            };
        }
        match id {
            REG_MFRL if self.fw.is_some() => {
                self.fw.as_mut().map_or(ST_OK, |f| f.mfrl_set(data[1]))
            }
            REG_MFRL => {
                if data[1] & 0xff > 6 {
                    return ST_BAD_PARAM;
                }
                self.stored.insert(id, data.to_vec());
                ST_OK
            }
            REG_MPCIR | REG_MPEGC => {
                self.stored.insert(id, data.to_vec());
                ST_OK
            }
            // Read-only registers.
            _ => ST_METHOD_NOT_SUPP,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(id: u16, method: u32, reg_dwords: usize) -> Vec<u32> {
        let mut m = vec![0u32; 5 + reg_dwords];
        m[0] = 1 << 27 | 4 << 16;
        m[1] = u32::from(id) << 16 | method << 8 | 1;
        m[4] = 3 << 27 | ((reg_dwords as u32 + 1) << 16);
        m
    }

    fn status(m: &[u32]) -> u32 {
        (m[0] >> 8) & 0x7f
    }

    #[test]
    fn mgir_get_and_errors() {
        let mut r = Registers::new(0x20d);
        let mut m = cmd(REG_MGIR, 1, 40);
        assert_eq!(r.access(&mut m), 0);
        assert_eq!(status(&m), 0);
        assert_eq!(m[5] & 0xffff, 0x20d);
        assert_ne!(m[1] & 1 << 15, 0, "response bit");
        let mut m = cmd(0x1234, 1, 4);
        r.access(&mut m);
        assert_eq!(status(&m), ST_REG_NOT_SUPP);
        let mut m = cmd(REG_MGIR, 1, 4);
        r.access(&mut m);
        assert_eq!(status(&m), ST_BAD_PARAM, "short TLV");
        let mut m = cmd(REG_MGIR, 2, 40);
        r.access(&mut m);
        assert_eq!(status(&m), ST_METHOD_NOT_SUPP, "read-only");
        r.dev_busy = 1;
        let mut m = cmd(REG_MGIR, 1, 40);
        r.access(&mut m);
        assert_eq!(status(&m), ST_DEV_BUSY);
        let mut m = cmd(REG_MGIR, 1, 40);
        r.access(&mut m);
        assert_eq!(status(&m), ST_OK);
    }

    #[test]
    fn mpegc_round_trip() {
        let mut r = Registers::new(0x20d);
        let mut m = cmd(REG_MPEGC, 2, 11);
        for (i, d) in m[5..].iter_mut().enumerate() {
            *d = 0x1111_0000 + i as u32;
        }
        r.access(&mut m);
        assert_eq!(status(&m), 0);
        let mut g = cmd(REG_MPEGC, 1, 11);
        r.access(&mut g);
        assert_eq!(status(&g), 0);
        assert_eq!(g[5..], m[5..]);
    }
}
