//! The kernel modules of the simulated host, as `lsmod` shows them.
//!
//! Tools ask `lsmod` which drivers are loaded (mstfwreset: `mstflint_access`, `mlx5_core`,
//! `mst_pciconf`, ...). Inside the simulator the answer must describe the simulated host, not
//! the real one: a host `mlx5_core` would make mstfwreset stop and restart a real driver.
//! The modules are those of the configured driver models (`mstflint_access`; MFT's legacy
//! `mst_pciconf` and `mst_pci`); no network driver is modelled.
//!
//! `lsmod` reads `/proc/modules`. Where that file exists, the simulator's list is bind-mounted
//! over it in the private namespace, so the real `lsmod` (and any reader) sees it. Procfs
//! cannot get a new file, so where it is absent (some containers, gVisor) the command gets a
//! directory holding an `lsmod` that prints the same list in lsmod's format, first on its
//! `PATH`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::{DeviceConfig, DriverKind};

/// Module names of the simulated host (sorted, once each).
pub(crate) fn loaded(cfgs: &[DeviceConfig]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Vec::new();
    for c in cfgs {
        let names: &[&'static str] = match c.driver {
            DriverKind::MstflintAccess => &["mstflint_access"],
            DriverKind::MftLegacy => &["mst_pci", "mst_pciconf"],
            // The unified mst_driver's module name is not documented in the public sources.
            DriverKind::None | DriverKind::MstDriver | DriverKind::MstDriverMft => &[],
        };
        v.extend_from_slice(names);
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// `/proc/modules` text: name, size, use count, users, state, address.
pub(crate) fn proc_modules(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n} 16384 0 - Live 0x0000000000000000\n"))
        .collect()
}

/// What `lsmod` prints for that list.
pub(crate) fn lsmod_text(names: &[&str]) -> String {
    let mut s = String::from("Module                  Size  Used by\n");
    for n in names {
        s.push_str(&format!("{n:<19} {:>8}  0\n", 16384));
    }
    s
}

/// Make the simulated module list what `lsmod` reports inside the namespace. Returns a
/// directory to put first on the command's `PATH` when an `lsmod` stand-in was needed, and
/// pushes a mount made over `/proc/modules` onto `mounts`.
pub(crate) fn install(
    cfgs: &[DeviceConfig],
    work: &Path,
    mounts: &mut Vec<PathBuf>,
) -> Result<Option<PathBuf>, String> {
    let names = loaded(cfgs);
    let file = work.join("modules");
    std::fs::write(&file, proc_modules(&names))
        .map_err(|e| format!("write {}: {e}", file.display()))?;
    let proc = Path::new("/proc/modules");
    if proc.is_file() && super::ns::bind(&file, proc, false).is_ok() {
        mounts.push(proc.to_path_buf());
        return Ok(None);
    }
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("mkdir {}: {e}", bin.display()))?;
    let text = work.join("lsmod.txt");
    std::fs::write(&text, lsmod_text(&names))
        .map_err(|e| format!("write {}: {e}", text.display()))?;
    let script = bin.join("lsmod");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n# mtcr-sim: no /proc/modules here; the simulated host's modules\n\
             exec cat '{}'\n",
            text.display()
        ),
    )
    .map_err(|e| format!("write {}: {e}", script.display()))?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", script.display()))?;
    Ok(Some(bin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_list_follows_the_drivers() {
        let mut a = DeviceConfig::default();
        let mut b = DeviceConfig::default();
        assert!(loaded(&[a.clone()]).is_empty());
        a.driver = DriverKind::MstflintAccess;
        b.driver = DriverKind::MstflintAccess;
        let names = loaded(&[a.clone(), b]);
        assert_eq!(names, ["mstflint_access"]);
        assert_eq!(
            proc_modules(&names),
            "mstflint_access 16384 0 - Live 0x0000000000000000\n"
        );
        let t = lsmod_text(&names);
        assert!(t.starts_with("Module "));
        assert!(t.lines().nth(1).unwrap().starts_with("mstflint_access "));
        a.driver = DriverKind::MftLegacy;
        assert_eq!(loaded(&[a]), ["mst_pci", "mst_pciconf"]);
    }
}
