#!/usr/bin/env python3
"""make test-upstream: upstream mstflint v4.36's own tools on upstream's library and on ours.

Every tool of the fixture (FIXTURE/run, see its README) runs inside `mtcr-sim run` over every
access path the simulator offers and every name form that reaches it, once on upstream's
libmtcr_ul.so.1 (FIXTURE/lib-upstream) and once on ours (--lib DIR). Each (sim config, library)
pair gets a fresh simulator and runs the same command sequence, so both libraries see the same
device state at every step. stdout, stderr and the exit status are compared after the
normalisations listed in NORMALISATIONS (each one says why it is legitimate). A difference is
either listed in compat/upstream-diffs.txt (with its reason) or fails the run. On ours every
tool also runs once with LD_BIND_NOW=1: an undefined symbol fails the run.

The plan (paths x name forms x commands) is PATHS / COMMANDS below; the summary table goes to
stdout and to OUT/summary.md.
"""

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CONFIGS = os.path.join(REPO, "tests", "upstream", "configs")

# Access paths: (label, sim config, [(name-form label, device name)]). The label names the path
# our library takes for these names (upstream's choice is its own: it ignores /dev/mst nodes and
# cannot speak the Gen-1 ABI, see compat/upstream-diffs.txt).
SYS = "/sys/bus/pci/devices"
PATHS = [
    ("config", "sysfs", [
        ("bdf", "0000:05:00.0"),
        ("short", "05:00.0"),
        ("pciconf", "pciconf-0000:05:00.0"),
        ("sysfs-config", SYS + "/0000:05:00.0/config"),
        ("mlx5_0", "mlx5_0"),
    ]),
    ("resource0", "sysfs", [
        ("sysfs-resource0", SYS + "/0000:05:00.0/resource0"),
    ]),
    ("cx3-resource0", "sysfs", [
        ("bdf", "0000:07:00.0"),
        ("short", "07:00.0"),
        ("sysfs-resource0", SYS + "/0000:07:00.0/resource0"),
    ]),
    ("cx3-legacy-window", "sysfs", [
        ("pciconf", "pciconf-07:00.0"),
        ("sysfs-config", SYS + "/0000:07:00.0/config"),
    ]),
    ("mstflint_access", "mstflint_access", [
        ("bdf", "0000:05:00.0"),
        ("short", "05:00.0"),
        ("mlx5_0", "mlx5_0"),
    ]),
    # The same functions through sysfs first: the references for the names upstream's library
    # cannot use (REFERENCES below).
    ("config", "mst_driver", [
        ("sysfs-config", SYS + "/0000:05:00.0/config"),
    ]),
    ("resource0", "mst_driver", [
        ("sysfs-resource0", SYS + "/0000:08:00.0/resource0"),
    ]),
    ("config", "mst_driver", [
        ("sysfs-config-06", SYS + "/0000:06:00.0/config"),
    ]),
    ("mst_driver", "mst_driver", [
        ("bdf", "0000:05:00.0"),
        ("short", "05:00.0"),
    ]),
    ("mst_driver_cr", "mst_driver", [
        ("bdf", "0000:08:00.0"),
    ]),
    ("mst_driver_mft", "mst_driver", [
        ("bdf", "0000:06:00.0"),
        ("mst-name", "/dev/mst/mt4123_pci_pciconf0"),
    ]),
    ("config", "mft", [
        ("sysfs-config", SYS + "/0000:05:00.0/config"),
    ]),

    ("mst_pciconf", "mft", [
        ("bdf", "0000:05:00.0"),
        ("mst-name", "/dev/mst/mt4119_pciconf0"),
    ]),
    ("mst_pci", "mft", [
        ("mst-name", "/dev/mst/mt4119_pci_cr0"),
    ]),
    # Last: after upstream's runs on a memory path of this ConnectX-5 (register access failing
    # there) crspace 0x0 and 0x10 read 0 (observed), which would change what later runs read.
    ("resource0", "mft", [
        ("sysfs-resource0", SYS + "/0000:05:00.0/resource0"),
    ]),
]

# Where upstream's library cannot use a path or name at all (documented in
# compat/upstream-diffs.txt), ours is also compared with upstream's output for the same function
# through sysfs in the same sim config: (config, path, name) -> (path, name) of the reference.
# The device names are replaced by <DEV> in both outputs for this comparison. A mismatch fails
# unless the diffs file has an entry for "ref:PATH".
REFERENCES = {
    ("mst_driver", "mst_driver", "bdf"): ("config", "sysfs-config"),
    ("mst_driver", "mst_driver", "short"): ("config", "sysfs-config"),
    ("mst_driver", "mst_driver_cr", "bdf"): ("resource0", "sysfs-resource0"),
    ("mst_driver", "mst_driver_mft", "mst-name"): ("config", "sysfs-config-06"),
    ("mft", "mst_pciconf", "mst-name"): ("config", "sysfs-config"),
    ("mft", "mst_pci", "mst-name"): ("resource0", "sysfs-resource0"),
}

