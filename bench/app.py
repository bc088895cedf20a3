#!/usr/bin/env python3
"""Tapedeck Studio's benchmark (bench/app.sh runs it under Xvfb and a session bus).

Measures, on the release build, through tauri-driver (WebKitWebDriver):
  - cold start to first paint: from spawning the app to the webview's first contentful
    paint (performance.timeOrigin + the paint entry), median of RUNS starts;
  - idle RSS of the whole app (the app process and every WebKit process it started), 10 s
    after start with nothing live;
  - with 32 streams live (ffmpeg publishers): the IPC round trip of `live_streams`
    (median and p95 of 100 calls from the webview) and the UI frame time on the Live
    screen (requestAnimationFrame intervals over 5 s), RSS again, and the frames the
    engine dropped (`tapedeck streams --json`, dropped_frames summed).
Targets (issue 14): first paint <= 1 s, idle RSS <= 150 MB, IPC round trip <= 100 ms.
Prints a Markdown table.
"""

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.environ.get("APP", os.path.join(ROOT, "target/release/tapedeck-studio"))
CLI = os.environ.get("CLI", os.path.join(ROOT, "target/release/tapedeck"))
DRIVER = os.environ.get("DRIVER", "http://127.0.0.1:4444")
RUNS = int(os.environ.get("RUNS", "5"))
STREAMS = int(os.environ.get("STREAMS", "32"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def req(method, url, body=None, timeout=120):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=timeout) as f:
        return json.loads(f.read())


class Session:
    def __init__(self, args):
        caps = {"capabilities": {"alwaysMatch": {"tauri:options": {"application": APP, "args": args}}}}
        self.spawned = time.time()
        self.sid = req("POST", DRIVER + "/session", caps)["value"]["sessionId"]

    def js(self, script):
        return req("POST", f"{DRIVER}/session/{self.sid}/execute/sync", {"script": script, "args": []})["value"]

    def ajs(self, script):
        return req("POST", f"{DRIVER}/session/{self.sid}/execute/async", {"script": script, "args": []})["value"]

    def close(self):
        try:
            req("DELETE", f"{DRIVER}/session/{self.sid}")
        except Exception:
            pass


def config(dir):
    rtmp, control = free_port(), free_port()
    path = os.path.join(dir, "tapedeck.toml")
    with open(path, "w") as f:
        f.write(
            f'data_dir = "{dir}/data"\n[ingest]\nrtmp_listen = "127.0.0.1:{rtmp}"\n'
            f'[control]\nlisten = "127.0.0.1:{control}"\n'
            '[[template]]\nformats = ["m3u8", "mp4"]\ninterruption_window = "0s"\n'
        )
    open(os.path.join(dir, "tapedeck.first-run-done"), "w").close()
    return path, rtmp


def app_pids():
    """The app's processes and the WebKit processes (children of it)."""
    out = subprocess.run(["ps", "-eo", "pid,ppid,comm"], capture_output=True, text=True).stdout.split("\n")[1:]
    procs = [l.split(None, 2) for l in out if l.strip()]
    app = {int(p) for p, _, c in procs if c.startswith("tapedeck-studi")}
    pids = set(app)
    changed = True
    while changed:
        changed = False
        for p, pp, _ in procs:
            if int(pp) in pids and int(p) not in pids:
                pids.add(int(p))
                changed = True
    return pids


def rss_mb(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def pss_mb(pids):
    """Proportional set size summed over the processes: a page shared by several of them
    (libwebkit2gtk, GTK, Mesa are mapped by all three) counts once in the sum, where RSS
    counts it once per process."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def breakdown(pids):
    """`name RSS/PSS` of each process, for the notes."""
    out = []
    for p in sorted(pids):
        try:
            name = open(f"/proc/{p}/comm").read().strip()
        except OSError:
            continue
        out.append(f"{name} {rss_mb([p]):.0f}/{pss_mb([p]):.0f}")
    return ", ".join(out)


def first_paint_ms(s):
    deadline = time.time() + 30
    while time.time() < deadline:
        v = s.js(
            "const p = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');"
            "return p && document.querySelector('h1') ? performance.timeOrigin + p.startTime : null"
        )
        if v:
            return v - s.spawned * 1000
        time.sleep(0.05)
    raise SystemExit("no first contentful paint within 30 s")


def main():
    rows = []
    paints = []
    for _ in range(RUNS):
        d = tempfile.mkdtemp(prefix="tapedeck-bench-")
        cfg, _ = config(d)
        s = Session(["--config", cfg])
        paints.append(first_paint_ms(s))
        s.close()
        time.sleep(1)
        shutil.rmtree(d, ignore_errors=True)
    rows.append(("cold start to first paint (median of %d)" % RUNS, "%.0f ms" % statistics.median(paints), "<= 1000 ms"))

    d = tempfile.mkdtemp(prefix="tapedeck-bench-")
    cfg, port = config(d)
    s = Session(["--config", cfg])
    first_paint_ms(s)
    time.sleep(10)
    pids = app_pids()
    idle = rss_mb(pids)
    rows.append(("idle RSS, all processes", "%.0f MB" % idle, "<= 150 MB"))
    rows.append(("idle PSS, all processes (shared pages once)", "%.0f MB" % pss_mb(pids), "-"))
    idle_breakdown = breakdown(pids)

    src = os.path.join(d, "in.flv")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                    "-f", "lavfi", "-i", "sine", "-t", "40", "-c:v", "libx264", "-preset", "ultrafast",
                    "-g", "60", "-b:v", "1000k", "-c:a", "aac", src], check=True)
    pubs = [subprocess.Popen(["ffmpeg", "-v", "error", "-re", "-i", src, "-c", "copy", "-f", "flv",
                              f"rtmp://127.0.0.1:{port}/live/cam{i + 1}"]) for i in range(STREAMS)]
    deadline = time.time() + 30
    while time.time() < deadline and s.js("return document.querySelectorAll('[data-stream-row]').length") < STREAMS:
        time.sleep(0.5)
    time.sleep(5)
    ipc = s.ajs(
        "const done = arguments[arguments.length - 1]; (async () => { const t = [];"
        "for (let i = 0; i < 100; i++) { const a = performance.now();"
        "await window.__TAURI_INTERNALS__.invoke('live_streams', {}); t.push(performance.now() - a); }"
        "t.sort((x, y) => x - y); done([t[50], t[95]]); })()"
    )
    frames = s.ajs(
        "const done = arguments[arguments.length - 1]; const t = []; let last = performance.now();"
        "const end = last + 5000; function f(now) { t.push(now - last); last = now;"
        "if (now < end) requestAnimationFrame(f); else { t.sort((x, y) => x - y);"
        "done([t.reduce((a, b) => a + b, 0) / t.length, t[Math.floor(t.length * 0.95)]]); } }"
        "requestAnimationFrame(f);"
    )
    live_rss = rss_mb(app_pids())
    shown = s.js("return document.querySelectorAll('[data-stream-row]').length")
    out = subprocess.run([CLI, "streams", "--json", "--config", cfg], capture_output=True, text=True)
    streams = json.loads(out.stdout) if out.returncode == 0 else []
    dropped = sum(x["dropped_frames"] for x in streams)
    for p in pubs:
        p.terminate()
    s.close()
    shutil.rmtree(d, ignore_errors=True)
    rows.append((f"IPC round trip live_streams, {STREAMS} live (median / p95)", "%.1f / %.1f ms" % tuple(ipc), "<= 100 ms"))
    rows.append((f"UI frame time on Live, {STREAMS} live (mean / p95)", "%.1f / %.1f ms" % tuple(frames), "smooth (16.7 ms at 60 Hz)"))
    rows.append((f"RSS, all processes, {STREAMS} live", "%.0f MB" % live_rss, "-"))
    rows.append((f"streams on the Live screen / in the engine", f"{shown} / {len(streams)}", f"{STREAMS} / {STREAMS}"))
    rows.append((f"frames the engine dropped, {STREAMS} live", str(dropped), "0"))
    print(f"idle, RSS/PSS MB per process: {idle_breakdown}\n")
    print("| measure | Tapedeck Studio | target |")
    print("|---|---|---|")
    for r in rows:
        print("| %s | %s | %s |" % r)


if __name__ == "__main__":
    main()
