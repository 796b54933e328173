//! The DMA burn (`[device.firmware] dma = true`): upstream's mstflint (fixture
//! `shared/upstream-4.36`) pins three pages through the driver node (`get_dma_pages`), writes
//! the component into them and sends MCDD; the simulated device reads the pages from the
//! tool's memory. The burn leaves the same flash as the MCDA burn, in far fewer driver
//! ioctls and device accesses, on upstream's library and on ours (mstflint_access), and on
//! ours through the unified mst_driver (upstream's library cannot open its nodes).
//!
//! SKIP when the fixture or our library is absent.

mod common;

use common::{fixture, job, our_lib, sim_usable, BDF, SIM};
use std::path::{Path, PathBuf};

fn tmp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mtcr-sim-dma-{}-{tag}", std::process::id()))
}

/// What one burn cost, from the simulator's counters after it.
#[derive(Debug)]
struct Cost {
    ioctls: u64,
    accesses: u64,
    dma_reads: u64,
    get_dma_pages: u64,
}

/// Burn `img` with `lib` (None: upstream's library) through `driver`, with or without MCDD;
/// returns (burn output, cost, flash content).
fn burn(
    test: &str,
    run: &Path,
    lib: Option<&Path>,
    driver: &str,
    dma: bool,
    img: &Path,
) -> (String, Cost, Vec<u8>) {
    let tag = format!(
        "{test}-{driver}-{dma}-{}",
        if lib.is_some() { "ours" } else { "up" }
    );
    let dir = tmp(&tag);
    std::fs::create_dir_all(&dir).unwrap();
    let flash = dir.join("flash.bin");
    let _ = std::fs::remove_file(&flash);
    let toml = format!(
        "[[device]]\ndriver = \"{driver}\"\n[device.firmware]\nfw_update = true\ndma = {dma}\n\
         flash_file = \"{}\"\n",
        flash.display()
    );
    let lib = lib.map_or(String::new(), |l| format!("--lib {}", l.display()));
    let script = format!(
        "echo '== burn'; {r} {lib} mstflint -d {BDF} -i {i} -y burn </dev/null 2>&1; echo rc=$?; \
         echo '== stats'; {SIM} stats",
        r = run.display(),
        i = img.display()
    );
    let (code, out) = common::in_sim_with(&dir.join("sim.toml"), &toml, &script);
    assert_eq!(code, 0, "{out}");
    let b = job(&out, "burn").to_string();
    assert!(b.ends_with("rc=0"), "{tag}: {b}");
    let stats = &out[out.find("== stats\n").unwrap() + 9..];
    let v: serde_json::Value =
        serde_json::from_str(stats.trim()).unwrap_or_else(|e| panic!("{e}: {stats}"));
    let d = &v["devices"][BDF];
    let n = |k: &str| d[k].as_u64().unwrap_or(0);
    let ioctls = &d["ioctls"];
    let cost = Cost {
        ioctls: n("ioctls_total"),
        accesses: n("accesses"),
        dma_reads: n("dma_reads"),
        get_dma_pages: ["PCICONF_GET_DMA_PAGES", "MST_GET_DMA_PAGES"]
            .iter()
            .filter_map(|k| ioctls[*k].as_u64())
            .sum(),
    };
    let content = std::fs::read(&flash).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (b, cost, content)
}

/// The progress lines of a burn (one per transfer step), carriage returns split.
fn steps(out: &str) -> usize {
    out.split(['\r', '\n'])
        .filter(|l| l.contains("Writing Boot image component -") && l.contains('%'))
        .count()
}

#[test]
fn dma_burn_gives_the_mcda_flash_in_fewer_accesses() {
    let test = "dma_burn_gives_the_mcda_flash_in_fewer_accesses";
    let Some(run) = fixture(test) else {
        return;
    };
    if !sim_usable(test) {
        return;
    }
    let t = tmp("lib");
    let Some(ours) = our_lib(test, &t) else {
        return;
    };
    let img = common::image(tmp("new.bin"), &["--fw-version", "16.35.2000"]);
    let (mcda_out, mcda, mcda_flash) = burn("a", &run, None, "mstflint_access", false, &img);
    assert_eq!((mcda.dma_reads, mcda.get_dma_pages), (0, 0), "{mcda:?}");
    let mut dma_outs = Vec::new();
    for (lib, driver) in [
        (None, "mstflint_access"),
        (Some(ours.as_path()), "mstflint_access"),
        (Some(ours.as_path()), "mst_driver"),
    ] {
        let (out, cost, flash) = burn("a", &run, lib, driver, true, &img);
        let what = format!(
            "{driver} {}",
            if lib.is_some() { "ours" } else { "upstream" }
        );
        assert!(
            flash == mcda_flash,
            "{what}: the DMA burn left another flash"
        );
        // Pinned once, one device read per 4 KiB page of the component.
        assert_eq!(cost.get_dma_pages, 1, "{what}: {cost:?}");
        let img_len = std::fs::metadata(&img).unwrap().len();
        assert!(
            cost.dma_reads >= 2 && cost.dma_reads <= img_len.div_ceil(4096),
            "{what}: {cost:?}"
        );
        assert!(
            cost.ioctls * 2 < mcda.ioctls && cost.accesses * 3 < mcda.accesses,
            "{what}: DMA {cost:?} vs MCDA {mcda:?}"
        );
        assert!(!out.contains("DMA access has failed"), "{what}: {out}");
        // The tool reports progress once per page instead of once per percent.
        assert!(steps(&out) < steps(&mcda_out), "{what}: {out}");
        eprintln!("{what}: DMA {cost:?}, MCDA (upstream, mstflint_access) {mcda:?}");
        dma_outs.push(out);
    }
    // The two libraries print the same burn.
    assert_eq!(dma_outs[0], dma_outs[1]);
    let _ = std::fs::remove_dir_all(&t);
    let _ = std::fs::remove_file(&img);
}