# Commands run for every name form ({d} = the device name). Writes go to scratch crspace.
COMMANDS = [
    "mstmcra {d} 0xf0014",
    "mstmcra {d} 0x20002",
    "mstmcra {d} 0x20000,32",
    "mstmcra {d} 0x30004 0xcafe0001",
    "mstmwrite {d} 0x30000 0x12345678",
    "mstmread {d} 0x30000",
    "mstmcra {d} 0x30000,8",
    "mstmcra {d} 0x30012 0xa1b2c3d4",
    "mstmcra {d} 0x30010,8",
    "mstmcra -c {d} 0xf0014",
    "mstvpd {d}",
    "mstregdump {d}",
    "mstflint -d {d} q",
    "mstflint -d {d} hw query",
    "mstflint -d {d} -clear_semaphore",
    "mstconfig -d {d} q",
    "mstmget_temp -d {d}",
    "mstreg -d {d} --get --reg_name MGIR",
    "mstlink -d {d}",
    "mstfwreset -d {d} q",
    "mstfwtrace -d {d}",
    "mstresourcedump query -d {d}",
    "mstcongestion -d {d} --query",
]
# Commands run once per sim config (no device name, or a name of their own).
ONCE = {
    "sysfs": ["mstdevices_info", "mstdevices_info -vv", "mstfwctrl mlx5_0", "mstmcra 0000:42:00.0 0xf0014"],
    "mstflint_access": ["mstdevices_info"],
    "mst_driver": ["mstdevices_info"],
    "mft": ["mstdevices_info"],
}
TIMEOUT = 180

