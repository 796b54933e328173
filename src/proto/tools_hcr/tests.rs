//! The tools HCR over the simulator's device model, in process: a ConnectX-3 (legacy window)
//! with `tools_hcr`, and the default ConnectX-5 (no HCR) where the results must be the ones
//! observed with the stock library.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mtcr_sim::config::SimConfig;
use mtcr_sim::model::{
    seed_pattern, SimDevice, HCR_CMD, HCR_CR_MBOX, HCR_KNOB_BUSY_POLLS, HCR_KNOB_STATUS,
    HCR_OP_NOP, HCR_SEM,
};

use super::*;
use crate::access::sim_tests::{crstore, open};
use crate::device::Device;
use crate::proto::{Crspace, Registers};

fn model(toml: &str) -> (Arc<SimDevice>, Device) {
    let cfg = SimConfig::from_toml(toml).unwrap();
    let sim = SimDevice::new(&cfg.devices[0], crstore()).unwrap();
    let dev = Device::from_access(open(&sim));
    (sim, dev)
}

fn cx3(cr_mbox: bool) -> (Arc<SimDevice>, Device) {
    model(&format!(
        "[[device]]\nmodel = \"connectx3\"\ngateway = \"legacy\"\ntools_hcr = true\n\
         tools_hcr_cr_mbox = {cr_mbox}\n"
    ))
}

fn inline(dev: &Device, op: u16, modifier: u32, in_param: u64) -> (i32, Option<u64>) {
    let (r, out) = dev.tools_hcr_inline(&HcrCommand {
        in_param,
        input_modifier: modifier,
        opcode: op,
        ..HcrCommand::default()
    });
    (r.map_or_else(|e| e.code, |()| ME_OK), out)
}

fn code<T>(r: CmdifResult<T>) -> i32 {
    r.map_or_else(|e| e.code, |_| ME_OK)
}

#[test]
fn pack_and_unpack_follow_the_hcr_layout() {
    let d = pack(&HcrCommand {
        in_param: 0x1122_3344_5566_7788,
        input_modifier: 0xabcd,
        opcode: 0x3b,
        opcode_modifier: 5,
        event: true,
    });
    assert_eq!(d, [0x1122_3344, 0x5566_7788, 0xabcd, 0, 0, 0, 0x0040_503b]);
    let a = unpack(&[0, 0, 0, 0xdead, 0xbeef, 0, 0x0900_0071]);
    assert_eq!((a.out_param, a.status), (0xdead_0000_beef, 9));
    let mut q = [0u8; 8];
    param_to_mbox_qword(0x0102_0304_0506_0708, &mut q);
    assert_eq!(q, [5, 6, 7, 8, 1, 2, 3, 4]);
    assert_eq!(mbox_qword_to_param(&q), 0x0102_0304_0506_0708);
    for (st, me) in [
        (1, ME_CMDIF_BUSY),
        (2, ME_CMDIF_BAD_OP),
        (3, ME_CMDIF_UNKN_TLV),
        (4, ME_CMDIF_BAD_SYS),
        (5, ME_CMDIF_UNKN_STATUS),
        (9, ME_CMDIF_RES_STATE),
        (0x40, ME_CMDIF_UNKN_STATUS),
    ] {
        assert_eq!(status_to_merror(st), me, "status {st}");
    }
    assert_eq!(CrMbox::from_c(CrMbox::No.to_c()), CrMbox::No);
    assert_eq!(CrMbox::from_c(CrMbox::Yes.to_c()), CrMbox::Yes);
    assert_eq!(CrMbox::from_c(0), CrMbox::Unknown);
    assert_eq!(
        CrMbox::from_c(5),
        CrMbox::No,
        "stock: anything but 0 and 1 means no"
    );
}

#[test]
fn inline_commands_and_statuses_on_a_connectx3() {
    let (sim, dev) = cx3(false);
    assert_eq!(code(dev.tools_hcr_is_supported()), ME_OK);
    assert_eq!(
        code(dev.tools_hcr_is_cr_mbox_supported()),
        ME_CMDIF_NOT_SUPP
    );
    // Mailbox quad word through inline MBOX_WRITE / MBOX_READ.
    let v = 0x0123_4567_89ab_cdef;
    assert_eq!(inline(&dev, MBOX_WRITE_OP, 6, v), (ME_OK, Some(0)));
    assert_eq!(inline(&dev, MBOX_READ_OP, 6, 0), (ME_OK, Some(v)));
    assert_eq!(inline(&dev, HCR_OP_NOP as u16, 0, 0), (ME_OK, Some(0)));
    assert_eq!(inline(&dev, 0x7ee, 0, 0), (ME_CMDIF_BAD_OP, Some(0)));
    assert_eq!(inline(&dev, MBOX_READ_OP, 5, 0).0, ME_CMDIF_UNKN_TLV);
    for (st, me) in [
        (1, ME_CMDIF_BUSY),
        (4, ME_CMDIF_BAD_SYS),
        (9, ME_CMDIF_RES_STATE),
        (0x33, ME_CMDIF_UNKN_STATUS),
    ] {
        sim.cr_write(AS_CR_SPACE, HCR_KNOB_STATUS, st).unwrap();
        assert_eq!(inline(&dev, HCR_OP_NOP as u16, 0, 0).0, me, "status {st}");
    }
    // A command that keeps go set for a while is waited for.
    sim.cr_write(AS_CR_SPACE, HCR_KNOB_BUSY_POLLS, 50).unwrap();
    assert_eq!(inline(&dev, MBOX_READ_OP, 6, 0), (ME_OK, Some(v)));
    sim.cr_write(AS_CR_SPACE, HCR_KNOB_BUSY_POLLS, 0).unwrap();
    // The semaphore is free after every command, failed or not.
    assert_eq!(sim.crspace().read(HCR_SEM), 0);
    assert_eq!(sim.crspace().read(HCR_CMD) & GO_BIT, 0);
}

