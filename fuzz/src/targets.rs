//! Fuzz target bodies, shared by the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`, through the
//! `mtcr_fuzz` crate) and by the corpus replay test of the main crate (`tests/fuzz_corpus.rs`
//! includes this very file with `#[path]`). Each body asserts properties, so a violation is a
//! panic that libFuzzer (or the replay test) reports with the input.
//!
//! | target | what it feeds |
//! |---|---|
//! | `name` | device-name parsing ([`name::parse`], [`name::parse_bdf_lenient`], [`Bdf::parse_canonical`]) and lookup ([`name::resolve`]) in a small fake sysfs tree |
//! | `sysfs_attr` | the sysfs attribute parsers ([`sysfs::parse_hex_attr`] and friends) |
//! | `vpd` | VPD reads ([`vpd::read4`]) at any offset of a `vpd` file with any content |
//! | `api_seq` | a sequence of crspace operations, fault knobs and re-opens through the VSEC gateway or the legacy window over the in-process device model |

#![allow(dead_code)]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use mtcr_sim::config::{DeviceConfig, Faults, GatewayKind};
use mtcr_sim::model::{CrStore, SimDevice, ICMD_CTRL, ICMD_MBOX_SIZE_ADDR};
use mtcr_ul::access::gateway::{self, Gateway, Tuning};
use mtcr_ul::access::legacy::Legacy;
use mtcr_ul::access::{vpd, Access, ConfigIo};
use mtcr_ul::defs::*;
use mtcr_ul::error::{Error, Result};
use mtcr_ul::name;
use mtcr_ul::pci::{sysfs, Bdf, SysfsRoot};

/// The names of the targets (corpus directories under `fuzz/corpus/`).
pub const TARGETS: &[&str] = &["name", "sysfs_attr", "vpd", "api_seq"];

/// Run the target called `target` on `data`.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "name" => fuzz_name(data),
        "sysfs_attr" => fuzz_sysfs_attr(data),
        "vpd" => fuzz_vpd(data),
        "api_seq" => fuzz_api_seq(data),
        t => panic!("unknown fuzz target {t}"),
    }
}

fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("mtcr-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch dir");
        d
    })
}

/// A small sysfs tree: one ConnectX-5 at 0000:05:00.0 (+ function 1), one non-Mellanox
/// function at 0000:00:1f.0, an `mlx5_0` RDMA device.
fn fake_root() -> &'static SysfsRoot {
    static ROOT: OnceLock<SysfsRoot> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = scratch_dir().join("root");
        let devs = base.join("sys/bus/pci/devices");
        for (bdf, vendor, device) in [
            ("0000:05:00.0", "0x15b3", "0x1017"),
            ("0000:05:00.1", "0x15b3", "0x1017"),
            ("0000:00:1f.0", "0x8086", "0x1234"),
        ] {
            let d = devs.join(bdf);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("vendor"), format!("{vendor}\n")).unwrap();
            std::fs::write(d.join("device"), format!("{device}\n")).unwrap();
            std::fs::write(d.join("class"), "0x020000\n").unwrap();
            std::fs::write(d.join("config"), [0u8; 64]).unwrap();
        }
        let ib = base.join("sys/class/infiniband/mlx5_0");
        std::fs::create_dir_all(&ib).unwrap();
        let _ = std::os::unix::fs::symlink(devs.join("0000:05:00.0"), ib.join("device"));
        SysfsRoot {
            sys: base.join("sys"),
            proc: base.join("proc"),
            dev: base.join("dev"),
            lock_dir: base.join("locks"),
        }
    })
}

fn check_err(what: &str, e: &Error) {
    let errno = e.errno();
    assert!(errno > 0, "{what}: error without errno: {e}");
    assert!(!e.to_string().is_empty(), "{what}: empty message");
}