# Firmware jobs (issue 12): each access path gets its own fresh ConnectX-5 (sim configs fw_*:
# default firmware 16.35.1012 / PSID MT_0000000008, default NV store), on which the job sequence
# FW_JOBS runs once per library. The paths are labelled "fw/PATH" in the summary.
# (path, sim config, name label, device name, reference): the reference, for a path upstream's
# library cannot use, is (sim config, path, name) of upstream's output for the same jobs through
# sysfs on a device in the same initial state.
FW_PATHS = [
    ("fw/config", "fw_sysfs", "bdf", "0000:05:00.0", None),
    ("fw/resource0", "fw_sysfs", "sysfs-resource0", SYS + "/0000:09:00.0/resource0", None),
    ("fw/mstflint_access", "fw_mstflint_access", "bdf", "0000:05:00.0", None),
    ("fw/mst_driver", "fw_mst_driver", "bdf", "0000:05:00.0",
     ("fw_sysfs", "fw/config", "bdf")),
    # Upstream's library ignores /dev/mst nodes: for this BDF it takes sysfs config, which is
    # fw/config's run; so upstream's library is not run again here and ours is compared with
    # upstream's output on fw/config (device names aside).
    ("fw/mst_pciconf", "fw_mft", "bdf", "0000:05:00.0", ("fw_sysfs", "fw/config", "bdf")),
    ("fw/mst_pci", "fw_mft", "mst-name", "/dev/mst/mt4119_pci_cr1",
     ("fw_sysfs", "fw/resource0", "sysfs-resource0")),
    # The DMA burn (FW_PATH_JOBS below): the component update with MCDD, through the driver.
    ("fw/dma-mstflint_access", "fw_dma_mstflint_access", "bdf", "0000:05:00.0", None),
    ("fw/dma-mst_driver", "fw_dma_mst_driver", "bdf", "0000:05:00.0",
     ("fw_dma_mstflint_access", "fw/dma-mstflint_access", "bdf")),
]
# Images (made by `mtcr-sim image` before the runs, in OUT/fw/): {new} 16.35.2000 for the
# device's PSID, {psid} another PSID, {bad} a MAIN_CODE byte flipped (CRC wrong).
FW_IMAGES = {
    "new": ["--fw-version", "16.35.2000", "--psid", "MT_0000000008"],
    "psid": ["--fw-version", "16.35.2001", "--psid", "MT_0000000999"],
    "bad": ["--fw-version", "16.35.2002", "--psid", "MT_0000000008", "--spoil", "bad-crc"],
}
# (label, tool, arguments, Debian 4.21 comparison): the label is the summary row.
FW_JOBS = [
    ("mstflint q", "mstflint", "-d {d} q", "text"),
    ("mstflint q full", "mstflint", "-d {d} q full", "text"),
    ("mstflint hw query", "mstflint", "-d {d} hw query", "text"),
    ("mstflint v", "mstflint", "-d {d} v", "text"),
    ("mstflint burn 16.35.2000", "mstflint", "-d {d} -i {new} -y burn", None),
    ("mstflint q (after burn)", "mstflint", "-d {d} q", "text"),
    ("mstflint burn wrong PSID", "mstflint", "-d {d} -i {psid} -y burn", None),
    ("mstflint burn bad CRC", "mstflint", "-d {d} -i {bad} -y burn", None),
    ("mstflint q (after refused burns)", "mstflint", "-d {d} q", "text"),
    ("mstflint v (after refused burns)", "mstflint", "-d {d} v", "text"),
    ("mstconfig q", "mstconfig", "-d {d} q", "nv"),
    ("mstconfig set SRIOV_EN=1 NUM_OF_VFS=16", "mstconfig",
     "-d {d} -y set SRIOV_EN=1 NUM_OF_VFS=16", None),
    ("mstconfig q (after set)", "mstconfig", "-d {d} q SRIOV_EN NUM_OF_VFS", "nv"),
    ("mstconfig reset", "mstconfig", "-d {d} -y reset", None),
    ("mstconfig q (after reset)", "mstconfig", "-d {d} q SRIOV_EN NUM_OF_VFS", "nv"),
    ("mstfwreset q", "mstfwreset", "-d {d} q", None),
    # Activation of the burnt 16.35.2000: MFRL, then Link Disable on the simulated root port
    # above the device (--skip_vm_check: the host running the simulator may be a VM).
    ("mstfwreset reset", "mstfwreset", "-d {d} -y --skip_vm_check reset", None),
    ("mstflint q (after fw reset)", "mstflint", "-d {d} q", "text"),
]
# Paths that run their own job sequence instead of FW_JOBS. fw/dma-mstflint_access: the burn
# goes through the component update (fw_ctrl) and, the driver offering DMA pages, sends the
# component by MCDD (sim/FIRMWARE.md, "DMA burn"; sim/tests/dma_burn.rs checks that DMA was
# used and the flash is the MCDA burn's).
FW_DMA_JOBS = [
    ("mstflint burn 16.35.2000 (DMA)", "mstflint", "-d {d} -i {new} -y burn", None),
    ("mstflint q (after DMA burn)", "mstflint", "-d {d} q", None),
    ("mstflint v (after DMA burn)", "mstflint", "-d {d} v", None),
]
FW_PATH_JOBS = {"fw/dma-mstflint_access": FW_DMA_JOBS, "fw/dma-mst_driver": FW_DMA_JOBS}
# What the jobs must show where the device is reachable for them (FW_WORKING), on both
# libraries: (exit status 0 or not, substrings of stdout + stderr). Equal outputs alone would
# also pass if both libraries failed the same way.
FW_WORKING = {"fw/config", "fw/mstflint_access", "fw/mst_driver", "fw/mst_pciconf"}
FW_WORKING.update({"fw/dma-mstflint_access", "fw/dma-mst_driver"})
# The query once 16.35.2000 is burnt (and stays so after the refused burns): new image
# pending, the old one running.
BURNT_PENDING = (True, ["FW Version:            16.35.2000", "FW Version(Running):   16.35.1012"])
FW_EXPECT = {
    "mstflint q": (True, ["FW Version:            16.35.1012", "PSID:                  MT_0000000008"]),
    "mstflint q full": (True, ["Part Number:", "Default Update Method:"]),
    "mstflint hw query": (True, ["JEDEC_ID                0x1540ef", "TotalSize               0x200000"]),
    "mstflint v": (True, ["FW image verification succeeded"]),
    "mstflint burn 16.35.2000": (True, ["New FW version:               16.35.2000",
                                        "Burning FW image without signatures - OK"]),
    "mstflint q (after burn)": BURNT_PENDING,
    "mstflint burn 16.35.2000 (DMA)": (True, ["New FW version:               16.35.2000",
                                              "Writing Boot image component -   OK"]),
    "mstflint q (after DMA burn)": BURNT_PENDING,
    "mstflint v (after DMA burn)": (True, ["FW image verification succeeded"]),
    "mstflint burn wrong PSID": (False, ["PSID mismatch"]),
    "mstflint burn bad CRC": (False, ["-E- "]),
    "mstflint q (after refused burns)": BURNT_PENDING,
    "mstflint v (after refused burns)": (True, ["(MAIN_CODE) - OK",
                                                "FW image verification succeeded"]),
    "mstconfig q": (True, ["SRIOV_EN                                        False(0)"]),
    "mstconfig set SRIOV_EN=1 NUM_OF_VFS=16": (True, ["Applying... Done!"]),
    "mstconfig q (after set)": (True, ["SRIOV_EN                                        True(1)",
                                       "NUM_OF_VFS                                      16 "]),
    "mstconfig reset": (True, ["Applying... Done!"]),
    "mstconfig q (after reset)": (True, ["SRIOV_EN                                        False(0)",
                                         "NUM_OF_VFS                                      0 "]),
    "mstfwreset reset": (True, ["-I- Resetting PCI                           -Done",
                                "-I- FW was loaded successfully."]),
    "mstflint q (after fw reset)": (True, ["FW Version:            16.35.2000"]),
}

