#!/usr/bin/env python3
"""Run mtcr_bench for ours and the stock library inside `mtcr-sim run`, side by side (one
process loads both and times them repetition by repetition, A B then B A), gather the
simulator's counters per row and syscalls per dword (strace -c -f), print the table.

Usage (the Makefile's `bench` target passes everything):
  bench/run.py --sim MTCR_SIM --bench MTCR_BENCH --ours LIB --stock LIB [--out DIR]
               [--rounds N] [--reps N] [--mem N] [--paths p1,p2] [--no-strace] [--trace-1m]
               [--doc docs/PERFORMANCE.md]

Per path the simulated device comes from a TOML written into --out; per row:
  time      median over rounds of the median over reps (ns per dword; per operation for open)
  ratio     ours/stock, taken repetition by repetition within a side-by-side run (the
            median of those ratios), then the median over rounds
  cfg/dw    config-space accesses (pread/pwrite calls on sysfs `config`, counted by the
            model) per dword (per operation for open)
  ioctl/dw  driver ioctls per dword
  sys/dw    system calls per dword from `strace -c -f`: (count with n ops - count with 0 ops)
            / (n * dwords); on driver paths the preload's forwarding syscalls are replaced by
            the ioctl they carry (see docs/PERFORMANCE.md)
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile

BDF = "0000:05:00.0"
SMALL_ROWS = ["open", "read4", "write4", "rblk16", "rblk256", "rblk4k", "rblk64k",
              "wblk16", "wblk256", "wblk4k", "wblk64k"]
BIG_ROWS = ["rblk1m", "wblk1m"]
SMALL_ROWS.append("reg")
ROW_ORDER = ["open", "read4", "write4", "rblk16", "rblk256", "rblk4k", "rblk64k", "rblk1m",
             "wblk16", "wblk256", "wblk4k", "wblk64k", "wblk1m", "reg"]
ROW_DWORDS = {"open": 0, "read4": 1, "write4": 1, "rblk16": 4, "rblk256": 64, "rblk4k": 1024,
              "rblk64k": 16384, "rblk1m": 262144, "wblk16": 4, "wblk256": 64, "wblk4k": 1024,
              "wblk64k": 16384, "wblk1m": 262144, "reg": 0}
ROW_LABEL = {
    "open": "mopen+mclose", "read4": "mread4", "write4": "mwrite4",
    "rblk16": "mread4_block 16 B", "rblk256": "mread4_block 256 B",
    "rblk4k": "mread4_block 4 KiB", "rblk64k": "mread4_block 64 KiB",
    "rblk1m": "mread4_block 1 MiB",
    "wblk16": "mwrite4_block 16 B", "wblk256": "mwrite4_block 256 B",
    "wblk4k": "mwrite4_block 4 KiB", "wblk64k": "mwrite4_block 64 KiB",
    "wblk1m": "mwrite4_block 1 MiB",
    "reg": "maccess_reg MGIR (160 B)",
}
# Rows each path runs (default: all but "reg"). "reg" is a register access: over ICMD through
# the VSEC gateway on the config path, over one FWCTL_RPC on the fwctl path (which has no
# crspace rows).
PATH_ROWS = {"config": ROW_ORDER, "fwctl": ["open", "reg"]}
# The cheap row that tells whether ours uses a driver path at all.
PROBE_ROW = {"fwctl": "reg"}
# Syscalls the simulator's LD_PRELOAD makes to carry one ioctl to the driver model.
PRELOAD_SYSCALLS = {"readlink", "readlinkat", "fstat", "newfstatat", "statx", "getpid",
                    "sendto", "recvfrom", "sendmsg", "recvmsg", "socket", "connect", "fcntl",
                    "capget"}

# path -> (toml, device name, driver?, stock speaks it?)
PATHS = {
    "config": ("", BDF, False, True),
    # bar_icmd off: the rows measure the mapping, not the simulator's ICMD page forwarding
    # (every access to a forwarded page traps into the preload, for both libraries alike).
    "resource0": ('[[device]]\nbar_icmd = false\n', f"/sys/bus/pci/devices/{BDF}/resource0",
                  False, True),
    "mstflint_access": ('[[device]]\ndriver = "mstflint_access"\n', BDF, True, True),
    "mst_driver": ('[[device]]\ndriver = "mst_driver"\n', BDF, True, False),
    "fwctl": ('[[device]]\nfwctl = true\n', "fwctl0", True, False),
}
NA_OURS_DRIVER = "n/a (ours did not use the driver: see the log)"
NA_STOCK_GEN1 = "n/a (stock fails on MST_PARAMS)"
NA_STOCK = {"mst_driver": NA_STOCK_GEN1, "fwctl": "n/a (Debian's 4.21 has no fwctl)"}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sim_run(args, cfg, cmd, env=None):
    full = [args.sim, "run"]
    if cfg:
        full += ["--config", cfg]
    full += ["--"] + cmd
    e = dict(os.environ, MTCR_SIM_BIN=args.sim)
    e.pop("MTCR_LOG", None)
    e.pop("MFT_DEBUG", None)
    if env:
        e.update(env)
    p = subprocess.run(full, capture_output=True, text=True, env=e)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(full)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p.stdout


def parse_kv(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def counters(d, snapdir, row):
    def load(w):
        with open(os.path.join(snapdir, f"{row}.{w}.json")) as f:
            return json.load(f)["devices"][BDF]
    a, b = load("before"), load("after")
    return {
        "cfg": (b["config_reads"] + b["config_writes"]) - (a["config_reads"] + a["config_writes"]),
        "ioctl": b["ioctls_total"] - a["ioctls_total"],
        "ioctls": {k: v - a["ioctls"].get(k, 0) for k, v in b["ioctls"].items()
                   if v != a["ioctls"].get(k, 0)},
        "mmaps": b["mmaps"] - a["mmaps"],
    }


def bench_pass(args, path, rows, reps, workdir, libs):
    """Run mtcr_bench on `path` for one library (`libs` = [lib]) or two side by side
    (`libs` = [ours, stock], mtcr_bench -B). Returns the row results per library (indexed as
    `libs`) and, side by side, the ratio per row."""
    toml, dev, _, _ = PATHS[path]
    cfg = write_cfg(workdir, path, toml)
    snapdir = tempfile.mkdtemp(dir=workdir, prefix="snap-")
    second = ["-B", libs[1]] if len(libs) == 2 else []
    out = sim_run(args, cfg, [args.bench, "-r", str(reps), "-s", snapdir, "-o", ",".join(rows)]
                  + second + [libs[0], dev])
    res = [{} for _ in libs]
    ratios = {}
    for line in out.splitlines():
        if line.startswith("ROW "):
            kv = parse_kv(line)
            name, lib = kv["name"], kv.get("lib")
            dw = int(kv["dwords"])
            # Side by side, the snapshots cover the first repetition of each library only.
            counted = int(kv["reps"]) if lib is None else 1
            units = int(kv["ops"]) * counted * (dw if dw else 1)
            c = counters(dev, snapdir, name if lib is None else f"{name}.{lib}")
            res[int(lib or 0)][name] = {
                "ns": float(kv["median_ns_per_dword"]),
                "cfg": c["cfg"] / units,
                "ioctl": c["ioctl"] / units,
                "ioctls": {k: v / units for k, v in c["ioctls"].items()},
            }
        elif line.startswith("RATIO "):
            kv = parse_kv(line)
            ratios[kv["name"]] = float(kv["median"])
        elif line.startswith("DONE") and parse_kv(line).get("failures") != "0":
            raise RuntimeError(f"{' and '.join(libs)} on {path}: {line}")
    return res, ratios


def timed_pass(args, path, lib, rows, reps, workdir):
    """One library alone: its row results."""
    return bench_pass(args, path, rows, reps, workdir, [lib])[0][0]


def dual_pass(args, path, rows, reps, workdir):
    """Ours and stock side by side: their row results and the ratios per row."""
    (ours, stock), ratios = bench_pass(args, path, rows, reps, workdir, [args.ours, args.stock])
    return ours, stock, ratios


def write_cfg(workdir, path, toml):
    if not toml:
        return None
    p = os.path.join(workdir, f"{path}.toml")
    with open(p, "w") as f:
        f.write(toml)
    return p


def strace_count(args, path, lib, row, n, workdir):
    toml, dev, driver, _ = PATHS[path]
    cfg = write_cfg(workdir, path, toml)
    outf = os.path.join(workdir, f"strace-{os.path.basename(lib)}-{path}-{row}-{n}.txt")
    sim_run(args, cfg, ["strace", "-c", "-f", "-o", outf, args.bench, "-n", str(n), "-o", row,
                        lib, dev])
    per = {}
    with open(outf) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
            if m and m.group(2) != "total":
                per[m.group(2)] = int(m.group(1))
    return per


def syscalls_per_dword(args, path, lib, row, ioctl_per_unit, workdir):
    dw = ROW_DWORDS[row]
    n = 1 if dw >= 1024 or row == "open" else 16
    a = strace_count(args, path, lib, row, 0, workdir)
    b = strace_count(args, path, lib, row, n, workdir)
    diff = {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b)}
    total = sum(diff.values())
    if PATHS[path][2]:
        total -= sum(v for k, v in diff.items() if k in PRELOAD_SYSCALLS)
        total += ioctl_per_unit * n * (dw if dw else 1)
    top = sorted(((v, k) for k, v in diff.items() if v > 0), reverse=True)[:3]
    return total / (n * (dw if dw else 1)), top


def fmt_ns(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f} ms"
    if x >= 1e3:
        return f"{x / 1e3:.1f} µs"
    return f"{x:.0f} ns"


def fmt_n(x):
    if x is None:
        return "-"
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--stock", required=True)
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rounds-1m", type=int, default=1,
                    help="rounds that include the 1 MiB rows (they dominate the run time)")
    ap.add_argument("--mem", type=int, default=10000)
    ap.add_argument("--mem-libs", default="ours")
    ap.add_argument("--paths", default="config,resource0,mstflint_access,mst_driver,fwctl")
    ap.add_argument("--rows", default=",".join(ROW_ORDER))
    ap.add_argument("--no-strace", action="store_true")
    ap.add_argument("--trace-1m", action="store_true")
    ap.add_argument("--doc")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    workdir = tempfile.mkdtemp(dir=args.out, prefix="run-")
    rows = [r for r in ROW_ORDER if r in args.rows.split(",")]
    paths = [p for p in args.paths.split(",") if p]
    for p in paths:
        if p not in PATHS:
            sys.exit(f"unknown path {p}; known: {', '.join(PATHS)}")
    libs = {"ours": args.ours, "stock": args.stock}
    started = datetime.datetime.now(datetime.timezone.utc)

    # results[path][lib][round][row]; ratios[path][round][row] from side-by-side runs
    results = {p: {"ours": [], "stock": []} for p in paths}
    ratios = {p: [] for p in paths}
    na = {p: {} for p in paths}
    for p in paths:
        if not PATHS[p][3]:
            na[p]["stock"] = NA_STOCK[p]
    def rows_of(p):
        allowed = PATH_ROWS.get(p, [r for r in ROW_ORDER if r != "reg"])
        return [r for r in rows if r in allowed]

    for rnd in range(args.rounds):
        for p in paths:
            prows = rows_of(p)
            if rnd == 0 and PATHS[p][2] and "ours" not in na[p]:
                # Does ours use the driver at all? (One cheap row; a library that falls back to
                # sysfs when the driver path fails shows no ioctls.)
                pr = PROBE_ROW.get(p, "read4")
                try:
                    probe = timed_pass(args, p, libs["ours"], [pr], 1, workdir)
                except RuntimeError as e:
                    log(f"bench: ours on {p}: {e}")
                    probe = {}
                if not probe or probe[pr]["ioctl"] == 0:
                    na[p]["ours"] = NA_OURS_DRIVER
            if not na[p]:
                log(f"bench: round {rnd + 1}/{args.rounds} {p} ours and stock side by side")
                small = [r for r in prows if r in SMALL_ROWS]
                big = [r for r in prows if r in BIG_ROWS]
                o, s, rat = dual_pass(args, p, small, args.reps, workdir) if small else ({}, {}, {})
                if big and rnd < args.rounds_1m:
                    bo, bs, brat = dual_pass(args, p, big, 1, workdir)
                    o.update(bo)
                    s.update(bs)
                    rat.update(brat)
                results[p]["ours"].append(o)
                results[p]["stock"].append(s)
                ratios[p].append(rat)
                continue
            for who in ("ours", "stock"):
                if who in na[p]:
                    continue
                log(f"bench: round {rnd + 1}/{args.rounds} {p} {who}")
                small = [r for r in prows if r in SMALL_ROWS]
                big = [r for r in prows if r in BIG_ROWS]
                try:
                    res = timed_pass(args, p, libs[who], small, args.reps, workdir) if small else {}
                    if big and rnd < args.rounds_1m:
                        res.update(timed_pass(args, p, libs[who], big, 1, workdir))
                except RuntimeError as e:
                    if who == "ours" and PATHS[p][2]:
                        na[p]["ours"] = NA_OURS_DRIVER
                        log(f"bench: ours on {p}: {e}")
                        continue
                    raise
                if who == "ours" and PATHS[p][2] and all(v["ioctl"] == 0 for v in res.values()):
                    # The library opened the device some other way (sysfs): not the driver path.
                    na[p]["ours"] = NA_OURS_DRIVER
                    continue
                results[p][who].append(res)

    sysc = {p: {"ours": {}, "stock": {}} for p in paths}
    if not args.no_strace:
        for p in paths:
            for who in ("ours", "stock"):
                if who in na[p] or not results[p][who]:
                    continue
                log(f"bench: strace {p} {who}")
                for r in rows_of(p):
                    if r in BIG_ROWS and not args.trace_1m:
                        continue
                    if r not in results[p][who][0]:
                        continue
                    ioc = results[p][who][0][r]["ioctl"]
                    sysc[p][who][r] = syscalls_per_dword(args, p, libs[who], r, ioc, workdir)

    mem = {}
    if args.mem > 0:
        for who in args.mem_libs.split(","):
            log(f"bench: memory check {who} ({args.mem} opens)")
            out = sim_run(args, None, [args.bench, "-o", "none", "-m", str(args.mem), libs[who], BDF])
            mem[who] = [parse_kv(l) for l in out.splitlines() if l.startswith("MEM ")]

    lines = render(args, paths, rows, results, ratios, na, sysc, mem, started)
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"results": results, "ratios": ratios, "na": na, "syscalls": {p: {w: {r: v[0] for r, v in d.items()}
                                                                    for w, d in s.items()}
                                                                for p, s in sysc.items()},
                   "mem": mem}, f, indent=1)
    if args.doc:
        splice_doc(args.doc, text)


def machine_line(started):
    """`Run: <time>, <host>, <cpu>, <n> CPUs, Linux <release>` (both benchmarks' tables)."""
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"Run: {started.strftime('%Y-%m-%d %H:%M UTC')}, {platform.node()}, {cpu}, "
            f"{os.cpu_count()} CPUs, Linux {platform.release()}")


