//! Reliability of a burn (issue 12 item 3): a burn interrupted at random points — the tool
//! killed with SIGKILL, or the device failing every access from a random one on
//! (`eio_after`) — leaves a device that a second burn recovers (`q` shows the new image, `v`
//! passes); a verify that fails is reported (non-zero exit, an error line), and nothing hangs
//! (every tool runs under `timeout`, the whole simulator run under a deadline).
//!
//! The tool is upstream's mstflint (the fixture `shared/upstream-4.36`); the interrupted burn
//! runs on upstream's library or ours, the recovery always on ours: a tool killed inside a
//! VSEC gateway transaction leaves the gateway semaphore taken by a process that no longer
//! exists, which our library takes back after its stale period (docs/RELIABILITY.md) and
//! upstream's never does. mstflint's own flash semaphore (the tools-resource lock in the
//! semaphore space, taken by the tool, not the library) can be left taken too: the recovery
//! is what an operator does, `mstflint -clear_semaphore` and the burn again.
//!
//! Random points come from a seed printed at the start (`MTCR_BURN_SEED=N` repeats a run;
//! `MTCR_BURN_ROUNDS=N` kills per path, default 2: one on each library). The fixture or our library absent: SKIP.

mod common;

use common::{fixture, our_lib, sim_usable, BDF, SIM};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Per tool run (a burn through FUSE config space takes 5-10 s on a loaded machine).
const TOOL_TIMEOUT_S: u32 = 120;
/// The whole simulator run.
const RUN_DEADLINE: Duration = Duration::from_secs(900);

/// xorshift64*: enough for picking kill delays and fault points reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [lo, hi).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn seed() -> u64 {
    match std::env::var("MTCR_BURN_SEED") {
        Ok(s) => s.parse().expect("MTCR_BURN_SEED: a number"),
        Err(_) => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            (t.as_nanos() as u64) | 1
        }
    }
}

fn rounds() -> u64 {
    std::env::var("MTCR_BURN_ROUNDS").map_or(2, |s| s.parse().expect("MTCR_BURN_ROUNDS"))
}

/// `mtcr-sim image --fw-version VERSION -o DIR/NAME.bin` (the device's PSID).
fn image(dir: &Path, name: &str, version: &str) -> PathBuf {
    common::image(
        dir.join(format!("{name}.bin")),
        &["--fw-version", version, "--psid", "MT_0000000008"],
    )
}

/// Builds the shell script: each step prints `== NAME`, its output and `rc=N`.
struct Script {
    run: PathBuf,
    ours: PathBuf,
    dev: String,
    lines: Vec<String>,
}

impl Script {
    fn tool(&self, ours: bool) -> String {
        if ours {
            format!(
                "{} --lib {} mstflint",
                self.run.display(),
                self.ours.display()
            )
        } else {
            format!("{} mstflint", self.run.display())
        }
    }
    /// A step of our library's mstflint, bounded by `timeout`.
    fn step(&mut self, name: &str, args: &str) {
        let t = self.tool(true);
        self.lines.push(format!(
            "echo '== {name}'; timeout {TOOL_TIMEOUT_S} {t} -d {} {args} </dev/null 2>&1; \
             echo rc=$?",
            self.dev
        ));
    }
    /// A burn killed with SIGKILL after `delay_ms` (if still running).
    fn killed_burn(&mut self, name: &str, ours: bool, img: &Path, delay_ms: u64) {
        let t = self.tool(ours);
        self.lines.push(format!(
            "echo '== {name}'; {t} -d {} -i {} -y burn </dev/null >/dev/null 2>&1 & p=$!; \
             sleep {}.{:03}; kill -9 $p 2>/dev/null; wait $p; echo rc=$?",
            self.dev,
            img.display(),
            delay_ms / 1000,
            delay_ms % 1000
        ));
    }
    fn fault(&mut self, name: &str, set: &str) {
        self.lines.push(format!(
            "echo '== {name}'; {SIM} fault --bdf {BDF} --clear {set} 2>&1 >/dev/null; echo rc=$?"
        ));
    }
    /// The operator's recovery on our library: clear mstflint's semaphores, burn `img`
    /// again, query and verify.
    fn recover(&mut self, tag: &str, img: &Path) {
        self.step(&format!("{tag} v before"), "v");
        self.step(&format!("{tag} clear"), "-clear_semaphore");
        self.step(
            &format!("{tag} burn"),
            &format!("-i {} -y burn", img.display()),
        );
        self.step(&format!("{tag} q"), "q");
        self.step(&format!("{tag} v"), "v");
    }
}