# Debian's stock tools (4.21, /usr/bin, their own copy of the library) run the read-only jobs
# marked above right after the fixture's tool, on the same device in the same state, on the
# paths their library knows (sysfs config, mstflint_access); only in the run on our library
# (they do not use it; read-only, so the device state of both runs stays the same).
# "text": stdout (trailing blanks aside) and exit status equal; "nv": exit status, device type
# and the value of every parameter both tools show equal (4.21 shows fewer / other parameters,
# in another order and column layout).
DEBIAN_TOOLS = {"mstflint": "/usr/bin/mstflint", "mstconfig": "/usr/bin/mstconfig"}
# Path -> the jobs compared there (None: all marked ones); through FUSE config space only the
# quick ones, to keep the run short (verify and the full NV query take seconds there).
DEBIAN_PATHS = {
    "fw/config": {"mstflint q", "mstflint hw query", "mstflint q (after burn)",
                  "mstflint q (after refused burns)", "mstconfig q (after set)",
                  "mstconfig q (after reset)", "mstflint q (after fw reset)"},
    "fw/mstflint_access": None,
}
# Paths whose upstream run would repeat another path's (see fw/mst_pciconf above).
FW_OURS_ONLY = {"fw/mst_pciconf"}
# Upstream's library cannot open mst_driver nodes: ours is compared with upstream's DMA burn
# through mstflint_access.
FW_OURS_ONLY.add("fw/dma-mst_driver")

# Normalisations applied to both outputs before comparing (pattern, replacement, why).
NORMALISATIONS = [
    (r"/tmp/mtcr-sim\.[A-Za-z0-9]+", "<SIMDIR>",
     "the simulator's private work directory has a random name per run"),
    (r"(?m)^(uptime +\| )0x[0-9a-f]+$", r"\1<UPTIME>",
     "MGIR's uptime counts the seconds since the simulated device booted: the two runs read it "
     "at different moments"),
    # The library directories themselves (given at run time) are replaced in normalise().
]


def label_of(cmd):
    """A command template without the device name: the row of the summary."""
    return cmd.replace(" {d}", "").replace(" -d", "")


def normalise(text, libdirs):
    for d in libdirs:
        text = text.replace(d, "<LIBDIR>")
    for pat, rep, _why in NORMALISATIONS:
        text = re.sub(pat, rep, text)
    return text


def plan_for(config, imgs):
    """[(path, name label, command template or label, command line[, extra])] of a config;
    imgs: the firmware images ({new}, {psid}, {bad})."""
    steps = []
    for path, cfg, names in PATHS:
        if cfg != config:
            continue
        for nlabel, dev in names:
            for c in COMMANDS:
                steps.append((path, nlabel, c, c.format(d=dev)))
    for c in ONCE.get(config, []):
        steps.append((f"({config})", "-", c, c))
    for path, cfg, nlabel, dev, ref in FW_PATHS:
        if cfg != config:
            continue
        for label, tool, args, cmp in FW_PATH_JOBS.get(path, FW_JOBS):
            a = args.format(d=dev, **imgs)
            extra = {"kind": "fw", "ref": ref}
            if path in FW_OURS_ONLY:
                extra["only"] = "ours"
            steps.append((path, nlabel, label, f"{tool} {a}", extra))
            if cmp and path in DEBIAN_PATHS and (DEBIAN_PATHS[path] is None
                                                  or label in DEBIAN_PATHS[path]):
                steps.append((path, nlabel, "4.21 " + label, f"{DEBIAN_TOOLS[tool]} {a}",
                              {"kind": "debian", "pair": label, "cmp": cmp, "only": "ours"}))
    return steps