def render(args, paths, rows, results, ratios, na, sysc, mem, started):
    out = [
        f"{machine_line(started)}; "
        f"{args.rounds} rounds, ours and stock side by side in one process (A B, B A, ...), "
        f"{args.reps} reps per row "
        f"(1 MiB rows: {min(args.rounds, args.rounds_1m)} round(s) of 1 rep); "
        f"ours = `{os.path.basename(args.ours)}`, stock = `{args.stock}`.",
        "",
        "Times are per dword (per operation for mopen+mclose and maccess_reg) and include the simulator "
        "(FUSE round trip per config access). cfg, ioctl, sys = config accesses, ioctls, "
        "system calls per dword (per operation for mopen+mclose and maccess_reg); o = ours, s = stock.",
        "",
        "| path | row | ours | stock | ours/stock | cfg o | cfg s | ioctl o | ioctl s | sys o | sys s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in paths:
        allowed = PATH_ROWS.get(p, [r for r in ROW_ORDER if r != "reg"])
        for r in [r for r in rows if r in allowed]:
            cells = {}
            for who in ("ours", "stock"):
                rs = [x for x in results[p][who] if r in x]
                if who in na[p] or not rs:
                    cells[who] = None
                    continue
                cells[who] = {
                    "ns": statistics.median(x[r]["ns"] for x in rs),
                    "cfg": rs[0][r]["cfg"],
                    "ioctl": rs[0][r]["ioctl"],
                    "sys": sysc[p][who].get(r, (None,))[0],
                }
            o, s = cells["ours"], cells["stock"]
            if o and s:
                pairs = [x[r] for x in ratios[p] if r in x]
                if not pairs:
                    pairs = [a[r]["ns"] / b[r]["ns"] for a, b in zip(results[p]["ours"],
                                                                       results[p]["stock"])
                             if r in a and r in b]
                ratio = f"{statistics.median(pairs):.2f}"
            else:
                ratio = "-"

            def col(c, k, f, who):
                if c is None:
                    return na[p].get(who, "-") if k == "ns" else "-"
                return f(c[k])
            out.append(
                f"| {p} | {ROW_LABEL[r]} | {col(o, 'ns', fmt_ns, 'ours')} | "
                f"{col(s, 'ns', fmt_ns, 'stock')} | {ratio} | {col(o, 'cfg', fmt_n, 'ours')} | "
                f"{col(s, 'cfg', fmt_n, 'stock')} | {col(o, 'ioctl', fmt_n, 'ours')} | "
                f"{col(s, 'ioctl', fmt_n, 'stock')} | {col(o, 'sys', fmt_n, 'ours')} | "
                f"{col(s, 'sys', fmt_n, 'stock')} |")
    if mem:
        out += ["", "Memory (sysfs config path):", "",
                "| library | opens | RSS before | RSS after | growth | 1 MiB read peak | 1 MiB write peak |",
                "|---|---|---|---|---|---|---|"]
        for who, recs in mem.items():
            oc = next((m for m in recs if "open_close" in m), {})
            rd = next((m for m in recs if m.get("block") == "read"), {})
            wr = next((m for m in recs if m.get("block") == "write"), {})
            out.append(f"| {who} | {oc.get('open_close', '-')} | {oc.get('rss_before_kib', '-')} KiB | "
                       f"{oc.get('rss_after_kib', '-')} KiB | {oc.get('growth_kib', '-')} KiB | "
                       f"+{rd.get('peak_growth_kib', '-')} KiB | +{wr.get('peak_growth_kib', '-')} KiB |")
    return out


def splice_doc(doc, text, name="BENCH"):
    """Replace what stands between the NAME:BEGIN / NAME:END markers of `doc` with `text`."""
    begin = f"<!-- {name}:BEGIN (generated by make bench UPDATE_DOC=1) -->"
    end = f"<!-- {name}:END -->"
    with open(doc) as f:
        cur = f.read()
    i, j = cur.find(begin), cur.find(end)
    if i < 0 or j < i:
        sys.exit(f"{doc}: markers {begin} / {end} not found")
    with open(doc, "w") as f:
        f.write(cur[:i + len(begin)] + "\n" + text + cur[j:])
    log(f"bench: {name} table written into {doc}")


if __name__ == "__main__":
    main()
