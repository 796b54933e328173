//! Debian's stock mstflint tools (statically carrying the original libmtcr) against the
//! simulator: `mtcr-sim run -- mstmcra ...` etc.
//!
//! Needs root, /dev/fuse and the mstflint package; otherwise each test prints a SKIP line
//! (with CI=true it fails instead).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SIM: &str = env!("CARGO_BIN_EXE_mtcr-sim");
const BDF: &str = "0000:05:00.0";

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether the tests can run here (prints SKIP or panics under CI when not).
fn usable(test: &str) -> bool {
    let why = if let Some(w) = mtcr_sim::testing::skip_reason() {
        Some(format!("needs root and /dev/fuse: {w}"))
    } else if !Path::new("/usr/bin/mstmcra").exists() {
        Some("needs the mstflint package (mstmcra, mstmread, mstmwrite, mstvpd)".to_string())
    } else {
        None
    };
    match why {
        None => true,
        Some(w) if ci() => panic!("{test}: {w}"),
        Some(w) => {
            eprintln!("SKIP: {test}: {w}");
            false
        }
    }
}

struct Run {
    out: Output,
    stats: serde_json::Value,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }
    fn counter(&self, bdf: &str, name: &str) -> u64 {
        self.stats["devices"][bdf][name].as_u64().unwrap_or(0)
    }
    fn ioctl(&self, bdf: &str, name: &str) -> u64 {
        self.stats["devices"][bdf]["ioctls"][name]
            .as_u64()
            .unwrap_or(0)
    }
}

fn tmp(tag: &str, ext: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mtcr-sim-stock-{}-{tag}.{ext}", std::process::id()))
}

/// `mtcr-sim run --config <toml> --stats <json> -- sh -c <script>`.
fn sim(tag: &str, toml: &str, script: &str) -> Run {
    let cfg = tmp(tag, "toml");
    let stats = tmp(tag, "json");
    std::fs::write(&cfg, toml).unwrap();
    let _ = std::fs::remove_file(&stats);
    let out = Command::new(SIM)
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .arg("--stats")
        .arg(&stats)
        .args(["--", "sh", "-c", script])
        .env("PATH", path_with_sim())
        .output()
        .unwrap();
    let stats_v = std::fs::read_to_string(&stats)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    let _ = std::fs::remove_file(&cfg);
    let _ = std::fs::remove_file(&stats);
    let r = Run {
        out,
        stats: stats_v,
    };
    eprintln!(
        "--- {tag}: exit {}\n--- stdout:\n{}--- stderr:\n{}",
        r.code(),
        r.stdout(),
        r.stderr()
    );
    r
}