def run_inside(args):
    """Inside mtcr-sim: run every step of the plan on one library, save stdout/stderr/rc."""
    with open(args.plan) as f:
        steps = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    run = os.path.join(args.fixture, "run")
    base = [run] + (["--lib", args.lib] if args.lib else [])
    for i, step in enumerate(steps):
        line = step[3]
        extra = step[4] if len(step) > 4 else {}
        if extra.get("only") and extra["only"] != args.which:
            continue
        # Debian's tools run as they are (their own library); the others through the fixture.
        argv = line.split() if extra.get("kind") == "debian" else base + line.split()
        t0 = time.time()
        try:
            p = subprocess.run(argv, capture_output=True, timeout=TIMEOUT,
                               stdin=subprocess.DEVNULL)
            out, err, rc = p.stdout, p.stderr, p.returncode
        except subprocess.TimeoutExpired as e:
            out, err, rc = e.stdout or b"", (e.stderr or b"") + b"\n<TIMEOUT>\n", -999
        for ext, data in (("out", out), ("err", err)):
            with open(os.path.join(args.out, f"{i}.{ext}"), "wb") as f:
                f.write(data)
        with open(os.path.join(args.out, f"{i}.rc"), "w") as f:
            f.write(f"{rc}\n{time.time() - t0:.2f}\n")
    if args.bind_now:
        # Each tool once with LD_BIND_NOW=1 on this library: every symbol resolved at load.
        seen = {}
        for step in steps:
            if len(step) <= 4:
                seen.setdefault(step[3].split()[0], step[3])
        res = {}
        env = dict(os.environ, LD_BIND_NOW="1")
        for tool, line in sorted(seen.items()):
            try:
                p = subprocess.run(base + line.split(), capture_output=True, timeout=TIMEOUT,
                                   env=env, stdin=subprocess.DEVNULL)
                err = p.stderr.decode(errors="replace")
            except subprocess.TimeoutExpired:
                err = ""
            bad = [l for l in err.splitlines()
                   if "undefined symbol" in l or "symbol lookup error" in l]
            res[tool] = bad
        with open(os.path.join(args.out, "bind_now.json"), "w") as f:
            json.dump(res, f, indent=1)
    return 0


def load_diffs(path):
    """compat/upstream-diffs.txt: `PATH-GLOB NAME-GLOB COMMAND-GLOB | reason` per line."""
    entries = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if "|" not in line:
                raise SystemExit(f"{path}:{n}: missing '| reason'")
            key, reason = line.split("|", 1)
            parts = key.split(None, 2)
            if len(parts) != 3 or not reason.strip():
                raise SystemExit(f"{path}:{n}: expected 'PATH NAME COMMAND | reason'")
            entries.append({"path": parts[0], "name": parts[1], "cmd": parts[2].strip(),
                            "reason": reason.strip(), "line": n, "used": 0})
    return entries


def documented(entries, path, name, cmd):
    for e in entries:
        if (fnmatch.fnmatchcase(path, e["path"]) and fnmatch.fnmatchcase(name, e["name"])
                and fnmatch.fnmatchcase(cmd, e["cmd"])):
            e["used"] += 1
            return e
    return None


def dev_of(line, tmpl):
    """The device name a command line was built with."""
    pre, _, post = tmpl.partition("{d}")
    return line[len(pre):len(line) - len(post)] if post else line[len(pre):]


def sub_dev(res, dev):
    """A result with the device name replaced by <DEV>, trailing blanks of every line removed
    (tools pad a column after the name to a width that depends on the name's length)."""
    return tuple("\n".join(l.rstrip() for l in x.replace(dev, "<DEV>").split("\n"))
                 for x in res)


def read_result(d, i, libdirs):
    def rd(ext):
        with open(os.path.join(d, f"{i}.{ext}"), "rb") as f:
            return f.read().decode(errors="replace")
    rc = rd("rc").split("\n")[0]
    return normalise(rd("out"), libdirs), normalise(rd("err"), libdirs), rc


def make_images(sim, d):
    """The firmware images of FW_IMAGES, made by `mtcr-sim image` in d: {name: file}."""
    os.makedirs(d, exist_ok=True)
    out = {}
    for name, a in FW_IMAGES.items():
        f = os.path.join(d, name + ".bin")
        subprocess.run([sim, "image"] + a + ["-o", f], check=True, stdout=subprocess.DEVNULL)
        out[name] = f
    return out


def nv_rows(text):
    """mstconfig q output: {"Device type": ..., PARAM: value} (any column layout)."""
    rows = {}
    conf = False
    for l in text.splitlines():
        if l.startswith("Device type:"):
            rows["Device type"] = l.split(":", 1)[1].strip()
        elif l.startswith("Configurations:"):
            conf = True
        elif conf and l.strip() and l[0] in " \t":
            w = l.replace("*", " ").split()
            if len(w) >= 2:
                rows[w[0]] = w[1]
    return rows


def debian_fields(kind, res):
    """What is compared between Debian 4.21's tool and the fixture's (see DEBIAN_PATHS)."""
    out, _err, rc = res
    if kind == "text":
        return ("\n".join(l.rstrip() for l in out.splitlines()).strip(), rc)
    return (nv_rows(out), rc)


def fw_unexpected(path, lab, res):
    """Why a firmware job's result is not what FW_EXPECT says (None when it is)."""
    if path not in FW_WORKING or lab not in FW_EXPECT:
        return None
    ok, wants = FW_EXPECT[lab]
    out, err, rc = res
    text = (out + err).replace("\r", "\n")
    if (rc == "0") != ok:
        return f"exit status {rc}, expected {'0' if ok else 'non-zero'}"
    missing = [w for w in wants if w not in text]
    return f"output lacks {missing}" if missing else None


