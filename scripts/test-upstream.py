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

# Normalisations applied to both outputs before comparing (pattern, replacement, why).
NORMALISATIONS = [
    (r"/tmp/mtcr-sim\.[A-Za-z0-9]+", "<SIMDIR>",
     "the simulator's private work directory has a random name per run"),
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


def plan_for(config):
    """[(path, name label, device name or None, command template, command line)] of a config."""
    steps = []
    for path, cfg, names in PATHS:
        if cfg != config:
            continue
        for nlabel, dev in names:
            for c in COMMANDS:
                steps.append((path, nlabel, c, c.format(d=dev)))
    for c in ONCE.get(config, []):
        steps.append((f"({config})", "-", c, c))
    return steps


def run_inside(args):
    """Inside mtcr-sim: run every step of the plan on one library, save stdout/stderr/rc."""
    with open(args.plan) as f:
        steps = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    run = os.path.join(args.fixture, "run")
    base = [run] + (["--lib", args.lib] if args.lib else [])
    for i, (_path, _name, _tmpl, line) in enumerate(steps):
        t0 = time.time()
        try:
            p = subprocess.run(base + line.split(), capture_output=True, timeout=TIMEOUT,
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
        for _path, _name, _tmpl, line in steps:
            seen.setdefault(line.split()[0], line)
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
    return tuple(x.replace(dev, "<DEV>") for x in res)


def read_result(d, i, libdirs):
    def rd(ext):
        with open(os.path.join(d, f"{i}.{ext}"), "rb") as f:
            return f.read().decode(errors="replace")
    rc = rd("rc").split("\n")[0]
    return normalise(rd("out"), libdirs), normalise(rd("err"), libdirs), rc


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
    args = ap.parse_args()
    if args.inside:
        return run_inside(args)

    fixture = os.path.abspath(args.fixture)
    ours = os.path.abspath(args.lib)
    upstream = os.path.join(fixture, "lib-upstream")
    libdirs = [ours, upstream]
    entries = load_diffs(args.diffs)
    configs = []
    for _p, cfg, _n in PATHS:
        if cfg not in configs:
            configs.append(cfg)
    if args.only:
        configs = [c for c in configs if c in args.only.split(",")]
    os.makedirs(args.out, exist_ok=True)

    rows = []  # (sim config, path, name, cmd label, status, reason)
    refs_ok = 0
    failures = []
    bind_failures = {}
    for cfg in configs:
        steps = plan_for(cfg)
        plan = os.path.join(args.out, f"{cfg}.plan.json")
        with open(plan, "w") as f:
            json.dump(steps, f, indent=0)
        dirs = {}
        for which, lib in (("upstream", None), ("ours", ours)):
            d = os.path.join(args.out, cfg, which)
            dirs[which] = d
            cmd = [args.sim, "run", "--config", os.path.join(CONFIGS, cfg + ".toml"), "--",
                   sys.executable, os.path.abspath(__file__), "--inside", "--fixture", fixture,
                   "--plan", plan, "--out", d]
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
        index = {(p, n, t): k for k, (p, n, t, _l) in enumerate(steps)}
        for i, (path, name, tmpl, line) in enumerate(steps):
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
    tally = {st: sum(1 for r in rows if r[4] == st) for st in sym}
    tools = sorted({r[3].split()[0] for r in rows})
    paths = sorted({r[1] for r in rows if not r[1].startswith("(")})
    lines.append(f"Totals: {len(rows)} runs of {len(tools)} tools "
                 f"({', '.join(tools)}) over {len(paths)} paths and "
                 f"{len({r[2] for r in rows if r[2] != '-'})} name forms: "
                 f"{tally['equal']} equal, {tally['documented']} documented difference, "
                 f"{tally['DIFFERENT']} DIFFERENT.")
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
