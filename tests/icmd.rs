//! ICMD and access registers through the Rust API against the simulated device (each test
//! re-runs itself inside `mtcr-sim run`).

use std::time::Instant;

use mtcr_sim::testing::in_sim;
use mtcr_ul::defs::*;
use mtcr_ul::proto::reg_access::return_by_reg_status;
use mtcr_ul::proto::{Icmd as _, Registers as _};
use mtcr_ul::Device;

const MGIR: u16 = 0x9020;
const MCAM: u16 = 0x907f;
const MCQS: u16 = 0x9060;
const MFRL: u16 = 0x9028;
const MPEGC: u16 = 0x9056;
/// Sim-only knobs in the ICMD space (see sim/src/model/icmd.rs).
const KNOB_BUSY_POLLS: u32 = 0x2000;
const KNOB_DEV_BUSY: u32 = 0x2004;

fn cx5(bdf: &str) -> String {
    format!("[[device]]\nbdf = \"{bdf}\"\nmodel = \"connectx5\"\n")
}

fn get(dev: &Device, id: u16, size: usize) -> (u8, Vec<u8>) {
    let mut b = vec![0u8; size];
    let r = dev
        .access_reg(id, 1, &mut b, size, size)
        .expect("access_reg");
    (r.status, b)
}

fn be(b: &[u8], dw: usize) -> u32 {
    u32::from_be_bytes(b[dw * 4..dw * 4 + 4].try_into().unwrap())
}

#[test]
fn registers_round_trip() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::registers_round_trip"),
        &cx5("0000:21:00.0"),
    ) else {
        return;
    };
    let dev = Device::open("0000:21:00.0").unwrap();
    assert_eq!(dev.icmd_open().unwrap(), 0x340);
    assert_eq!(dev.max_reg_size(), 812);
    let (st, mgir) = get(&dev, MGIR, 160);
    assert_eq!(st, 0);
    assert_eq!(be(&mgir, 0) & 0xffff, 0x20d, "MGIR device_id = hw id");
    assert_eq!(&mgir[0x30..0x3d], b"MT_0000000008");
    let (st, mcam) = get(&dev, MCAM, 72);
    assert_eq!(st, 0);
    // MGIR (0x9020) is bit 32 of the 128-bit mask at 0x8 (dword 4 = bits 31:0).
    assert_ne!(be(&mcam, 4) & 1, 0);
    let (st, mcqs) = get(&dev, MCQS, 16);
    assert_eq!(st, 0);
    assert_eq!(be(&mcqs, 1) & 0xffff, 1, "component 0 is the boot image");
    // MFRL: arm a reset for the next PCI link toggle (trigger bit 3); the firmware then
    // reports its supported triggers and reset_state 8, waiting for the trigger.
    let mut mfrl = vec![0u8; 8];
    mfrl[7] = 0x8;
    let r = dev.access_reg(MFRL, 2, &mut mfrl, 8, 8).unwrap();
    assert_eq!(r.status, 0);
    let (st, mfrl) = get(&dev, MFRL, 8);
    assert_eq!((st, mfrl[7] & 0x8, mfrl[5] & 0xf), (0, 0x8, 8));
    // MPEGC: 44 bytes of storage.
    let mut w: Vec<u8> = (0..44u8).map(|i| i.wrapping_mul(7) ^ 0x5a).collect();
    let keep = w.clone();
    assert_eq!(dev.access_reg(MPEGC, 2, &mut w, 44, 44).unwrap().status, 0);
    let (st, back) = get(&dev, MPEGC, 44);
    assert_eq!((st, back), (0, keep));
}

#[test]
fn register_errors() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::register_errors"),
        &cx5("0000:22:00.0"),
    ) else {
        return;
    };
    let dev = Device::open("0000:22:00.0").unwrap();
    let (st, _) = get(&dev, 0x9999, 16);
    assert_eq!(return_by_reg_status(st.into()), ME_REG_ACCESS_REG_NOT_SUPP);
    let (st, _) = get(&dev, MGIR, 16);
    assert_eq!(return_by_reg_status(st.into()), ME_REG_ACCESS_BAD_PARAM);
    let mut mgir = vec![0u8; 160];
    let st = dev.access_reg(MGIR, 2, &mut mgir, 160, 160).unwrap().status;
    assert_eq!(
        return_by_reg_status(st.into()),
        ME_REG_ACCESS_METHOD_NOT_SUPP
    );
    let mut big = vec![0u8; 816];
    let e = dev.access_reg(MGIR, 1, &mut big, 816, 816).unwrap_err();
    assert_eq!(e.code, ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT);
    let e = dev.access_reg(MGIR, 3, &mut mgir, 160, 160).unwrap_err();
    assert_eq!(e.code, ME_BAD_PARAMS);
    // A busy device answers DEV_BUSY once, then works.
    dev.write4_in(AS_ICMD, KNOB_DEV_BUSY, 1).unwrap();
    let (st, _) = get(&dev, MGIR, 160);
    assert_eq!(return_by_reg_status(st.into()), ME_REG_ACCESS_DEV_BUSY);
    assert_eq!(get(&dev, MGIR, 160).0, 0);
    // Unknown opcode.
    let mut d = vec![0u8; 16];
    let e = dev.icmd_send(0x1234, &mut d, 16, 16, false).unwrap_err();
    assert_eq!(e.code, ME_ICMD_INVALID_OPCODE);
}

