//! ICMD over the memory path (`resource0`): the library drives the ICMD interface through the
//! BAR (crspace addresses), the simulator serves it from the same model as the VSEC ICMD
//! space (each test re-runs itself inside `mtcr-sim run`).

use mtcr_sim::testing::in_sim;
use mtcr_ul::proto::{Icmd as _, Registers as _};
use mtcr_ul::Device;

const MGIR: u16 = 0x9020;
const MPEGC: u16 = 0x9056;

fn cx5(bdf: &str) -> String {
    format!("[[device]]\nbdf = \"{bdf}\"\nmodel = \"connectx5\"\n")
}

#[test]
fn access_reg_over_resource0() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::access_reg_over_resource0"),
        &cx5("0000:23:00.0"),
    ) else {
        return;
    };
    let bar = Device::open("/sys/bus/pci/devices/0000:23:00.0/resource0").unwrap();
    assert!(bar.is_memory());
    assert_eq!(bar.icmd_open().unwrap(), 0x340);
    assert_eq!(bar.max_reg_size(), 812);
    let mut mgir = vec![0u8; 160];
    let r = bar.access_reg(MGIR, 1, &mut mgir, 160, 160).unwrap();
    assert_eq!(r.status, 0);
    assert_eq!(
        u32::from_be_bytes(mgir[0..4].try_into().unwrap()) & 0xffff,
        0x20d,
        "MGIR device_id = hw id"
    );
    assert_eq!(&mgir[0x30..0x3d], b"MT_0000000008");

    // One model: a register written over the BAR reads back over the VSEC, and back.
    let cfg = Device::open("/sys/bus/pci/devices/0000:23:00.0/config").unwrap();
    assert!(!cfg.is_memory());
    let mut w: Vec<u8> = (0..44u8).map(|i| i.wrapping_mul(13) ^ 0xa5).collect();
    let keep = w.clone();
    assert_eq!(bar.access_reg(MPEGC, 2, &mut w, 44, 44).unwrap().status, 0);
    let mut back = vec![0u8; 44];
    assert_eq!(
        cfg.access_reg(MPEGC, 1, &mut back, 44, 44).unwrap().status,
        0
    );
    assert_eq!(back, keep);
    let mut w2: Vec<u8> = keep.iter().map(|b| !b).collect();
    let keep2 = w2.clone();
    assert_eq!(cfg.access_reg(MPEGC, 2, &mut w2, 44, 44).unwrap().status, 0);
    let mut back = vec![0u8; 44];
    assert_eq!(
        bar.access_reg(MPEGC, 1, &mut back, 44, 44).unwrap().status,
        0
    );
    assert_eq!(back, keep2);

    // The semaphore is shared too: held through the BAR, the VSEC side cannot take it.
    bar.icmd_lock().unwrap();
    let mut b = vec![0u8; 160];
    // Reading a held semaphore through the VSEC answers its holder (no side effect).
    let held = cfg.read4_in(mtcr_ul::defs::AS_SEMAPHORE, 0).unwrap();
    assert_eq!(held, std::process::id(), "BAR take is the VSEC semaphore");
    bar.icmd_clear_semaphore().unwrap();
    let r = cfg.access_reg(MGIR, 1, &mut b, 160, 160).unwrap();
    assert_eq!(r.status, 0);
}

#[test]
fn access_reg_over_mst_pci_mapping() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::access_reg_over_mst_pci_mapping"),
        &format!("{}driver = \"mft_legacy\"\n", cx5("0000:24:00.0")),
    ) else {
        return;
    };
    let bar = Device::open("/dev/mst/mt4119_pci_cr0").unwrap();
    assert!(bar.is_memory());
    let mut mgir = vec![0u8; 160];
    let r = bar.access_reg(MGIR, 1, &mut mgir, 160, 160).unwrap();
    assert_eq!(r.status, 0);
    assert_eq!(&mgir[0x30..0x3d], b"MT_0000000008");
}

#[test]
fn no_icmd_over_the_bar_of_a_connectx3() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::no_icmd_over_the_bar_of_a_connectx3"),
        "[[device]]\nbdf = \"0000:25:00.0\"\nmodel = \"connectx3\"\n",
    ) else {
        return;
    };
    let bar = Device::open("/sys/bus/pci/devices/0000:25:00.0/resource0").unwrap();
    assert!(bar.is_memory());
    let e = bar.icmd_open().unwrap_err();
    assert_eq!(e.code, mtcr_ul::defs::ME_ICMD_NOT_SUPPORTED);
}
