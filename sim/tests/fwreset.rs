//! Reset and activation checked by upstream's mstfwreset (the tool fixture
//! `shared/upstream-4.36`) on upstream's library and on ours: `q` before and after a burn,
//! the same output from both libraries (the reset levels follow the pending image: live
//! patch while nothing is pending, PCI reset once a burn is pending); then `reset -y`
//! activating the burnt image: MFRL arms the reset, the tool disables and re-enables the link
//! of the simulated root port above the device (the firmware reboots from flash), and
//! restores the device's config space. Once on upstream's library, once (after a second
//! burn) on ours, with the same output.
//!
//! Needs the fixture, python3 and pciutils (`setpci`, `lspci`: the tool reads and writes config
//! space with them);
//! absent: SKIP (required under CI=true when the fixture is present).

mod common;

use common::{ci, fixture, our_lib, sim_usable, BDF, SIM};
use std::process::Command;

fn skip(test: &str, why: &str) {
    eprintln!("SKIP: {test}: {why}");
}

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// The part of `out` between `== name` and the next `rc=N` line.
fn job<'a>(out: &'a str, name: &str) -> &'a str {
    // `common::job` without its `== name\n` line (the libraries' outputs are compared).
    &common::job(out, name)[name.len() + 4..]
}

fn level_line<'a>(q: &'a str, level: &str) -> &'a str {
    q.lines()
        .find(|l| l.starts_with(&format!("{level}: ")))
        .unwrap_or_else(|| panic!("no reset level {level}:\n{q}"))
}