/// A DMA burn killed once the device has read its first page (its pages stay pinned, the
/// update handle, mstflint's flash semaphore and possibly the ICMD semaphore stay taken): the
/// operator's recovery on our library, `-clear_semaphore`, then (once the dead update handle
/// has timed out, `update_timeout_ms`) the burn again: another process, whose pin replaces
/// the dead one's, burns by DMA and leaves the MCDA burn's flash. (Upstream's library cannot
/// clear an ICMD semaphore left by a dead process: its `-clear_semaphore` then fails.)
#[test]
fn killed_dma_burn_is_recovered_by_a_second_dma_burn() {
    let test = "killed_dma_burn_is_recovered_by_a_second_dma_burn";
    let Some(run) = fixture(test) else {
        return;
    };
    if !sim_usable(test) {
        return;
    }
    let t = tmp("kill-lib");
    let Some(ours) = our_lib(test, &t) else {
        return;
    };
    let img = common::image(tmp("kill-new.bin"), &["--fw-version", "16.35.2000"]);
    let (_, _, mcda_flash) = burn("k", &run, None, "mstflint_access", false, &img);
    let dir = tmp("kill");
    std::fs::create_dir_all(&dir).unwrap();
    let flash = dir.join("flash.bin");
    let toml = format!(
        "[[device]]\ndriver = \"mstflint_access\"\n[device.firmware]\nfw_update = true\n\
         dma = true\nupdate_timeout_ms = 1000\nflash_file = \"{}\"\n",
        flash.display()
    );
    let r = format!("{} --lib {}", run.display(), ours.display());
    let i = img.display();
    let script = format!(
        "{r} mstflint -d {BDF} -i {i} -y burn </dev/null >/dev/null 2>&1 & p=$!; \
         n=0; while [ \"$({SIM} stats | grep -c '\"dma_reads\": [1-9]')\" = 0 ]; do \
           n=$((n+1)); [ $n -gt 500 ] && break; sleep 0.02; done; \
         pkill -9 -P $p; kill -9 $p; wait; \
         echo '== stats1'; {SIM} stats | grep '\"dma_reads\"'; echo rc=0; \
         echo '== clear'; {r} mstflint -d {BDF} -clear_semaphore 2>&1; echo rc=$?; \
         sleep 1.2; echo '== burn2'; {r} mstflint -d {BDF} -i {i} -y burn </dev/null 2>&1; echo rc=$?; \
         echo '== stats2'; {SIM} stats | grep -A1 GET_DMA_PAGES; echo rc=0"
    );
    let (code, out) = common::in_sim_with(&dir.join("sim.toml"), &toml, &script);
    assert_eq!(code, 0, "{out}");
    // Killed after the first page and before the last.
    let read: u64 = job(&out, "stats1")
        .split("\"dma_reads\": ")
        .nth(1)
        .and_then(|v| v.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or(0);
    let pages = std::fs::metadata(&img).unwrap().len().div_ceil(4096);
    assert!(
        read >= 1 && read < pages,
        "not killed mid-DMA ({read} pages read): {out}"
    );
    let b = job(&out, "burn2");
    assert!(
        b.ends_with("rc=0") && b.contains("Writing Boot image component -   OK"),
        "{out}"
    );
    assert!(!b.contains("DMA access has failed"), "{out}");
    assert!(
        job(&out, "stats2").contains("\"PCICONF_GET_DMA_PAGES\": 2"),
        "{out}"
    );
    assert!(
        std::fs::read(&flash).unwrap() == mcda_flash,
        "flash differs from the MCDA burn's"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&t);
    let _ = std::fs::remove_file(&img);
}
