//! Reset and activation checked by upstream's mstfwreset (the tool fixture
//! `shared/upstream-4.36`) on upstream's library and on ours: `q` before and after a burn,
//! the same output from both libraries (the reset levels follow the pending image: live
//! patch while nothing is pending, PCI reset once a burn is pending); then `reset -y` arming
//! the firmware reset and a link toggle (`mtcr-sim pci-reset`) activating the burnt image.
//!
//! Needs the fixture, python3 and pciutils' `setpci` (the tool reads the device id with it);
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
    for tool in ["python3", "setpci"] {
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
    let r = run.display();
    let o = ours.display();
    let script = format!(
        "set +e\n\
         for s in before after; do\n\
           if [ $s = after ]; then {r} mstflint -d {BDF} -i {img} -y burn >/dev/null; echo burn rc=$?; fi\n\
           echo \"== up-$s\"; {r} mstfwreset -d {BDF} q; echo rc=$?\n\
           echo \"== ours-$s\"; {r} --lib {o} mstfwreset -d {BDF} q; echo rc=$?\n\
         done\n\
         echo '== reset'; {r} --lib {o} mstfwreset -d {BDF} -y --skip_vm_check reset; echo rc=$?\n\
         echo '== toggle'; {SIM} pci-reset; echo rc=$?\n\
         echo '== q'; {r} --lib {o} mstflint -d {BDF} q; echo rc=$?\n",
        img = img.display()
    );
    let out = Command::new(SIM)
        .args(["run", "--", "sh", "-c", &script])
        .output()
        .unwrap();
    let out = common::text(&out);
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
    // VM) arms the firmware reset through MFRL, then looks for the upstream bridge to
    // disable its link, which the simulator does not model yet; its link toggle stands in.
    let reset = job(&out, "reset");
    assert!(reset.contains("3: Driver restart and PCI reset"), "{reset}");
    assert!(
        reset.contains("-I- Sending Reset Command To Fw             -Done"),
        "{reset}"
    );
    assert!(job(&out, "toggle").contains("rebooted"), "{out}");
    let q = job(&out, "q");
    assert!(q.ends_with("rc=0"), "{q}");
    assert!(q.contains("FW Version:            16.36.1000"), "{q}");
    assert!(
        !q.contains("Running"),
        "nothing pending after the reboot: {q}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
