//! Register access over fwctl (`/dev/fwctl/fwctlN`) through the Rust API against the simulated
//! device: the same registers and results as over ICMD, fwctl handles by name, attaching a
//! node to a PCI open, the write scope's capability rule, the lockdown fall-over and bad input
//! (each test re-runs itself inside `mtcr-sim run`).

use mtcr_sim::config::Faults;
use mtcr_sim::testing::in_sim;
use mtcr_ul::access::fwctl;
use mtcr_ul::access::PathKind;
use mtcr_ul::defs::*;
use mtcr_ul::proto::reg_access::RegPath;
use mtcr_ul::proto::{Icmd as _, Registers as _};
use mtcr_ul::{Device, OpenOptions};

const MGIR: u16 = 0x9020;
const MCAM: u16 = 0x907f;
const MCQS: u16 = 0x9060;
const MFRL: u16 = 0x9028;
const MPEGC: u16 = 0x9056;
/// Sim-only knob in the ICMD space: the next N register accesses answer DEV_BUSY.
const KNOB_DEV_BUSY: u32 = 0x2004;

fn cfg(bdf: &str, extra: &str) -> String {
    format!("[[device]]\nbdf = \"{bdf}\"\nmodel = \"connectx5\"\nfwctl = true\n{extra}")
}

/// (MError of the status, register bytes) of a GET.
fn get(dev: &Device, id: u16, size: usize) -> (i32, Vec<u8>) {
    let mut b = vec![0u8; size];
    let r = dev
        .access_reg(id, 1, &mut b, size, size)
        .expect("access_reg");
    (r.code, b)
}

fn set(dev: &Device, id: u16, data: &[u8]) -> i32 {
    let mut b = data.to_vec();
    let n = b.len();
    dev.access_reg(id, 2, &mut b, n, n)
        .expect("access_reg")
        .code
}

fn rpcs(sim: &mtcr_sim::testing::SimGuard, bdf: &str) -> u64 {
    sim.counters(bdf)
        .ioctls
        .get("FWCTL_RPC")
        .copied()
        .unwrap_or(0)
}

#[test]
fn same_registers_as_icmd() {
    const BDF: &str = "0000:31:00.0";
    let Some(sim) = in_sim(
        concat!(module_path!(), "::same_registers_as_icmd"),
        &cfg(BDF, ""),
    ) else {
        return;
    };
    let icmd = Device::open(BDF).unwrap();
    assert_eq!(icmd.reg_path(), RegPath::Icmd(0x340));
    let fw = Device::open("fwctl0").unwrap();
    assert_eq!(fw.reg_path(), RegPath::Fwctl);
    assert_eq!(fw.max_reg_size(), icmd.max_reg_size());
    for (id, size) in [(MGIR, 160), (MCAM, 72), (MCQS, 16)] {
        assert_eq!(get(&icmd, id, size), get(&fw, id, size), "register {id:#x}");
    }
    // Same state: written over one, read over the other.
    let w: Vec<u8> = (0..44u8).map(|i| i.wrapping_mul(13) ^ 0xa5).collect();
    assert_eq!(set(&fw, MPEGC, &w), 0);
    assert_eq!(get(&icmd, MPEGC, 44), (0, w.clone()));
    // MFRL armed over ICMD (PCI link toggle trigger): fwctl sees reset_state 8 (waiting).
    let mut mfrl = vec![0u8; 8];
    mfrl[7] = 0x8;
    assert_eq!(set(&icmd, MFRL, &mfrl), 0);
    assert_eq!(get(&fw, MFRL, 8).1[5] & 0xf, 8);
    // Errors map to the same MErrors: unknown register, short register, busy firmware.
    for dev in [&icmd, &fw] {
        assert_eq!(get(dev, 0x9999, 16).0, ME_REG_ACCESS_REG_NOT_SUPP);
        assert_eq!(get(dev, MGIR, 16).0, ME_REG_ACCESS_BAD_PARAM);
        icmd.write4_in(AS_ICMD, KNOB_DEV_BUSY, 1).unwrap();
        assert_eq!(get(dev, MGIR, 160).0, ME_REG_ACCESS_DEV_BUSY);
        assert_eq!(get(dev, MGIR, 160).0, 0);
        let mut big = vec![0u8; 816];
        let e = dev.access_reg(MGIR, 1, &mut big, 816, 816).unwrap_err();
        assert_eq!(e.code, ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT);
    }
    // A read-only register written: the firmware's "bad operation" over fwctl, which
    // mstflint maps to BAD_METHOD (METHOD_NOT_SUPP over ICMD).
    let mut mgir = vec![0u8; 160];
    let r = fw.access_reg(MGIR, 2, &mut mgir, 160, 160).unwrap();
    assert_eq!((r.status, r.code), (0x2, ME_REG_ACCESS_BAD_METHOD));
    assert_eq!(r.reg_status, ME_REG_ACCESS_BAD_METHOD);
    assert_ne!(r.syndrome, 0);
    // One FWCTL_RPC per register access, no config cycle.
    let (rpc0, cfg0) = (rpcs(&sim, BDF), sim.counters(BDF).config_reads);
    get(&fw, MGIR, 160);
    assert_eq!(rpcs(&sim, BDF) - rpc0, 1);
    assert_eq!(sim.counters(BDF).config_reads, cfg0);
}

