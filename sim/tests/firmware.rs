//! The firmware model checked by mstflint itself: images from `mtcr-sim image` queried and
//! verified by upstream's mstflint (the tool fixture `shared/upstream-4.36`, on upstream's
//! library) and by Debian's stock mstflint 4.21.
//!
//! The fixture may be absent on a developer machine: those tests print SKIP. Debian's
//! mstflint is installed by `scripts/install-deps.sh`: absent, its tests print SKIP, or fail
//! with CI=true.

mod common;

use common::{ci, debian_mstflint, fixture, job, sim_usable, BDF, SIM};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mtcr-sim-fw-{}-{tag}.bin", std::process::id()))
}

/// `mtcr-sim image ARGS -o <tmp>`; returns the file.
fn image(tag: &str, args: &[&str]) -> PathBuf {
    common::image(tmp(tag), args)
}

struct Tool(Vec<PathBuf>);

impl Tool {
    /// Upstream's mstflint through the fixture (upstream's library).
    fn upstream(run: PathBuf) -> Tool {
        Tool(vec![run, "mstflint".into()])
    }
    fn debian(bin: PathBuf) -> Tool {
        Tool(vec![bin])
    }
    fn run(&self, args: &[&std::ffi::OsStr]) -> Output {
        Command::new(&self.0[0])
            .args(&self.0[1..])
            .args(args)
            .output()
            .expect("run mstflint")
    }
    /// `mstflint -i FILE CMD...` → (exit code, stdout + stderr).
    fn on_image(&self, file: &Path, cmd: &[&str]) -> (i32, String) {
        let mut a: Vec<&std::ffi::OsStr> = vec!["-i".as_ref(), file.as_os_str()];
        a.extend(cmd.iter().map(|s| std::ffi::OsStr::new(*s)));
        let o = self.run(&a);
        (o.status.code().unwrap_or(-1), common::text(&o))
    }
}

/// A good image with non-default content: query shows it, verify accepts it.
fn good_image_accepted(tool: &Tool, tag: &str, full: bool) {
    let f = image(
        tag,
        &[
            "--fw-version",
            "16.34.1002",
            "--psid",
            "MT_0000000123",
            "--release-date",
            "2023-11-07",
            "--description",
            "sim test card",
            "--guid",
            "0x0002c90300001230",
        ],
    );
    let q: &[&str] = if full { &["q", "full"] } else { &["q"] };
    let (rc, out) = tool.on_image(&f, q);
    assert_eq!(rc, 0, "query failed:\n{out}");
    for want in [
        "Image type:            FS4",
        "FW Version:            16.34.1002",
        "FW Release Date:       7.11.2023",
        "PSID:                  MT_0000000123",
        "0002c90300001230",
        "0002c9001230",
    ] {
        assert!(out.contains(want), "query lacks {want:?}:\n{out}");
    }
    if full {
        assert!(
            out.contains("Description:           sim test card"),
            "query full lacks the description:\n{out}"
        );
    }
    let (rc, out) = tool.on_image(&f, &["v"]);
    assert_eq!(rc, 0, "verify failed:\n{out}");
    assert!(out.contains("(IMAGE_INFO) - OK"), "{out}");
    assert!(out.contains("(DEV_INFO) - OK"), "{out}");
    assert!(out.contains("FW image verification succeeded"), "{out}");
    let (rc, out) = tool.on_image(&f, &["dc"]);
    assert_eq!(rc, 0, "dump config failed:\n{out}");
    assert!(out.contains("PSID = MT_0000000123"), "{out}");
    let _ = std::fs::remove_file(f);
}

/// Spoiled images are refused by verify (bad CRC) or by query and verify (truncated).
fn bad_images_refused(tool: &Tool, tag: &str) {
    let f = image(&format!("{tag}-badcrc"), &["--spoil", "bad-crc"]);
    let (rc, out) = tool.on_image(&f, &["v"]);
    assert_ne!(rc, 0, "verify accepted a bad CRC:\n{out}");
    assert!(
        out.contains("(MAIN_CODE)") && out.contains("wrong CRC"),
        "{out}"
    );
    let _ = std::fs::remove_file(f);
    let f = image(&format!("{tag}-trunc"), &["--spoil", "truncated"]);
    let (rc, out) = tool.on_image(&f, &["q"]);
    assert_ne!(rc, 0, "query accepted a truncated image:\n{out}");
    let (rc, out) = tool.on_image(&f, &["v"]);
    assert_ne!(rc, 0, "verify accepted a truncated image:\n{out}");
    let _ = std::fs::remove_file(f);
    // An image for another device is a valid image of that device.
    let f = image(&format!("{tag}-cx6"), &["--device", "connectx6"]);
    let (rc, out) = tool.on_image(&f, &["v"]);
    assert_eq!(rc, 0, "{out}");
    let _ = std::fs::remove_file(f);
}