/// Device-name parsing and lookup.
pub fn fuzz_name(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();
    match name::parse(s) {
        Ok(form) => {
            assert!(!s.is_empty() && !s.contains('\0'));
            // Only fwctl node names may be longer (their open decides).
            let fwctl = matches!(form, name::NameForm::Fwctl { .. });
            assert!(s.len() <= name::MAX_NAME_LEN || fwctl, "{form:?}");
            assert_eq!(fwctl, s.contains("fwctl"), "{form:?}");
        }
        Err(e) => check_err("parse", &e),
    }
    if let Some(b) = name::parse_bdf_lenient(s) {
        let canon = b.to_string();
        assert_eq!(Bdf::parse_canonical(&canon), Some(b), "canonical of {s:?}");
        assert_eq!(name::parse_bdf_lenient(&canon), Some(b));
        match name::parse(&format!("pciconf-{canon}")) {
            Ok(name::NameForm::Bdf { bdf, pciconf }) => assert!(bdf == b && pciconf),
            other => panic!("pciconf-{canon}: {other:?}"),
        }
    }
    if let Some(b) = Bdf::parse_canonical(s) {
        assert_eq!(
            b.to_string(),
            s.to_ascii_lowercase(),
            "canonical form {s:?}"
        );
    }
    // Lookup never escapes: any name either resolves to a function of the tree or fails.
    match name::resolve(s, fake_root()) {
        Ok(t) => match t.bdf() {
            Some(bdf) => {
                let known = ["0000:05:00.0", "0000:05:00.1", "0000:00:1f.0"];
                assert!(
                    known.contains(&bdf.to_string().as_str()),
                    "{s:?} resolved to {bdf}"
                );
            }
            // A fwctl node name: its node, under the tree's /dev unless given elsewhere.
            None => assert!(matches!(t, name::Target::Fwctl { .. }), "{s:?}: {t:?}"),
        },
        Err(e) => check_err("resolve", &e),
    }
}

/// The sysfs attribute parsers.
pub fn fuzz_sysfs_attr(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();
    let hex = sysfs::parse_hex_attr(s);
    if let Some(v) = hex {
        // What the kernel writes for that value parses back to it.
        assert_eq!(sysfs::parse_hex_attr(&format!("{v:#x}\n")), Some(v));
        assert_eq!(sysfs::parse_hex_attr(&format!("{v:x}")), Some(v));
        // The digits of `s` are hex and there are at most 16 of them.
        let t = s.trim();
        let digits = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .unwrap_or(t);
        assert!(!digits.is_empty() && digits.len() <= 16);
        assert!(digits.bytes().all(|c| c.is_ascii_hexdigit()));
    }
    assert_eq!(
        sysfs::parse_u16_attr(s),
        hex.and_then(|v| u16::try_from(v).ok())
    );
    assert_eq!(
        sysfs::parse_class_attr(s),
        hex.filter(|v| *v <= 0xff_ffff).map(|v| v as u32)
    );
    if let Some(b) = Bdf::parse_canonical(s.trim()) {
        assert_eq!(Bdf::parse_canonical(&b.to_string()), Some(b));
    }
}

/// VPD reads: `data` = 4-byte little-endian offset, then the `vpd` file's content.
pub fn fuzz_vpd(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let content = &data[4..];
    // Offsets mostly near the content (where the edge cases are), sometimes anywhere.
    let raw = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let off = if raw & 0x8000_0000 != 0 {
        raw
    } else {
        raw % (content.len() as u32 + 16)
    };
    thread_local!(static N: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });
    let path = scratch_dir().join(format!(
        "vpd-{:?}-{}",
        std::thread::current().id(),
        N.with(|n| n.get())
    ));
    std::fs::write(&path, content).unwrap();
    let got = vpd::read4(&path, off);
    // Stock's rule: the dword the offset lies in must yield at least one byte; bytes past
    // the end of the file read as 0.
    let aligned = (off & !3) as usize;
    let fits = aligned < content.len();
    match got {
        Ok(v) => {
            assert!(
                fits,
                "read past the end: off {off:#x} len {}",
                content.len()
            );
            let want: Vec<u8> = (0..4)
                .map(|i| *content.get(off as usize + i).unwrap_or(&0))
                .collect();
            assert_eq!(&v[..], &want[..], "off {off:#x}");
        }
        Err(e) => {
            assert!(!fits, "in-range read failed at {off:#x}: {e}");
            check_err("vpd read4", &e);
        }
    }
    assert_eq!(
        vpd::write4(&path, off, [0; 4]).unwrap_err().errno(),
        libc::EOPNOTSUPP
    );
    let _ = std::fs::remove_file(&path);
}

/// Config cycles straight into the model (as `src/access/sim_tests.rs`).
struct ModelConfig {
    dev: Arc<SimDevice>,
}

