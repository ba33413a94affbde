#!/usr/bin/python3
"""scripts/bench-lib/benchtool.py -- helpers of scripts/bench (stdlib only).

    benchtool.py subset SPOOL OUT --fraction F [--seed S]
        Make OUT a spool holding a random fraction F of SPOOL's queue files (all queues)
        plus their defer/bounce/trace logs, as hard links (OUT must be on the same file
        system; mxsalvage only reads them).  Prints the number of messages.
    benchtool.py sample SPOOL --count K [--seed S]
        Print K random queue file paths of SPOOL (deferred, active, incoming, hold).
    benchtool.py composition SPOOL SCAN_JSON
        The spool's real composition as JSON: counts, sizes, recipients (from
        `mxsalvage scan --json`), MIME structure and charsets (from the queue files).
    benchtool.py report RESULTS_JSON
        Print the results table (with ratios and targets) of a bench-results.json.
    benchtool.py assemble MEASURE_TSV META_JSON COMPOSITION_JSON OUT_JSON
        Turn the raw measurements into bench-results.json.
    benchtool.py pending EXPORT_DIR
        Print the number of pending (message, recipient) pairs of an export's
        manifest.json: the deliveries the primary must see.
    benchtool.py waitcount MAILDIR_NEW EXPECTED T0 TIMEOUT [--queue SPOOL]
        Poll the number of files in MAILDIR_NEW every 0.1 s until it reaches EXPECTED;
        print JSON: seconds from T0 (Unix time, float) to that moment ("delivered"),
        the count, and with --queue the seconds until SPOOL's incoming/active/deferred/
        hold were empty ("handed_off", the secondary's side).  Exit 1 on timeout.
    benchtool.py sessions MAILLOG FROM_LINE
        From a Postfix primary's maillog, starting at line FROM_LINE (1-based): smtpd
        sessions (connect lines), the most open at once, messages received (cleanup
        message-id lines), as JSON.
    benchtool.py delivery-report DELIVERY_JSON
        Print the delivery comparison table of a delivery.json.
"""
import json, os, random, re, statistics, sys
from collections import Counter

QUEUES = ["maildrop", "incoming", "active", "deferred", "hold"]
LOGS = ["defer", "bounce", "trace"]


def queue_files(spool, queues=QUEUES):
    out = []
    for q in queues:
        top = os.path.join(spool, q)
        for dp, dns, fns in os.walk(top):
            dns.sort()
            for f in sorted(fns):
                out.append(os.path.join(dp, f))
    return out


