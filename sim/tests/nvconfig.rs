//! The NV configuration store checked by mstconfig itself: upstream's mstconfig (the tool
//! fixture `shared/upstream-4.36`) on upstream's library and on ours, with the same output
//! expected from both, and Debian's stock mstconfig 4.21. Beyond `sim/tests/firmware.rs`'s
//! q / set / reset cycle: the `[device.nvconfig]` knobs, the PCI, offload, link and boot
//! items, writes the firmware refuses (a raw item bypassing the tool's own checks), backup
//! (MNVGN), the reset of one item (MNVDI) and the NV file across simulator runs.
//!
//! Absent fixture, Debian tool or built library: the test concerned prints SKIP (the
//! Debian tool is required under CI=true).

mod common;

use common::{ci, fixture, job, mstconfig_row as row, our_lib, sim_usable, BDF};
use std::path::{Path, PathBuf};

/// Start state: 32 VFs at most, SR-IOV in use with 4 VFs, port 2 switched to IB for the
/// next boot.
const NV: &str = "[device.nvconfig]\nmax_vfs = 32\n\
                  values = { SRIOV_EN = 1, NUM_OF_VFS = 4 }\n\
                  pending = { LINK_TYPE_P2 = 1 }\n";

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mtcr-sim-nv-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run `script` in one simulator with one device (`device` lines, then [`NV`] and `extra`
/// in `[device.nvconfig]`); stdout and stderr together.
fn in_sim(dir: &Path, device: &str, extra: &str, script: &str) -> String {
    let toml = format!("[[device]]\n{device}{NV}{extra}");
    common::in_sim_with(&dir.join("sim.toml"), &toml, script).1
}

/// A raw GLOBAL_PCI_CONF asking for 200 VFs (the tool passes raw items on unchecked).
fn raw_too_many_vfs(dir: &Path) -> PathBuf {
    let p = dir.join("raw.txt");
    std::fs::write(
        &p,
        "MLNX_RAW_TLV_FILE\n0x0000000c 0x00000080 0x00000000 0xbf000000 0xa00100c8 0x02c3f045\n",
    )
    .unwrap();
    p
}

fn step(tool: &str, name: &str, args: &str) -> String {
    format!("echo '== {name}'; {tool} -d {BDF} {args} </dev/null 2>&1; echo rc=$?")
}

/// The full job list for upstream's mstconfig; `tool` is the command line before `-d`.
fn upstream_script(tool: &str, dir: &Path) -> String {
    let raw = raw_too_many_vfs(dir);
    let backup = dir.join("backup.txt");
    [
        step(tool, "q0", "-e q"),
        step(tool, "big", "-y set NUM_OF_VFS=33"),
        step(tool, "raw", &format!("-y -f {} set_raw", raw.display())),
        step(
            tool,
            "set",
            "-y set NUM_OF_VFS=32 NUM_PF_MSIX=100 PF_LOG_BAR_SIZE=7 \
             LEGACY_BOOT_PROTOCOL=ISCSI CQE_COMPRESSION=AGGRESSIVE KEEP_ETH_LINK_UP_P2=0",
        ),
        step(
            tool,
            "q1",
            "-e q NUM_OF_VFS NUM_PF_MSIX PF_LOG_BAR_SIZE LEGACY_BOOT_PROTOCOL \
             CQE_COMPRESSION KEEP_ETH_LINK_UP_P2",
        ),
        format!(
            "{}; cat {}",
            step(tool, "backup", &format!("-f {} backup", backup.display())),
            backup.display()
        ),
        step(tool, "reset1", "-y reset NV_ROM_BOOT_CONF1"),
        step(tool, "q2", "q LEGACY_BOOT_PROTOCOL NUM_OF_VFS"),
        step(tool, "reset", "-y reset"),
        step(tool, "q3", "q SRIOV_EN NUM_OF_VFS LINK_TYPE_P2 NUM_PF_MSIX"),
    ]
    .join("; ")
}

fn check_upstream(out: &str) {
    let q0 = job(out, "q0");
    assert!(q0.ends_with("rc=0"), "{q0}");
    // Default, current, next boot.
    for (name, want) in [
        ("SRIOV_EN", ["False(0)", "True(1)", "True(1)"]),
        ("NUM_OF_VFS", ["0", "4", "4"]),
        ("LINK_TYPE_P1", ["ETH(2)", "ETH(2)", "ETH(2)"]),
        ("LINK_TYPE_P2", ["ETH(2)", "ETH(2)", "IB(1)"]),
        ("PF_LOG_BAR_SIZE", ["5", "5", "5"]),
        ("NUM_PF_MSIX", ["63", "63", "63"]),
        ("NUM_VF_MSIX", ["11", "11", "11"]),
        (
            "CQE_COMPRESSION",
            ["BALANCED(0)", "BALANCED(0)", "BALANCED(0)"],
        ),
        ("LRO_LOG_TIMEOUT3", ["13", "13", "13"]),
        ("KEEP_ETH_LINK_UP_P2", ["True(1)", "True(1)", "True(1)"]),
        ("LEGACY_BOOT_PROTOCOL", ["PXE(1)", "PXE(1)", "PXE(1)"]),
        ("BOOT_VLAN", ["1", "1", "1"]),
        ("IP_VER", ["IPv4(0)", "IPv4(0)", "IPv4(0)"]),
    ] {
        assert_eq!(row(q0, name), want, "{name}:\n{q0}");
    }
    // The tool refuses more VFs than the capability item allows; the firmware refuses
    // the raw item that bypasses that check.
    let big = job(out, "big");
    assert!(!big.ends_with("rc=0") && big.contains("32"), "{big}");
    let raw = job(out, "raw");
    assert!(
        !raw.ends_with("rc=0") && raw.to_lowercase().contains("bad parameter"),
        "{raw}"
    );
    assert!(job(out, "set").ends_with("rc=0"), "{out}");
    let q1 = job(out, "q1");
    for (name, want) in [
        ("NUM_OF_VFS", ["0", "4", "32"]),
        ("NUM_PF_MSIX", ["63", "63", "100"]),
        ("PF_LOG_BAR_SIZE", ["5", "5", "7"]),
        ("LEGACY_BOOT_PROTOCOL", ["PXE(1)", "PXE(1)", "ISCSI(2)"]),
        (
            "CQE_COMPRESSION",
            ["BALANCED(0)", "BALANCED(0)", "AGGRESSIVE(1)"],
        ),
        ("KEEP_ETH_LINK_UP_P2", ["True(1)", "True(1)", "False(0)"]),
    ] {
        assert_eq!(row(q1, name), want, "{name}:\n{q1}");
    }
    // Backup lists the items written (MNVGN): GLOBAL_PCI_CONF, the boot item...
    let backup = job(out, "backup");
    assert!(backup.ends_with("rc=0"), "{backup}");
    for t in ["0x00000080", "0x03000221", "0x01020190", "0x0000010a"] {
        assert!(out.contains(&format!("TLV Type: {t}")), "no {t}:\n{out}");
    }
    // Resetting one item (MNVDI) leaves the others.
    assert!(job(out, "reset1").ends_with("rc=0"), "{out}");
    let q2 = job(out, "q2");
    assert_eq!(row(q2, "LEGACY_BOOT_PROTOCOL"), ["PXE(1)"]);
    assert_eq!(row(q2, "NUM_OF_VFS"), ["32"]);
    // Reset all: the next boot gets the factory defaults.
    assert!(job(out, "reset").ends_with("rc=0"), "{out}");
    let q3 = job(out, "q3");
    assert_eq!(row(q3, "SRIOV_EN"), ["False(0)"]);
    assert_eq!(row(q3, "NUM_OF_VFS"), ["0"]);
    assert_eq!(row(q3, "LINK_TYPE_P2"), ["ETH(2)"]);
    assert_eq!(row(q3, "NUM_PF_MSIX"), ["63"]);
}

#[test]
fn upstream_mstconfig_nv_items_on_both_libraries() {
    let test = "upstream_mstconfig_nv_items_on_both_libraries";
    let Some(run) = fixture(test) else {
        return;
    };
    if !sim_usable(test) {
        return;
    }
    let dir = tmpdir("up");
    let tool = format!("{} mstconfig", run.display());
    let upstream = in_sim(&dir, "", "", &upstream_script(&tool, &dir));
    check_upstream(&upstream);
    if let Some(lib) = our_lib(&format!("{test} (our library)"), &dir) {
        let tool = format!("{} --lib {} mstconfig", run.display(), lib.display());
        let ours = in_sim(&dir, "", "", &upstream_script(&tool, &dir));
        check_upstream(&ours);
        assert_eq!(
            ours, upstream,
            "our library's output differs from upstream's"
        );
    }
    // The same store through mstflint_access (upstream's library; ours stops at the ICMD
    // semaphore on that path, see sim/FIRMWARE.md).
    let script = [
        step(&tool, "set", "-y set NUM_OF_VFS=8 BOOT_PKEY=0x8001"),
        step(
            &tool,
            "q",
            "-e q SRIOV_EN NUM_OF_VFS BOOT_PKEY LINK_TYPE_P2",
        ),
    ]
    .join("; ");
    let out = in_sim(&dir, "driver = \"mstflint_access\"\n", "", &script);
    assert!(job(&out, "set").ends_with("rc=0"), "{out}");
    let q = job(&out, "q");
    assert_eq!(row(q, "SRIOV_EN"), ["False(0)", "True(1)", "True(1)"]);
    assert_eq!(row(q, "NUM_OF_VFS"), ["0", "4", "8"]);
    assert_eq!(row(q, "BOOT_PKEY"), ["0", "0", "32769"]);
    assert_eq!(row(q, "LINK_TYPE_P2"), ["ETH(2)", "ETH(2)", "IB(1)"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn debian_mstconfig_nv_items() {
    let test = "debian_mstconfig_nv_items";
    let tool = "/usr/bin/mstconfig";
    if !Path::new(tool).is_file() {
        assert!(!ci(), "{test}: {tool} is missing (scripts/install-deps.sh)");
        eprintln!("SKIP: {test}: Debian's mstconfig is not installed");
        return;
    }
    if !sim_usable(test) {
        return;
    }
    let dir = tmpdir("deb");
    let raw = raw_too_many_vfs(&dir);
    let script = [
        step(
            tool,
            "q0",
            "-e q SRIOV_EN NUM_OF_VFS LINK_TYPE_P2 NUM_VF_MSIX LEGACY_BOOT_PROTOCOL",
        ),
        step(tool, "raw", &format!("-y -f {} set_raw", raw.display())),
        step(tool, "set", "-y set VF_LOG_BAR_SIZE=3 BOOT_VLAN=100"),
        step(tool, "q1", "q VF_LOG_BAR_SIZE BOOT_VLAN NUM_OF_VFS"),
    ]
    .join("; ");
    // The NV file keeps what was written for the next run (a boot).
    let nv_file = format!("file = \"{}\"\n", dir.join("nv.toml").display());
    let out = in_sim(&dir, "", &nv_file, &script);
    let q0 = job(&out, "q0");
    assert_eq!(row(q0, "SRIOV_EN"), ["False(0)", "True(1)", "True(1)"]);
    assert_eq!(row(q0, "NUM_OF_VFS"), ["0", "4", "4"]);
    assert_eq!(row(q0, "LINK_TYPE_P2"), ["ETH(2)", "ETH(2)", "IB(1)"]);
    assert_eq!(row(q0, "NUM_VF_MSIX"), ["11", "11", "11"]);
    assert_eq!(
        row(q0, "LEGACY_BOOT_PROTOCOL"),
        ["PXE(1)", "PXE(1)", "PXE(1)"]
    );
    let raw = job(&out, "raw");
    assert!(
        !raw.ends_with("rc=0") && raw.to_lowercase().contains("bad parameter"),
        "{raw}"
    );
    assert!(job(&out, "set").ends_with("rc=0"), "{out}");
    let q1 = job(&out, "q1");
    assert_eq!(row(q1, "VF_LOG_BAR_SIZE"), ["3"]);
    assert_eq!(row(q1, "BOOT_VLAN"), ["100"]);
    assert_eq!(row(q1, "NUM_OF_VFS"), ["4"]);
    let out = in_sim(
        &dir,
        "",
        &nv_file,
        &step(tool, "q2", "-e q VF_LOG_BAR_SIZE BOOT_VLAN"),
    );
    let q2 = job(&out, "q2");
    assert_eq!(row(q2, "VF_LOG_BAR_SIZE"), ["1", "3", "3"]);
    assert_eq!(row(q2, "BOOT_VLAN"), ["1", "100", "100"]);
    let _ = std::fs::remove_dir_all(&dir);
}