fn model_err(what: &str, off: u32, e: i32) -> Error {
    Error::io(
        format!("model config {what} {off:#x}"),
        std::io::Error::from_raw_os_error(e),
    )
}

impl ConfigIo for ModelConfig {
    fn read_dword(&mut self, off: u32) -> Result<u32> {
        let mut b = [0u8; 4];
        match self.dev.config_read(off as u64, &mut b, std::process::id()) {
            Ok(4) => Ok(u32::from_le_bytes(b)),
            Ok(_) => Err(model_err("read (short)", off, libc::EIO)),
            Err(e) => Err(model_err("read", off, e)),
        }
    }

    fn write_dword(&mut self, off: u32, v: u32) -> Result<()> {
        match self
            .dev
            .config_write(off as u64, &v.to_le_bytes(), std::process::id())
        {
            Ok(4) => Ok(()),
            Ok(_) => Err(model_err("write (short)", off, libc::EIO)),
            Err(e) => Err(model_err("write", off, e)),
        }
    }
}

const KINDS: [GatewayKind; 4] = [
    GatewayKind::Vsec,
    GatewayKind::Legacy,
    GatewayKind::LegacyWriteOnly,
    GatewayKind::Recovery,
];

thread_local! {
    static DEVICES: RefCell<Vec<Option<Arc<SimDevice>>>> = RefCell::new(vec![None; KINDS.len()]);
}

/// One model device per gateway kind and thread, reused across inputs (creating one fills
/// 64 MiB); every input starts with the knobs cleared, and the oracle reads the model itself,
/// so leftovers of earlier inputs do not matter.
fn model_device(k: usize) -> Arc<SimDevice> {
    DEVICES.with(|d| {
        d.borrow_mut()[k]
            .get_or_insert_with(|| {
                let cfg = DeviceConfig {
                    gateway: KINDS[k],
                    ..DeviceConfig::default()
                };
                SimDevice::new(&cfg, CrStore::anonymous()).expect("model device")
            })
            .clone()
    })
}

/// Short bounds, so that a fault costs milliseconds, not seconds.
pub fn fuzz_tuning() -> Tuning {
    Tuning {
        sem_timeout: Duration::from_millis(5),
        flag_timeout: Duration::from_millis(5),
        max_hold_dwords: 16,
        ..Tuning::default()
    }
}

/// Longest an operation may take under any fault with [`fuzz_tuning`] (generous: the
/// machine may be loaded; a hang is what this catches).
const OP_BOUND: Duration = Duration::from_secs(3);

/// Open what the model offers, as `access::sysfs_config::open` does.
fn open_access(dev: &Arc<SimDevice>, clear: bool) -> Result<Box<dyn Access>> {
    let mut io = ModelConfig { dev: dev.clone() };
    match gateway::find_vsec(&mut io)? {
        Some(h) if h.vsc_type == gateway::VSC_TYPE_FUNCTIONAL => {
            match Gateway::new(io, h.addr, None, clear, fuzz_tuning()) {
                Ok(gw) if gw.is_usable() => Ok(Box::new(gw)),
                Ok(gw) => {
                    let (io, lock) = gw.into_inner();
                    Ok(Box::new(Legacy::new(io, lock)?))
                }
                Err((e, _)) => Err(e),
            }
        }
        _ => Ok(Box::new(Legacy::new(io, None)?)),
    }
}

const SPACES: [u32; 10] = [
    AS_CR_SPACE,
    0,
    AS_ICMD,
    AS_SEMAPHORE,
    AS_ICMD_EXT,
    AS_SCAN_CRSPACE,
    AS_PCI_CRSPACE,
    AS_EXPANSION_ROM,
    AS_MAC,
    0x1234_5678,
];

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u32(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            v = (v << 8) | self.u8()? as u32;
        }
        Some(v)
    }
    fn space(&mut self) -> Option<u32> {
        Some(SPACES[self.u8()? as usize % SPACES.len()])
    }
    fn addr(&mut self) -> Option<u32> {
        let sel = self.u8()?;
        let r = self.u32()?;
        Some(match sel % 6 {
            0 => HW_ID_ADDR,
            1 => r & 0xff_fffc,                 // aligned, inside crspace
            2 => (1 << 30) - 4 * (r % 8 + 1),   // just below the gateway's limit
            3 => r,                             // anything
            4 => (r & 0xff_fffc) | 1,           // unaligned
            _ => 0x400_0000 - 4 * (r % 80 + 1), // the end of a 64 MiB crspace
        })
    }
}