#[test]
fn upstream_mstflint_queries_and_verifies_generated_images() {
    let Some(run) = fixture("upstream_mstflint_queries_and_verifies_generated_images") else {
        return;
    };
    let t = Tool::upstream(run);
    good_image_accepted(&t, "up", true);
    bad_images_refused(&t, "up");
}

#[test]
fn debian_mstflint_queries_and_verifies_generated_images() {
    let Some(bin) = debian_mstflint("debian_mstflint_queries_and_verifies_generated_images") else {
        return;
    };
    let t = Tool::debian(bin);
    good_image_accepted(&t, "deb", false);
    bad_images_refused(&t, "deb");
}

/// `mtcr-sim run --config <toml> -- sh -c <script>` → (exit code, stdout + stderr).
fn in_sim(tag: &str, toml: &str, script: &str) -> (i32, String) {
    let cfg = std::env::temp_dir().join(format!("mtcr-sim-fw-{}-{tag}.toml", std::process::id()));
    let out = common::in_sim_with(&cfg, toml, script);
    let _ = std::fs::remove_file(&cfg);
    out
}

/// The read-only flash jobs on the simulated device, one simulator run; each job's
/// output is framed by `== JOB` lines and ends with `rc=N`.
fn device_jobs(tool: &str, dev: &str, full: bool) -> String {
    let mut jobs = vec!["q", "v", "hw query", "dc"];
    if full {
        jobs.insert(1, "q full");
    }
    jobs.iter()
        .map(|j| format!("echo '== {j}'; {tool} -d {dev} {j} 2>&1; echo rc=$?"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn check_device_jobs(out: &str, version: &str, psid: &str, full: bool) {
    let q = job(out, "q");
    assert!(q.ends_with("rc=0"), "{q}");
    for want in [
        "Image type:            FS4".to_string(),
        format!("FW Version:            {version}"),
        format!("PSID:                  {psid}"),
        "Base GUID:             b8cef60300a1b2c0        8".to_string(),
        "Base MAC:              b8cef6a1b2c0            8".to_string(),
    ] {
        assert!(q.contains(&want), "q lacks {want:?}:\n{q}");
    }
    if full {
        let qf = job(out, "q full");
        assert!(qf.ends_with("rc=0"), "{qf}");
        assert!(qf.contains("Part Number:           MCX516A-CCA_Ax"), "{qf}");
        assert!(qf.contains("Default Update Method:"), "{qf}");
    }
    let v = job(out, "v");
    assert!(v.ends_with("rc=0"), "{v}");
    assert!(
        v.contains("(MAIN_CODE) - OK") && v.contains("(DEV_INFO) - OK"),
        "{v}"
    );
    assert!(v.contains("FW image verification succeeded"), "{v}");
    let h = job(out, "hw query");
    assert!(h.ends_with("rc=0"), "{h}");
    assert!(h.contains("JEDEC_ID                0x1540ef"), "{h}");
    assert!(h.contains("TotalSize               0x200000"), "{h}");
    assert!(h.contains("SectorSize              0x1000"), "{h}");
    let dc = job(out, "dc");
    assert!(dc.ends_with("rc=0"), "{dc}");
    assert!(
        dc.contains("[PS_INFO]") && dc.contains(&format!("PSID = {psid}")),
        "{dc}"
    );
}

#[test]
fn upstream_mstflint_flash_jobs_on_the_simulated_device() {
    let test = "upstream_mstflint_flash_jobs_on_the_simulated_device";
    let Some(run) = fixture(test) else {
        return;
    };
    if !sim_usable(test) {
        return;
    }
    let tool = format!("{} mstflint", run.display());
    // Sysfs config space, default firmware.
    let (_, out) = in_sim("up-cfg", "", &device_jobs(&tool, BDF, true));
    check_device_jobs(&out, "16.35.1012", "MT_0000000008", true);
    // mstflint_access (the library finds /dev/<bdf>_mstconf), configured firmware.
    let toml = "[[device]]\ndriver = \"mstflint_access\"\n[device.firmware]\n\
                fw_version = \"16.34.1002\"\npsid = \"MT_0000000123\"\n";
    let (_, out) = in_sim("up-drv", toml, &device_jobs(&tool, BDF, false));
    check_device_jobs(&out, "16.34.1002", "MT_0000000123", false);
}

#[test]
fn debian_mstflint_flash_jobs_on_the_simulated_device() {
    let test = "debian_mstflint_flash_jobs_on_the_simulated_device";
    let Some(bin) = debian_mstflint(test) else {
        return;
    };
    if !sim_usable(test) {
        return;
    }
    let tool = bin.display().to_string();
    let (_, out) = in_sim("deb-cfg", "", &device_jobs(&tool, BDF, true));
    check_device_jobs(&out, "16.35.1012", "MT_0000000008", true);
    let toml = "[[device]]\ndriver = \"mstflint_access\"\n";
    let (_, out) = in_sim("deb-drv", toml, &device_jobs(&tool, BDF, false));
    check_device_jobs(&out, "16.35.1012", "MT_0000000008", false);
}

/// A flash preloaded from an image file and kept in a flash file: the device reports that
/// image, and the file keeps the flash for the next run.
#[test]
fn flash_from_image_file_and_persistent_flash_file() {
    let test = "flash_from_image_file_and_persistent_flash_file";
    let Some(bin) = debian_mstflint(test) else {
        return;
    };
    if !sim_usable(test) {
        return;
    }
    let img = image(
        "persist-img",
        &["--fw-version", "16.33.1048", "--psid", "MT_0000000777"],
    );
    let flash = tmp("persist-flash");
    let _ = std::fs::remove_file(&flash);
    let toml = format!(
        "[[device]]\n[device.firmware]\nimage = \"{}\"\nflash_file = \"{}\"\n",
        img.display(),
        flash.display()
    );
    let script = format!("{} -d {BDF} q", bin.display());
    let (rc, out) = in_sim("persist1", &toml, &script);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("FW Version:            16.33.1048"), "{out}");
    assert_eq!(std::fs::metadata(&flash).unwrap().len(), 2 << 20);
    let o = Command::new(SIM)
        .arg("check-image")
        .arg(&flash)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("fw version:    16.33.1048"), "{text}");
    assert!(text.contains("dtoc 0xe1"), "{text}");
    // Second run: the image file is gone, the flash file is the flash.
    std::fs::remove_file(&img).unwrap();
    let (rc, out) = in_sim("persist2", &toml, &script);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("PSID:                  MT_0000000777"),
        "{out}"
    );
    let _ = std::fs::remove_file(&flash);
}

