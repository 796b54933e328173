//! The preload library under `mtcr-sim run`, driven from python3 (ctypes calls libc's
//! `ioctl`/`mmap`, which the preload overrides): ioctls and mmap on MFT nodes, errors,
//! pass-through for ordinary descriptors, fork.

use std::path::Path;
use std::process::Command;

const SIM: &str = env!("CARGO_BIN_EXE_mtcr-sim");

fn usable(test: &str) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let why = if let Some(w) = mtcr_sim::testing::skip_reason() {
        Some(format!("needs root and /dev/fuse: {w}"))
    } else if !Path::new("/usr/bin/python3").exists() {
        Some("needs python3".to_string())
    } else {
        None
    };
    match why {
        None => true,
        Some(w) if ci => panic!("{test}: {w}"),
        Some(w) => {
            eprintln!("SKIP: {test}: {w}");
            false
        }
    }
}

const SCRIPT: &str = r#"
import os, fcntl, struct, ctypes, termios, array
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
MAP_FAILED = 2**64 - 1

def be32(addr):
    return int.from_bytes(ctypes.string_at(addr, 4), 'big')

cr = os.open('/dev/mst/mt4119_pci_cr0', os.O_RDWR | os.O_SYNC)
# mmap before PCI_INIT: the node has no BAR yet.
p = libc.mmap(None, 0x100000, 3, 1, cr, 0)
print('unbound', 'fail' if p in (None, MAP_FAILED) else 'ok', ctypes.get_errno())
fcntl.ioctl(cr, 0x0010D100, struct.pack('IIIi', 0, 5, 0, 0))
params = fcntl.ioctl(cr, 0x8010D102, b'\0' * 16)
print('size', hex(struct.unpack('<QQ', params)[1]))
p = libc.mmap(None, 0x4000000, 3, 1, cr, 0)
print('hwid', hex(be32(p + 0xf0014)))
ctypes.memmove(p + 0x2000, (0x11223344).to_bytes(4, 'big'), 4)
p2 = libc.mmap(None, 0x8000000, 3, 1, cr, 0)
print('toobig', 'fail' if p2 in (None, MAP_FAILED) else 'ok', ctypes.get_errno())

# Unknown ioctl on a node: ENOTTY from the driver model.
try:
    fcntl.ioctl(cr, 0x4004D1FF, b'\0' * 4)
    print('unknown ok')
except OSError as e:
    print('unknown errno', e.errno)

# Ordinary descriptors are not touched: FIONREAD on a pipe.
r, w = os.pipe()
os.write(w, b'abc')
buf = array.array('i', [0])
fcntl.ioctl(r, termios.FIONREAD, buf, True)
print('fionread', buf[0])

# A forked child gets its own connection.
pid = os.fork()
if pid == 0:
    fd = os.open('/dev/mst/mt4119_pci_cr0', os.O_RDWR)
    fcntl.ioctl(fd, 0x0010D100, struct.pack('IIIi', 0, 5, 0, 0))
    os.close(fd)
    os._exit(0)
_, st = os.waitpid(pid, 0)
print('child', os.waitstatus_to_exitcode(st))

"#;

/// A program that closes every descriptor (our socket too) and then opens sockets that reuse
/// the numbers: the preload must notice and reconnect, never talk to the program's socket.
const CLOSERANGE: &str = r#"
import os, fcntl, struct, socket
cr = os.open('/dev/mst/mt4119_pci_cr0', os.O_RDWR)
fcntl.ioctl(cr, 0x0010D100, struct.pack('IIIi', 0, 5, 0, 0))
os.closerange(3, 4096)
pairs = [socket.socketpair() for _ in range(6)]
fd = os.open('/dev/mst/mt4119_pci_cr0', os.O_RDWR)
fcntl.ioctl(fd, 0x0010D100, struct.pack('IIIi', 0, 5, 0, 0))
leaked = 0
for a, b in pairs:
    for sk in (a, b):
        sk.setblocking(False)
        try:
            leaked += len(sk.recv(4096))
        except BlockingIOError:
            pass
