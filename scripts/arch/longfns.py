#!/usr/bin/env python3
"""List Rust functions longer than N lines (default 100) under a directory."""
import re, sys, os
root = sys.argv[1] if len(sys.argv) > 1 else "src"
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 100
fn_re = re.compile(r'^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+([A-Za-z0-9_]+)')
out = []
for dp, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith(".rs"): continue
        p = os.path.join(dp, f)
        lines = open(p, encoding="utf-8", errors="replace").read().split("\n")
        i = 0
        while i < len(lines):
            m = fn_re.match(lines[i])
            if m:
                # find opening brace
                depth = 0; started = False; j = i
                while j < len(lines):
                    s = re.sub(r'"(\\.|[^"\\])*"', '""', lines[j])
                    s = re.sub(r"'(\\.|[^'\\])'", "''", s)
                    s = s.split("//")[0]
                    if not started and ";" in s and "{" not in s: break
                    for ch in s:
                        if ch == "{": depth += 1; started = True
                        elif ch == "}": depth -= 1
                    if started and depth == 0: break
                    j += 1
                n = j - i + 1
                if started and n > limit: out.append((n, p, i + 1, m.group(6)))
            i += 1
for n, p, l, name in sorted(out, reverse=True): print(f"{n:5d} {p}:{l} {name}")
print(len(out), "functions over", limit)
