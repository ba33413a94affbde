#!/usr/bin/env python3
"""Loads pages in a real headless Chromium and reports what a person would see.

Used by tests/viewer.rs. Python standard library only: Chromium is driven over the
DevTools protocol on --remote-debugging-pipe (fds 3 and 4, NUL-terminated JSON), so
no port is opened and nothing but the pages given is loaded.

    viewer_cdp.py OUTDIR URL[=NAME[@WIDTHxHEIGHT]] ...

For every URL (file:// or data:) it opens a fresh tab, records every request the page
makes (Network.requestWillBeSent, Network.loadingFailed with its blocked reason) and
every console message or CSP violation, waits for the load event and for the network
to be quiet, evaluates a DOM probe, and saves a full-page screenshot OUTDIR/NAME.png.
It prints one JSON object: {"pages": [{"url", "requests": [{"url", "blocked"}],
"console": [...], "dom": {...}, "screenshot"}]} on stdout. Exits 2 when Chromium
cannot be started or does not answer (bounded: 60 s per page).
"""

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

PROBE = r"""
(() => {
  const rows = [...document.querySelectorAll('table.list tbody tr')];
  const links = [...document.querySelectorAll('a[href]')].map(a => ({
    text: a.textContent.trim(), href: a.getAttribute('href'), url: a.href,
    cls: a.className }));
  const imgs = [...document.querySelectorAll('img')].map(i => ({
    src: i.getAttribute('src'), url: i.src, loaded: i.complete && i.naturalWidth > 0 }));
  return {
    title: document.title,
    charset: document.characterSet,
    csp: [...document.querySelectorAll('meta[http-equiv]')]
      .filter(m => m.httpEquiv.toLowerCase() === 'content-security-policy')
      .map(m => m.content),
    viewport: (document.querySelector('meta[name=viewport]') || {}).content || null,
    rows: rows.length,
    subjects: rows.map(r => (r.querySelector('.subject') || r).textContent.trim()),
    h1: [...document.querySelectorAll('h1')].map(h => h.textContent.trim()),
    links, imgs,
    scripts: document.scripts.length,
    iframes: document.querySelectorAll('iframe,object,embed').length,
    handlers: [...document.querySelectorAll('*')].filter(e =>
      [...e.attributes].some(a => a.name.startsWith('on'))).length,
    text: document.body ? document.body.innerText : '',
    width: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    alerted: !!window.__alerted,
  };
})()
"""


class Browser:
    def __init__(self, profile):
        exe = shutil.which("chromium") or "/usr/bin/chromium"
        # fds 3 (commands to Chromium) and 4 (its replies), as --remote-debugging-pipe wants.
        r_cmd, w_cmd = os.pipe()
        r_out, w_out = os.pipe()
        args = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions",
            "--disable-default-apps", "--disable-features=Translate,MediaRouter,OptimizationHints",
            "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe",
            "--user-data-dir=" + profile, "about:blank",
        ]

        def child_fds():
            # Via fresh descriptors: dup2 onto itself would keep close-on-exec.
            a, b = os.dup(r_cmd), os.dup(w_out)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            args, preexec_fn=child_fds,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            close_fds=False)
        os.close(r_cmd)
        os.close(w_out)
        self.w = w_cmd
        self.r = r_out
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self.w, data)
            data = data[n:]
        return self.next_id

    def read_one(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer")
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=None, timeout=30):
        i = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            m = self.read_one(deadline)
            if m.get("id") == i:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def pump(self, seconds):
        """Collects events for up to `seconds`."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self.read_one(deadline))
        except TimeoutError:
            pass

    def close(self):
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def visit(b, url, name, outdir, size):
    width, height = size
    target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    s = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for m in ("Page.enable", "Network.enable", "Runtime.enable", "Log.enable"):
        b.call(m, session=s)
    b.call("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1,
        "mobile": width < 600}, session=s)
    # Would a script run? The pages must not run any: record an attempt.
    b.call("Page.addScriptToEvaluateOnNewDocument", {
        "source": "window.alert = () => { window.__alerted = true; };"}, session=s)
    b.events.clear()
    b.call("Page.navigate", {"url": url}, session=s)
    deadline = time.monotonic() + 60
    loaded = False
    while time.monotonic() < deadline and not loaded:
        b.pump(0.2)
        loaded = any(e.get("method") == "Page.loadEventFired" and e.get("sessionId") == s
                     for e in b.events)
    b.pump(1.0)  # anything a page would still fetch after load
    dom = b.call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True},
                 session=s)["result"].get("value")
    metrics = b.call("Page.getLayoutMetrics", session=s)
    full_h = int(metrics.get("cssContentSize", metrics.get("contentSize", {})).get("height", height))
    shot = b.call("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": max(min(full_h, 6000), 100), "scale": 1}},
        session=s)
    path = os.path.join(outdir, name + ".png")
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    requests, console = [], []
    failed = {}
    for e in b.events:
        if e.get("sessionId") != s:
            continue
        m, p = e.get("method"), e.get("params", {})
        if m == "Network.loadingFailed":
            failed[p.get("requestId")] = p.get("blockedReason") or p.get("errorText")
    for e in b.events:
        if e.get("sessionId") != s:
            continue
        m, p = e.get("method"), e.get("params", {})
        if m == "Network.requestWillBeSent":
            requests.append({"url": p["request"]["url"], "blocked": failed.get(p.get("requestId"))})
        elif m == "Log.entryAdded":
            console.append(p["entry"].get("text", ""))
        elif m == "Runtime.consoleAPICalled":
            console.append(" ".join(str(a.get("value", "")) for a in p.get("args", [])))
        elif m == "Runtime.exceptionThrown":
            console.append(p.get("exceptionDetails", {}).get("text", ""))
    b.call("Target.closeTarget", {"targetId": target})
    return {"url": url, "name": name, "loaded": loaded, "requests": requests,
            "console": console, "dom": dom, "screenshot": path}


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="mxsalvage-chromium-")
    b = None
    try:
        b = Browser(profile)
        b.call("Target.setDiscoverTargets", {"discover": False}, timeout=60)
        pages = []
        for i, arg in enumerate(sys.argv[2:]):
            url, _, rest = arg.partition("=")
            name, _, geo = rest.partition("@")
            size = tuple(int(x) for x in geo.split("x")) if geo else (1000, 800)
            pages.append(visit(b, url, name or f"page-{i}", outdir, size))
        json.dump({"pages": pages}, sys.stdout)
        return 0
    except (TimeoutError, EOFError, OSError, RuntimeError) as e:
        err = b.proc.stderr.read1(4000).decode(errors="replace") if b and b.proc.poll() is not None else ""
        print(f"viewer_cdp: {e} {err}", file=sys.stderr)
        return 2
    finally:
        if b:
            b.close()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
