//! The helper exports of `src/ffi/helpers` (and `ffi::inband`) on the simulated device, as
//! mstflint's tools call them: the ICMD semaphore kept across `icmd_send_command_enhanced`,
//! an access-register mailbox built with the TLV packers, `is_livefish_device`. Each test
//! re-runs itself inside `mtcr-sim run`.

use std::os::raw::c_int;

use mtcr_sim::testing::in_sim;
use mtcr_ul::defs::*;
use mtcr_ul::ffi::abi::mfile;
use mtcr_ul::ffi::helpers::mtcr_icmd_cif::{
    icmd_send_command_enhanced, icmd_take_semaphore, is_livefish_device,
};
use mtcr_ul::ffi::helpers::packets_layout::{
    init_operation_tlv, init_reg_tlv, reg_tlv, reg_tlv_pack, OperationTlv, OperationTlv_pack,
    OperationTlv_unpack,
};
use mtcr_ul::ffi::icmd::icmd_clear_semaphore;
use mtcr_ul::ffi::inband::maccess_reg_mad;
use mtcr_ul::ffi::open::{mclose, mopen};
use mtcr_ul::Device;

fn cx5(bdf: &str, extra: &str) -> String {
    format!("[[device]]\nbdf = \"{bdf}\"\nmodel = \"connectx5\"\n{extra}")
}

fn open(bdf: &str) -> *mut mfile {
    let name = std::ffi::CString::new(bdf).unwrap();
    // SAFETY: a valid C string.
    let mf = unsafe { mopen(name.as_ptr()) };
    assert!(!mf.is_null(), "mopen {bdf}");
    mf
}

/// An MGIR (0x9020) GET mailbox built as mstreg builds it: operation TLV, register TLV,
/// 160 register bytes.
fn mgir_mailbox() -> Vec<u8> {
    let mut m = vec![0u8; 16 + 4 + 160];
    let mut op = OperationTlv::default();
    let mut rt = reg_tlv::default();
    // SAFETY: valid structs; m holds 16 + 4 bytes at the offsets used.
    unsafe {
        assert_eq!(init_operation_tlv(&mut op, 0x9020, 1), 0);
        assert_eq!(OperationTlv_pack(&mut op, m.as_mut_ptr()), 16);
        assert_eq!(init_reg_tlv(&mut rt, 160), 0);
        assert_eq!(reg_tlv_pack(&mut rt, m.as_mut_ptr().add(16)), 4);
    }
    m
}

#[test]
fn enhanced_send_keeps_the_semaphore() {
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::enhanced_send_keeps_the_semaphore"),
        &cx5("0000:31:00.0", ""),
    ) else {
        return;
    };
    let mf = open("0000:31:00.0");
    let dev = Device::open("0000:31:00.0").unwrap();
    let pid = std::process::id();
    // SAFETY: mf is live until mclose; buffers sized as passed.
    unsafe {
        assert_eq!(icmd_take_semaphore(mf), ME_OK);
        assert_eq!((*mf).icmd.took_semaphore, 1);
        assert_eq!(dev.read4_in(AS_SEMAPHORE, 0).unwrap(), pid);
        let mut m = mgir_mailbox();
        let n = m.len() as c_int;
        assert_eq!(
            icmd_send_command_enhanced(mf, 0x9001, m.as_mut_ptr().cast(), n, n, 0),
            ME_OK
        );
        let mut op = OperationTlv::default();
        OperationTlv_unpack(&mut op, m.as_mut_ptr());
        assert_eq!((op.status, op.register_id, op.Type), (0, 0x9020, 1));
        let device_id = u32::from_be_bytes(m[20..24].try_into().unwrap()) & 0xffff;
        assert_eq!(device_id, 0x20d, "MGIR device_id");
        // still ours after the command; a second enhanced command works too
        assert_eq!(dev.read4_in(AS_SEMAPHORE, 0).unwrap(), pid);
        let mut m = mgir_mailbox();
        assert_eq!(
            icmd_send_command_enhanced(mf, 0x9001, m.as_mut_ptr().cast(), n, n, 0),
            ME_OK
        );
        assert_eq!(icmd_clear_semaphore(mf), ME_OK);
        assert_eq!((*mf).icmd.took_semaphore, 0);
        assert_eq!(dev.read4_in(AS_SEMAPHORE, 0).unwrap(), 0);
        // taken by another process: the take times out
        dev.write4_in(AS_SEMAPHORE, 0, 0x7777_7777).unwrap();
        assert_eq!(icmd_take_semaphore(mf), ME_ICMD_STATUS_SEMAPHORE_TO);
        dev.write4_in(AS_SEMAPHORE, 0, 0).unwrap();
        // bad arguments
        assert_eq!(
            icmd_send_command_enhanced(mf, 0x9001, std::ptr::null_mut(), 8, 8, 0),
            ME_BAD_PARAMS
        );
        let mut big = vec![0u8; 0x10000];
        assert_eq!(
            icmd_send_command_enhanced(mf, 0x9001, big.as_mut_ptr().cast(), 0x10000, 8, 0),
            ME_ICMD_SIZE_EXCEEDS_LIMIT
        );
        assert_eq!(is_livefish_device(mf), 0);
        let mut d = [0u8; 256];
        assert_eq!(
            maccess_reg_mad(mf, d.as_mut_ptr()),
            ME_REG_ACCESS_UNKNOWN_ERR
        );
        mclose(mf);
    }
}

#[test]
fn livefish_function() {
    // A function whose hardware id reads as its PCI device id (0x1017).
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::livefish_function"),
        &cx5("0000:32:00.0", "[device.registers]\n\"0xf0014\" = 0x1017\n"),
    ) else {
        return;
    };
    let mf = open("0000:32:00.0");
    // SAFETY: mf live until mclose.
    unsafe {
        assert_eq!(is_livefish_device(mf), 1);
        mclose(mf);
    }
}
