#!/usr/bin/env python3
"""scripts/arch/cycles.py SRC [--inside MOD]: module cycles from `crate::`/`super::` paths.

Top level (default): each file of SRC belongs to its top-level module (src/X.rs or
src/X/...); an edge X -> Y for every `crate::Y` path outside comments. With
--inside MOD: the files of src/MOD/, each its own node (mod.rs = MOD, a folder
src/MOD/F/ = MOD::F), edges from `crate::MOD::F` and `super::F` paths (tests modules
skipped). Prints the edges and every strongly connected component with more than
one node; exits 1 if there is one."""
import re, sys
from pathlib import Path

src = Path(sys.argv[1])
inside = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--inside" else None

def code(text):
    text = text.split("#[cfg(test)]")[0]  # unit tests may look anywhere
    return "\n".join(l.split("//")[0] for l in text.splitlines())

def expand(text, root):
    """Paths after ROOT::, also inside groups: `use crate::{a, b::c}`."""
    out = []
    for m in re.finditer(rf"(?<![A-Za-z0-9_]){root}::(\{{|[A-Za-z_][A-Za-z0-9_]*)", text):
        if m.group(1) != "{":
            out.append(m.group(1)); continue
        k, d = m.end(), 1
        while d and k < len(text):
            d += {"{": 1, "}": -1}.get(text[k], 0); k += 1
        depth, cur = 0, ""
        for c in text[m.end():k-1] + ",":
            if c == "{": depth += 1
            if c == "}": depth -= 1
            if c == "," and depth == 0:
                n = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)", cur)
                if n: out.append(n.group(1))
                cur = ""
            else:
                cur += c
    return out

edges = {}
files = sorted(src.rglob("*.rs"))
if inside is None:
    for f in files:
        rel = f.relative_to(src).parts
        if rel[0] in ("main.rs", "lib.rs"): continue
        me = rel[0].removesuffix(".rs")
        for y in expand(code(f.read_text()), "crate"):
            if y != me and y not in ("self",):
                edges.setdefault(me, set()).add(y)
else:
    base = src / inside
    def node(f):
        rel = list(f.relative_to(base).parts)
        if rel[-1] == "mod.rs": rel = rel[:-1]
        else: rel[-1] = rel[-1].removesuffix(".rs")
        return "::".join([inside] + rel)
    nodes = {node(f) for f in base.rglob("*.rs")}
    for f in base.rglob("*.rs"):
        me = node(f); t = code(f.read_text())
        parent = me.rsplit("::", 1)[0]  # what `super` names, from a.rs or a/mod.rs alike
        refs = []
        # crate::MOD::a::b  -> longest known node prefix
        for m in re.finditer(rf"crate::{inside}((?:::[A-Za-z_][A-Za-z0-9_]*)*)", t):
            refs.append(inside + m.group(1))
        for g in expand(t, f"crate::{inside}"):
            refs.append(f"{inside}::{g}")
        for m in re.finditer(r"(?<![A-Za-z0-9_:])super((?:::super)*)((?:::[A-Za-z_][A-Za-z0-9_]*)*)", t):
            up = parent
            for _ in range(m.group(1).count("super")): up = up.rsplit("::", 1)[0]
            refs.append(up + m.group(2))
        for g in expand(t, "super"):
            refs.append(f"{parent}::{g}")
        if f.name == "mod.rs":  # a parent naming its children: `use child::X`, `child::f()`
            for m in re.finditer(r"(?<![A-Za-z0-9_:])([a-z_][a-z0-9_]*)::", t):
                if f"{me}::{m.group(1)}" in nodes: refs.append(f"{me}::{m.group(1)}")
        for r in refs:
            while r not in nodes and "::" in r: r = r.rsplit("::", 1)[0]
            if r in nodes and r != me:
                edges.setdefault(me, set()).add(r)

# Tarjan
idx, low, st, on, sccs, n = {}, {}, [], set(), [], [0]
def visit(v):
    idx[v] = low[v] = n[0]; n[0] += 1; st.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in idx: visit(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        c = []
        while True:
            w = st.pop(); on.discard(w); c.append(w)
            if w == v: break
        if len(c) > 1: sccs.append(sorted(c))
sys.setrecursionlimit(10000)
for v in sorted(set(edges) | {w for s in edges.values() for w in s}):
    if v not in idx: visit(v)
for v in sorted(edges):
    print(f"{v} -> {', '.join(sorted(edges[v]))}")
for c in sccs:
    print("CYCLE:", " <-> ".join(c))
print(f"{len(sccs)} cycle(s)")
sys.exit(1 if sccs else 0)
