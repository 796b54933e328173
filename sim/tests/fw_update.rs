//! The firmware-controlled component update (`[device.firmware] fw_update = true`) driven
//! by mstflint itself: with MCC / MCDA / MQIS advertised the tools query through MCQI / MQIS
//! and burn through the MCC state machine; the burn leaves the same flash as the tools'
//! own burn through the flash registers, and firmware refuses an image for another device
//! at VERIFY.
//!
//! Upstream's mstflint (fixture `shared/upstream-4.36`, on upstream's library): SKIP when
//! absent. Debian's mstflint 4.21: SKIP when absent, unless CI=true.

mod common;

use common::{debian_mstflint, fixture, job, sim_usable, BDF};
use std::path::{Path, PathBuf};

fn tmp(tag: &str, ext: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mtcr-sim-fwup-{}-{tag}.{ext}", std::process::id()))
}

fn image(tag: &str, args: &[&str]) -> PathBuf {
    common::image(tmp(tag, "bin"), args)
}

/// `mtcr-sim run --config <toml> -- sh -c <script>` → stdout + stderr.
fn in_sim(tag: &str, toml: &str, script: &str) -> String {
    let cfg = tmp(tag, "toml");
    let (_, out) = common::in_sim_with(&cfg, toml, script);
    let _ = std::fs::remove_file(&cfg);
    out
}

fn toml(fw_update: bool, flash: &Path) -> String {
    format!(
        "[[device]]\n[device.firmware]\nfw_update = {fw_update}\nflash_file = \"{}\"\n",
        flash.display()
    )
}

/// Query, burn, query, verify, a refused burn; returns the output.
fn burn_through_mcc(tool: &str, tag: &str, new: &Path, cx4: &Path, flash: &Path) -> String {
    let step = |name: &str, args: String| {
        format!("echo '== {name}'; {tool} -d {BDF} {args} </dev/null 2>&1; echo rc=$?")
    };
    let script = [
        format!(
            "echo '== path'; FW_COMPS_DEBUG=1 {tool} -d {BDF} q 2>&1 | grep -c getFwSupport; \
             echo rc=$?"
        ),
        step("burn", format!("-i {} -y burn", new.display())),
        step("q", "q full".into()),
        step("v", "v".into()),
    ]
    .join("; ");
    let mut out = in_sim(tag, &toml(true, flash), &script);
    // Refused at VERIFY (another device), in a run of its own (the firmware has written
    // the inactive slot by then, without a magic pattern: the flash file stays comparable).
    let script = [
        step("cx4", format!("-i {} -y burn", cx4.display())),
        step("q2", "q".into()),
        step(
            "sg",
            "-guid 0x0002c90300aabb00 -mac 0x0002c9aabb00 -y sg".into(),
        ),
        step("q3", "q".into()),
    ]
    .join("; ");
    out += &in_sim(
        &format!("{tag}-cx4"),
        &toml(true, &tmp(tag, "cx4flash")),
        &script,
    );
    // The tool took the fw_ctrl path (FwCompsMgr found MCC & co. in MCAM).
    assert!(!job(&out, "path").contains("\n0\n"), "{out}");
    let b = job(&out, "burn");
    assert!(
        b.ends_with("rc=0") && b.contains("Writing Boot image component"),
        "{b}"
    );
    let q = job(&out, "q");
    assert!(q.ends_with("rc=0"), "{q}");
    assert!(q.contains("FW Version:            16.35.2000"), "{q}");
    assert!(q.contains("FW Version(Running):   16.35.1012"), "{q}");
    assert!(q.contains("Base MAC:              b8cef6a1b2c0"), "{q}");
    assert!(q.contains("Default Update Method: fw_ctrl"), "{q}");
    assert!(q.contains("Part Number:           MCX516A-CCA_Ax"), "{q}");
    assert!(
        q.contains("Description:           ConnectX-5 EN network"),
        "{q}"
    );
    let v = job(&out, "v");
    assert!(
        v.ends_with("rc=0") && v.contains("verification succeeded"),
        "{v}"
    );
    let c = job(&out, "cx4");
    assert!(!c.ends_with("rc=0"), "{c}");
    let q2 = job(&out, "q2");
    assert!(q2.contains("FW Version:            16.35.1012"), "{q2}");
    assert!(!q2.contains("Running"), "nothing pending: {q2}");
    // Set GUIDs / MACs through the NV item (fw_ctrl): new ones shown, originals kept.
    assert!(job(&out, "sg").ends_with("rc=0"), "{out}");
    let q3 = job(&out, "q3");
    common::check_set_guids(q3);
    let _ = std::fs::remove_file(tmp(tag, "cx4flash"));
    out
}

#[test]
fn upstream_mstflint_burns_through_the_component_update() {
    let test = "upstream_mstflint_burns_through_the_component_update";
    let Some(run) = fixture(test) else {
        return;
    };
    if !sim_usable(test) {
        return;
    }
    let tool = format!("{} mstflint", run.display());
    let new = image("up-new", &["--fw-version", "16.35.2000"]);
    let cx4 = image(
        "up-cx4",
        &["--fw-version", "16.36.2", "--device", "connectx4"],
    );
    let (fa, fb) = (tmp("up-flash-mfba", "bin"), tmp("up-flash-mcc", "bin"));
    let _ = std::fs::remove_file(&fa);
    let _ = std::fs::remove_file(&fb);
    let out = burn_through_mcc(&tool, "up", &new, &cx4, &fb);
    let c = job(&out, "cx4");
    assert!(c.contains("Component is not applicable"), "{c}");
    // The same burn through the flash registers (no fw_update) gives the same flash.
    let script = format!(
        "{tool} -d {BDF} -i {} -y burn </dev/null >/dev/null 2>&1; echo rc=$?",
        new.display()
    );
    let o = in_sim("up-mfba", &toml(false, &fa), &script);
    assert!(o.contains("rc=0"), "{o}");
    let (a, b) = (std::fs::read(&fa).unwrap(), std::fs::read(&fb).unwrap());
    assert!(
        a == b,
        "flash after an MFBA burn and after an MCC burn differ"
    );
    for f in [new, cx4, fa, fb] {
        let _ = std::fs::remove_file(f);
    }
}

#[test]
fn debian_mstflint_burns_through_the_component_update() {
    let test = "debian_mstflint_burns_through_the_component_update";
    let Some(bin) = debian_mstflint(test) else {
        return;
    };
    if !sim_usable(test) {
        return;
    }
    let new = image("deb-new", &["--fw-version", "16.35.2000"]);
    let cx4 = image(
        "deb-cx4",
        &["--fw-version", "16.36.2", "--device", "connectx4"],
    );
    let flash = tmp("deb-flash", "bin");
    let _ = std::fs::remove_file(&flash);
    // 4.21 reports the refusal at VERIFY as "Unexpected state" (it does not translate the
    // MCC error code on that path).
    burn_through_mcc(&bin.display().to_string(), "deb", &new, &cx4, &flash);
    for f in [new, cx4, flash] {
        let _ = std::fs::remove_file(f);
    }
}
