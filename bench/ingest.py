#!/usr/bin/env python3
"""Measurement core of bench/ingest.sh (run that, not this: it installs the peers, makes the
input and builds Tapedeck first).

For each N and each recorder (tapedeck, nginx-rtmp, one `ffmpeg -c copy` per stream) it
starts the recorder, pushes N `ffmpeg -re -c copy` publishers at it, samples the recorder's
processes (never the publishers) from /proc, waits for the files to be final, then counts
what landed on disk. Prints a markdown table; `--json` keeps the raw numbers.

Standard library only.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
SAMPLE_EVERY = 0.5


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc

def proc_cpu_ticks(pid):
    """utime+stime (+ reaped children's) of one process, in clock ticks; None when gone."""
    split = proc_cpu_split(pid)
    return sum(split) if split else None


def proc_cpu_split(pid):
    """(user, system) ticks (+ reaped children's) of one process; None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    # fields[0] is state (field 3); utime is field 14 -> index 11
    return (int(fields[11]) + int(fields[13]), int(fields[12]) + int(fields[14]))


def proc_ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    return int(s[s.rindex(")") + 2:].split()[1])


def proc_mem_kb(pid):
    """(VmRSS, VmHWM) in kB; None when gone."""
    rss = hwm = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        return None
    if rss is None:
        return None  # a zombie has no memory lines
    return rss, hwm


def proc_wchar(pid):
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def tree(root):
    """root and every descendant that is alive now."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            pp = proc_ppid(int(d))
            if pp is not None:
                children.setdefault(pp, []).append(int(d))
    out, stack = [], [root]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(children.get(p, []))
    return out


def machine_busy_ticks():
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = [int(x) for x in parts]
    idle = vals[3] + vals[4]  # idle + iowait
    return sum(vals[:8]) - idle, sum(vals[:8])


def listening_ports():
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    p = line.split()
                    if p[3] == "0A":
                        ports.add(int(p[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def established_to(port):
    n = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    p = line.split()
                    if p[3] == "01" and int(p[1].rsplit(":", 1)[1], 16) == port:
                        n += 1
        except OSError:
            pass
    return n


def free_ports(n, avoid=()):
    """n distinct free TCP ports (bound together, so no duplicates)."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
            socks.append(s)
            if p not in avoid:
                ports.append(p)
    finally:
        for s in socks:
            s.close()
    return ports


def wait_until(pred, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


# ---------------------------------------------------------------- children

class Child:
    """A spawned process we reap ourselves with wait4, to get its exact rusage."""

    def __init__(self, argv, logfile, env=None, cwd=None):
        self.argv = argv
        self.t_start = time.monotonic()
        self.log = open(logfile, "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                  stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.pid = self.p.pid
        self.t_end = None
        self.status = None
        self.rusage = None

    def poll(self):
        if self.t_end is not None:
            return True
        try:
            pid, status, ru = os.wait4(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status, ru = self.pid, 0, None
        if pid == 0:
            return False
        self.t_end = time.monotonic()
        self.status = os.waitstatus_to_exitcode(status)
        self.rusage = ru
        self.p.returncode = self.status  # keep Popen from reaping again
        self.log.close()
        return True

    def wait(self, timeout):
        return wait_until(self.poll, timeout, 0.05)

    def send(self, sig):
        if self.t_end is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig=signal.SIGTERM, timeout=60):
        self.send(sig)
        if not self.wait(timeout):
            self.send(signal.SIGKILL)
            self.wait(10)
            return False
        return True

    def cpu_s(self):
        return self.rusage.ru_utime + self.rusage.ru_stime if self.rusage else 0.0

    def sys_s(self):
        return self.rusage.ru_stime if self.rusage else 0.0

    def wall(self):
        return (self.t_end or time.monotonic()) - self.t_start


class Sampler(threading.Thread):
    """Every SAMPLE_EVERY s: sum of VmRSS over the recorder's processes (the max is the peak)."""

    def __init__(self, pids_fn):
        super().__init__(daemon=True)
        self.pids_fn = pids_fn
        self.stop_ev = threading.Event()
        self.peak_rss_kb = 0
        self.samples = 0
        self.last_hwm = {}
        self.last_wchar = {}

    def sample_once(self):
        total = 0
        for pid in self.pids_fn():
            m = proc_mem_kb(pid)
            if m:
                total += m[0]
                self.last_hwm[pid] = m[1]
            w = proc_wchar(pid)
            if w is not None:
                self.last_wchar[pid] = w
        self.peak_rss_kb = max(self.peak_rss_kb, total)
        self.samples += 1
        return total

    def run(self):
        while not self.stop_ev.wait(SAMPLE_EVERY):
            self.sample_once()

    def finish(self):
        self.stop_ev.set()
        self.join()
        self.sample_once()


# ---------------------------------------------------------------- probing

def count_video_packets(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
         "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True)
    try:
        return int(out.stdout.strip().splitlines()[0].strip(","))
    except (ValueError, IndexError):
        return 0


def playlist_segments(m3u8):
    base = m3u8.parent
    try:
        lines = m3u8.read_text().splitlines()
    except OSError:
        return []
    return [base / l.strip() for l in lines if l.strip() and not l.startswith("#")]


def count_hls(m3u8s):
    return sum(count_video_packets(seg) for m in m3u8s for seg in playlist_segments(m))


def disk_bytes(root):
    total = files = 0
    for dp, _, fns in os.walk(root):
        for fn in fns:
            try:
                total += os.path.getsize(os.path.join(dp, fn))
                files += 1
            except OSError:
                pass
    return total, files


# ---------------------------------------------------------------- recorders

class Recorder:
    name = "?"
    main_format = "?"
    other_formats = ()

    def __init__(self, args, workdir, n):
        self.args, self.dir, self.n = args, workdir, n
        self.out = workdir / "out"
        self.out.mkdir(parents=True)
        self.notes = []

    def urls(self):
        raise NotImplementedError

    def start(self):
        raise NotImplementedError

    def pids(self):
        raise NotImplementedError

    def cpu_split_now(self):
        """(user + system, system) ticks of the recorder's processes."""
        splits = [s for s in (proc_cpu_split(p) for p in self.pids()) if s]
        return sum(u + k for u, k in splits), sum(k for _, k in splits)

    def wait_final(self, timeout):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError

    def frames(self, k):
        """{format: video frames recorded} for stream k."""
        raise NotImplementedError


class Tapedeck(Recorder):
    name = "tapedeck"
    main_format = "mp4"
    other_formats = ("flv", "m3u8")

    def start(self):
        self.port = free_ports(1)[0]
        data = self.dir / "out"
        cfg = self.dir / "tapedeck.toml"
        cfg.write_text(
            f'data_dir = "{data}"\n'
            f'[ingest]\nrtmp_listen = "127.0.0.1:{self.port}"\n'
            '[[template]]\napp = "*"\nstream = "*"\n'
            'formats = ["m3u8", "mp4", "flv"]\ninterruption_window = "0s"\n')
        env = dict(os.environ, TAPEDECK_LOG="info", NO_COLOR="1")
        self.child = Child([self.args.tapedeck, "serve", "--config", str(cfg)],
                           self.dir / "tapedeck.log", env=env)
        if not wait_until(lambda: self.port in listening_ports(), 30):
            raise RuntimeError("tapedeck did not listen: " + (self.dir / "tapedeck.log").read_text())
        self.rec = data / "recordings" / "record" / "live"

    def urls(self):
        return [f"rtmp://127.0.0.1:{self.port}/live/s{k}" for k in range(self.n)]

    def pids(self):
        return [] if self.child.t_end else tree(self.child.pid)

    def _final(self):
        if self.child.poll():
            self.crashed = True
            return True
        if not self.rec.is_dir():
            return False
        for dp, _, fns in os.walk(self.rec):
            if any(f.endswith(".part") for f in fns):
                return False
        for k in range(self.n):
            d = self.rec / f"s{k}"
            if not d.is_dir():
                return False
            names = os.listdir(d)
            for ext in (".mp4", ".flv", ".m3u8"):
                if not any(f.endswith(ext) for f in names):
                    return False
            for f in names:
                if f.endswith(".m3u8") and "#EXT-X-ENDLIST" not in (d / f).read_text(errors="replace"):
                    return False
        return True

    def wait_final(self, timeout):
        self.crashed = False
        ok = wait_until(self._final, timeout, 0.2)
        if self.crashed:
            self.notes.append(f"tapedeck EXITED during the run with status {self.child.status}")
        return ok and not self.crashed

    def stop(self):
        self.exit_clean = self.child.stop(signal.SIGINT, 120)
        if self.child.status not in (0, None) or not self.exit_clean:
            self.notes.append(f"tapedeck exit status {self.child.status} (clean={self.exit_clean})")
        text = re.sub(r"\x1b\[[0-9;]*m", "", (self.dir / "tapedeck.log").read_text(errors="replace"))
        self.dropped = sum(int(m) for m in re.findall(r"recording stopped.*?dropped=(\d+)", text))
        self.stopped = len(re.findall(r"recording stopped", text))
        warns = [l for l in text.splitlines() if " WARN " in l or " ERROR " in l]
        self.warnings = warns
        if self.dropped:
            self.notes.append(f"tapedeck log: {self.dropped} media events dropped by back-pressure")
        kinds = {}
        for l in warns:
            # drop the timestamp and the per-connection fields so equal messages group
            msg = re.sub(r"^\S+\s+", "", l)
            msg = re.sub(r"\s*(peer|stream)=\S+", "", msg)
            kinds[msg] = kinds.get(msg, 0) + 1
        for msg, count in sorted(kinds.items(), key=lambda kv: -kv[1]):
            self.notes.append(f"tapedeck log: {count} x `{msg[:160]}`")

    def frames(self, k):
        d = self.rec / f"s{k}"
        files = sorted(d.iterdir()) if d.is_dir() else []
        return {
            "mp4": sum(count_video_packets(f) for f in files if f.suffix == ".mp4"),
            "flv": sum(count_video_packets(f) for f in files if f.suffix == ".flv"),
            "m3u8": count_hls([f for f in files if f.suffix == ".m3u8"]),
            "files": {
                ext: sum(1 for f in files if f.suffix == ext) for ext in (".mp4", ".flv", ".m3u8")
            },
        }


class Nginx(Recorder):
    name = "nginx-rtmp"
    main_format = "flv"
    other_formats = ("m3u8",)

    def start(self):
        self.port = free_ports(1)[0]
        prefix = self.dir / "nginx"
        (prefix / "logs").mkdir(parents=True)
        self.rec = self.out / "record"
        self.hls = self.out / "hls"
        self.rec.mkdir()
        self.hls.mkdir()
        conf = prefix / "nginx.conf"
        conf.write_text(f"""
load_module /usr/share/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process on;
user root;
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
rtmp {{
    server {{
        listen 127.0.0.1:{self.port};
        chunk_size 4096;
        application live {{
            live on;
            record all;
            record_path {self.rec};
            hls on;
            hls_path {self.hls};
            hls_fragment 30s;
            hls_playlist_length 1h;
            hls_cleanup off;
        }}
    }}
}}
""")
        self.child = Child(["nginx", "-p", str(prefix), "-c", str(conf)], self.dir / "nginx.log")
        if not wait_until(lambda: self.port in listening_ports(), 30):
            raise RuntimeError("nginx did not listen: " + (self.dir / "nginx.log").read_text()
                               + (prefix / "logs" / "error.log").read_text())
        time.sleep(0.5)  # let the workers come up before the idle baseline

    def urls(self):
        return [f"rtmp://127.0.0.1:{self.port}/live/s{k}" for k in range(self.n)]

    def pids(self):
        return [] if self.child.t_end else tree(self.child.pid)

    def wait_final(self, timeout):
        # nginx closes the record file and the last fragment when the publisher's connection
        # goes; wait for the connections to be gone, then a grace second.
        ok = wait_until(lambda: established_to(self.port) == 0 and all(
            (self.rec / f"s{k}.flv").exists() for k in range(self.n)), timeout, 0.2)
        time.sleep(1.0)
        return ok

    def stop(self):
        self.child.stop(signal.SIGQUIT, 60)
        err = (self.dir / "nginx" / "logs" / "error.log").read_text(errors="replace")
        lines = [l for l in err.splitlines() if "[alert]" in l or "[error]" in l or "[crit]" in l]
        if lines:
            self.notes.append(f"nginx error.log: {len(lines)} error lines, first: {lines[0][-200:]}")

    def frames(self, k):
        return {
            "flv": count_video_packets(self.rec / f"s{k}.flv"),
            "m3u8": count_hls([self.hls / f"s{k}.m3u8"]),
        }


class FfmpegCopy(Recorder):
    name = "ffmpeg -c copy"
    main_format = "flv"

    def start(self):
        self.ports = free_ports(self.n)
        self.children = []
        for k, port in enumerate(self.ports):
            self.children.append(Child(
                ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-listen", "1",
                 "-i", f"rtmp://127.0.0.1:{port}/live/s", "-c", "copy", "-f", "flv", "-y",
                 str(self.out / f"s{k}.flv")],
                self.dir / f"rec-{k}.log"))
        want = set(self.ports)
        if not wait_until(lambda: want <= listening_ports(), 60):
            raise RuntimeError("ffmpeg recorders did not all listen")
        time.sleep(0.5)
        # CPU already spent by each listener before any publisher: subtracted at the end.
        self.start_ticks = {c.pid: proc_cpu_ticks(c.pid) or 0 for c in self.children}

    def urls(self):
        return [f"rtmp://127.0.0.1:{p}/live/s" for p in self.ports]

    def pids(self):
        return [c.pid for c in self.children if c.t_end is None]

    def cpu_split_now(self):
        """(user + system, system) ticks; exited recorders: exact rusage from wait4; live
        ones: /proc."""
        total = kernel = 0
        for c in self.children:
            if c.poll():
                total += round(c.cpu_s() * CLK_TCK)
                kernel += round(c.sys_s() * CLK_TCK)
            else:
                user, sys_ = proc_cpu_split(c.pid) or (0, 0)
                total += user + sys_
                kernel += sys_
        return total, kernel

    def wait_final(self, timeout):
        return wait_until(lambda: all(c.poll() for c in self.children), timeout, 0.2)

    def stop(self):
        bad = 0
        for c in self.children:
            if not c.poll():
                c.stop(signal.SIGTERM, 10)
            if c.status != 0:
                bad += 1
        if bad:
            self.notes.append(f"{bad} ffmpeg recorders exited non-zero")

    def frames(self, k):
        return {"flv": count_video_packets(self.out / f"s{k}.flv")}


RECORDERS = {"tapedeck": Tapedeck, "nginx": Nginx, "ffmpeg": FfmpegCopy}


# ---------------------------------------------------------------- one run

def run_one(args, rec_cls, n, pushed, workroot):
    workdir = workroot / f"{rec_cls.__name__.lower()}-{n}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    rec = rec_cls(args, workdir, n)
    log(f"{rec.name} N={n}: starting")
    rec.start()

    sampler = Sampler(rec.pids)
    time.sleep(1.0)
    idle_rss_kb = sampler.sample_once()
    sampler.peak_rss_kb = 0
    cpu0, sys0 = rec.cpu_split_now()
    busy0, all0 = machine_busy_ticks()
    sampler.start()

    pubs = []
    t0 = time.monotonic()
    for k, url in enumerate(rec.urls()):
        pubs.append(Child(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i",
             str(args.input), "-c", "copy", "-f", "flv", url],
            workdir / f"pub-{k}.log"))
    log(f"{rec.name} N={n}: {n} publishers started")
    limit = args.duration * 3 + 60
    all_done = wait_until(lambda: all(p.poll() for p in pubs), limit, 0.2)
    t_pub_end = time.monotonic()
    busy1, all1 = machine_busy_ticks()
    if not all_done:
        for p in pubs:
            p.stop(signal.SIGKILL, 5)
    peak_publish_kb = sampler.peak_rss_kb
    pub_wall = t_pub_end - t0
    pub_walls = [p.wall() for p in pubs]
    pub_fail = sum(1 for p in pubs if p.status != 0)
    pub_cpu = sum(p.cpu_s() for p in pubs)
    log(f"{rec.name} N={n}: publishers done in {pub_wall:.1f}s ({pub_fail} failed); waiting for files")

    final_ok = rec.wait_final(args.finalize_timeout)
    t_final = time.monotonic()
    cpu1, sys1 = rec.cpu_split_now()
    sampler.finish()
    hwm_kb = None
    if isinstance(rec, Tapedeck) and rec.child.t_end is None:
        m = proc_mem_kb(rec.child.pid)
        hwm_kb = m[1] if m else None
    wchar = sum(sampler.last_wchar.values())
    rec.stop()
    if not final_ok:
        rec.notes.append(f"files NOT final {args.finalize_timeout}s after the publishers ended")
    log(f"{rec.name} N={n}: final={final_ok} after {t_final - t_pub_end:.1f}s; probing")

    bytes_on_disk, nfiles = disk_bytes(rec.out)
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        per_stream = list(ex.map(rec.frames, range(n)))

    def lost(fmt):
        l = [max(0, pushed - s.get(fmt, 0)) for s in per_stream]
        extra = [max(0, s.get(fmt, 0) - pushed) for s in per_stream]
        return {"total": sum(l), "worst": max(l) if l else 0,
                "streams_short": sum(1 for x in l if x), "extra": sum(extra)}

    peak_kb = sampler.peak_rss_kb
    if hwm_kb:
        peak_kb = max(peak_kb, hwm_kb)
    cpu_s = (cpu1 - cpu0) / CLK_TCK
    stream_minutes = n * args.duration / 60.0
    res = {
        "recorder": rec.name, "n": n,
        "cpu_s": cpu_s,
        "cpu_per_stream_min": cpu_s / stream_minutes,
        "sys_share": (sys1 - sys0) / max(1, cpu1 - cpu0),
        "idle_rss_mb": idle_rss_kb / 1024, "peak_rss_mb": peak_kb / 1024,
        "rss_per_stream_mb": (peak_kb - idle_rss_kb) / 1024 / n,
        "bytes_on_disk": bytes_on_disk, "files": nfiles, "wchar": wchar,
        "lost": {f: lost(f) for f in (rec.main_format,) + tuple(rec.other_formats)},
        "main_format": rec.main_format,
        "pushed_per_stream": pushed,
        "pub_wall": pub_wall, "pub_wall_max": max(pub_walls), "pub_failed": pub_fail,
        "pub_cpu_s": pub_cpu,
        "machine_busy": (busy1 - busy0) / max(1, all1 - all0),
        "machine_busy_cores": (busy1 - busy0) / CLK_TCK / pub_wall,
        "peak_rss_publish_mb": peak_publish_kb / 1024,
        "final_ok": final_ok, "finalize_s": t_final - t_pub_end,
        "samples": sampler.samples,
        "notes": rec.notes,
    }
    if isinstance(rec, Tapedeck):
        res["tapedeck_dropped_events"] = rec.dropped
        res["tapedeck_recordings_stopped"] = rec.stopped
        res["tapedeck_files"] = [s.get("files") for s in per_stream]
        odd = [k for k, s in enumerate(per_stream) if any(v != 1 for v in s["files"].values())]
        if odd:
            rec.notes.append(f"streams with not exactly one mp4/flv/m3u8: {odd[:10]}")
    res["per_stream"] = [{k: v for k, v in s.items() if k != "files"} for s in per_stream]
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    log(f"{rec.name} N={n}: cpu {cpu_s:.1f}s, peak rss {peak_kb/1024:.0f} MB, "
        f"lost {res['lost'][rec.main_format]['total']}")
    return res


# ---------------------------------------------------------------- report

def fmt_bytes(b):
    return f"{b / 1e6:,.0f} MB" if b < 1e9 else f"{b / 1e9:.2f} GB"


def busy_split(r):
    w = r["pub_wall"]
    allc = r["machine_busy_cores"]
    pub = r["pub_cpu_s"] / w
    rec = r["cpu_s"] / w  # includes the (short) finalize phase: an approximation
    return f"{allc:.2f} / {pub:.2f} / {rec:.2f} / {max(0.0, allc - pub - rec):.2f}"


def table(results, duration):
    rows = ["| recorder | N | CPU s / stream-min | of it in the kernel | peak RSS total MB | RSS / stream MB | "
            "bytes on disk | bytes written (write() calls) | frames lost total / worst stream | other formats: lost "
            "| publish wall s (max per publisher) | cores busy: all / publishers / recorder / rest "
            "| files final after |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---|"]
    for r in results:
        main = r["lost"][r["main_format"]]
        others = ", ".join(f"{f} {v['total']}/{v['worst']}" for f, v in r["lost"].items()
                           if f != r["main_format"]) or "-"
        final = f"{r['finalize_s']:.1f} s" if r["final_ok"] else f"NOT final ({r['finalize_s']:.0f} s)"
        rows.append(
            f"| {r['recorder']} | {r['n']} | {r['cpu_per_stream_min']:.3f} "
            f"| {r.get('sys_share', float('nan')):.0%} | {r['peak_rss_mb']:.1f} "
            f"| {r['rss_per_stream_mb']:.2f} | {fmt_bytes(r['bytes_on_disk'])} | {fmt_bytes(r['wchar'])} "
            f"| {main['total']} / {main['worst']} ({r['main_format']}) | {others} "
            f"| {r['pub_wall']:.1f} ({r['pub_wall_max']:.1f}){' **behind real time**' if r['pub_wall_max'] > duration * 1.05 + 1 else ''} "
            f"| {busy_split(r)} | {final} |")
    out = "\n".join(rows)
    by = {}
    for r in results:
        by.setdefault(r["n"], {})[r["recorder"]] = r
    ratio = ["", "| N | Tapedeck CPU s / stream-min | nginx-rtmp | ffmpeg -c copy | Tapedeck / nginx (target <= 0.5) |",
             "|---:|---:|---:|---:|---:|"]
    for n in sorted(by):
        t, g, f = by[n].get("tapedeck"), by[n].get("nginx-rtmp"), by[n].get("ffmpeg -c copy")
        cell = lambda r: f"{r['cpu_per_stream_min']:.3f}" if r else "-"
        rt = (f"{t['cpu_per_stream_min'] / g['cpu_per_stream_min']:.2f}"
              if t and g and g["cpu_per_stream_min"] > 0 else "-")
        ratio.append(f"| {n} | {cell(t)} | {cell(g)} | {cell(f)} | {rt} |")
    notes = []
    for r in results:
        extra = list(r["notes"])
        if r["pub_failed"]:
            extra.append(f"{r['pub_failed']} publishers exited non-zero")
        if "tapedeck_dropped_events" in r and r["tapedeck_dropped_events"]:
            pass
        if extra:
            notes.append(f"- {r['recorder']} N={r['n']}: " + "; ".join(extra))
    return out + "\n" + "\n".join(ratio) + ("\n\n" + "\n".join(notes) if notes else "") + "\n"


def warm_page_cache(workdir, nbytes):
    """Writes and deletes `nbytes` before a cell, so every recorder finds the page cache it
    will fill already backed by the machine.

    On a virtual machine the first use of a guest page costs the host a fault: whichever
    recorder first writes more than any run before it pays for those pages, in kernel CPU
    time charged to its writes (seen here: nginx-rtmp measured 0.41 CPU s/stream-min when
    it ran first at N=64 and 0.32 when it ran second; Tapedeck 0.29 first, 0.17 after). The
    cells ran in a fixed order, so the same recorder always paid. Writing more than a cell
    writes, then deleting it, leaves freed pages that any recorder reuses."""
    path = Path(workdir) / "warm-up.bin"
    chunk = b"\0" * (16 << 20)
    t0 = time.monotonic()
    with open(path, "wb") as f:
        left = nbytes
        while left > 0:
            f.write(chunk[:min(left, len(chunk))])
            left -= len(chunk)
        f.flush()
        os.fsync(f.fileno())
    path.unlink()
    log(f"page cache warmed with {nbytes / 1e9:.1f} GB in {time.monotonic() - t0:.1f}s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--table-from", type=Path, help="only print the table of a --json file")
    ap.add_argument("--tapedeck")
    ap.add_argument("--input", type=Path)
    ap.add_argument("--duration", type=float)
    ap.add_argument("--ns", default="1 16 64 128")
    ap.add_argument("--recorders", default="tapedeck nginx ffmpeg")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--finalize-timeout", type=float, default=180)
    ap.add_argument("--keep", action="store_true", help="keep the recordings")
    args = ap.parse_args()
    if args.table_from:
        results = json.loads(args.table_from.read_text())
        duration = args.duration or round(results[0]["pushed_per_stream"] / 30)
        print(table([r for r in results if "error" not in r], duration))
        return
    if not (args.tapedeck and args.input and args.duration and args.workdir):
        ap.error("--tapedeck, --input, --duration and --workdir are required")

    pushed = count_video_packets(args.input)
    log(f"input {args.input}: {pushed} video frames per stream")
    results = []
    input_bytes = args.input.stat().st_size
    for n in [int(x) for x in args.ns.split()]:
        for name in args.recorders.split():
            warm_page_cache(args.workdir, int(n * input_bytes * 3.5))
            try:
                results.append(run_one(args, RECORDERS[name], n, pushed, args.workdir))
            except Exception as e:  # keep going: a failed cell is a result too
                log(f"{name} N={n} failed: {e!r}")
                results.append({"recorder": name, "n": n, "error": repr(e)})
            if args.json:
                args.json.write_text(json.dumps(results, indent=1))
            time.sleep(2)
    ok = [r for r in results if "error" not in r]
    print(table(ok, args.duration))
    for r in results:
        if "error" in r:
            print(f"- {r['recorder']} N={r['n']}: run failed: {r['error']}")


if __name__ == "__main__":
    main()