#[test]
fn fwctl_handles() {
    const BDF: &str = "0000:32:00.0";
    let Some(sim) = in_sim(concat!(module_path!(), "::fwctl_handles"), &cfg(BDF, "")) else {
        return;
    };
    for name in ["fwctl0", "/dev/fwctl/fwctl0"] {
        let d = Device::open(name).unwrap();
        assert_eq!(d.path(), PathKind::Fwctl);
        assert_eq!(d.mtype(), MST_FWCTL_CONTROL_DRIVER);
        assert_eq!(
            d.bdf().to_string(),
            BDF,
            "PCI function from /sys/class/fwctl"
        );
        assert_eq!(d.info().device_id, 0x1017);
        assert_eq!(d.hw_id().unwrap(), (0x20d, 0));
        assert_eq!(d.read4(0xf0014).unwrap(), 0x20d);
        let e = d.read4(0x100).unwrap_err();
        assert_eq!(e.errno(), libc::EOPNOTSUPP);
        assert!(e.to_string().contains("fwctl"), "{e}");
        assert_eq!(d.write4(0x100, 1).unwrap_err().errno(), libc::EOPNOTSUPP);
        let mut b = [0u32; 4];
        assert_eq!(
            d.read_block(0, &mut b).unwrap_err().errno(),
            libc::EOPNOTSUPP
        );
        assert!(!d.supports_space(AS_ICMD));
        // ICMD-level: ACCESS_REGISTER mailboxes go over fwctl, other opcodes do not.
        assert_eq!(d.icmd_open().unwrap(), 0x340);
        let mut mbox = mtcr_ul::proto::reg_access::build_mailbox(MGIR, 1, &[0u8; 160]);
        let n = mbox.len();
        d.icmd_send(0x9001, &mut mbox, n, n, false).unwrap();
        assert_eq!(mbox[2] & 0x7f, 0, "TLV status");
        assert_eq!(&mbox[20 + 8..20 + 12], &[0, 0, 2, 0x0d]);
        let mut x = [0u8; 16];
        let e = d.icmd_send(0x1234, &mut x, 16, 16, false).unwrap_err();
        assert_eq!(e.code, ME_ICMD_NOT_SUPPORTED);
        assert!(e.detail.contains("fwctl"), "{e}");
    }
    assert_eq!(sim.counters(BDF).ioctls["FWCTL_INFO"], 2, "one per open");
    // Attach the node to a PCI open: register access moves to fwctl.
    let d = Device::open(BDF).unwrap();
    assert!(matches!(d.reg_path(), RegPath::Icmd(_)));
    let p = d.attach_fwctl().unwrap();
    assert!(p.ends_with("fwctl/fwctl0"), "{}", p.display());
    assert_eq!(d.reg_path(), RegPath::Fwctl);
    let rpc0 = rpcs(&sim, BDF);
    assert_eq!(get(&d, MGIR, 160).0, 0);
    assert_eq!(rpcs(&sim, BDF) - rpc0, 1);
    // crspace of the PCI open still works.
    assert_eq!(d.read4(0xf0014).unwrap() & 0xffff, 0x20d);
}

#[test]
fn write_scope_needs_rawio() {
    const BDF: &str = "0000:33:00.0";
    let Some(sim) = in_sim(
        concat!(module_path!(), "::write_scope_needs_rawio"),
        &cfg(BDF, ""),
    ) else {
        return;
    };
    let d = Device::open("fwctl0").unwrap();
    sim.set_faults(
        BDF,
        Faults {
            fwctl_no_rawio: true,
            ..Default::default()
        },
    );
    let mut w = vec![0u8; 44];
    let e = d.access_reg(MPEGC, 2, &mut w, 44, 44).unwrap_err();
    assert_eq!(e.errno, Some(libc::EPERM));
    assert!(e.detail.contains("CAP_SYS_RAWIO"), "{e}");
    assert_eq!(get(&d, MGIR, 160).0, 0, "reads need no capability");
    sim.set_faults(BDF, Faults::default());
    assert_eq!(set(&d, MPEGC, &w), 0);
}

