#!/usr/bin/env python3
"""Tool jobs: the same upstream mstflint 4.36 tool binary on upstream's libmtcr_ul.so.1 and on
ours, side by side, inside `mtcr-sim run` (a fresh simulator, so a fresh device state, per run).

Usage (the Makefile's `bench` / `bench-jobs` targets pass everything):
  bench/jobs.py --sim MTCR_SIM --fixture DIR --ours-lib DIR [--out DIR] [--reps N]
                [--burn-reps N] [--paths config,mstflint_access,resource0] [--jobs a,b]
                [--no-strace] [--doc docs/PERFORMANCE.md]

--fixture is the upstream tools directory (`run [--lib DIR] TOOL ARGS`, README.md there);
without it the section is skipped with a message. Per job and access path, runs alternate
upstream / ours, then ours / upstream (A B, B A, ...), and record:
  time   wall time of the tool inside the namespace (from just before `run` is exec'd to its
         exit; the simulator's start-up is not included), median over the runs
  ratio  ours/upstream, median of the ratios of the pairs run back to back
  cfg    config-space accesses (pread/pwrite on sysfs `config`, counted by the model)
  ioctl  driver ioctls (counted by the driver model)
  sys    system calls of the whole run (`strace -c -f`, one run each; the `run` wrapper's own
         bash start-up is included for both alike); on driver paths the preload's forwarding
         calls are replaced by the one ioctl each carries, as bench/run.py does
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

# bench/run.py beside this file: its log and doc splicing serve both benchmarks.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import log, machine_line, splice_doc  # noqa: E402

BDF = "0000:05:00.0"
# The default device's PSID (sim/README.md, [device.firmware] `psid`).
DEFAULT_PSID = "MT_0000000008"
BURN_VERSION = "16.35.2000"

# job -> (label, tool, args); DEV and IMG are substituted.
JOBS = {
    "flint_q": ("mstflint q", "mstflint", ["-d", "DEV", "q"]),
    "flint_v": ("mstflint v", "mstflint", ["-d", "DEV", "v"]),
    "flint_burn": ("mstflint burn", "mstflint", ["-d", "DEV", "-i", "IMG", "-y", "burn"]),
    "config_q": ("mstconfig q", "mstconfig", ["-d", "DEV", "q"]),
    "config_set": ("mstconfig set SRIOV_EN=1", "mstconfig", ["-d", "DEV", "-y", "set", "SRIOV_EN=1"]),
    "reg_mgir": ("mstreg MGIR --get", "mstreg", ["-d", "DEV", "--reg_name", "MGIR", "--get"]),
    "regdump": ("mstregdump", "mstregdump", ["DEV"]),
}
JOB_ORDER = list(JOBS)

# path -> (simulator TOML, device name)
PATHS = {
    "config": ("", BDF),
    "mstflint_access": ('[[device]]\ndriver = "mstflint_access"\n', BDF),
    "resource0": ("", f"/sys/bus/pci/devices/{BDF}/resource0"),
}
PRELOAD_SYSCALLS = {"readlink", "readlinkat", "fstat", "newfstatat", "statx", "getpid",
                    "sendto", "recvfrom", "sendmsg", "recvmsg", "socket", "connect", "fcntl",
                    "capget"}
# Times the tool inside the namespace (bash `time`: wall, user and system seconds of the tool
# and its children) into $JOBTIME_OUT; the tool's stderr stays where it was, its status kept.
TIMER = ('TIMEFORMAT="%3R %3U %3S"; exec 3>"$JOBTIME_OUT"; '
         '{ time "$@" 2>&4; } 4>&2 2>&3')


class JobFailed(Exception):
    pass


def write_cfg(workdir, path):
    toml = PATHS[path][0]
    if not toml:
        return None
    p = os.path.join(workdir, f"{path}.toml")
    with open(p, "w") as f:
        f.write(toml)
    return p


def job_cmd(args, job, path, lib, img):
    _, tool, targs = JOBS[job]
    dev = PATHS[path][1]
    targs = [dev if a == "DEV" else img if a == "IMG" else a for a in targs]
    return [os.path.join(args.fixture, "run"), "--lib", lib, tool] + targs


def sim_run(args, path, cmd, workdir, stats=None):
    full = [args.sim, "run"]
    cfg = write_cfg(workdir, path)
    if cfg:
        full += ["--config", cfg]
    if stats:
        full += ["--stats", stats]
    full += ["--"] + cmd
    env = dict(os.environ, MTCR_SIM_BIN=args.sim)
    for k in ("MTCR_LOG", "MFT_DEBUG", "MTCR_FORCE_PATH", "FW_CTRL", "FLASH_ACCESS_DEBUG"):
        env.pop(k, None)
    return subprocess.run(full, capture_output=True, text=True, env=env)


def timed_run(args, job, path, lib, img, workdir):
    """One run of `job` in a fresh simulator: (ns, counters)."""
    tfile = tempfile.mktemp(dir=workdir, prefix="t-")
    sfile = tempfile.mktemp(dir=workdir, prefix="s-", suffix=".json")
    os.environ["JOBTIME_OUT"] = tfile
    try:
        p = sim_run(args, path, ["bash", "-c", TIMER, "bash"] + job_cmd(args, job, path, lib, img),
                    workdir, sfile)
    finally:
        del os.environ["JOBTIME_OUT"]
    if p.returncode != 0:
        tail = [l for l in (p.stdout + p.stderr).strip().splitlines() if "-E-" in l][-1:]
        msg = " / ".join(tail or ["no message"]).replace(PATHS[path][1], "DEV")
        raise JobFailed(f"exit {p.returncode}: {msg.replace('-E- ', '')}")
    with open(tfile) as f:
        real, user, system = (float(x) for x in f.read().split()[:3])
    ns = int(real * 1e9)
    with open(sfile) as f:
        d = json.load(f)["devices"][BDF]
    return ns, {
        "cfg_r": d["config_reads"], "cfg_w": d["config_writes"],
        "cfg": d["config_reads"] + d["config_writes"],
        "ioctl": d["ioctls_total"], "ioctls": d.get("ioctls", {}),
        "sem": d.get("semaphore_acquired", 0),
        "cpu_ns": int((user + system) * 1e9),
    }


def strace_run(args, job, path, lib, img, workdir, ioctls):
    outf = tempfile.mktemp(dir=workdir, prefix="strace-")
    p = sim_run(args, path, ["strace", "-c", "-f", "-o", outf] + job_cmd(args, job, path, lib, img),
                workdir)
    if p.returncode != 0:
        return None, []
    per = {}
    with open(outf) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
            if m and m.group(2) != "total":
                per[m.group(2)] = int(m.group(1))
    total = sum(per.values())
    if path == "mstflint_access":
        total -= sum(v for k, v in per.items() if k in PRELOAD_SYSCALLS)
        total += ioctls
    top = sorted(((v, k) for k, v in per.items()), reverse=True)[:4]
    return total, top


def fmt_t(ns):
    if ns is None:
        return "-"
    return f"{ns / 1e9:.2f} s" if ns >= 1e9 else f"{ns / 1e6:.0f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--ours-lib", required=True,
                    help="directory holding our libmtcr_ul.so.1 (or our libmtcr_ul.so file)")
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("--reps", type=int, default=7, help="runs per library per job")
    ap.add_argument("--burn-reps", type=int, default=3, help="runs per library of a burn")
    ap.add_argument("--paths", default="config,mstflint_access,resource0")
    ap.add_argument("--jobs", default=",".join(JOB_ORDER))
    ap.add_argument("--no-strace", action="store_true")
    ap.add_argument("--doc")
    args = ap.parse_args()
    if not os.access(os.path.join(args.fixture, "run"), os.X_OK):
        log(f"bench-jobs: no upstream tools at {args.fixture} (upstream mstflint 4.36 tools on "
            "libmtcr_ul.so.1; set UPSTREAM_FIXTURE=DIR): tool jobs skipped")
        return 0
    args.fixture = os.path.abspath(args.fixture)
    os.makedirs(args.out, exist_ok=True)
    workdir = tempfile.mkdtemp(dir=os.path.abspath(args.out), prefix="jobs-")
    ours = os.path.abspath(args.ours_lib)
    if os.path.isfile(ours):
        d = os.path.join(workdir, "lib-ours")
        os.makedirs(d)
        os.symlink(ours, os.path.join(d, "libmtcr_ul.so.1"))
        ours = d
    libs = {"upstream": os.path.join(args.fixture, "lib-upstream"), "ours": ours}
    img = os.path.join(workdir, "fw.bin")
    subprocess.run([args.sim, "image", "--fw-version", BURN_VERSION, "--psid", DEFAULT_PSID,
                    "-o", img], check=True, capture_output=True)
    jobs = [j for j in JOB_ORDER if j in args.jobs.split(",")]
    paths = [p for p in args.paths.split(",") if p]
    for p in paths:
        if p not in PATHS:
            sys.exit(f"unknown path {p}; known: {', '.join(PATHS)}")
    started = datetime.datetime.now(datetime.timezone.utc)

    res = {}
    for p in paths:
        for j in jobs:
            reps = args.burn_reps if j == "flint_burn" else args.reps
            r = {"upstream": [], "ours": [], "pairs": [], "fail": {}}
            for i in range(reps):
                order = ("upstream", "ours") if i % 2 == 0 else ("ours", "upstream")
                got = {}
                for who in order:
                    if who in r["fail"]:
                        continue
                    try:
                        got[who] = timed_run(args, j, p, libs[who], img, workdir)
                        r[who].append(got[who])
                    except JobFailed as e:
                        r["fail"][who] = str(e)
                if "ours" in got and "upstream" in got:
                    r["pairs"].append(got["ours"][0] / got["upstream"][0])
                if r["fail"]:
                    break
            if p == "mstflint_access":
                # A library that fell back to sysfs config did not use the driver path.
                for who in ("upstream", "ours"):
                    if r[who] and r[who][0][1]["ioctl"] == 0 and who not in r["fail"]:
                        r["fail"][who] = "did not use the driver (no ioctls)"
            r["sys"] = {}
            if not args.no_strace:
                for who in ("upstream", "ours"):
                    if r[who] and who not in r["fail"]:
                        r["sys"][who] = strace_run(args, j, p, libs[who], img, workdir,
                                                   r[who][0][1]["ioctl"])
            res[(p, j)] = r
            log(f"bench-jobs: {p} {JOBS[j][0]}: " + ", ".join(
                f"{who} {fmt_t(statistics.median(x[0] for x in r[who])) if r[who] else '-'}"
                for who in ("upstream", "ours"))
                + (f" (failed: {r['fail']})" if r["fail"] else ""))

    text = "\n".join(render(args, paths, jobs, res, started)) + "\n"
    print(text)
    with open(os.path.join(args.out, "jobs.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "jobs.json"), "w") as f:
        json.dump({f"{p} {j}": {"upstream": r["upstream"], "ours": r["ours"], "pairs": r["pairs"],
                                "fail": r["fail"], "sys": r["sys"]}
                   for (p, j), r in res.items()}, f, indent=1)
    if args.doc:
        splice_doc(args.doc, text, "JOBS")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def render(args, paths, jobs, res, started):
    out = [
        f"{machine_line(started)}; upstream mstflint 4.36 tools "
        f"(`{os.path.basename(args.fixture)}`), each job run {args.reps} times per library "
        f"({args.burn_reps} for the burn), alternating upstream/ours and ours/upstream, a fresh "
        f"simulator per run; burn image: `mtcr-sim image --fw-version {BURN_VERSION} --psid "
        f"{DEFAULT_PSID}` on the default 2 MiB flash.",
        "",
        "time: median wall time of the tool; ours/up: median ratio of the back-to-back pairs; "
        "min: shortest run; cpu: user + system time of the tool process (median); "
        "cfg: config-space accesses (reads + writes), ioctl: driver ioctls, sys: system calls "
        "(`strace -c -f`, one run); u = upstream's library, o = ours.",
        "",
        "| path | job | upstream | ours | ours/up | min u | min o | cpu u | cpu o | cfg u | cfg o | ioctl u | ioctl o | sys u | sys o |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in paths:
        for j in jobs:
            r = res[(p, j)]
            cells = {}
            for who in ("upstream", "ours"):
                if who in r["fail"] or not r[who]:
                    cells[who] = None
                    continue
                c = r[who][0][1]
                s = r["sys"].get(who, (None,))[0]
                cells[who] = {
                    "t": fmt_t(statistics.median(x[0] for x in r[who])),
                    "min": fmt_t(min(x[0] for x in r[who])),
                    "cpu": fmt_t(statistics.median(x[1]["cpu_ns"] for x in r[who])),
                    "cfg": str(int(statistics.median(x[1]["cfg"] for x in r[who]))),
                    "ioctl": str(int(statistics.median(x[1]["ioctl"] for x in r[who]))),
                    "sys": "-" if s is None else str(s),
                }
                del c
            u, o = cells["upstream"], cells["ours"]
            ratio = f"{statistics.median(r['pairs']):.2f}" if u and o and r["pairs"] else "-"

            def col(c, k, who):
                if c is None:
                    return f"fails ({r['fail'][who][:60]})" if k == "t" and who in r["fail"] else "-"
                return c[k]
            out.append(f"| {p} | {JOBS[j][0]} | {col(u, 't', 'upstream')} | {col(o, 't', 'ours')} | "
                       f"{ratio} | {col(u, 'min', 'upstream')} | {col(o, 'min', 'ours')} | "
                       f"{col(u, 'cpu', 'upstream')} | {col(o, 'cpu', 'ours')} | "
                       f"{col(u, 'cfg', 'upstream')} | {col(o, 'cfg', 'ours')} | "
                       f"{col(u, 'ioctl', 'upstream')} | {col(o, 'ioctl', 'ours')} | "
                       f"{col(u, 'sys', 'upstream')} | {col(o, 'sys', 'ours')} |")
    return out


if __name__ == "__main__":
    sys.exit(main())
