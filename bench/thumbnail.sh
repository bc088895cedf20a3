#!/usr/bin/env bash
# Thumbnail benchmark (Recordings issue): `tapedeck thumbnail` of a 720p H.264 recording
# from a cold cache, against ffmpeg making the same 320-px JPEG from the same segment
# (`-ss` into the segment, one frame, scaled), in the same run. Both are whole processes
# started per picture, as the CLI user runs them; the app's media server saves Tapedeck's
# process start and catalog open on top.
#
#   bench/thumbnail.sh              # RUNS=30 by default
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
RUNS="${RUNS:-30}"
cache="$here/bench/.cache"
mkdir -p "$cache"
command -v ffmpeg >/dev/null || { apt-get update -qq && apt-get install -y -qq ffmpeg; }
clip="$cache/thumb-720p30.flv"
if [ ! -s "$clip" ]; then
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=48000 -t 90 \
    -c:v libx264 -preset veryfast -b:v 3M -g 60 -pix_fmt yuv420p -c:a aac -b:a 128k "$clip"
fi
CARGO_PROFILE_RELEASE_STRIP=symbols cargo build --release -q --manifest-path "$here/Cargo.toml" -p tapedeck
bin="$here/target/release/tapedeck"
work="$(mktemp -d /tmp/tapedeck-thumb-bench.XXXXXX)"
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
# shellcheck source=bench/lib.sh
. "$here/bench/lib.sh"
start_recorder "$bin" "$work" '[[template]]
formats = ["m3u8"]
interruption_window = "0s"
[template.m3u8]
slice_duration = "30s"'
ffmpeg -hide_banner -loglevel error -i "$clip" -c copy -f flv "rtmp://127.0.0.1:$port/live/bench"
sleep 2
span=$("$bin" recordings spans --config "$rec_config" --app live --stream bench --start 2000-01-01T00:00:00Z --end 2100-01-01T00:00:00Z --json)
read -r start_ms end_ms < <(python3 -c 'import json,sys; s=json.loads(sys.argv[1])[0]; print(s["start_ms"], s["end_ms"])' "$span")
segments=$(find "$work/rec/recordings" -name '*.ts' | sort)
python3 - "$bin" "$work" "$start_ms" "$end_ms" "$RUNS" $segments <<'PY'
import datetime, os, shutil, statistics, subprocess, sys, time
bin, work, start_ms, end_ms, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
segments = sys.argv[6:]
config = f"{work}/rec.toml"
thumbs = f"{work}/rec/state/thumbnails"
seg_ms = 30_000
tapedeck, ffmpeg = [], []
for i in range(runs):
    # A different moment each run, never in the cache: 17.3 s into each 30 s segment (the
    # default length; the key frame at 16 s), walking through the recording.
    seg = i % len(segments)
    at_ms = start_ms + seg * seg_ms + 17_300
    if at_ms >= end_ms:
        at_ms = start_ms + 17_300
        seg = 0
    at = datetime.datetime.fromtimestamp(at_ms / 1000, datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    shutil.rmtree(thumbs, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run([bin, "thumbnail", "--config", config, "--app", "live", "--stream", "bench", "--at", at, "-o", f"{work}/t.jpg", "--width", "320"], check=True, stdout=subprocess.DEVNULL)
    tapedeck.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", "16", "-i", segments[seg], "-frames:v", "1", "-vf", "scale=320:-2", f"{work}/f.jpg"], check=True)
    ffmpeg.append((time.perf_counter() - t0) * 1000)
def row(name, xs):
    xs = sorted(xs)
    return f"| {name} | {statistics.median(xs):.1f} | {xs[int(len(xs) * 0.95) - 1]:.1f} |"
print(f"\n{runs} thumbnails of a 1280x720 H.264 recording, 320 px wide, cold cache, whole process each\n")
print("| tool | median ms | p95 ms |\n|---|---:|---:|")
print(row("tapedeck thumbnail", tapedeck))
print(row("ffmpeg -ss -frames:v 1 -vf scale", ffmpeg))
print(f"\nratio tapedeck / ffmpeg (medians): {statistics.median(tapedeck) / statistics.median(ffmpeg):.2f}; target <= 50 ms")
PY