#[test]
fn lockdown_falls_over_to_fwctl() {
    const BDF: &str = "0000:34:00.0";
    const NO_NODE: &str = "0000:35:00.0";
    let toml = format!(
        "{}[device.faults]\nlockdown = true\n[[device]]\nbdf = \"{NO_NODE}\"\n[device.faults]\nlockdown = true\n",
        cfg(BDF, "")
    );
    let Some(sim) = in_sim(
        concat!(module_path!(), "::lockdown_falls_over_to_fwctl"),
        &toml,
    ) else {
        return;
    };
    // Config space and resource0 refused: the fwctl node serves register access.
    let d = Device::open(BDF).unwrap();
    assert_eq!(d.path(), PathKind::Fwctl);
    assert_eq!(d.bdf().to_string(), BDF);
    assert_eq!(d.hw_id().unwrap().0, 0x20d);
    assert_eq!(get(&d, MGIR, 160).0, 0);
    let e = d.read4(0x100).unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP);
    let msg = e.to_string();
    assert!(msg.contains("lockdown") && msg.contains("fwctl"), "{msg}");
    // Forcing a path keeps its error.
    let cfg_only = OpenOptions {
        force: Some(PathKind::SysfsConfig),
        ..Default::default()
    };
    assert_eq!(
        Device::open_with(BDF, &cfg_only).unwrap_err().errno(),
        libc::EPERM
    );
    let mem_only = OpenOptions {
        force: Some(PathKind::SysfsMemory),
        ..Default::default()
    };
    let e = Device::open_with(BDF, &mem_only).unwrap_err();
    assert_eq!(e.errno(), libc::EPERM);
    assert!(e.to_string().contains("lockdown"), "{e}");
    // Without a fwctl node: the refusal itself.
    let e = Device::open(NO_NODE).unwrap_err();
    assert_eq!(e.errno(), libc::EPERM);
    // Lockdown lifted: the usual path again; fwctl only when forced.
    for b in [BDF, NO_NODE] {
        sim.set_faults(b, Faults::default());
    }
    assert_eq!(Device::open(BDF).unwrap().path(), PathKind::SysfsConfig);
    let fw_only = OpenOptions {
        force: Some(PathKind::Fwctl),
        ..Default::default()
    };
    assert_eq!(
        Device::open_with(BDF, &fw_only).unwrap().path(),
        PathKind::Fwctl
    );
    assert_eq!(
        Device::open_with(NO_NODE, &fw_only).unwrap_err().errno(),
        libc::ENODEV
    );
    std::env::set_var("MTCR_FORCE_PATH", "fwctl");
    assert_eq!(Device::open(BDF).unwrap().path(), PathKind::Fwctl);
    std::env::remove_var("MTCR_FORCE_PATH");
}

#[test]
fn bad_input() {
    const BDF: &str = "0000:36:00.0";
    let Some(_sim) = in_sim(concat!(module_path!(), "::bad_input"), &cfg(BDF, "")) else {
        return;
    };
    assert_eq!(Device::open("fwctl7").unwrap_err().errno(), libc::ENODEV);
    assert_eq!(
        Device::open("/dev/fwctl/nofwctl").unwrap_err().errno(),
        libc::ENODEV
    );
    let d = Device::open("fwctl0").unwrap();
    let mut empty: [u8; 0] = [];
    assert_eq!(
        d.access_reg(MGIR, 1, &mut empty, 0, 0).unwrap_err().code,
        ME_BAD_PARAMS
    );
    let mut b = vec![0u8; 160];
    assert_eq!(
        d.access_reg(MGIR, 9, &mut b, 160, 160).unwrap_err().code,
        ME_BAD_PARAMS
    );
    // A register TLV shorter than its headers.
    let mut short = [0u8; 8];
    let e = d.icmd_send(0x9001, &mut short, 8, 8, false).unwrap_err();
    assert_eq!(e.code, ME_ICMD_BAD_PARAM);
    // The raw RPC with a register that is too short for the firmware: BAD_PARAM status.
    let node = d.fwctl_node().unwrap();
    let mut four = [0u8; 4];
    let r = node.access_reg(MGIR, false, &mut four).unwrap();
    assert_eq!(r.reg_status(), ME_REG_ACCESS_BAD_PARAM);
    // Raw RPCs with the wrong scope, an unknown scope, an unknown opcode, a short struct.
    let raw = |scope: u32, size: u32, input: &[u8]| -> i32 {
        let mut out = vec![0u8; input.len()];
        let mut rpc = fwctl::fwctl_rpc {
            size,
            scope,
            in_len: input.len() as u32,
            out_len: out.len() as u32,
            r#in: input.as_ptr() as u64,
            out: out.as_mut_ptr() as u64,
        };
        // SAFETY: in/out point to buffers of in_len/out_len bytes.
        match unsafe { fwctl::raw_ioctl(node.fd(), fwctl::FWCTL_RPC, &mut rpc) } {
            Ok(_) => 0,
            Err(e) => e.raw_os_error().unwrap(),
        }
    };
    let write = fwctl::build_access_reg(MPEGC, true, &[0u8; 44]);
    let read = fwctl::build_access_reg(MGIR, false, &[0u8; 160]);
    assert_eq!(
        raw(fwctl::FWCTL_RPC_DEBUG_READ_ONLY, 32, &write),
        libc::EBADMSG
    );
    assert_eq!(raw(9, 32, &read), libc::EOPNOTSUPP);
    assert_eq!(
        raw(fwctl::FWCTL_RPC_DEBUG_READ_ONLY, 8, &read),
        libc::EINVAL
    );
    let mut other = read.clone();
    other[0..4].copy_from_slice(&(0x100u32 << 16).to_be_bytes());
    assert_eq!(
        raw(fwctl::FWCTL_RPC_DEBUG_READ_ONLY, 32, &other),
        libc::EBADMSG
    );
    assert_eq!(
        raw(fwctl::FWCTL_RPC_DEBUG_READ_ONLY, 32, &read[..8]),
        libc::EMSGSIZE
    );
    assert_eq!(raw(fwctl::FWCTL_RPC_DEBUG_READ_ONLY, 32, &read), 0);
}