print('after closerange, bytes sent to other sockets:', leaked)
"#;

#[test]
fn mft_nodes_ioctl_mmap_passthrough_fork() {
    if !usable("mft_nodes_ioctl_mmap_passthrough_fork") {
        return;
    }
    let dir = std::env::temp_dir();
    let cfg = dir.join(format!("mtcr-sim-preload-{}.toml", std::process::id()));
    let stats = dir.join(format!("mtcr-sim-preload-{}.json", std::process::id()));
    std::fs::write(&cfg, "[[device]]\ndriver = \"mft_legacy\"\n").unwrap();
    let out = Command::new(SIM)
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .arg("--stats")
        .arg(&stats)
        .args([
            "--",
            "sh",
            "-c",
            "python3 -c \"$0\" && mstmcra /sys/bus/pci/devices/0000:05:00.0/resource0 0x2000 \
             && timeout 30 python3 -c \"$1\"",
            SCRIPT,
            CLOSERANGE,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(out.status.success());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "unbound fail 22",
            "size 0x4000000",
            "hwid 0x20d",
            "toobig fail 22",
            "unknown errno 25",
            "fionread 3",
            "child 0",
            // The store through the mapping is the model's crspace (seen via resource0).
            "0x11223344",
            "after closerange, bytes sent to other sockets: 0",
        ]
    );
    let st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let d = &st["devices"]["0000:05:00.0"];
    assert_eq!(d["ioctls"]["PCI_INIT"].as_u64(), Some(4));
    assert_eq!(d["ioctls"]["PCI_PARAMS"].as_u64(), Some(1));
    assert!(d["mmaps"].as_u64().unwrap() >= 1);
    let _ = std::fs::remove_file(&cfg);
    let _ = std::fs::remove_file(&stats);
}

/// Threads issuing ioctls while the main thread forks: children must never inherit a held
/// connection lock (they would hang), and every ioctl must be answered.
const THREADS_AND_FORK: &str = r#"
import os, fcntl, struct, threading
INIT = 0x0010D100
arg = struct.pack('IIIi', 0, 5, 0, 0)
def worker(n):
    fd = os.open('/dev/mst/mt4119_pci_cr0', os.O_RDWR)
    for _ in range(n):
        fcntl.ioctl(fd, INIT, arg)
    os.close(fd)
ts = [threading.Thread(target=worker, args=(300,)) for _ in range(4)]
for t in ts:
    t.start()
bad = 0
for _ in range(20):
    pid = os.fork()
    if pid == 0:
        worker(1)
        os._exit(0)
    _, st = os.waitpid(pid, 0)
    bad += os.waitstatus_to_exitcode(st) != 0
for t in ts:
    t.join()
print('children failed:', bad)
"#;

#[test]
fn threads_and_fork() {
    if !usable("threads_and_fork") {
        return;
    }
    let dir = std::env::temp_dir();
    let cfg = dir.join(format!("mtcr-sim-preload-tf-{}.toml", std::process::id()));
    let stats = dir.join(format!("mtcr-sim-preload-tf-{}.json", std::process::id()));
    std::fs::write(&cfg, "[[device]]\ndriver = \"mft_legacy\"\n").unwrap();
    let out = Command::new(SIM)
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .arg("--stats")
        .arg(&stats)
        .args(["--", "timeout", "120", "python3", "-c", THREADS_AND_FORK])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
    assert_eq!(stdout.trim(), "children failed: 0");
    let st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(
        st["devices"]["0000:05:00.0"]["ioctls"]["PCI_INIT"].as_u64(),
        Some(4 * 300 + 20)
    );
    let _ = std::fs::remove_file(&cfg);
    let _ = std::fs::remove_file(&stats);
}