#[test]
fn mstfwreset_query_then_reset_activates_a_burn() {
    let test = "mstfwreset q";
    if !sim_usable(test) {
        return;
    }
    let Some(run) = fixture(test) else {
        return;
    };
    for tool in ["python3", "setpci", "lspci"] {
        if !on_path(tool) {
            assert!(!ci(), "{test}: {tool} missing");
            return skip(test, &format!("{tool} is not installed"));
        }
    }
    let tmp = std::env::temp_dir().join(format!("mtcr-sim-fwreset-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let Some(ours) = our_lib(test, &tmp) else {
        return;
    };
    let img = common::image(
        tmp.join("fw.bin"),
        &["--fw-version", "16.36.1000", "--psid", "MT_0000000008"],
    );
    let img2 = common::image(
        tmp.join("fw2.bin"),
        &["--fw-version", "16.37.1002", "--psid", "MT_0000000008"],
    );
    let r = run.display();
    let o = ours.display();
    let script = format!(
        "set +e\n\
         for s in before after; do\n\
           if [ $s = after ]; then {r} mstflint -d {BDF} -i {img} -y burn >/dev/null; echo burn rc=$?; fi\n\
           echo \"== up-$s\"; {r} mstfwreset -d {BDF} q; echo rc=$?\n\
           echo \"== ours-$s\"; {r} --lib {o} mstfwreset -d {BDF} q; echo rc=$?\n\
         done\n\
         echo \"== cfg-before\"; setpci -s {BDF} 0x4.w 0x10.l 0x14.l 0x68.w; echo rc=$?\n\
         echo '== up-reset'; {r} mstfwreset -d {BDF} -y --skip_vm_check reset; echo rc=$?\n\
         echo '== cfg-after'; setpci -s {BDF} 0x4.w 0x10.l 0x14.l 0x68.w; echo rc=$?\n\
         echo '== q1'; {r} mstflint -d {BDF} q; echo rc=$?\n\
         {r} mstflint -d {BDF} -i {img2} -y burn >/dev/null; echo burn2 rc=$?\n\
         echo '== ours-reset'; {r} --lib {o} mstfwreset -d {BDF} -y --skip_vm_check reset; echo rc=$?\n\
         echo '== q2'; {r} --lib {o} mstflint -d {BDF} q; echo rc=$?\n\
         echo '== toggle'; {SIM} pci-reset; echo rc=$?\n",
        img = img.display(),
        img2 = img2.display()
    );
    let out = common::in_sim(&script);
    assert!(out.contains("burn rc=0"), "{out}");
    for s in ["before", "after"] {
        let up = job(&out, &format!("up-{s}"));
        assert!(up.ends_with("rc=0"), "{up}");
        assert_eq!(up, job(&out, &format!("ours-{s}")), "{s}: libraries differ");
        assert!(level_line(up, "3").contains("-Supported"), "{up}");
        assert!(level_line(up, "1").contains("-Not Supported"), "{up}");
        assert!(up.contains("0: Full chip reset"), "{up}");
    }
    let before = job(&out, "up-before");
    let after = job(&out, "up-after");
    assert!(
        level_line(before, "0").contains("-Supported     (default)"),
        "{before}"
    );
    assert!(level_line(after, "0").contains("-Not Supported"), "{after}");
    assert!(level_line(after, "3").ends_with("(default)"), "{after}");
    // `reset -y` (level 3, the default with an image pending; --skip_vm_check: this may be a
    // VM): MFRL, then Link Disable set and cleared on the root port above the device.
    let reset = job(&out, "up-reset");
    assert!(reset.ends_with("rc=0"), "{reset}");
    assert_eq!(reset, job(&out, "ours-reset"), "libraries differ");
    assert!(reset.contains("3: Driver restart and PCI reset"), "{reset}");
    assert_reset_steps(reset);
    // The device's config space went back to power-on values and the tool restored it.
    let cfg = job(&out, "cfg-before");
    assert!(cfg.ends_with("rc=0") && cfg.starts_with("0006\n"), "{cfg}");
    assert_eq!(cfg, job(&out, "cfg-after"));
    assert!(out.contains("burn2 rc=0"), "{out}");
    for (q, v) in [("q1", "16.36.1000"), ("q2", "16.37.1002")] {
        let q = job(&out, q);
        assert!(q.ends_with("rc=0"), "{q}");
        assert!(q.contains(&format!("FW Version:            {v}")), "{q}");
        assert!(
            !q.contains("Running"),
            "nothing pending after the reset: {q}"
        );
    }
    // Nothing armed any more: a link toggle reboots nothing.
    assert!(job(&out, "toggle").contains("no reset armed"), "{out}");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Debian's stock mstfwreset (4.21, its own copy of the library) on the same device: it
/// refuses to run where `lscpu` reports a hypervisor ("The tool is not supported on virtual
/// machines", and it has no `--skip_vm_check`), so `lscpu` is wrapped to hide that line;
/// then it activates the burnt image as upstream's 4.36 does.
#[test]
fn debian_mstfwreset_reset_activates_a_burn() {
    let test = "debian mstfwreset reset";
    if !sim_usable(test) {
        return;
    }
    let Some(flint) = common::debian_mstflint(test) else {
        return;
    };
    for tool in ["/usr/bin/mstfwreset", "python3", "setpci", "lspci", "lscpu"] {
        if !on_path(tool) {
            assert!(!ci(), "{test}: {tool} missing");
            return skip(test, &format!("{tool} is not installed"));
        }
    }
    let tmp = std::env::temp_dir().join(format!("mtcr-sim-fwreset-deb-{}", std::process::id()));
    let bin = tmp.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let lscpu = bin.join("lscpu");
    std::fs::write(
        &lscpu,
        "#!/bin/sh\n/usr/bin/lscpu \"$@\" | grep -v 'Hypervisor vendor'\n",
    )
    .unwrap();
    std::fs::set_permissions(&lscpu, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let img = common::image(
        tmp.join("fw.bin"),
        &["--fw-version", "16.36.1000", "--psid", "MT_0000000008"],
    );
    let f = flint.display();
    let script = format!(
        "set +e\n\
         {f} -d {BDF} -i {img} -y burn >/dev/null; echo burn rc=$?\n\
         echo '== reset'; PATH={bin}:$PATH /usr/bin/mstfwreset -d {BDF} -y reset; echo rc=$?\n\
         echo '== q'; {f} -d {BDF} q; echo rc=$?\n",
        img = img.display(),
        bin = bin.display()
    );
    let out = common::in_sim(&script);
    assert!(out.contains("burn rc=0"), "{out}");
    let reset = job(&out, "reset");
    assert!(reset.ends_with("rc=0"), "{reset}");
    assert_reset_steps(reset);
    let q = job(&out, "q");
    assert!(q.contains("FW Version:            16.36.1000"), "{q}");
    assert!(!q.contains("Running"), "{q}");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The steps of a successful `mstfwreset reset` (the same lines on every tool version here).
fn assert_reset_steps(reset: &str) {
    for step in [
        "-I- Sending Reset Command To Fw             -Done",
        "-I- Resetting PCI                           -Done",
        "-I- FW was loaded successfully.",
    ] {
        assert!(reset.contains(step), "{step}:\n{reset}");
    }
}