def compare_fw(step, i, cfg, done, entries, libdirs):
    """A firmware-job step: (status, reason, failure or None); see compare_fw_outputs. A job
    whose output on either library is not what FW_EXPECT says fails ("DIFFERENT")."""
    path, name, lab, line, extra = step
    st = compare_fw_outputs(step, i, cfg, done, entries, libdirs)
    if extra["kind"] != "fw":
        return st
    _steps, dirs = done[cfg]
    for which in ("upstream", "ours"):
        if which == "upstream" and (extra.get("only") == "ours" or extra.get("ref")):
            continue
        res = read_result(dirs[which], i, libdirs)
        why = fw_unexpected(path, lab, res)
        if why:
            return "DIFFERENT", "", (cfg, i, path, name,
                                     line + f"  [on {which}'s library: {why}]", res, res)
    return st


def vs_reference(done, ref, lab, libdirs, path, name, o):
    """Our result `o` on (path, name) and upstream's on the reference (ref's config, path and
    name form), each with its device name replaced: the pair to compare."""
    rsteps, rdirs = done[ref[0]]
    j = next(k for k, st in enumerate(rsteps) if st[:3] == (ref[1], ref[2], lab))
    r = read_result(rdirs["upstream"], j, libdirs)
    dev_o = next(d for p, _c, n, d, _r in FW_PATHS if (p, n) == (path, name))
    dev_r = next(d for p, _c, n, d, _r in FW_PATHS if (p, n) == (ref[1], ref[2]))
    return sub_dev(o, dev_o), sub_dev(r, dev_r)