/// Burn a newer image: the flash gets it (query shows it, and the running version until a
/// reset); images with another PSID, a bad CRC or for another device are refused and leave
/// the flash as it was. Then set GUIDs / MACs (device data update).
fn burn_jobs(tool: &str, tag: &str) {
    let new = image(&format!("{tag}-new"), &["--fw-version", "16.35.2000"]);
    let psid = image(&format!("{tag}-psid"), &["--psid", "MT_0000000999"]);
    let bad = image(
        &format!("{tag}-bad"),
        &["--fw-version", "16.36.1", "--spoil", "bad-crc"],
    );
    let cx4 = image(
        &format!("{tag}-cx4"),
        &["--fw-version", "16.36.2", "--device", "connectx4"],
    );
    let burn = |name: &str, f: &Path| {
        format!(
            "echo '== {name}'; {tool} -d {BDF} -i {} -y burn </dev/null 2>&1; echo rc=$?",
            f.display()
        )
    };
    let query = |name: &str| format!("echo '== {name}'; {tool} -d {BDF} q 2>&1; echo rc=$?");
    let script = [
        burn("burn", &new),
        query("q1"),
        format!("echo '== v'; {tool} -d {BDF} v 2>&1; echo rc=$?"),
        burn("psid", &psid),
        burn("bad", &bad),
        burn("cx4", &cx4),
        query("q2"),
        format!(
            "echo '== sg'; {tool} -d {BDF} -guid 0x0002c90300aabb00 -mac 0x0002c9aabb00 -y sg \
             </dev/null 2>&1; echo rc=$?"
        ),
        query("q3"),
        format!("echo '== v3'; {tool} -d {BDF} v 2>&1; echo rc=$?"),
    ]
    .join("; ");
    let (_, out) = in_sim(tag, "", &script);
    assert!(job(&out, "burn").ends_with("rc=0"), "{out}");
    for q in ["q1", "q2"] {
        let q = job(&out, q);
        assert!(q.ends_with("rc=0"), "{q}");
        assert!(q.contains("FW Version:            16.35.2000"), "{q}");
        assert!(q.contains("FW Version(Running):   16.35.1012"), "{q}");
    }
    assert!(job(&out, "v").ends_with("rc=0"), "{out}");
    let p = job(&out, "psid");
    assert!(!p.ends_with("rc=0") && p.contains("PSID mismatch"), "{p}");
    let b = job(&out, "bad");
    assert!(!b.ends_with("rc=0"), "{b}");
    let c = job(&out, "cx4");
    assert!(!c.ends_with("rc=0") && c.contains("ConnectX-4"), "{c}");
    // Set GUIDs: the second DEV_INFO copy takes the new ones; MFG_INFO keeps the originals.
    assert!(job(&out, "sg").ends_with("rc=0"), "{out}");
    let q3 = job(&out, "q3");
    common::check_set_guids(q3);
    assert!(job(&out, "v3").ends_with("rc=0"), "{out}");
    for f in [new, psid, bad, cx4] {
        let _ = std::fs::remove_file(f);
    }
}