#[test]
fn stuck_go_bit_times_out_then_reports_busy() {
    let (sim, dev) = cx3(false);
    sim.cr_write(AS_CR_SPACE, HCR_KNOB_BUSY_POLLS, u32::MAX)
        .unwrap();
    let t = Instant::now();
    assert_eq!(
        inline(&dev, HCR_OP_NOP as u16, 0, 0),
        (ME_CMDIF_TOUT, Some(0))
    );
    let spent = t.elapsed();
    assert!(
        spent > Duration::from_secs(1) && spent < Duration::from_secs(10),
        "{spent:?}"
    );
    assert_eq!(
        inline(&dev, HCR_OP_NOP as u16, 0, 0),
        (ME_CMDIF_BUSY, Some(0))
    );
    assert_eq!(sim.crspace().read(HCR_SEM), 0, "semaphore released");
}

#[test]
fn busy_semaphore_and_unlock() {
    let (sim, dev) = cx3(false);
    // A live owner of ours elsewhere (its owner mark held) takes the semaphore (reading 0
    // takes it): never robbed.
    let live = crate::access::lock::LockFile::open(
        std::path::Path::new(crate::pci::LOCK_DIR),
        dev.bdf(),
        "owner",
    )
    .unwrap();
    live.set_owner(crate::access::lock::OwnerSlot::ToolsHcr, true);
    assert_eq!(sim.cr_read(AS_CR_SPACE, HCR_SEM), Ok(0));
    let t = Instant::now();
    assert_eq!(code(dev.tools_hcr_is_supported()), ME_SEM_LOCKED);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(inline(&dev, HCR_OP_NOP as u16, 0, 0), (ME_SEM_LOCKED, None));
    let mut b = [0u8; 8];
    assert_eq!(
        code(dev.tools_hcr_mbox_command(0, 0x31, 0, 0, &mut b, 8, 8, false, false)),
        ME_SEM_LOCKED
    );
    assert_eq!(code(dev.tools_hcr_unlock_semaphore()), ME_OK);
    assert_eq!(code(dev.tools_hcr_is_supported()), ME_OK);
    // The owner dies (its mark goes) leaving the semaphore taken and the HCR idle: the next
    // command frees it after the stale period and goes on, within the bound.
    assert_eq!(sim.cr_read(AS_CR_SPACE, HCR_SEM), Ok(0));
    drop(live);
    let t = Instant::now();
    assert_eq!(code(dev.tools_hcr_is_supported()), ME_OK);
    // (Loose bound: other tests of this process may hold the process-wide HCR lock for their
    // own 2 s semaphore waits; tests/recovery.rs times recovery alone.)
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert!(t.elapsed() >= crate::access::lock::STALE_AFTER);
}

#[test]
fn mailbox_commands_both_ways() {
    for cr in [false, true] {
        let (_sim, dev) = cx3(cr);
        let data: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(7) ^ 0x5a).collect();
        // NOP leaves the mailbox alone: what was written at 16..56 reads back.
        let mut b = data.clone();
        dev.tools_hcr_mbox_command(0, 0x31, 0, 16, &mut b, 40, 40, false, cr)
            .unwrap();
        assert_eq!(b, data, "cr mailbox {cr}");
        // skip_write: the mailbox keeps the earlier contents.
        let mut b = vec![0u8; 40];
        dev.tools_hcr_mbox_command(0, 0x31, 0, 16, &mut b, 40, 40, true, cr)
            .unwrap();
        assert_eq!(b, data, "cr mailbox {cr}: skip_write");
        // Unaligned sizes read only what was asked for.
        let mut b = vec![0xffu8; 13];
        dev.tools_hcr_mbox_command(0, 0x31, 0, 16, &mut b, 0, 13, true, cr)
            .unwrap();
        assert_eq!(b[..], data[..13]);
        // Bad placement.
        for (off, w, r) in [(4, 8, 8), (280, 16, 0), (0, 0, 289), (288, 0, 1)] {
            let mut b = vec![0u8; 300];
            assert_eq!(
                code(dev.tools_hcr_mbox_command(0, 0x31, 0, off, &mut b, w, r, false, cr)),
                ME_BAD_PARAMS,
                "offset {off}, write {w}, read {r}"
            );
        }
        let mut b = [0u8; 8];
        assert_eq!(
            code(dev.tools_hcr_mbox_command(0, 0x31, 0, 0, &mut b, 16, 16, false, cr)),
            ME_BAD_PARAMS,
            "buffer shorter than the sizes"
        );
        assert_eq!(
            code(dev.tools_hcr_mbox_command(0, 0x7ee, 0, 0, &mut b, 8, 8, false, cr)),
            ME_CMDIF_BAD_OP
        );
    }
}

