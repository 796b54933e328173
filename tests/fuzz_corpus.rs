//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/*`) through the same target
//! bodies the cargo-fuzz targets run (`fuzz/src/targets.rs`), so every seed and every input a
//! fuzzing run added to the corpus is a regression test of the normal suite.
//!
//! `random_inputs` (ignored by default) is the bounded random-input driver `make fuzz` uses
//! when cargo-fuzz is not available: `FUZZ_SECS` seconds per target (default 10), inputs made
//! by mutating the corpus entries with a seeded xorshift generator (`FUZZ_SEED`).

#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(corpus_dir(target))
        .unwrap_or_else(|e| panic!("corpus of {target}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let d = std::fs::read(&p).unwrap();
            (p, d)
        })
        .collect();
    v.sort();
    v
}

fn replay(target: &str) {
    let entries = corpus(target);
    assert!(
        entries.len() >= 5,
        "{target}: corpus too small ({})",
        entries.len()
    );
    let mut failed = Vec::new();
    for (p, data) in &entries {
        if std::panic::catch_unwind(|| targets::run(target, data)).is_err() {
            failed.push(p.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: corpus entries fail: {failed:#?}"
    );
    eprintln!("{target}: {} corpus entries replayed", entries.len());
}

#[test]
fn replay_name() {
    replay("name");
}

#[test]
fn replay_sysfs_attr() {
    replay("sysfs_attr");
}

#[test]
fn replay_vpd() {
    replay("vpd");
}

#[test]
fn replay_api_seq() {
    replay("api_seq");
}

/// The properties hold for inputs that break them on purpose (the targets can fail).
#[test]
#[should_panic(expected = "unknown fuzz target")]
fn unknown_target_fails() {
    targets::run("nope", b"");
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const DICT: &[&[u8]] = &[
    b"0000:",
    b":00.",
    b"pciconf-",
    b"/config",
    b"/resource0",
    b"/dev/mst/mt4119_pciconf",
    b"_pci_cr",
    b"mlx5_",
    b"/proc/bus/pci/",
    b"0x",
    b"\n",
    b"\0",
    b"..",
    b"/",
    b"ffff",
    b"\xff\xfe",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut d = base.to_vec();
    for _ in 0..=rng.below(8) {
        match rng.below(7) {
            0 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            1 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(d.len() + 1);
                d.insert(i, rng.next() as u8);
            }
            3 if !d.is_empty() => {
                let i = rng.below(d.len());
                d.remove(i);
            }
            4 => {
                let w = DICT[rng.below(DICT.len())];
                let i = rng.below(d.len() + 1);
                d.splice(i..i, w.iter().copied());
            }
            5 if d.len() > 1 => {
                let a = rng.below(d.len());
                let b = rng.below(d.len());
                let (a, b) = (a.min(b), a.max(b));
                let chunk = d[a..b].to_vec();
                d.extend_from_slice(&chunk);
            }
            _ => {
                let n = rng.below(16);
                d.extend((0..n).map(|_| rng.next() as u8));
            }
        }
    }
    d.truncate(4096);
    d
}

#[test]
#[ignore = "bounded random fuzzing: run by `make fuzz` when cargo-fuzz is not available"]
fn random_inputs() {
    let secs: u64 = std::env::var("FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_ef01)
        | 1;
    let only = std::env::var("FUZZ_TARGET").ok();
    for target in targets::TARGETS {
        if only.as_deref().is_some_and(|o| o != *target) {
            continue;
        }
        let entries = corpus(target);
        let mut rng = Rng(seed);
        let t = Instant::now();
        let mut execs = 0u64;
        while t.elapsed() < Duration::from_secs(secs) {
            let base = &entries[rng.below(entries.len())].1;
            let input = mutate(&mut rng, base);
            let r = std::panic::catch_unwind(|| targets::run(target, &input));
            if r.is_err() {
                let out = std::env::temp_dir().join(format!("mtcr-fuzz-crash-{target}"));
                std::fs::write(&out, &input).unwrap();
                panic!("{target}: failing input saved to {}", out.display());
            }
            execs += 1;
        }
        eprintln!("fuzz {target}: {execs} executions in {secs} s, no failure");
    }
}
