#!/usr/bin/env bash
# Runs the end-to-end tests of Tapedeck Studio against the real app binary, in a virtual
# X display and a private D-Bus session. Usage: e2e/run.sh [test files or --test-name-pattern=...]
# Exits non-zero when a test fails. See e2e/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"

if [ -z "${E2E_INSIDE:-}" ]; then
  for tool in xvfb-run dbus-run-session tauri-driver WebKitWebDriver ffmpeg ffprobe node s3s-fs; do
    command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:$HOME/.cargo/bin"
    command -v "$tool" >/dev/null 2>&1 || { echo "e2e: $tool is missing (see e2e/README.md)" >&2; exit 2; }
  done
  BIN="${TAPEDECK_STUDIO_BIN:-$REPO/target/debug/tapedeck-studio}"
  [ -x "$BIN" ] || { echo "e2e: no app binary at $BIN: build it first (see e2e/README.md)" >&2; exit 2; }
  export TAPEDECK_STUDIO_BIN="$BIN"
  E2E_TMP="$(mktemp -d /tmp/tapedeck-e2e.XXXXXX)"
  E2E_STARTED_MS="$(date +%s%3N)"
  export E2E_TMP E2E_STARTED_MS E2E_INSIDE=1 PATH
  # Nothing of the user's: keyrings, autostart entries, caches go to the run's own folder.
  export XDG_DATA_HOME="$E2E_TMP/xdg/data" XDG_CONFIG_HOME="$E2E_TMP/xdg/config" \
    XDG_CACHE_HOME="$E2E_TMP/xdg/cache" XDG_STATE_HOME="$E2E_TMP/xdg/state"
  mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME"
  rc=0
  xvfb-run -a -s "-screen 0 1280x860x24" dbus-run-session -- bash "${BASH_SOURCE[0]}" "$@" || rc=$?
  if [ "$rc" = 0 ] && [ -z "${E2E_KEEP:-}" ]; then
    rm -rf "$E2E_TMP"
  else
    echo "e2e: logs and temporary folders kept in $E2E_TMP" >&2
  fi
  exit "$rc"
fi

# Inside Xvfb and the D-Bus session from here on.
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# A Secret Service for the storage keys (the app keeps them in the OS keyring).
if command -v gnome-keyring-daemon >/dev/null 2>&1; then
  # --unlock creates and unlocks the login keyring in $XDG_DATA_HOME (with an empty
  # password it creates none, and storing would need a prompt). It goes away with the
  # D-Bus session when the run ends.
  if eval "$(printf 'tapedeck-e2e' | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)"; then
    export E2E_KEYRING=1
  fi
else
  echo "e2e: gnome-keyring-daemon is missing: storage keys cannot be saved (apt-get install gnome-keyring)" >&2
fi
# Notifications (closing the window, uploads) need a notification server on the bus.
for nd in /usr/lib/notification-daemon/notification-daemon /usr/libexec/notification-daemon; do
  if [ -x "$nd" ]; then "$nd" >/dev/null 2>&1 & PIDS+=($!); break; fi
done

DRIVER_PORT="$(free_port)"
NATIVE_PORT="$(free_port)"
tauri-driver --port "$DRIVER_PORT" --native-port "$NATIVE_PORT" >"$E2E_TMP/tauri-driver.log" 2>&1 &
PIDS+=($!)
export TAURI_DRIVER_URL="http://127.0.0.1:$DRIVER_PORT"
for _ in $(seq 1 50); do
  if node -e 'const c=require("net").connect(+process.argv[1],"127.0.0.1",()=>process.exit(0));c.on("error",()=>process.exit(1))' "$DRIVER_PORT"; then break; fi
  sleep 0.2
done

cd "$HERE"
if [ "$#" -gt 0 ]; then
  node --test --test-concurrency=1 "$@"
else
  node --test --test-concurrency=1 tests/
fi