/// Runs `script` in one simulator (config `toml`) under [`RUN_DEADLINE`]; stdout + stderr.
fn in_sim(dir: &Path, toml: &str, script: &str) -> String {
    let cfg = dir.join("sim.toml");
    std::fs::write(&cfg, toml).unwrap();
    let mut child = Command::new(SIM)
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .args(["--", "sh", "-c", &format!("exec 2>&1; {script}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run mtcr-sim");
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > RUN_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the simulator run did not end within {RUN_DEADLINE:?} (a hang)");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    String::from_utf8_lossy(&reader.join().unwrap()).into_owned()
}

/// One step's output, from `== NAME` to its `rc=N`; and N.
fn job<'a>(out: &'a str, name: &str) -> (&'a str, i32) {
    let start = out
        .find(&format!("== {name}\n"))
        .unwrap_or_else(|| panic!("no output of {name}:\n{out}"));
    let rest = &out[start..];
    let end = rest
        .find("\nrc=")
        .unwrap_or_else(|| panic!("{name} did not end:\n{rest}"));
    let rc = rest[end + 4..]
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(-1);
    (&rest[..end], rc)
}

/// The checks of one recovery: the verify before it ends (passes or reports a failure), the
/// semaphores are cleared, the burn succeeds, query shows `version`, verify passes.
fn check_recovery(out: &str, tag: &str, version: &str) {
    let (v, rc) = job(out, &format!("{tag} v before"));
    eprintln!(
        "{tag}: verify before the recovery: {}",
        if rc == 0 {
            "passed".to_string()
        } else {
            let e = v.lines().find(|l| l.contains("-E-")).unwrap_or("");
            format!("rc {rc}: {}", e.trim())
        }
    );
    assert_ne!(rc, 124, "{tag}: verify hung:\n{v}");
    assert!(
        rc == 0 && v.contains("FW image verification succeeded") || rc != 0 && v.contains("-E-"),
        "{tag}: verify neither passed nor reported a failure (rc {rc}):\n{v}"
    );
    let (c, rc) = job(out, &format!("{tag} clear"));
    assert_eq!(rc, 0, "{tag}: -clear_semaphore:\n{c}");
    let (b, rc) = job(out, &format!("{tag} burn"));
    assert_eq!(rc, 0, "{tag}: the recovery burn failed:\n{b}");
    assert!(
        b.contains("Burning FW image without signatures - OK"),
        "{tag}:\n{b}"
    );
    let (q, rc) = job(out, &format!("{tag} q"));
    assert_eq!(rc, 0, "{tag}: query after the recovery:\n{q}");
    assert!(
        q.contains(&format!("FW Version:            {version}\n")),
        "{tag}: query does not show {version}:\n{q}"
    );
    let (v, rc) = job(out, &format!("{tag} v"));
    assert_eq!(rc, 0, "{tag}: verify after the recovery:\n{v}");
    assert!(v.contains("FW image verification succeeded"), "{tag}:\n{v}");
}

/// Kills on one path (`toml`: the device), then (with `faults`) `eio_after` in a burn and in
/// a verify. Every interrupted burn is followed by a recovery burn of a new version.
fn interrupted_burns(test: &str, tag: &str, toml: &str, kill_ms: (u64, u64), faults: bool) {
    let Some(run) = fixture(test) else {
        return;
    };
    if !sim_usable(test) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("mtcr-burn-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some(ours) = our_lib(test, &dir) else {
        return;
    };
    let seed = seed();
    eprintln!("{test}: MTCR_BURN_SEED={seed}");
    let mut rng = Rng(seed);
    let mut s = Script {
        run,
        ours,
        dev: BDF.to_string(),
        lines: Vec::new(),
    };
    let mut recoveries = Vec::new();
    let n = rounds();
    for k in 0..n {
        // The interrupted burn alternates between upstream's library and ours.
        let on_ours = k % 2 == 1;
        let img = image(&dir, &format!("kill{k}"), &format!("16.35.{}", 3000 + k));
        let delay = rng.range(kill_ms.0, kill_ms.1);
        eprintln!(
            "{test}: round {k}: kill after {delay} ms ({} library)",
            if on_ours { "our" } else { "upstream's" }
        );
        s.killed_burn(&format!("kill{k}"), on_ours, &img, delay);
        let version = format!("16.35.{}", 4000 + k);
        let rec = image(&dir, &format!("rec{k}"), &version);
        s.recover(&format!("kill{k}"), &rec);
        recoveries.push((format!("kill{k}"), version));
    }
    if faults {
        // The device fails every access from a random one of the burn on (a burn makes
        // ~200k accesses through config space; the first ~20k are the tool's reads).
        let at = rng.range(1_000, 150_000);
        eprintln!("{test}: eio_after={at} during a burn");
        let img = image(&dir, "eio", "16.35.5000");
        s.fault("eio set", &format!("--set eio_after={at}"));
        s.step("eio faulted burn", &format!("-i {} -y burn", img.display()));
        s.fault("eio clear", "");
        let rec = image(&dir, "eio-rec", "16.35.5001");
        s.recover("eio", &rec);
        recoveries.push(("eio".to_string(), "16.35.5001".to_string()));
        // A verify failing half-way is reported.
        let at = rng.range(500, 20_000);
        eprintln!("{test}: eio_after={at} during a verify");
        s.fault("veio set", &format!("--set eio_after={at}"));
        s.step("veio v", "v");
        s.fault("veio clear", "");
        s.step("veio clear sem", "-clear_semaphore");
        s.step("veio v after", "v");
    }
    let t0 = Instant::now();
    let out = in_sim(&dir, toml, &s.lines.join("\n"));
    eprintln!("{test}: {:.0} s", t0.elapsed().as_secs_f64());
    for k in 0..n {
        let (_, rc) = job(&out, &format!("kill{k}"));
        // 137: killed; 0: the burn ended before the kill.
        eprintln!(
            "{test}: round {k}: {}",
            match rc {
                137 => "killed during the burn".to_string(),
                0 => "the burn had ended".to_string(),
                r => format!("the burn failed by itself (rc {r})"),
            }
        );
    }
    for (tag, version) in &recoveries {
        check_recovery(&out, tag, version);
    }
    if faults {
        for f in ["eio set", "eio clear", "veio set", "veio clear"] {
            let (o, rc) = job(&out, f);
            assert_eq!(rc, 0, "mtcr-sim fault ({f}):\n{o}");
        }
        let (b, rc) = job(&out, "eio faulted burn");
        assert_ne!(rc, 124, "the burn under eio_after hung:\n{b}");
        assert!(
            rc != 0 && b.contains("-E-"),
            "the burn under eio_after was not reported as failed (rc {rc}):\n{b}"
        );
        let (v, rc) = job(&out, "veio v");
        assert_ne!(rc, 124, "the verify under eio_after hung:\n{v}");
        assert!(
            rc != 0 && v.contains("-E-"),
            "the verify under eio_after was not reported as failed (rc {rc}):\n{v}"
        );
        let (v, rc) = job(&out, "veio v after");
        assert_eq!(rc, 0, "verify after the fault was cleared:\n{v}");
        assert!(v.contains("FW image verification succeeded"), "{v}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sysfs config space (the VSEC gateway: the library's semaphore is the one a kill leaves).
#[test]
fn burn_interrupted_on_config_space_is_recovered() {
    interrupted_burns(
        "burn_interrupted_on_config_space_is_recovered",
        "cfg",
        "[[device]]\nbdf = \"0000:05:00.0\"\nmodel = \"connectx5\"\n",
        (200, 4000),
        true,
    );
}

/// mstflint_access (the kernel driver's gateway: a killed tool leaves no library
/// semaphore, only mstflint's own flash semaphore).
#[test]
fn burn_interrupted_through_mstflint_access_is_recovered() {
    interrupted_burns(
        "burn_interrupted_through_mstflint_access_is_recovered",
        "drv",
        "[[device]]\nbdf = \"0000:05:00.0\"\nmodel = \"connectx5\"\n\
         driver = \"mstflint_access\"\n",
        (20, 350),
        false,
    );
}
