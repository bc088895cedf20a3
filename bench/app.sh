#!/usr/bin/env bash
# Tapedeck Studio's benchmark: cold start to first paint, idle RSS of all its processes,
# IPC round trip and UI frame time with 32 live streams, frames the engine dropped.
# Builds the release app (scripts/package's build), runs bench/app.py under Xvfb and a
# session bus with tauri-driver, prints a Markdown table. RUNS=5 STREAMS=32 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
[ -x target/release/tapedeck-studio ] || ./scripts/package >/dev/null
[ -x target/release/tapedeck ] || cargo build --release -p tapedeck
port=$((20000 + RANDOM % 20000))
xvfb-run -a -s "-screen 0 1280x860x24" dbus-run-session -- bash -c "
  tauri-driver --port $port >/dev/null 2>&1 &
  sleep 2
  DRIVER=http://127.0.0.1:$port python3 bench/app.py
  status=\$?
  kill %1
  exit \$status
" 2>/dev/null
