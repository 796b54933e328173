#!/usr/bin/env python3
"""Layer check over src/: fails on an import cycle or on `ffi` used from outside `ffi`.

Reads every `crate::a::b` path in the non-test code of src/ (use lines and inline paths,
`super::` resolved), builds the graph between modules, and reports
  * a cycle between top-level modules (src/X.rs or src/X/),
  * a cycle between the files of one top-level module (a child file may use its parent's
    mod.rs items; the parent declaring the child is not a use),
  * any use of `crate::ffi` outside src/ffi/.
Test code (files named tests.rs / sim_tests.rs / *_tests.rs, and everything after a
`#[cfg(test)]` line) is skipped. Usage: scripts/check-layers.py [--graph]
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_of(path):
    """src/access/driver/mod.rs -> ['access', 'driver']; src/lib.rs -> []."""
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    return rel


def strip_tests(text):
    out = []
    for line in text.splitlines():
        if line.strip().startswith("#[cfg(test)]"):
            break
        s = line.split("//", 1)[0]
        out.append(s)
    return "\n".join(out)


def expand_use(text):
    """Paths named in the code: `crate::a::{b, c::d}` -> crate::a::b, crate::a::c::d."""
    paths = []
    for m in re.finditer(r"\b(crate|super|self)((?:::\w+)*)(::\{)?", text):
        head = m.group(1) + m.group(2)
        if m.group(3):
            depth, i, start = 1, m.end(), m.end()
            while i < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            inner = text[start : i - 1]
            for part in split_top(inner):
                part = part.strip()
                if part:
                    paths.append(head + "::" + part.split(" as ")[0].split("::{")[0])
        else:
            paths.append(head)
    return paths


def split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def main():
    files = {}
    for root, _, names in os.walk(SRC):
        for n in names:
            if n.endswith(".rs"):
                files[tuple(module_of(os.path.join(root, n)))] = os.path.join(root, n)
    mods = set(files)
    edges = {}
    errors = []
    for mod, path in files.items():
        base = os.path.basename(path)
        if base in ("tests.rs", "sim_tests.rs") or base.endswith("_tests.rs"):
            continue
        if any(p in ("tests", "sim_tests") for p in mod):
            continue
        text = strip_tests(open(path).read())
        for p in expand_use(text):
            segs = p.split("::")
            if segs[0] == "crate":
                target = segs[1:]
            else:
                cur = list(mod) if not (path.endswith("mod.rs") or path.endswith("lib.rs")) else list(mod) + ["_"]
                cur = cur[:-1] if segs[0] == "super" else list(mod)
                i = 1
                while i < len(segs) and segs[i] == "super":
                    cur = cur[:-1]
                    i += 1
                target = cur + segs[i:]
            # the longest existing module prefix
            t = None
            for k in range(len(target), 0, -1):
                if tuple(target[:k]) in mods:
                    t = tuple(target[:k])
                    break
            if t is None or t == mod:
                continue
            edges.setdefault(mod, set()).add(t)
            if t[0] == "ffi" and (not mod or mod[0] != "ffi"):
                errors.append(f"{path}: uses crate::{'::'.join(t)} (the core must not use ffi)")

    def cycles(nodes, succ):
        found, index, low, stack, on, n = [], {}, {}, [], set(), [0]

        def strong(v):
            index[v] = low[v] = n[0]
            n[0] += 1
            stack.append(v)
            on.add(v)
            for w in succ(v):
                if w not in index:
                    strong(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(comp)

        for v in sorted(nodes):
            if v not in index:
                strong(v)
        return found

    name = lambda m: "::".join(m) or "lib"
    top = {m[0] for m in mods if m}
    top_succ = lambda a: {t[0] for s, ts in edges.items() if s and s[0] == a for t in ts if t and t[0] != a}
    for comp in cycles(top, top_succ):
        errors.append("cycle between top-level modules: " + " <-> ".join(sorted(comp)))
    for t in sorted(top):
        inner = [m for m in mods if m and m[0] == t]
        def succ(a, t=t):
            # a child using its parent (mod.rs items) is the normal direction; skip parent->child
            # declarations (not in edges) and keep everything else
            return {b for b in edges.get(a, ()) if b and b[0] == t and not (len(b) < len(a) and a[: len(b)] == b)}
        for comp in cycles(inner, succ):
            errors.append(f"cycle inside {t}: " + " <-> ".join(sorted(name(c) for c in comp)))
    if "--graph" in sys.argv:
        for s in sorted(top):
            print(f"{s} -> {', '.join(sorted(top_succ(s))) or '-'}")
    for e in errors:
        print("check-layers:", e)
    if errors:
        sys.exit(1)
    print(f"check-layers: {len(mods)} modules, no cycle, ffi used only inside ffi")


if __name__ == "__main__":
    main()
