//! Mount-namespace helpers: everything the simulator mounts lives in a private mount
//! namespace created by [`enter_private_namespace`], so the host never sees it.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

/// Detach from the host's mount namespace and make every mount private (no propagation
/// back to the host). Must run before any thread is started.
pub fn enter_private_namespace() -> Result<(), String> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("unshare(CLONE_NEWNS): {e} (needs root)"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("make / rprivate: {e}"))
}

/// Mount a fresh tmpfs at `target`.
pub fn mount_tmpfs(target: &Path, mode: &str) -> Result<(), String> {
    mount(
        Some("mtcr-sim"),
        target,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(format!("mode={mode}").as_str()),
    )
    .map_err(|e| format!("mount tmpfs on {}: {e}", target.display()))
}

/// Bind-mount `src` onto `target` (file or directory; `recursive` for MS_REC).
pub fn bind(src: &Path, target: &Path, recursive: bool) -> Result<(), String> {
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    mount(Some(src), target, None::<&str>, flags, None::<&str>)
        .map_err(|e| format!("bind {} on {}: {e}", src.display(), target.display()))
}

/// Overlay with `lower` read-only below and `upper`/`work` (same tmpfs) on top, at `target`.
pub fn mount_overlay(lower: &Path, upper: &Path, work: &Path, target: &Path) -> Result<(), String> {
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    mount(
        Some("mtcr-sim-overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(opts.as_str()),
    )
    .map_err(|e| format!("mount overlay on {}: {e}", target.display()))
}

/// Lazily detach a mount (errors ignored: used on the way out).
pub fn detach(target: &Path) {
    let _ = umount2(target, MntFlags::MNT_DETACH);
}

/// Mount points strictly below `dir` (e.g. `/dev/pts` for `/dev`), outermost first, as
/// listed in /proc/self/mountinfo. Only the topmost ones (whose parent is not also listed).
pub fn submounts(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut all: Vec<PathBuf> = Vec::new();
    for line in text.lines() {
        let Some(mp) = line.split(' ').nth(4) else {
            continue;
        };
        let mp = PathBuf::from(unescape_mountinfo(mp));
        if mp != dir && mp.starts_with(dir) && !all.contains(&mp) {
            all.push(mp);
        }
    }
    let top: Vec<PathBuf> = all
        .iter()
        .filter(|p| !all.iter().any(|q| q != *p && p.starts_with(q)))
        .cloned()
        .collect();
    top
}

/// Decode the octal escapes (`\040` for space etc.) used in /proc/self/mountinfo.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            if let Some(v) = s
                .get(i + 1..i + 4)
                .and_then(|o| u8::from_str_radix(o, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether anything is mounted at exactly `path` (per /proc/self/mountinfo).
pub fn is_mount_point(path: &Path) -> bool {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines().any(|l| {
        l.split(' ')
            .nth(4)
            .is_some_and(|mp| Path::new(&unescape_mountinfo(mp)) == path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo("/x\\"), "/x\\");
    }

    #[test]
    fn proc_root_is_a_mount_point() {
        assert!(is_mount_point(Path::new("/")));
        assert!(!is_mount_point(Path::new("/no/such/mtcr-sim/dir")));
        // Submounts never include the directory itself.
        assert!(!submounts(Path::new("/")).contains(&PathBuf::from("/")));
    }
}
