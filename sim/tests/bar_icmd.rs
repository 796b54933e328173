//! ICMD through a `resource0` mapping from a foreign program (python3 ctypes, 32-bit loads
//! and stores): the preload forwards the ICMD pages to the model one access at a time.

use std::path::Path;
use std::process::Command;

const SIM: &str = env!("CARGO_BIN_EXE_mtcr-sim");

const SCRIPT: &str = r#"
import os, ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
fd = os.open('/sys/bus/pci/devices/0000:05:00.0/resource0', os.O_RDWR | os.O_SYNC)
p = libc.mmap(None, 0x4000000, 3, 1, fd, 0)
def rd(a):
    return int.from_bytes(ctypes.c_uint32.from_address(p + a).value.to_bytes(4, 'little'), 'big')
def wr(a, v):
    ctypes.c_uint32.from_address(p + a).value = int.from_bytes(v.to_bytes(4, 'big'), 'little')
print('size', hex(rd(0x1000)))
pid = os.getpid()
wr(0, pid)
print('sem', rd(0) == pid)
wr(0x100000, 0xabcd1234)
print('mbox', hex(rd(0x100000)))
wr(0, 0x1234 << 16)
print('busy', rd(0) & 1)
wr(0, 0x1234 << 16 | 1)
for i in range(1000):
    c = rd(0)
    if not c & 1:
        break
print('status', (c >> 8) & 0xff, 'opcode', hex(c >> 16))
wr(0, 0)
wr(4, 0x55aa55aa)
print('cr4', hex(rd(4)), 'hwid', hex(rd(0xf0014)))
if os.fork() == 0:
    wr(0, 4242)
    os._exit(0 if rd(0) == 4242 else 1)
print('child', os.wait()[1])
wr(0, 0)
libc.munmap(p, 0x4000000)
q = libc.mmap(None, 0x2000, 3, 1, fd, 0)
p = q
print('again', hex(rd(0x1000)))
"#;

#[test]
fn icmd_through_a_resource0_mapping() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if let Some(w) = mtcr_sim::testing::skip_reason() {
        assert!(!ci, "needs root and /dev/fuse: {w}");
        eprintln!("SKIP: needs root and /dev/fuse: {w}");
        return;
    }
    if !Path::new("/usr/bin/python3").exists() {
        assert!(!ci, "needs python3");
        eprintln!("SKIP: needs python3");
        return;
    }
    let out = Command::new(SIM)
        .args(["run", "--", "timeout", "60", "python3", "-c", SCRIPT])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "size 0x340",
            "sem True",
            "mbox 0xabcd1234",
            "busy 0",
            "status 1 opcode 0x1234",
            "cr4 0x55aa55aa hwid 0x20d",
            "child 0",
            "again 0x340",
        ]
    );
}