def cmd_subset(spool, out, fraction, seed):
    files = queue_files(spool)
    rng = random.Random(seed)
    k = max(1, round(len(files) * fraction))
    chosen = sorted(rng.sample(files, k))
    os.makedirs(out)
    for d in os.listdir(spool):
        if os.path.isdir(os.path.join(spool, d)) and d in QUEUES + LOGS + ["corrupt", "flush", "saved"]:
            os.makedirs(os.path.join(out, d), exist_ok=True)
    for f in chosen:
        rel = os.path.relpath(f, spool)
        qid = os.path.basename(f)
        sub = os.path.dirname(rel).split(os.sep)[1:]  # hash dirs
        dst = os.path.join(out, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.link(f, dst)
        for lg in LOGS:
            src = os.path.join(spool, lg, *sub, qid)
            if os.path.exists(src):
                d = os.path.join(out, lg, *sub, qid)
                os.makedirs(os.path.dirname(d), exist_ok=True)
                os.link(src, d)
    print(k)


def cmd_sample(spool, count, seed):
    files = queue_files(spool, ["deferred", "active", "incoming", "hold"])
    rng = random.Random(seed)
    for f in rng.sample(files, min(count, len(files))):
        print(f)


# --- composition -------------------------------------------------------------------

def records(data):
    """Yield (type, payload) of a Postfix queue file."""
    i, n = 0, len(data)
    while i < n:
        t = data[i]
        i += 1
        ln, shift = 0, 0
        while True:
            b = data[i]
            i += 1
            ln |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        yield t, data[i:i + ln]
        i += ln


CT_RE = re.compile(rb"^content-type:\s*([^;\s]+)(.*)$", re.I)
CHARSET_RE = re.compile(rb'charset\s*=\s*"?([^";\s]+)', re.I)
CTE_RE = re.compile(rb"^content-transfer-encoding:\s*(\S+)", re.I)
DISP_RE = re.compile(rb"^content-disposition:\s*attachment", re.I)
BOUNDARY_RE = re.compile(rb'boundary\s*=\s*"?([^";\s]+)', re.I)


def mime_summary(content):
    """A coarse MIME walk over the message content (list of lines):
    top-level type, text parts' (charset, cte, subtype), attachments' encoded sizes."""
    parts = []   # dicts: type, charset, cte, attachment, size
    boundaries = set()
    cur = None
    in_headers = True
    last_hdr = None
    top = None
    for line in content:
        if in_headers:
            if line == b"":
                in_headers = False
                if cur is not None:
                    parts.append(cur)
                continue
            if line[:1] in (b" ", b"\t") and last_hdr is not None:
                last_hdr += line.strip()
            else:
                last_hdr = line
            if cur is None:
                cur = {"type": b"text/plain", "charset": None, "cte": b"7bit", "attachment": False, "size": 0}
            m = CT_RE.match(line)
            if m:
                cur["type"] = m.group(1).lower()
                if top is None:
                    top = cur["type"]
            m = CHARSET_RE.search(line)
            if m and (CT_RE.match(line) or line[:1] in (b" ", b"\t")):
                cur["charset"] = m.group(1).lower()
            m = BOUNDARY_RE.search(line)
            if m:
                boundaries.add(b"--" + m.group(1))
            m = CTE_RE.match(line)
            if m:
                cur["cte"] = m.group(1).lower()
            if DISP_RE.match(line):
                cur["attachment"] = True
            continue
        s = line.rstrip()
        if s in boundaries:
            in_headers = True
            cur = None
            last_hdr = None
            continue
        if s.endswith(b"--") and s[:-2] in boundaries:
            cur = None
            continue
        if cur is not None:
            cur["size"] += len(line) + 1
    if top is None:
        top = b"text/plain"
    return top, parts


def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = (len(sorted_vals) - 1) * p / 100.0
    f = int(k)
    c = min(f + 1, len(sorted_vals) - 1)
    return round(sorted_vals[f] + (sorted_vals[c] - sorted_vals[f]) * (k - f))


def cmd_composition(spool, scan_json):
    scan = json.load(open(scan_json))
    msgs = scan["messages"]
    sizes = sorted(m["size"] for m in msgs)
    rc = [sum(1 for r in m["recipients"] if r["status"] == "pending") for m in msgs]
    per_rcpt = Counter()
    for m in msgs:
        for r in m["recipients"]:
            if r["status"] == "pending":
                per_rcpt[r["address"] if isinstance(r["address"], str) else "?"] += 1
    with_defer = sum(1 for m in msgs if any(r.get("defer_reason") for r in m["recipients"]))
    reasons = Counter()
    for m in msgs:
        for r in m["recipients"]:
            if r.get("defer_reason"):
                reasons[re.sub(r"\d+\.\d+\.\d+\.\d+|\[[^]]*\]", "*", r["defer_reason"])[:90]] += 1
    file_bytes = 0
    tops, charsets, ctes = Counter(), Counter(), Counter()
    msg_charsets = Counter()
    html_only = 0
    att_large, att_small, att_bytes = 0, 0, 0
    nfiles = 0
    for f in queue_files(spool):
        data = open(f, "rb").read()
        file_bytes += len(data)
        nfiles += 1
        lines, pending = [], b""
        for t, p in records(data):
            if t == ord("N"):
                lines.append(pending + p)
                pending = b""
            elif t == ord("L"):
                pending += p
        top, parts = mime_summary(lines)
        tops[top.decode("ascii", "replace")] += 1
        cs_here = set()
        texts = [p for p in parts if p["type"].startswith(b"text/") and not p["attachment"]]
        for p in texts:
            cs = (p["charset"] or b"us-ascii").decode("ascii", "replace")
            charsets[cs] += 1
            cs_here.add(cs)
            ctes[p["cte"].decode("ascii", "replace")] += 1
        for cs in cs_here:
            msg_charsets[cs] += 1
        if texts and all(p["type"] == b"text/html" for p in texts):
            html_only += 1
        for p in parts:
            if p["attachment"]:
                att_bytes += p["size"]
                if p["size"] >= 100_000:
                    att_large += 1
                else:
                    att_small += 1
    buckets = [(0, 2048), (2048, 10240), (10240, 51200), (51200, 102400), (102400, 524288),
               (524288, 1048576), (1048576, 1 << 60)]
    hist = []
    for lo, hi in buckets:
        hist.append({"from": lo, "to": None if hi == 1 << 60 else hi,
                     "messages": sum(1 for s in sizes if lo <= s < hi)})
    out = {
        "messages": len(msgs),
        "queue_files": nfiles,
        "queues": {q: v["messages"] for q, v in scan.get("queues", {}).items()},
        "queue_file_bytes": file_bytes,
        "message_size_total": sum(sizes),
        "message_size": {"min": sizes[0] if sizes else None, "p10": percentile(sizes, 10),
                         "median": percentile(sizes, 50), "mean": round(statistics.mean(sizes)) if sizes else None,
                         "p90": percentile(sizes, 90), "p99": percentile(sizes, 99), "max": sizes[-1] if sizes else None},
        "size_histogram": hist,
        "messages_2k_to_50k": sum(1 for s in sizes if 2048 <= s <= 51200),
        "pending_recipients": sum(rc),
        "recipients_per_message": {"mean": round(sum(rc) / len(rc), 3) if rc else None,
                                   "distribution": {str(k): v for k, v in sorted(Counter(rc).items())}},
        "distinct_recipients": len(per_rcpt),
        "messages_per_recipient": {"max": max(per_rcpt.values()) if per_rcpt else None,
                                   "median": percentile(sorted(per_rcpt.values()), 50),
                                   "min": min(per_rcpt.values()) if per_rcpt else None},
        "messages_with_defer_log_reason": with_defer,
        "defer_reasons": dict(reasons.most_common(5)),
        "top_level_types": dict(tops.most_common()),
        "text_part_charsets": dict(charsets.most_common()),
        "messages_by_charset": dict(msg_charsets.most_common()),
        "text_part_transfer_encodings": dict(ctes.most_common()),
        "html_only_messages": html_only,
        "attachments_100k_plus": att_large,
        "attachments_small": att_small,
        "attachment_encoded_bytes": att_bytes,
        "scan_errors": len(scan.get("errors", [])),
    }
    json.dump(out, sys.stdout, indent=1)
    print()


# --- results -----------------------------------------------------------------------

def cmd_assemble(tsv, meta_json, comp_json, out_json):
    meta = json.load(open(meta_json))
    comp = json.load(open(comp_json)) if comp_json and os.path.exists(comp_json) else None
    runs = {}
    for line in open(tsv):
        if not line.strip():
            continue
        name, secs, kb, rc = line.rstrip("\n").split("\t")[:4]
        runs.setdefault(name, []).append({"seconds": float(secs), "max_rss_kb": int(kb), "exit": int(rc)})
    m = {}
    for name, rs in runs.items():
        ok = [r for r in rs if r["exit"] == 0] or rs
        secs = statistics.median(r["seconds"] for r in ok)
        m[name] = {"seconds": secs, "max_rss_kb": max(r["max_rss_kb"] for r in rs),
                   "exit": max(r["exit"] for r in rs), "runs": rs}
    n = meta["messages"]
    k = meta.get("postcat_sample")
    for src, dst in (("postcat_sample", "postcat_loop"), ("postcat_sample_files", "postcat_loop_files")):
        if src in m:
            m[dst] = {"seconds": round(m[src]["seconds"] * n / k, 2),
                      "max_rss_kb": m[src]["max_rss_kb"], "exit": m[src]["exit"],
                      "extrapolated_from": "%d of %d files" % (k, n)}
    outputs_tsv = os.path.join(os.path.dirname(tsv), "outputs.tsv")
    if os.path.exists(outputs_tsv):
        for line in open(outputs_tsv):
            if line.strip():
                name, b, f = line.rstrip("\n").split("\t")
                if name in m:
                    m[name]["output_bytes"] = int(b)
                    m[name]["output_files"] = int(f)
    res = {"meta": meta, "composition": comp, "measurements": m}
    ratios, targets = {}, []
    cp = m.get("cp_r", {}).get("seconds")

    def r(a, b):
        return round(a / b, 2) if a is not None and b else None
    if "export_eml" in m and cp:
        ratios["export_eml_vs_cp"] = r(m["export_eml"]["seconds"], cp)
        targets.append({"target": "eml export <= 1.5x cp -r", "value": ratios["export_eml_vs_cp"],
                        "met": ratios["export_eml_vs_cp"] <= 1.5})
    if "export_full" in m and cp:
        ratios["export_full_vs_cp"] = r(m["export_full"]["seconds"], cp)
        targets.append({"target": "full export <= 4x cp -r", "value": ratios["export_full_vs_cp"],
                        "met": ratios["export_full_vs_cp"] <= 4})
    if "export_full_zip" in m and cp:
        ratios["export_full_zip_vs_cp"] = r(m["export_full_zip"]["seconds"], cp)
    cps = m.get("cp_r_sync", {}).get("seconds")
    for k in ("export_eml", "export_full"):
        if k in m and cps:
            ratios[k + "_vs_cp_sync"] = r(m[k]["seconds"], cps)
    if "export_eml_nofsync" in m and cp:
        ratios["export_eml_nofsync_vs_cp"] = r(m["export_eml_nofsync"]["seconds"], cp)
    if "postcat_loop" in m and "export_eml" in m:
        ratios["postcat_loop_vs_export_eml"] = r(m["postcat_loop"]["seconds"], m["export_eml"]["seconds"])
        targets.append({"target": "eml export >= 50x faster than the postcat -bh loop",
                        "value": ratios["postcat_loop_vs_export_eml"], "met": ratios["postcat_loop_vs_export_eml"] >= 50})
    if "postcat_loop" in m and "export_full" in m:
        ratios["postcat_loop_vs_export_full"] = r(m["postcat_loop"]["seconds"], m["export_full"]["seconds"])
    if "postcat_loop_files" in m and "export_eml" in m:
        ratios["postcat_loop_files_vs_export_eml"] = r(m["postcat_loop_files"]["seconds"], m["export_eml"]["seconds"])
    if "export_full_jobs1" in m and "export_full" in m:
        ratios["parallel_speedup_full"] = r(m["export_full_jobs1"]["seconds"], m["export_full"]["seconds"])
    if "scan_json" in m:
        ratios["scan_files_per_second"] = round(n / m["scan_json"]["seconds"]) if m["scan_json"]["seconds"] else None
    if all(k in m for k in ("export_eml_filtered", "export_eml", "rspamc_all", "clamdscan_all")):
        alone = m["export_eml"]["seconds"] + m["rspamc_all"]["seconds"] + m["clamdscan_all"]["seconds"]
        ratios["export_eml_filtered_vs_parts"] = r(m["export_eml_filtered"]["seconds"], alone)
        targets.append({"target": "filtered export <= 1.1x (export + rspamc + clamdscan)",
                        "value": ratios["export_eml_filtered_vs_parts"],
                        "met": ratios["export_eml_filtered_vs_parts"] <= 1.1})
    ex = [k for k in m if (k.startswith("export") or k.startswith("scan") or k.startswith("linear"))
          and k != "export_eml_nofsync"]
    if ex:
        peak = max(m[k]["max_rss_kb"] for k in ex)
        targets.append({"target": "peak RSS <= 256 MB (all mxsalvage runs)", "value": round(peak / 1024, 1),
                        "met": peak <= 256 * 1024})
    lin = []
    for k in sorted((k for k in m if k.startswith("linear_")), key=lambda k: int(k.split("_")[1])):
        cnt = int(k.split("_")[1])
        lin.append({"messages": cnt, "seconds": m[k]["seconds"],
                    "ms_per_message": round(1000 * m[k]["seconds"] / cnt, 3), "max_rss_kb": m[k]["max_rss_kb"]})
    if len(lin) >= 2:
        a, b = lin[0], lin[-1]
        slope = (b["max_rss_kb"] - a["max_rss_kb"]) / (b["messages"] - a["messages"])
        base = a["max_rss_kb"] - slope * a["messages"]
        ratios["export_eml_rss_kb_per_message"] = round(slope, 2)
        if slope > 0:
            ratios["export_eml_messages_at_256MB_projected"] = int((256 * 1024 - base) / slope)
        per = [x["ms_per_message"] for x in lin]
        spread = round(max(per) / min(per), 2) if min(per) else None
        ratios["linearity_max_over_min_ms_per_message"] = spread
        targets.append({"target": "eml export time linear in the queue size (ms/message within 1.25x from N/4 to N)",
                        "value": spread, "met": spread is not None and spread <= 1.25})
    res["linearity"] = lin
    res["ratios"] = ratios
    res["targets"] = targets
    json.dump(res, open(out_json, "w"), indent=1)
    open(out_json, "a").write("\n")


LABELS = [
    ("cp_r", "cp -r spool copy"),
    ("cp_r_sync", "cp -r + sync (durable copy)"),
    ("postcat_sample", "postcat -bh loop, sample"),
    ("postcat_loop", "postcat -bh loop, all (extrap.)"),
    ("postcat_sample_files", "postcat -bh >file loop, sample"),
    ("postcat_loop_files", "postcat -bh >file, all (extrap.)"),
    ("scan_json", "mxsalvage scan --json"),
    ("export_eml", "export --format eml"),
    ("export_full", "export (mbox,maildir,eml,text)"),
    ("export_full_jobs1", "export full --jobs 1"),
    ("export_full_zip", "export full --zip"),
    ("export_eml_nofsync", "export eml, fsync off (eatmydata)"),
    ("export_eml_filtered", "export eml, rspamd + clamd"),
    ("rspamc_all", "rspamc, same messages"),
    ("clamdscan_all", "clamdscan --stream, same messages"),
]


def cmd_report(path):
    res = json.load(open(path))
    meta, m = res["meta"], res["measurements"]
    cp = m.get("cp_r", {}).get("seconds")
    n = meta["messages"]
    print("mxsalvage benchmark  %s  %s" % (meta.get("date", ""), meta.get("host", "")))
    print("queue: %d messages, %s MB of queue files (%s)" % (
        n, round(meta.get("spool_bytes", 0) / 1e6), meta.get("spool", "")))
    print("%s; load average %s at start, %s at end" % (
        meta.get("cache", ""), meta.get("load_average_at_start"), meta.get("load_average_at_end")))
    print()
    print("%-34s %9s %8s %11s %9s %10s" % ("measurement", "seconds", "x cp -r", "peak RSS", "msg/s", "written"))
    print("-" * 86)
    for k, label in LABELS:
        if k not in m:
            continue
        s = m[k]["seconds"]
        sample = k.startswith("postcat_sample")
        cnt = meta.get("postcat_sample") if sample else n
        rss = m[k]["max_rss_kb"] / 1024
        wr = ("%.2f GB" % (m[k]["output_bytes"] / 1e9)) if "output_bytes" in m[k] else ""
        print("%-34s %9.2f %8s %8.1f MB %9s %10s%s" % (
            label, s, ("%.2f" % (s / cp)) if cp and not sample else "-", rss, ("%.0f" % (cnt / s)) if s else "-",
            wr, "" if m[k].get("exit", 0) == 0 else "  (exit %d)" % m[k]["exit"]))
    for x in res.get("linearity", []):
        print("%-34s %9.2f %8s %8.1f MB %9.0f   %.3f ms/msg" % (
            "export eml, %d messages" % x["messages"], x["seconds"], "", x["max_rss_kb"] / 1024,
            x["messages"] / x["seconds"] if x["seconds"] else 0, x["ms_per_message"]))
    for k, why in sorted(meta.get("skipped", {}).items()):
        print("%-34s skipped: %s" % (k, why))
    print()
    for k, v in res.get("ratios", {}).items():
        print("  %-40s %s" % (k, v))
    print()
    for t in res.get("targets", []):
        print("  [%s] %-62s %s" % ("met" if t["met"] else "NOT met", t["target"], t["value"]))


def cmd_pending(export):
    m = json.load(open(os.path.join(export, "manifest.json")))
    n = 0
    for msg in m["messages"]:
        seen = set()
        for r in msg.get("info", msg)["recipients"]:
            if r.get("status") == "pending":
                key = json.dumps(r.get("address"), sort_keys=True).lower()
                if key not in seen:
                    seen.add(key)
                    n += 1
    print(n)


def count_files(d):
    try:
        with os.scandir(d) as it:
            return sum(1 for e in it if e.is_file(follow_symlinks=False))
    except FileNotFoundError:
        return 0


def queue_empty(spool):
    for q in QUEUES:
        for _root, _dirs, files in os.walk(os.path.join(spool, q)):
            if files:
                return False
    return True


def cmd_waitcount(maildir, expected, t0, timeout, spool=None):
    import time
    handed_off = None
    n = 0
    while True:
        now = time.time()
        n = count_files(maildir)
        if spool is not None and handed_off is None and queue_empty(spool):
            handed_off = round(now - t0, 2)
        if n >= expected:
            break
        if now - t0 > timeout:
            print(json.dumps({"delivered": None, "count": n, "expected": expected,
                              "handed_off": handed_off, "timeout": timeout}))
            return 1
        time.sleep(0.1)
    print(json.dumps({"delivered": round(now - t0, 2), "count": n, "expected": expected,
                      "handed_off": handed_off}))
    return 0


def cmd_sessions(maillog, from_line):
    sessions = open_now = most = received = 0
    with open(maillog, errors="replace") as f:
        for i, line in enumerate(f, 1):
            if i < from_line:
                continue
            if "/smtpd[" in line and ": connect from " in line:
                sessions += 1
                open_now += 1
                most = max(most, open_now)
            elif "/smtpd[" in line and ": disconnect from " in line:
                open_now = max(0, open_now - 1)
            elif "/cleanup[" in line and ": message-id=" in line:
                received += 1
    print(json.dumps({"smtpd_sessions": sessions, "most_sessions_at_once": most,
                      "messages_received": received}))


def cmd_delivery_report(path):
    d = json.load(open(path))
    print("Re-injection vs Postfix delivery: %s messages, %s deliveries (pairs) to the primary"
          % (d["messages"], d["expected"]))
    print("  %-44s %10s %10s %9s %8s  %s" % ("run", "delivered", "handed off", "sessions",
                                             "at once", "load avg (start / end)"))
    for r in d["runs"]:
        print("  %-44s %9ss %9ss %9s %8s  %s / %s" % (
            r["name"], r.get("delivered"), r.get("handed_off") or "-", r.get("smtpd_sessions"),
            r.get("most_sessions_at_once"), r.get("load_start"), r.get("load_end")))
    for k, v in d.get("ratios", {}).items():
        print("  %-44s %s" % (k, v))


def main():
    a = sys.argv[1:]
    if not a:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = a[0]
    if cmd == "subset":
        frac = float(a[a.index("--fraction") + 1])
        seed = int(a[a.index("--seed") + 1]) if "--seed" in a else 1
        cmd_subset(a[1], a[2], frac, seed)
    elif cmd == "sample":
        cnt = int(a[a.index("--count") + 1])
        seed = int(a[a.index("--seed") + 1]) if "--seed" in a else 1
        cmd_sample(a[1], cnt, seed)
    elif cmd == "composition":
        cmd_composition(a[1], a[2])
    elif cmd == "assemble":
        cmd_assemble(a[1], a[2], a[3], a[4])
    elif cmd == "report":
        cmd_report(a[1])
    elif cmd == "pending":
        cmd_pending(a[1])
    elif cmd == "waitcount":
        spool = a[a.index("--queue") + 1] if "--queue" in a else None
        return cmd_waitcount(a[1], int(a[2]), float(a[3]), float(a[4]), spool)
    elif cmd == "sessions":
        cmd_sessions(a[1], int(a[2]))
    elif cmd == "delivery-report":
        cmd_delivery_report(a[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
