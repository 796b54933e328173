//! Reading sysfs attributes of a PCI function. Parsers accept what the kernel writes
//! ("0x15b3\n") and reject junk instead of guessing.

use std::fs;
use std::path::Path;

use super::{Bdf, SysfsRoot};

/// Parse a hex attribute such as "0x15b3\n" (the `0x` prefix is optional; surrounding
/// whitespace ignored). `None` for empty, non-hex or overflowing content.
pub fn parse_hex_attr(s: &str) -> Option<u64> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.is_empty() || t.len() > 16 || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(t, 16).ok()
}

/// Parse a 16-bit hex attribute (vendor, device, subsystem ids).
pub fn parse_u16_attr(s: &str) -> Option<u16> {
    parse_hex_attr(s).and_then(|v| u16::try_from(v).ok())
}

/// Parse the `class` attribute (24-bit class code, e.g. "0x020000").
pub fn parse_class_attr(s: &str) -> Option<u32> {
    parse_hex_attr(s)
        .and_then(|v| u32::try_from(v).ok())
        .filter(|v| *v <= 0xff_ffff)
}

/// Read a small attribute file as text (at most 4 KiB, lossy UTF-8). Reads into a fixed
/// buffer until end of file (a sysfs attribute comes in one read): no `stat` for a size hint.
pub fn read_attr(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut f = fs::File::open(path).ok()?;
    let mut buf = [0u8; 4096];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Read a 16-bit hex attribute of a function (`vendor`, `device`, `subsystem_device`, ...).
pub fn read_u16(root: &SysfsRoot, bdf: Bdf, attr: &str) -> Option<u16> {
    read_attr(&root.device_dir(bdf).join(attr)).and_then(|s| parse_u16_attr(&s))
}

/// The `numa_node` attribute, trimmed; "NA" when missing or empty.
pub fn read_numa(root: &SysfsRoot, bdf: Bdf) -> String {
    match read_attr(&root.device_dir(bdf).join("numa_node")) {
        Some(s) if !s.trim().is_empty() => s.trim().chars().take(4095).collect(),
        _ => "NA".to_string(),
    }
}

/// Entry names of a sub-directory (`infiniband/`, `net/`), sorted; empty when absent.
pub fn list_dir_names(path: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(path) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// The BDF a symlink points to (its last component), e.g. `physfn`, `virtfn0`,
/// `/sys/class/infiniband/mlx5_0/device`.
pub fn link_bdf(path: &Path) -> Option<Bdf> {
    let target = fs::read_link(path).ok()?;
    let base = target.file_name()?.to_str()?;
    Bdf::parse_canonical(base)
}

/// The first 64 bytes of config space (standard header), when readable.
pub fn read_config_header(root: &SysfsRoot, bdf: Bdf) -> Option<[u8; 64]> {
    use std::io::Read;
    let mut f = fs::File::open(root.device_dir(bdf).join("config")).ok()?;
    let mut buf = [0u8; 64];
    f.read_exact(&mut buf).ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_parsing() {
        assert_eq!(parse_u16_attr("0x15b3\n"), Some(0x15b3));
        assert_eq!(parse_u16_attr("  0X1017  "), Some(0x1017));
        assert_eq!(parse_u16_attr("1017"), Some(0x1017));
        assert_eq!(parse_u16_attr("0x115b3"), None);
        assert_eq!(parse_u16_attr(""), None);
        assert_eq!(parse_u16_attr("0x"), None);
        assert_eq!(parse_u16_attr("0x15b3 junk"), None);
        assert_eq!(parse_u16_attr("\u{0}\u{ff}"), None);
        assert_eq!(parse_u16_attr("-0x1"), None);
        assert_eq!(parse_class_attr("0x020000\n"), Some(0x020000));
        assert_eq!(parse_class_attr("0x1020000"), None);
        assert_eq!(parse_hex_attr("0xffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_hex_attr("0x1ffffffffffffffff"), None);
    }
}