/// Upstream mstflint 4.36 tools (the optional fixture `MTCR_UPSTREAM_TOOLS`, default
/// `/work/shared/upstream-4.36`; skipped when absent) on our library over a fwctl node:
/// `mstfwctrl` prints what it prints on upstream's library, `mstreg` reads MGIR over fwctl as
/// over ICMD.
#[test]
fn upstream_tools_over_fwctl() {
    const BDF: &str = "0000:05:00.0";
    let fixture = std::path::PathBuf::from(
        std::env::var("MTCR_UPSTREAM_TOOLS")
            .unwrap_or_else(|_| "/work/shared/upstream-4.36".into()),
    );
    let run = fixture.join("run");
    if !run.is_file() {
        eprintln!("SKIP: no upstream tool fixture at {}", fixture.display());
        return;
    }
    let Some(_sim) = in_sim(
        concat!(module_path!(), "::upstream_tools_over_fwctl"),
        &cfg(BDF, ""),
    ) else {
        return;
    };
    // Our library under the name the tools need.
    let exe = std::env::current_exe().unwrap();
    let ours = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("libmtcr_ul.so");
    assert!(ours.is_file(), "{} (cargo build first)", ours.display());
    let lib = std::env::temp_dir().join(format!("mtcr-fwctl-lib-{}", std::process::id()));
    std::fs::create_dir_all(&lib).unwrap();
    let _ = std::fs::remove_file(lib.join("libmtcr_ul.so.1"));
    std::os::unix::fs::symlink(&ours, lib.join("libmtcr_ul.so.1")).unwrap();
    let tool = |lib: Option<&std::path::Path>, args: &[&str]| -> String {
        let mut c = std::process::Command::new(&run);
        if let Some(l) = lib {
            c.arg("--lib").arg(l);
        }
        let o = c.args(args).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{args:?}: {}\n{out}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        out
    };
    let strip_pid = |s: String| -> String {
        s.lines()
            .filter(|l| !l.starts_with("Current PID"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mine = strip_pid(tool(Some(&lib), &["mstfwctrl", "fwctl0"]));
    assert!(mine.contains("device ID: 0x20d"), "{mine}");
    assert!(mine.contains("device type: ConnectX5"), "{mine}");
    assert_eq!(mine, strip_pid(tool(None, &["mstfwctrl", "fwctl0"])));
    let get = ["--reg_name", "MGIR", "--get"];
    let over_fwctl = tool(
        Some(&lib),
        &[&["mstreg", "-d", "fwctl0"][..], &get].concat(),
    );
    assert!(over_fwctl.contains("hw_dev_id"), "{over_fwctl}");
    let over_icmd = tool(Some(&lib), &[&["mstreg", "-d", BDF][..], &get].concat());
    assert_eq!(over_fwctl, over_icmd);
    let upstream = tool(None, &[&["mstreg", "-d", "fwctl0"][..], &get].concat());
    assert_eq!(over_fwctl, upstream);
    let _ = std::fs::remove_dir_all(&lib);
}