#[test]
fn register_access_over_the_hcr() {
    for cr in [false, true] {
        let (_sim, dev) = cx3(cr);
        assert_eq!(dev.reg_path(), crate::proto::reg_access::RegPath::ToolsHcr);
        assert_eq!(dev.max_reg_size(), 268);
        let mut mgir = [0u8; 160];
        let r = dev.access_reg(0x9020, 1, &mut mgir, 160, 160).unwrap();
        assert_eq!(r.status, 0);
        assert_eq!(&mgir[2..4], &[0x01, 0xf5], "MGIR device id");
        assert_eq!(
            *dev.proto_state().hcr_cr_mbox.lock(),
            if cr { CrMbox::Yes } else { CrMbox::No }
        );
        let w: Vec<u8> = (0..44u8).map(|i| i * 3 + 1).collect();
        let mut b = w.clone();
        assert_eq!(dev.access_reg(0x9056, 2, &mut b, 44, 44).unwrap().status, 0);
        let mut b = [0u8; 44];
        assert_eq!(dev.access_reg(0x9056, 1, &mut b, 44, 44).unwrap().status, 0);
        assert_eq!(b[..], w[..], "MPEGC round trip (cr mailbox {cr})");
        let mut b = [0u8; 16];
        assert_eq!(dev.access_reg(0x9999, 1, &mut b, 16, 16).unwrap().status, 4);
        let mut big = [0u8; 269];
        assert_eq!(
            dev.access_reg(0x9020, 1, &mut big, 269, 269)
                .unwrap_err()
                .code,
            ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT
        );
    }
    // With a CR mailbox the first access probed it through crspace.
    let (sim, dev) = cx3(true);
    let mut b = [0u8; 160];
    dev.access_reg(0x9020, 1, &mut b, 160, 160).unwrap();
    assert_eq!(sim.crspace().read(HCR_CR_MBOX + 20) & 0xffff, 0x1f5);
}

#[test]
fn connectx3_without_hcr_has_no_register_access() {
    let (_sim, dev) = model("[[device]]\nmodel = \"connectx3\"\ngateway = \"legacy\"\n");
    assert_eq!(dev.reg_path(), crate::proto::reg_access::RegPath::None);
    assert_eq!(dev.max_reg_size(), 0);
}

#[test]
fn connectx5_without_hcr_answers_as_stock() {
    // The default ConnectX-5: 0xf03bc holds the seed pattern (never 0 here), so the
    // semaphore looks taken: ME_SEM_LOCKED as stock; unlocking writes 0 and succeeds; then a
    // command's go bit (plain storage) never clears: TOUT, then BUSY.
    let (sim, dev) = model("");
    assert_ne!(seed_pattern(1, TOOLS_HCR_SEM), 0);
    assert_eq!(code(dev.tools_hcr_is_supported()), ME_SEM_LOCKED);
    assert_eq!(code(dev.tools_hcr_is_cr_mbox_supported()), ME_SEM_LOCKED);
    assert_eq!(code(dev.tools_hcr_unlock_semaphore()), ME_OK);
    let go_before = seed_pattern(1, TOOLS_HCR_ADDR + 24) & GO_BIT;
    let (rc, out) = inline(&dev, 0x31, 0, 0);
    if go_before == 0 {
        assert_eq!((rc, out), (ME_CMDIF_TOUT, Some(0)));
    } else {
        assert_eq!((rc, out), (ME_CMDIF_BUSY, Some(0)));
    }
    assert_ne!(sim.crspace().read(TOOLS_HCR_ADDR + 24) & GO_BIT, 0);
    let mut b = [0u8; 16];
    assert_eq!(
        code(dev.tools_hcr_mbox_command(0, 0x31, 0, 0, &mut b, 16, 16, false, false)),
        ME_CMDIF_BUSY
    );
    // Register access stays on ICMD.
    assert!(matches!(
        dev.reg_path(),
        crate::proto::reg_access::RegPath::Icmd(_)
    ));
}
