//! Helpers shared by the tests that run real tools against the simulator (`firmware`,
//! `fw_update`, `nvconfig`, `burn_recovery`, `fwreset`): where the tools and our library
//! are found, the SKIP / CI=true rules, and running a script in one simulator.
//!
//! Each test binary uses only part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const SIM: &str = env!("CARGO_BIN_EXE_mtcr-sim");
/// The address of the first simulated device.
pub const BDF: &str = "0000:05:00.0";

/// CI=true (or 1): what would be a SKIP on a developer machine fails instead.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether the simulator can run here (SKIP, or panic under CI, when not).
pub fn sim_usable(test: &str) -> bool {
    match mtcr_sim::testing::skip_reason() {
        None => true,
        Some(w) if ci() => panic!("{test}: needs root and /dev/fuse: {w}"),
        Some(w) => {
            eprintln!("SKIP: {test}: needs root and /dev/fuse: {w}");
            false
        }
    }
}

/// The fixture's `run` script: `MTCR_UPSTREAM_FIXTURE`, else `shared/upstream-4.36` beside
/// one of the checkout's ancestors (the main checkout and its worktrees share it). Absent:
/// SKIP (also under CI).
pub fn fixture(test: &str) -> Option<PathBuf> {
    let found = match std::env::var_os("MTCR_UPSTREAM_FIXTURE") {
        Some(d) => Some(PathBuf::from(d).join("run")),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|a| a.join("shared/upstream-4.36/run"))
            .find(|p| p.is_file()),
    };
    if found.is_none() {
        eprintln!("SKIP: {test}: the upstream tool fixture (shared/upstream-4.36) is absent");
    }
    found
}

/// Debian's stock mstflint (SKIP when absent, fails under CI).
pub fn debian_mstflint(test: &str) -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/mstflint");
    if p.is_file() {
        return Some(p);
    }
    assert!(
        !ci(),
        "{test}: /usr/bin/mstflint is missing (scripts/install-deps.sh)"
    );
    eprintln!("SKIP: {test}: Debian's mstflint is not installed");
    None
}

/// A directory holding our library as `libmtcr_ul.so.1`: `MTCR_OURS_LIB` (a directory with
/// it), else the newest `libmtcr_ul.so` the workspace built (linked into `tmp/ours`).
/// Absent: SKIP (also under CI).
pub fn our_lib(test: &str, tmp: &Path) -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("MTCR_OURS_LIB") {
        return Some(PathBuf::from(d));
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let built = ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("libmtcr_ul.so"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max();
    let Some((_, so)) = built else {
        eprintln!("SKIP: {test}: libmtcr_ul.so not built (cargo build -p mtcr)");
        return None;
    };
    let dir = tmp.join("ours");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("libmtcr_ul.so.1");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(so.canonicalize().unwrap(), &link).unwrap();
    Some(dir)
}

/// A process's stdout followed by its stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `mtcr-sim image ARGS -o OUT`; returns OUT.
pub fn image(out: PathBuf, args: &[&str]) -> PathBuf {
    let o = Command::new(SIM)
        .arg("image")
        .args(args)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run mtcr-sim image");
    assert!(
        o.status.success(),
        "mtcr-sim image {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Runs `mtcr-sim run -- sh -c SCRIPT` (the default device) → stdout + stderr.
pub fn in_sim(script: &str) -> String {
    let o = Command::new(SIM)
        .args(["run", "--", "sh", "-c", script])
        .output()
        .expect("run mtcr-sim");
    text(&o)
}

/// Writes `toml` to `cfg`, runs `mtcr-sim run --config CFG -- sh -c SCRIPT` → (exit code,
/// stdout + stderr).
pub fn in_sim_with(cfg: &Path, toml: &str, script: &str) -> (i32, String) {
    std::fs::write(cfg, toml).unwrap();
    let o = Command::new(SIM)
        .arg("run")
        .arg("--config")
        .arg(cfg)
        .args(["--", "sh", "-c", script])
        .output()
        .expect("run mtcr-sim");
    (o.status.code().unwrap_or(-1), text(&o))
}

/// One job's output in a script's output: from its `== NAME` line to the end of the next
/// `rc=N` (one digit of N).
pub fn job<'a>(out: &'a str, name: &str) -> &'a str {
    let start = out
        .find(&format!("== {name}\n"))
        .unwrap_or_else(|| panic!("no output of {name}:\n{out}"));
    let rest = &out[start..];
    let end = rest.find("rc=").map_or(rest.len(), |i| i + 4);
    &rest[..end]
}

/// The values of parameter `name` in an mstconfig query (one per column).
pub fn mstconfig_row(text: &str, name: &str) -> Vec<String> {
    text.lines()
        .find(|l| {
            l.trim_start_matches(['*', ' '])
                .starts_with(&format!("{name} "))
        })
        .unwrap_or_else(|| panic!("no {name} row:\n{text}"))
        .split_whitespace()
        .filter(|w| *w != "*")
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// mstflint's query after `sg` set the GUIDs / MACs (0002c90300aabb00): the new ones shown,
/// the originals kept.
pub fn check_set_guids(q3: &str) {
    assert!(
        q3.contains("Base GUID:             0002c90300aabb00"),
        "{q3}"
    );
    assert!(
        q3.contains("Orig Base GUID:        b8cef60300a1b2c0"),
        "{q3}"
    );
    assert!(q3.contains("Base MAC:              0002c9aabb00"), "{q3}");
}