fn eff_space(gateway: bool, space: u32) -> u32 {
    if !gateway || space == 0 {
        AS_CR_SPACE
    } else {
        space
    }
}

/// Sequences of operations through one access path over the model. Properties: no panic; every
/// operation ends within [`OP_BOUND`]; with no fault in force, every result agrees with the
/// model (a read returns what the model holds, a write lands, a failure only where the model
/// refuses the address too); errors carry an errno; once the knobs are cleared the path works
/// again; no gateway transaction is ever interleaved.
pub fn fuzz_api_seq(data: &[u8]) {
    let mut b = Bytes(data);
    let Some(k) = b.u8() else { return };
    let dev = model_device(k as usize % KINDS.len());
    dev.set_faults(Faults::default());
    let interleaved0 = dev.counters().interleaved_transactions;
    let mut acc = open_access(&dev, true).expect("open on a healthy model");
    let gw = acc.gateway_info().functional_vsec;
    let mut faulty = false;
    // The path was chosen while a fault was in force: it may legitimately be a degraded one
    // (e.g. the legacy window when a space probe failed, as stock does), so "works again"
    // is checked after a re-open.
    let mut opened_faulty = false;
    let mut steps = 0;
    while let Some(op) = b.u8() {
        steps += 1;
        if steps > 64 {
            break;
        }
        let t = Instant::now();
        match op % 9 {
            0 | 1 => {
                let (Some(space), Some(addr)) = (b.space(), b.addr()) else {
                    break;
                };
                let r = acc.read4(space, addr);
                check_read(&dev, gw, faulty, (space, addr, 1), &r.map(|v| vec![v]));
            }
            2 | 3 => {
                let (Some(space), Some(addr), Some(v)) = (b.space(), b.addr(), b.u32()) else {
                    break;
                };
                let r = acc.write4(space, addr, v);
                check_write(&dev, gw, faulty, space, addr, &[v], &r);
            }
            4 => {
                let (Some(space), Some(addr), Some(n)) = (b.space(), b.addr(), b.u8()) else {
                    break;
                };
                let n = n as usize % 48 + 1;
                let mut out = vec![0u32; n];
                let r = acc.read_block(space, addr, &mut out).map(|()| out);
                check_read(&dev, gw, faulty, (space, addr, n), &r);
            }
            5 => {
                let (Some(space), Some(addr), Some(n), Some(seed)) =
                    (b.space(), b.addr(), b.u8(), b.u32())
                else {
                    break;
                };
                let data: Vec<u32> = (0..n as u32 % 48 + 1)
                    .map(|i| seed.wrapping_mul(0x9e37_79b9).wrapping_add(i))
                    .collect();
                let r = acc.write_block(space, addr, &data);
                check_write(&dev, gw, faulty, space, addr, &data, &r);
            }
            6 => {
                let (Some(f), Some(n)) = (b.u8(), b.u8()) else {
                    break;
                };
                dev.set_faults(fault(f, n));
                faulty = true;
            }
            7 => {
                dev.set_faults(Faults::default());
                faulty = false;
                if opened_faulty {
                    acc.close();
                    acc = open_access(&dev, false).expect("reopen after the fault cleared");
                    opened_faulty = false;
                }
                // Works again at once: no semaphore left behind, no stale space selection.
                let r = acc.read4(AS_CR_SPACE, HW_ID_ADDR);
                match r {
                    Ok(v) => assert_eq!(v, dev.hw_id(), "hw_id after the fault cleared"),
                    Err(e) => panic!("path broken after the fault cleared: {e}"),
                }
            }
            _ => {
                let clear = b.u8().unwrap_or(0) & 1 == 1;
                acc.close();
                drop(acc);
                match open_access(&dev, clear) {
                    Ok(a) => {
                        acc = a;
                        opened_faulty = faulty;
                    }
                    Err(e) => {
                        assert!(faulty, "reopen failed on a healthy model: {e}");
                        check_err("reopen", &e);
                        dev.set_faults(Faults::default());
                        faulty = false;
                        acc = open_access(&dev, true).expect("reopen after clearing");
                        opened_faulty = false;
                    }
                }
            }
        }
        assert!(
            t.elapsed() < OP_BOUND,
            "operation {op} took {:?}",
            t.elapsed()
        );
    }
    acc.close();
    dev.set_faults(Faults::default());
    assert_eq!(
        dev.counters().interleaved_transactions,
        interleaved0,
        "interleaved gateway transaction"
    );
}