def compare_fw_outputs(step, i, cfg, done, entries, libdirs):
    """A firmware-job step: (status, reason, failure or None). A reason starting with "="
    says ours was checked against upstream's output through sysfs (a reference)."""
    path, name, lab, line, extra = step
    steps, dirs = done[cfg]
    if extra["kind"] == "debian":
        j = next(k for k, st in enumerate(steps) if st[:3] == (path, name, extra["pair"]))
        deb = debian_fields(extra["cmp"], read_result(dirs["ours"], i, libdirs))
        bad = []
        for which in ("upstream", "ours"):
            if which == "upstream" and extra.get("upstream_na"):
                continue
            theirs = debian_fields(extra["cmp"], read_result(dirs[which], j, libdirs))
            if extra["cmp"] == "nv":
                common = sorted(set(deb[0]) & set(theirs[0]))
                same = (deb[1] == theirs[1] and (deb[1] != "0" or "SRIOV_EN" in common)
                        and all(deb[0][k] == theirs[0][k] for k in common))
            else:
                same = deb == theirs
            if not same:
                bad.append((which, theirs))
        if not bad:
            return "equal", "", None
        e = documented(entries, path, name, lab)
        if e:
            return "documented", e["reason"], None
        which, theirs = bad[0]
        return "DIFFERENT", "", (cfg, i, path, name, line + f"  [4.21 vs the fixture's tool on "
                                 f"{which}'s library]", (repr(theirs), "", ""),
                                 (repr(deb), "", ""))
    o = read_result(dirs["ours"], i, libdirs)
    ref = extra.get("ref")
    if extra.get("only") == "ours":
        # Upstream's library would take the reference's path: its output there is the answer.
        ours, theirs = vs_reference(done, ref, lab, libdirs, path, name, o)
        if ours == theirs:
            return "equal", "", None
        e = documented(entries, path, name, lab)
        if e:
            return "documented", e["reason"], None
        return "DIFFERENT", "", (cfg, i, path, name, line + f"  [vs upstream via {ref[1]}]",
                                 theirs, ours)
    u = read_result(dirs["upstream"], i, libdirs)
    if u == o:
        return "equal", "", None
    e = documented(entries, path, name, lab)
    if e and ref:
        ours, theirs = vs_reference(done, ref, lab, libdirs, path, name, o)
        if ours == theirs:
            return "documented", "= " + e["reason"], None
        e2 = documented(entries, "ref:" + path, name, lab)
        if e2:
            return "documented", e2["reason"], None
        return "DIFFERENT", "", (cfg, i, path, name, line + f"  [vs upstream via {ref[1]}]",
                                 theirs, ours)
    if e:
        return "documented", e["reason"], None
    return "DIFFERENT", "", (cfg, i, path, name, line, u, o)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--lib", help="directory of our libmtcr_ul.so.1")
    ap.add_argument("--sim", help="mtcr-sim binary")
    ap.add_argument("--out", required=True)
    ap.add_argument("--diffs", default=os.path.join(REPO, "compat", "upstream-diffs.txt"))
    ap.add_argument("--only", help="run only these sim configs (comma separated)")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--plan", help=argparse.SUPPRESS)
    ap.add_argument("--bind-now", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--which", default="ours", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        return run_inside(args)

    fixture = os.path.abspath(args.fixture)
    ours = os.path.abspath(args.lib)
    upstream = os.path.join(fixture, "lib-upstream")
    libdirs = [ours, upstream]
    entries = load_diffs(args.diffs)
    configs = []
    for cfg in [c for _p, c, _n in PATHS] + [c for _p, c, _n, _d, _r in FW_PATHS]:
        if cfg not in configs:
            configs.append(cfg)
    if args.only:
        configs = [c for c in configs if c in args.only.split(",")]
    os.makedirs(args.out, exist_ok=True)
    imgs = make_images(args.sim, os.path.join(os.path.abspath(args.out), "fw"))

    rows = []  # (sim config, path, name, cmd label, status, reason)
    refs_ok = 0
    failures = []
    bind_failures = {}
    done = {}  # sim config -> (steps, dirs): the references of the firmware jobs
    for cfg in configs:
        steps = plan_for(cfg, imgs)
        plan = os.path.join(args.out, f"{cfg}.plan.json")
        with open(plan, "w") as f:
            json.dump(steps, f, indent=0)
        dirs = {}
        for which, lib in (("upstream", None), ("ours", ours)):
            d = os.path.join(args.out, cfg, which)
            dirs[which] = d
            cmd = [args.sim, "run", "--config", os.path.join(CONFIGS, cfg + ".toml"), "--",
                   sys.executable, os.path.abspath(__file__), "--inside", "--fixture", fixture,
                   "--plan", plan, "--out", d, "--which", which]
            if lib:
                cmd += ["--lib", lib]
                if cfg == "sysfs":
                    cmd.append("--bind-now")
            t0 = time.time()
            print(f"test-upstream: {cfg}: {len(steps)} commands on {which}'s library ...",
                  flush=True)
            r = subprocess.run(cmd)
            if r.returncode != 0:
                raise SystemExit(f"test-upstream: mtcr-sim run for {cfg} ({which}) failed: "
                                 f"exit {r.returncode}")
            print(f"test-upstream: {cfg} ({which}) done in {time.time() - t0:.0f} s", flush=True)
        bn = os.path.join(dirs["ours"], "bind_now.json")
        if os.path.exists(bn):
            with open(bn) as f:
                for tool, bad in json.load(f).items():
                    bind_failures.setdefault(tool, []).extend(bad)
        done[cfg] = (steps, dirs)
        index = {(st[0], st[1], st[2]): k for k, st in enumerate(steps)}
        for i, step in enumerate(steps):
            if len(step) > 4:
                st, reason, fail = compare_fw(step, i, cfg, done, entries, libdirs)
                rows.append((cfg, step[0], step[1], step[2], st, reason))
                if st == "documented" and reason.startswith("="):
                    refs_ok += 1
                if fail:
                    failures.append(fail)
                continue
            path, name, tmpl, line = step
            u = read_result(dirs["upstream"], i, libdirs)
            o = read_result(dirs["ours"], i, libdirs)
            lab = label_of(tmpl)
            if u == o:
                rows.append((cfg, path, name, lab, "equal", ""))
                continue
            e = documented(entries, path, name, lab)
            ref = REFERENCES.get((cfg, path, name))
            if e and ref:
                # Ours must give what upstream gives for the function through sysfs.
                j = index.get((ref[0], ref[1], tmpl))
                dev_o = dev_of(line, tmpl)
                dev_r = dev_of(steps[j][3], tmpl)
                r = read_result(dirs["upstream"], j, libdirs)
                if sub_dev(o, dev_o) == sub_dev(r, dev_r):
                    rows.append((cfg, path, name, lab, "documented", e["reason"]))
                    refs_ok += 1
                    continue
                e2 = documented(entries, "ref:" + path, name, lab)
                if e2:
                    rows.append((cfg, path, name, lab, "documented", e2["reason"]))
                    continue
                rows.append((cfg, path, name, lab, "DIFFERENT", ""))
                failures.append((cfg, i, path, name, line + f"  [vs upstream via {ref[1]}]",
                                 sub_dev(r, dev_r), sub_dev(o, dev_o)))
                continue
            if e:
                rows.append((cfg, path, name, lab, "documented", e["reason"]))
            else:
                rows.append((cfg, path, name, lab, "DIFFERENT", ""))
                failures.append((cfg, i, path, name, line, u, o))

    # Summary: per (sim config, path), a matrix command x name form.
    sym = {"equal": "=", "documented": "d", "DIFFERENT": "X"}
    lines = ["# make test-upstream summary", "",
             "`=` equal, `d` documented difference (compat/upstream-diffs.txt), "
             "`X` DIFFERENT (fails).", ""]
    groups = []
    for r in rows:
        if (r[0], r[1]) not in groups:
            groups.append((r[0], r[1]))
    # Compact view: per path and name form, how many commands agree.
    lines += ["## Per path and name form", "",
              "| sim config | path | name form | commands | equal | documented | DIFFERENT |",
              "|---|---|---|---|---|---|---|"]
    seen = []
    for r in rows:
        if r[:3] not in seen:
            seen.append(r[:3])
    for key in seen:
        rs = [r for r in rows if r[:3] == key]
        c = {st: sum(1 for r in rs if r[4] == st) for st in sym}
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {len(rs)} | {c['equal']} | "
                     f"{c['documented']} | {c['DIFFERENT']} |")
    lines.append("")
    for cfg, path in groups:
        pr = [r for r in rows if r[0] == cfg and r[1] == path]
        names = []
        cmds = []
        for r in pr:
            if r[2] not in names:
                names.append(r[2])
            if r[3] not in cmds:
                cmds.append(r[3])
        title = (f"once in sim config `{cfg}`" if path.startswith("(")
                 else f"path `{path}` (sim config `{cfg}`)")
        lines.append(f"## {title}")
        lines.append("")
        lines.append("| command | " + " | ".join(names) + " |")
        lines.append("|---|" + "---|" * len(names))
        for c in cmds:
            cells = []
            for n in names:
                st = [r[4] for r in pr if r[2] == n and r[3] == c]
                cells.append(" ".join(sym[x] for x in st) if st else "")
            lines.append(f"| `{c}` | " + " | ".join(cells) + " |")
        lines.append("")
    fw_rows = [r for r in rows if r[1].startswith("fw/")]
    deb_rows = [r for r in fw_rows if r[3].startswith("4.21 ")]
    fw_rows = [r for r in fw_rows if not r[3].startswith("4.21 ")]
    rows_t = [r for r in rows if not r[1].startswith("fw/")]
    tally = {st: sum(1 for r in rows_t if r[4] == st) for st in sym}
    tools = sorted({r[3].split()[0] for r in rows_t})
    paths = sorted({r[1] for r in rows_t if not r[1].startswith("(")})
    if rows_t:
        lines.append(f"Totals: {len(rows_t)} runs of {len(tools)} tools "
                     f"({', '.join(tools)}) over {len(paths)} paths and "
                     f"{len({r[2] for r in rows_t if r[2] != '-'})} name forms: "
                     f"{tally['equal']} equal, {tally['documented']} documented difference, "
                     f"{tally['DIFFERENT']} DIFFERENT.")
        lines.append("")
    if fw_rows:
        ft = {st: sum(1 for r in fw_rows if r[4] == st) for st in sym}
        fpaths = sorted({r[1] for r in fw_rows})
        dt = {st: sum(1 for r in deb_rows if r[4] == st) for st in sym}
        lines.append(f"Firmware jobs: {len(fw_rows)} runs ({len({r[3] for r in fw_rows})} jobs over "
                     f"{len(fpaths)} paths): {ft['equal']} equal, {ft['documented']} "
                     f"documented difference, {ft['DIFFERENT']} DIFFERENT. Debian 4.21's "
                     f"mstflint / mstconfig against the fixture's tool on both libraries: "
                     f"{len(deb_rows)} comparisons, {dt['equal']} equal, {dt['documented']} "
                     f"documented, {dt['DIFFERENT']} DIFFERENT.")
        lines.append("")
    lines.append(f"Paths upstream's library cannot use: {refs_ok} runs on ours agree with "
                 "upstream's output for the same function through sysfs (device names aside).")
    lines.append("")
    bn_bad = {t: b for t, b in bind_failures.items() if b}
    lines.append(f"LD_BIND_NOW=1 on our library: {len(bind_failures)} tools run, "
                 f"{len(bn_bad)} with an undefined symbol"
                 + (": " + ", ".join(f"{t} ({'; '.join(sorted(set(b)))})" for t, b in bn_bad.items())
                    if bn_bad else "."))
    unused = [e for e in entries if not e["used"]]
    if unused:
        lines.append("")
        lines.append("Entries of compat/upstream-diffs.txt no run needed (the outputs agree now): "
                     + ", ".join(f"line {e['line']}" for e in unused))
    summary = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(summary)
    print(summary)

    for cfg, i, path, name, line, u, o in failures[:40]:
        print(f"--- DIFFERENT: {path} / {name}: {line}  (outputs: {args.out}/{cfg}/*/{i}.*)")
        for what, a, b in (("stdout", u[0], o[0]), ("stderr", u[1], o[1]), ("exit", u[2], o[2])):
            if a != b:
                import difflib
                d = list(difflib.unified_diff(a.splitlines(), b.splitlines(), "upstream",
                                              "ours", lineterm="", n=1))
                print(f"  {what}:")
                for l in d[:30]:
                    print("    " + l)
    if failures or bn_bad:
        print(f"test-upstream: FAILED ({len(failures)} undocumented differences, "
              f"{len(bn_bad)} tools with undefined symbols)")
        return 1
    print("test-upstream: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