#[test]
fn upstream_mstflint_burns_the_simulated_device() {
    let test = "upstream_mstflint_burns_the_simulated_device";
    let Some(run) = fixture(test) else {
        return;
    };
    if !sim_usable(test) {
        return;
    }
    burn_jobs(&format!("{} mstflint", run.display()), "up-burn");
}

#[test]
fn debian_mstflint_burns_the_simulated_device() {
    let test = "debian_mstflint_burns_the_simulated_device";
    let Some(bin) = debian_mstflint(test) else {
        return;
    };
    if !sim_usable(test) {
        return;
    }
    burn_jobs(&bin.display().to_string(), "deb-burn");
}

/// `mstconfig q`, `set`, `q`, a refused value, `reset`, `q` on the NV configuration store.
fn nvconfig_jobs(tool: &str, tag: &str) {
    let step = |name: &str, args: &str| {
        format!("echo '== {name}'; {tool} -d {BDF} {args} </dev/null 2>&1; echo rc=$?")
    };
    let script = [
        step("q0", "q"),
        step("set", "-y set SRIOV_EN=1 NUM_OF_VFS=16 LINK_TYPE_P1=IB"),
        step("q1", "-e q SRIOV_EN NUM_OF_VFS LINK_TYPE_P1"),
        step("bad", "-y set NUM_OF_VFS=200"),
        step("reset", "-y reset"),
        step("q2", "q SRIOV_EN NUM_OF_VFS LINK_TYPE_P1"),
    ]
    .join("; ");
    let (_, out) = in_sim(tag, "", &script);
    let row = common::mstconfig_row;
    let q0 = job(&out, "q0");
    assert!(q0.ends_with("rc=0"), "{q0}");
    assert_eq!(row(q0, "SRIOV_EN"), ["False(0)"]);
    assert_eq!(row(q0, "NUM_OF_VFS"), ["0"]);
    assert_eq!(row(q0, "FPP_EN"), ["True(1)"]);
    assert_eq!(row(q0, "LINK_TYPE_P1"), ["ETH(2)"]);
    assert_eq!(row(q0, "LINK_TYPE_P2"), ["ETH(2)"]);
    assert!(job(&out, "set").ends_with("rc=0"), "{out}");
    // Default, current, next boot: only the next boot value changed.
    let q1 = job(&out, "q1");
    assert_eq!(row(q1, "SRIOV_EN"), ["False(0)", "False(0)", "True(1)"]);
    assert_eq!(row(q1, "NUM_OF_VFS"), ["0", "0", "16"]);
    assert_eq!(row(q1, "LINK_TYPE_P1"), ["ETH(2)", "ETH(2)", "IB(1)"]);
    let bad = job(&out, "bad");
    assert!(!bad.ends_with("rc=0") && bad.contains("127"), "{bad}");
    assert!(job(&out, "reset").ends_with("rc=0"), "{out}");
    let q2 = job(&out, "q2");
    assert_eq!(row(q2, "SRIOV_EN"), ["False(0)"]);
    assert_eq!(row(q2, "NUM_OF_VFS"), ["0"]);
    assert_eq!(row(q2, "LINK_TYPE_P1"), ["ETH(2)"]);
}

#[test]
fn upstream_mstconfig_on_the_simulated_device() {
    let test = "upstream_mstconfig_on_the_simulated_device";
    let Some(run) = fixture(test) else {
        return;
    };
    if !sim_usable(test) {
        return;
    }
    nvconfig_jobs(&format!("{} mstconfig", run.display()), "up-nv");
}

#[test]
fn debian_mstconfig_on_the_simulated_device() {
    let test = "debian_mstconfig_on_the_simulated_device";
    if !Path::new("/usr/bin/mstconfig").is_file() {
        assert!(
            !ci(),
            "{test}: /usr/bin/mstconfig is missing (scripts/install-deps.sh)"
        );
        eprintln!("SKIP: {test}: Debian's mstconfig is not installed");
        return;
    }
    if !sim_usable(test) {
        return;
    }
    nvconfig_jobs("/usr/bin/mstconfig", "deb-nv");
}