fn fault(f: u8, n: u8) -> Faults {
    let mut x = Faults::default();
    match f % 9 {
        0 => x.semaphore_held_forever = true,
        1 => x.flag_stuck = true,
        2 => x.eio_after = n as u64 % 40 + 1,
        3 => x.vanish_after = n as u64 % 40 + 1,
        4 => x.unsupported_spaces = vec![SPACES[n as usize % SPACES.len()]],
        5 => x.delay_us = n as u64 % 20,
        6 => x.truncated_config = true,
        7 => x.config_write_eperm = true,
        _ => x.semaphore_held_ms = n as u64 % 4,
    }
    x
}

/// What the model holds at `space:addr`, if it serves that address.
/// `None` for the semaphore spaces too: reading them takes the semaphore (side effect).
fn model_word(dev: &SimDevice, gw: bool, space: u32, addr: u32) -> Option<u32> {
    let s = eff_space(gw, space);
    if s == AS_SEMAPHORE || s == AS_PCI_GLOBAL_SEMAPHORE {
        return None;
    }
    // The ICMD mailbox's control (busy bit polled away by reads, commands run by writes) and
    // its read-only size register are registers with side effects, not storage.
    if s == AS_ICMD && (addr == ICMD_CTRL || addr == ICMD_MBOX_SIZE_ADDR) {
        return None;
    }
    dev.cr_read(s, addr).ok()
}

fn is_sem(gw: bool, space: u32) -> bool {
    let s = eff_space(gw, space);
    s == AS_SEMAPHORE || s == AS_PCI_GLOBAL_SEMAPHORE
}

fn check_read(
    dev: &SimDevice,
    gw: bool,
    faulty: bool,
    (space, addr, n): (u32, u32, usize),
    r: &Result<Vec<u32>>,
) {
    if faulty {
        if let Err(e) = r {
            check_err("read under fault", e);
        }
        return;
    }
    match r {
        Ok(words) => {
            for (i, w) in words.iter().enumerate() {
                let a = addr.wrapping_add(4 * i as u32);
                if let Some(m) = model_word(dev, gw, space, a) {
                    assert_eq!(*w, m, "read {space:#x}:{a:#x}");
                }
            }
        }
        Err(e) => {
            check_err("read", e);
            // Refused: the model must refuse some of it too (or the request be malformed).
            assert!(
                !block_ok(dev, gw, space, addr, n),
                "healthy read of {n} at {space:#x}:{addr:#x} failed: {e}"
            );
        }
    }
}

/// Whether every dword of the block is one the path must serve: aligned, inside the
/// gateway's 2^30 limit (legacy: the 64 MiB crspace), crspace on legacy paths, not a
/// semaphore space, and served by the model.
fn block_ok(dev: &SimDevice, gw: bool, space: u32, addr: u32, n: usize) -> bool {
    if is_sem(gw, space) || addr & 3 != 0 {
        return false;
    }
    if !gw && space != 0 && space != AS_CR_SPACE {
        return false;
    }
    let limit: u64 = if gw { 1 << 30 } else { 0x400_0000 };
    if addr as u64 + 4 * n as u64 > limit {
        return false;
    }
    (0..n).all(|i| model_word(dev, gw, space, addr + 4 * i as u32).is_some())
}

fn check_write(
    dev: &SimDevice,
    gw: bool,
    faulty: bool,
    space: u32,
    addr: u32,
    data: &[u32],
    r: &Result<()>,
) {
    match r {
        Ok(()) if !faulty => {
            for (i, v) in data.iter().enumerate() {
                let a = addr.wrapping_add(4 * i as u32);
                if let Some(m) = model_word(dev, gw, space, a) {
                    assert_eq!(m, *v, "write {space:#x}:{a:#x} did not land");
                }
            }
        }
        Ok(()) => {}
        Err(e) => {
            check_err("write", e);
            assert!(
                faulty || !block_ok(dev, gw, space, addr, data.len()),
                "healthy write of {} at {space:#x}:{addr:#x} failed: {e}",
                data.len()
            );
        }
    }
}
