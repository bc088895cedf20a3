#!/usr/bin/env python3
"""Idle memory of Tapedeck Studio as a user starts it (no WebDriver attached): the app on a
fresh temporary folder under the current DISPLAY, 12 s after start, RSS and PSS summed
over the app and every WebKit process it started, per process too.

    xvfb-run -a -s "-screen 0 1280x860x24" python3 bench/app-idle.py [ENV=VALUE ...]

Extra ENV=VALUE arguments go into the app's environment (to compare WebKit settings).
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from app import app_pids, breakdown, pss_mb, rss_mb  # noqa: E402

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("TAPEDECK_STUDIO_BIN", os.path.join(HERE, "target/release/tapedeck-studio"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    env = dict(os.environ)
    for kv in sys.argv[1:]:
        k, _, v = kv.partition("=")
        env[k] = v
    d = tempfile.mkdtemp(prefix="tapedeck-idle-")
    cfg = os.path.join(d, "tapedeck.toml")
    with open(cfg, "w") as f:
        f.write(f'data_dir = "{d}/data"\n[ingest]\nrtmp_listen = "127.0.0.1:{free_port()}"\n'
                f'[control]\nlisten = "127.0.0.1:{free_port()}"\n')
    env["XDG_CONFIG_HOME"] = os.path.join(d, "xdg")
    p = subprocess.Popen([BIN, "--config", cfg, "--data-dir", os.path.join(d, "data")], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(12)
        pids = app_pids()
        print(f"{' '.join(sys.argv[1:]) or 'defaults'}: RSS {rss_mb(pids):.0f} MB, "
              f"PSS {pss_mb(pids):.0f} MB; RSS/PSS per process: {breakdown(pids)}")
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
