//! Helpers for Rust tests that run inside `mtcr-sim run`.
//!
//! ```ignore
//! #[test]
//! fn hw_id() {
//!     let Some(sim) = mtcr_sim::testing::in_sim(concat!(module_path!(), "::hw_id"), "") else {
//!         return;
//!     };
//!     // ... runs inside the simulator: /sys/bus/pci/devices/0000:05:00.0 is the model ...
//!     assert!(sim.counters("0000:05:00.0").config_reads > 0);
//! }
//! ```
//!
//! Outside the simulator, [`in_sim`] re-runs the very same test (`--exact NAME`) under
//! `mtcr-sim run --config <toml>` and asserts it passed, then returns `None`; inside (env
//! `MTCR_SIM_TEST` = NAME) it returns a [`SimGuard`] and the body runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::{Faults, SimConfig};
use crate::model::CounterSnapshot;
use crate::proto::{Client, ENV_SOCKET};
use crate::runtime::server::Stats;

/// Environment variable naming the test being run inside the simulator.
pub const ENV_TEST: &str = "MTCR_SIM_TEST";

/// Handle on the running simulator, for the test body.
pub struct SimGuard {
    socket: PathBuf,
}

impl SimGuard {
    /// The guard of the simulator this process runs in (None outside one).
    pub fn current() -> Option<SimGuard> {
        std::env::var_os(ENV_SOCKET).map(|s| SimGuard {
            socket: PathBuf::from(s),
        })
    }

    fn client(&self) -> Client {
        Client::connect(&self.socket).unwrap_or_else(|e| panic!("mtcr-sim control socket: {e}"))
    }

    /// Socket path (what `MTCR_SIM_SOCKET` holds).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Live counters of every device.
    pub fn stats(&self) -> Stats {
        let text = self
            .client()
            .stats_json()
            .unwrap_or_else(|e| panic!("stats: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("stats JSON: {e}"))
    }

    /// Live counters of one device (panics if there is no such device).
    pub fn counters(&self, bdf: &str) -> CounterSnapshot {
        self.stats()
            .devices
            .remove(bdf)
            .unwrap_or_else(|| panic!("no simulated device {bdf}"))
    }

    /// Current fault knobs of a device.
    pub fn faults(&self, bdf: &str) -> Faults {
        self.client()
            .get_faults(bdf)
            .unwrap_or_else(|e| panic!("get faults of {bdf}: {e}"))
    }

    /// Replace the fault knobs of a device.
    pub fn set_faults(&self, bdf: &str, f: Faults) {
        self.client()
            .set_faults(bdf, &f)
            .unwrap_or_else(|e| panic!("set faults of {bdf}: {e}"))
    }
}

/// Why the simulator cannot run here (None = it can).
pub fn skip_reason() -> Option<String> {
    crate::runtime::can_run().err()
}

/// Skip (print and return true) or, with `CI=true`, panic.
fn skip(name: &str, why: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{name}: simulator unavailable under CI: {why}");
    }
    eprintln!("SKIP: needs root and /dev/fuse ({name}: {why})");
    true
}

/// The `mtcr-sim` binary: `MTCR_SIM_BIN`, else the cargo target dir of this test binary.
pub fn sim_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MTCR_SIM_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let mut dir = exe.parent()?;
    for _ in 0..2 {
        let cand = dir.join("mtcr-sim");
        if cand.is_file() {
            return Some(cand);
        }
        dir = dir.parent()?;
    }
    None
}

/// Test name as `--exact` wants it: drop a leading `<crate>::` (from `module_path!()`).
fn exact_name(name: &str) -> String {
    let krate = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| match s.rsplit_once('-') {
            Some((k, _)) => k.to_string(),
            None => s,
        })
        .unwrap_or_default();
    match name.split_once("::") {
        Some((first, rest)) if first == krate => rest.to_string(),
        _ => name.to_string(),
    }
}

/// Run in the simulator (see module docs). `toml`: the simulator configuration ("" = one
/// ConnectX-5 at 0000:05:00.0).
pub fn in_sim(name: &str, toml: &str) -> Option<SimGuard> {
    let exact = exact_name(name);
    if std::env::var(ENV_TEST).is_ok_and(|t| t == exact) {
        return Some(SimGuard::current().unwrap_or_else(|| {
            panic!("{ENV_TEST} is set but {ENV_SOCKET} is not: not inside mtcr-sim")
        }));
    }
    if let Some(why) = skip_reason() {
        skip(name, &why);
        return None;
    }
    let Some(bin) = sim_binary() else {
        let why = "mtcr-sim binary not found (run `cargo build --workspace` or set MTCR_SIM_BIN)";
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("{name}: {why}");
        }
        eprintln!("SKIP: {name}: {why}");
        return None;
    };
    if let Err(e) = SimConfig::from_toml(toml) {
        panic!("{name}: bad simulator configuration: {e}");
    }
    let cfg_path = std::env::temp_dir().join(format!(
        "mtcr-sim-test-{}-{}.toml",
        std::process::id(),
        exact.replace("::", "-")
    ));
    std::fs::write(&cfg_path, toml).unwrap_or_else(|e| panic!("write {cfg_path:?}: {e}"));
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(&bin)
        .arg("run")
        .arg("--config")
        .arg(&cfg_path)
        .arg("--")
        .arg(&exe)
        .args([
            "--exact",
            &exact,
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ])
        .env(ENV_TEST, &exact)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin:?}: {e}"));
    let _ = std::fs::remove_file(&cfg_path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        out.status.success(),
        "{name} failed inside mtcr-sim ({}); output above",
        out.status
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{name}: the inner run did not execute exactly this test (name {exact:?} must be the \
         full path --exact wants); output above"
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_name_strips_this_crate_only() {
        // Unit tests of this crate run from `mtcr_sim-<hash>`.
        assert_eq!(
            exact_name("mtcr_sim::testing::tests::x"),
            "testing::tests::x"
        );
        assert_eq!(exact_name("tests::x"), "tests::x");
        assert_eq!(exact_name("x"), "x");
    }

    #[test]
    fn runs_itself_inside_the_simulator() {
        let Some(sim) = in_sim(
            concat!(module_path!(), "::runs_itself_inside_the_simulator"),
            "[[device]]\nbdf = \"0000:07:00.0\"\n",
        ) else {
            return;
        };
        let dev = Path::new("/sys/bus/pci/devices/0000:07:00.0");
        assert_eq!(
            std::fs::read_to_string(dev.join("vendor")).unwrap(),
            "0x15b3\n"
        );
        let before = sim.counters("0000:07:00.0").config_reads;
        let mut b = [0u8; 4];
        let f = std::fs::File::open(dev.join("config")).unwrap();
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut b, 0).unwrap();
        assert_eq!(u16::from_le_bytes([b[0], b[1]]), 0x15b3);
        assert!(sim.counters("0000:07:00.0").config_reads > before);
        let f = Faults {
            eio_after: 99,
            ..Faults::default()
        };
        sim.set_faults("0000:07:00.0", f.clone());
        assert_eq!(sim.faults("0000:07:00.0"), f);
    }
}
