//! What a program finds about a fwctl node beyond `/sys/class/fwctl` (mstflint's `mstfwctrl`
//! walks it): the node is a character device, `/sys/dev/char/<major>:<minor>/device` resolves
//! below `/sys/devices/` to a directory whose `driver` link names `drivers/mlx5_core`.
//!
//! The simulator has no driver of its own to give the node a device number, so node `fwctlN`
//! is a bind mount of one of the host's harmless character devices ([`CHAR_DEVICES`]: null,
//! zero, full, random, urandom — so at most five nodes are character devices; later ones
//! stay plain files). Opening it opens that device; its ioctls never reach it (the preload
//! carries them by path). Inside the namespace `/sys/dev/char/<its number>` becomes a
//! directory with `device` → `/sys/devices/mtcr-sim/<bdf>`, which holds the `driver` link.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{ensure_sysfs_dir, ns, Cleanup};
use crate::config::DeviceConfig;

/// Host devices lent to fwctl nodes, in node order.
/// The directory holding the fwctl nodes' parents (`<bdf>/driver`).
pub(super) const SYS_DIR: &str = "/sys/devices/mtcr-sim";

pub const CHAR_DEVICES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];

fn mkdir(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("mkdir {}: {e}", p.display()))
}

fn symlink(target: &str, at: &Path) -> Result<(), String> {
    let _ = std::fs::remove_file(at);
    std::os::unix::fs::symlink(target, at)
        .map_err(|e| format!("symlink {} -> {target}: {e}", at.display()))
}

/// Make the fwctl nodes character devices and give them their sysfs device entries.
/// `saved_dev` is the host's `/dev` (bound aside before the overlay); `nodes` are (device
/// index, `fwctlN`). Failures leave the nodes as plain files (logged), never abort the run.
pub(super) fn char_devices(
    cfgs: &[DeviceConfig],
    nodes: &[(usize, String)],
    saved_dev: &Path,
    work: &Path,
    cleanup: &mut Cleanup,
) {
    if let Err(e) = try_char_devices(cfgs, nodes, saved_dev, work, cleanup) {
        log::warn!("fwctl nodes stay plain files (no /sys/dev/char entries): {e}");
    }
}

fn try_char_devices(
    cfgs: &[DeviceConfig],
    nodes: &[(usize, String)],
    saved_dev: &Path,
    work: &Path,
    cleanup: &mut Cleanup,
) -> Result<(), String> {
    // (node path, host device, rdev "maj:min", bdf)
    let mut lent = Vec::new();
    for ((i, n), host) in nodes.iter().zip(CHAR_DEVICES) {
        let src = saved_dev.join(host);
        let md = std::fs::metadata(&src).map_err(|e| format!("{}: {e}", src.display()))?;
        let rdev = md.rdev();
        let mm = format!("{}:{}", libc::major(rdev), libc::minor(rdev));
        lent.push((
            PathBuf::from(format!("/dev/fwctl/{n}")),
            src,
            mm,
            cfgs[*i].bdf.clone(),
        ));
    }
    if lent.is_empty() {
        return Ok(());
    }
    // /sys/devices/mtcr-sim/<bdf>/driver -> .../drivers/mlx5_core
    let devs = Path::new(SYS_DIR);
    ensure_sysfs_dir(devs, work, cleanup)?;
    for (_, _, _, bdf) in &lent {
        let d = devs.join(bdf);
        mkdir(&d)?;
        symlink("../../../bus/pci/drivers/mlx5_core", &d.join("driver"))?;
        symlink(&format!("../../../bus/pci/devices/{bdf}"), &d.join("pci"))?;
    }
    // /sys/dev/char: a tmpfs with the host's entries (links copied), our numbers replaced.
    let chr = Path::new("/sys/dev/char");
    let saved = work.join("saved_sys_dev_char");
    mkdir(&saved)?;
    ns::bind(chr, &saved, false)?;
    cleanup.mounts.push(saved.clone());
    ns::mount_tmpfs(chr, "0755")?;
    cleanup.mounts.push(chr.to_path_buf());
    if let Ok(rd) = std::fs::read_dir(&saved) {
        for e in rd.flatten() {
            if let Ok(t) = std::fs::read_link(e.path()) {
                let _ = std::os::unix::fs::symlink(t, chr.join(e.file_name()));
            }
        }
    }
    for (node, src, mm, bdf) in &lent {
        let d = chr.join(mm);
        let _ = std::fs::remove_file(&d);
        mkdir(&d)?;
        symlink(
            &format!("../../../devices/mtcr-sim/{bdf}"),
            &d.join("device"),
        )?;
        std::fs::write(d.join("dev"), format!("{mm}\n"))
            .map_err(|e| format!("write {}: {e}", d.display()))?;
        if let Some(n) = node.file_name() {
            let class_dev = Path::new(super::FWCTL_CLASS).join(n).join("dev");
            let _ = std::fs::write(class_dev, format!("{mm}\n"));
        }
        // The node itself: the host device bound over the plain file.
        ns::bind(src, node, false)?;
        cleanup.mounts.push(node.clone());
    }
    Ok(())
}