/// PATH with the directory of `mtcr-sim` first (scripts call `mtcr-sim fault ...`).
fn path_with_sim() -> String {
    let dir = Path::new(SIM).parent().unwrap().display().to_string();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

fn listing(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn mstmcra_reads_hw_id() {
    if !usable("mstmcra_reads_hw_id") {
        return;
    }
    let r = sim("hwid", "", &format!("mstmcra {BDF} 0xf0014"));
    assert_eq!(r.code(), 0);
    assert_eq!(r.stdout().trim(), "0x0000020d");
    assert!(r.counter(BDF, "config_reads") > 0);

    let r = sim(
        "hwid4lx",
        "[[device]]\nbdf = \"0000:81:00.1\"\nmodel = \"connectx4lx\"\n",
        "mstmcra 0000:81:00.1 0xf0014",
    );
    assert_eq!(r.code(), 0);
    assert_eq!(r.stdout().trim(), "0x0000020b");
}

#[test]
fn write_read_round_trips_and_resource0_sees_them() {
    if !usable("write_read_round_trips_and_resource0_sees_them") {
        return;
    }
    let pairs = [
        (0x100u32, 0x1234_5678u32),
        (0x4_0000, 0xdead_beef),
        (0xf_fffc, 0x0000_0001),
        (0x8_0010, 0xa5a5_5a5a),
    ];
    // (The stock 4.21 memory path maps only the first MiB of resource0: the high address
    // below is checked through the config-space gateway only.)
    let mut script = String::new();
    for (a, v) in pairs {
        script.push_str(&format!(
            "mstmwrite {BDF} {a:#x} {v:#x} || exit 10\n\
             mstmread {BDF} {a:#x}; [ $? -eq 4 ] || exit 11\n\
             mstmcra /sys/bus/pci/devices/{BDF}/resource0 {a:#x} || exit 12\n"
        ));
    }
    script.push_str(&format!(
        "mstmwrite {BDF} 0x3fffff0 0x5a5a5a5a || exit 13\nmstmcra {BDF} 0x3fffff0 || exit 14\n"
    ));
    let r = sim("rw", "", &script);
    assert_eq!(r.code(), 0);
    let out = r.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2 * pairs.len() + 1, "{out}");
    assert_eq!(lines[2 * pairs.len()], "0x5a5a5a5a");
    for (i, (_, v)) in pairs.iter().enumerate() {
        let want = format!("{v:#010x}");
        assert!(lines[2 * i].ends_with(&want), "mstmread: {}", lines[2 * i]);
        assert_eq!(lines[2 * i + 1], want, "resource0 mmap");
    }
}

#[test]
fn mstvpd_prints_configured_fields() {
    if !usable("mstvpd_prints_configured_fields") {
        return;
    }
    let toml = r#"
[[device]]
[device.vpd]
id = "Simulated ConnectX-5 card"
ro = [["PN", "MCX-SIM-0001"], ["EC", "B2"], ["SN", "SIM123456789"], ["V0", "PCIeGen3 x8"]]
"#;
    let r = sim("vpd", toml, &format!("mstvpd {BDF}"));
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let out = r.stdout();
    for needle in [
        "Simulated ConnectX-5 card",
        "MCX-SIM-0001",
        "SIM123456789",
        "PCIeGen3 x8",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    assert!(out.contains("PN") && out.contains("SN"));
    assert!(r.counter(BDF, "vpd_reads") > 0);
}

#[test]
fn faults_make_stock_tools_fail() {
    if !usable("faults_make_stock_tools_fail") {
        return;
    }
    // Every access fails with EIO from the first one on. (Without `resource0`: the stock
    // library would otherwise fall back to the memory-mapped BAR, which no fault touches.)
    let r = sim(
        "eio",
        "[[device]]\npaths = [\"config\"]\n[device.faults]\neio_after = 1\n",
        &format!("mstmcra {BDF} 0xf0014"),
    );
    assert_ne!(r.code(), 0);
    assert!(!r.stdout().contains("0x0000020d"));
    assert!(!r.stderr().is_empty(), "an error text is expected");

    // Changed at run time through the control socket.
    let r = sim(
        "livefault",
        "[[device]]\npaths = [\"config\"]\n",
        &format!(
            "mstmcra {BDF} 0xf0014 || exit 20\n\
             mtcr-sim fault --bdf {BDF} --set eio_after=1 >/dev/null || exit 21\n\
             if mstmcra {BDF} 0xf0014; then exit 22; fi\n\
             mtcr-sim fault --bdf {BDF} --clear >/dev/null || exit 23\n\
             mstmcra {BDF} 0xf0014 || exit 24\n"
        ),
    );
    assert_eq!(r.code(), 0);
    assert_eq!(r.stdout().matches("0x0000020d").count(), 2);
}

#[test]
fn semaphore_held_forever_fails_the_vsec_path() {
    if !usable("semaphore_held_forever_fails_the_vsec_path") {
        return;
    }
    let r = sim(
        "sem",
        "[[device]]\n[device.faults]\nsemaphore_held_forever = true\n",
        &format!("mstmcra {BDF} 0xf0014"),
    );
    assert_ne!(r.code(), 0);
    assert!(!r.stdout().contains("0x0000020d"));
    assert!(!r.stderr().is_empty(), "an error text is expected");
}

#[test]
fn mstflint_access_driver_carries_the_accesses() {
    if !usable("mstflint_access_driver_carries_the_accesses") {
        return;
    }
    let r = sim(
        "drv",
        "[[device]]\ndriver = \"mstflint_access\"\n",
        &format!(
            "test -e /dev/{BDF}_mstconf || exit 30\n\
             mstmcra {BDF} 0xf0014 || exit 31\n\
             mstmwrite {BDF} 0x300 0xcafe0001 || exit 32\n\
             mstmread {BDF} 0x300; [ $? -eq 4 ] || exit 33\n"
        ),
    );
    assert_eq!(r.code(), 0);
    let out = r.stdout();
    assert!(out.starts_with("0x0000020d"), "{out}");
    assert!(out.contains("0xcafe0001"), "{out}");
    assert!(r.ioctl(BDF, "MST_PARAMS") >= 3);
    assert!(r.ioctl(BDF, "MST_READ4") >= 2);
    assert!(r.ioctl(BDF, "MST_WRITE4") >= 1);
    // The gateway is not driven through config space: only the probe reads are left.
    let cfg = r.counter(BDF, "config_reads") + r.counter(BDF, "config_writes");
    assert!(cfg <= 12, "config accesses: {cfg}");
    assert!(
        !listing("/dev").iter().any(|n| n.ends_with("_mstconf")),
        "host /dev changed"
    );
}

#[test]
fn two_devices_at_once() {
    if !usable("two_devices_at_once") {
        return;
    }
    let toml = "[[device]]\nbdf = \"0000:05:00.0\"\n\
                [[device]]\nbdf = \"0000:06:00.0\"\nmodel = \"connectx6dx\"\n\
                [device.registers]\n\"0x500\" = 0x66\n";
    let r = sim(
        "two",
        toml,
        "mstmcra 0000:05:00.0 0xf0014 && mstmcra 0000:06:00.0 0xf0014 && \
         mstmcra 0000:06:00.0 0x500 && mstmcra 0000:05:00.0 0x500",
    );
    assert_eq!(r.code(), 0);
    let out = r.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..3], ["0x0000020d", "0x00000212", "0x00000066"]);
    assert_ne!(lines[3], "0x00000066");
    assert!(r.counter("0000:05:00.0", "config_reads") > 0);
    assert!(r.counter("0000:06:00.0", "config_reads") > 0);
}