#[test]
fn busy_bit_polling_and_timeouts() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::busy_bit_polling_and_timeouts"),
        &cx5("0000:23:00.0"),
    ) else {
        return;
    };
    let dev = Device::open("0000:23:00.0").unwrap();
    // Busy for 150 polls: the adaptive poll waits it out.
    dev.write4_in(AS_ICMD, KNOB_BUSY_POLLS, 150).unwrap();
    assert_eq!(get(&dev, MGIR, 160).0, 0);
    // Stuck busy: bounded by MFT_ICMD_TIMEOUT polls.
    std::env::set_var("MFT_ICMD_TIMEOUT", "300");
    dev.write4_in(AS_ICMD, KNOB_BUSY_POLLS, u32::MAX).unwrap();
    let t = Instant::now();
    let mut b = vec![0u8; 160];
    let e = dev.access_reg(MGIR, 1, &mut b, 160, 160).unwrap_err();
    assert_eq!(e.code, ME_ICMD_STATUS_EXECUTE_TO);
    assert!(t.elapsed().as_secs() < 5, "bounded: {:?}", t.elapsed());
    // The interface is still busy: the next command is refused at once.
    let e = dev.access_reg(MGIR, 1, &mut b, 160, 160).unwrap_err();
    assert_eq!(e.code, ME_ICMD_STATUS_IFC_BUSY);
    // The semaphore was released on both failures.
    assert_eq!(dev.read4_in(AS_SEMAPHORE, 0).unwrap(), 0);
    dev.write4_in(AS_SEMAPHORE, 0, 0).unwrap();
    dev.write4_in(AS_ICMD, KNOB_BUSY_POLLS, 0).unwrap();
    assert_eq!(get(&dev, MGIR, 160).0, 0);
}

#[test]
fn semaphore_held_elsewhere() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::semaphore_held_elsewhere"),
        &cx5("0000:24:00.0"),
    ) else {
        return;
    };
    let dev = Device::open("0000:24:00.0").unwrap();
    // Held by a live process (its pid in the semaphore): never taken from it.
    let mut live = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    dev.write4_in(AS_SEMAPHORE, 0, live.id()).unwrap();
    let mut b = vec![0u8; 160];
    let e = dev.access_reg(MGIR, 1, &mut b, 160, 160).unwrap_err();
    assert_eq!(e.code, ME_ICMD_STATUS_SEMAPHORE_TO);
    dev.icmd_clear_semaphore().unwrap();
    assert_eq!(get(&dev, MGIR, 160).0, 0);
    // The holder dies with the semaphore taken (interface idle): the next command frees it
    // after the stale period and goes on within the bound.
    dev.write4_in(AS_SEMAPHORE, 0, live.id()).unwrap();
    live.kill().unwrap();
    live.wait().unwrap();
    let t = std::time::Instant::now();
    assert_eq!(get(&dev, MGIR, 160).0, 0);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        t.elapsed()
    );
    assert!(
        t.elapsed() >= std::time::Duration::from_secs(1),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn no_icmd_without_vsec() {
    let toml = "[[device]]\nbdf = \"0000:25:00.0\"\nmodel = \"connectx5\"\ngateway = \"legacy\"\n";
    let Some(_sim) = in_sim(concat!(module_path!(), "::no_icmd_without_vsec"), toml) else {
        return;
    };
    let dev = Device::open("0000:25:00.0").unwrap();
    assert_eq!(dev.icmd_open().unwrap_err().code, ME_ICMD_NOT_SUPPORTED);
    assert_eq!(dev.max_reg_size(), 0);
    let mut b = vec![0u8; 16];
    let e = dev.access_reg(MGIR, 1, &mut b, 16, 16).unwrap_err();
    assert_eq!(e.code, ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT);
}