#[test]
fn namespace_contents_and_host_unchanged() {
    if !usable("namespace_contents_and_host_unchanged") {
        return;
    }
    let pci_before = listing("/sys/bus/pci/devices");
    let hier_before = listing("/sys/devices/pci0000:00");
    let proc_before = listing("/proc/bus/pci");
    let dev_before = listing("/dev");
    let toml =
        "[[device]]\nbdf = \"0000:05:00.0\"\nib_devs = [\"mlx5_0\"]\nnet_devs = [\"enp5s0\"]\n\
                driver = \"mstflint_access\"\n\
                [[device]]\nbdf = \"0000:05:00.1\"\nphysfn = \"0000:05:00.0\"\n";
    let r = sim(
        "tree",
        toml,
        "ls /sys/bus/pci/devices; \
         readlink /sys/class/infiniband/mlx5_0/device; \
         cat /sys/class/infiniband/mlx5_0/device/vendor; \
         readlink /sys/bus/pci/devices/0000:05:00.1/physfn; \
         readlink /sys/bus/pci/devices/0000:05:00.0/virtfn0; \
         ls /sys/bus/pci/devices/0000:05:00.0/net; \
         stat -c %s /sys/bus/pci/devices/0000:05:00.0/config; \
         test -e /dev/null && test -d /dev/pts && echo dev-ok; \
         ls /sys/class | grep -c .; \
         ls /proc/bus/pci; \
         mstmcra /proc/bus/pci/05/00.0 0xf0014",
    );
    assert_eq!(r.code(), 0);
    let out = r.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..10],
        [
            "0000:00:01.0",
            "0000:05:00.0",
            "0000:05:00.1",
            "../../../bus/pci/devices/0000:05:00.0",
            "0x15b3",
            "../0000:05:00.0",
            "../0000:05:00.1",
            "enp5s0",
            "4096",
            "dev-ok"
        ]
    );
    // Host classes are still there beside infiniband.
    let classes: usize = lines[10].parse().unwrap();
    assert!(classes >= listing("/sys/class").len());
    // /proc/bus/pci shows only the simulated bus, and its files are the devices' config.
    assert_eq!(lines[11..], ["05", "devices", "0x0000020d"]);
    assert_eq!(listing("/proc/bus/pci"), proc_before);
    assert_eq!(listing("/sys/bus/pci/devices"), pci_before);
    assert_eq!(listing("/sys/devices/pci0000:00"), hier_before);
    assert_eq!(listing("/dev"), dev_before);
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mi.contains("mtcr-sim"),
        "a simulator mount leaked to the host"
    );
}

#[test]
fn killed_command_and_signals() {
    if !usable("killed_command_and_signals") {
        return;
    }
    // A command killed by a signal: 128+9, and nothing left mounted on the host.
    let r = sim("kill", "", "kill -9 $$");
    assert_eq!(r.code(), 137);
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mi.contains("mtcr-sim"));

    // SIGTERM to mtcr-sim reaches the command; mtcr-sim exits with its status.
    let marker = tmp("started", "mark");
    let _ = std::fs::remove_file(&marker);
    let script = format!("touch {}; exec sleep 30", marker.display());
    let mut child = Command::new(SIM)
        .args(["run", "--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !marker.exists() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_file(&marker);
    let t0 = Instant::now();
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let st = child.wait().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(st.code(), Some(128 + libc::SIGTERM));

    // mtcr-sim itself SIGKILLed: its (empty) work directory on the host still goes away.
    let mut child = Command::new(SIM)
        .args(["run", "--", "sleep", "60"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mi = format!("/proc/{}/mountinfo", child.id());
    let t0 = Instant::now();
    let work = loop {
        let text = std::fs::read_to_string(&mi).unwrap_or_default();
        let found = text.lines().find_map(|l| {
            l.split(' ')
                .nth(4)
                .filter(|m| m.contains("/mtcr-sim.") && !m.contains("/fuse"))
                .map(PathBuf::from)
        });
        if let Some(w) = found {
            break w;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no work dir mount");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(work.is_dir());
    child.kill().unwrap();
    child.wait().unwrap();
    let t0 = Instant::now();
    while work.exists() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!work.exists(), "{} left on the host", work.display());

    // The exit status of the command is passed through.
    let r = sim("exit", "", "exit 7");
    assert_eq!(r.code(), 7);
}
