#!/usr/bin/env bash
# Export benchmark (issue 4): `tapedeck export` of one hour of a 6 Mbit/s recording against
# `ffmpeg -ss/-to -c copy` over the same recorded segments, in the same run.
#
#   bench/export.sh                 # MINUTES=60 by default
#   MINUTES=10 bench/export.sh      # a quicker run
#
# The hour is made without encoding an hour: one minute of 720p30 H.264 at 6 Mbit/s + AAC is
# encoded once (cached in bench/.cache/), repeated with `-stream_loop` and pushed to
# Tapedeck as fast as it takes it (no -re), which records it as m3u8 in 30 s segments. Both
# exporters then cut the same range: from 0.5 s after the start to 0.5 s before the end.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
MINUTES="${MINUTES:-60}"
cache="$here/bench/.cache"
mkdir -p "$cache"
command -v ffmpeg >/dev/null || { apt-get update -qq && apt-get install -y -qq ffmpeg; }
one="$cache/one-minute-720p30-6M.flv"
if [ ! -s "$one" ]; then
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=48000 -t 60 \
    -c:v libx264 -preset veryfast -b:v 6M -maxrate 6M -bufsize 12M -g 60 -pix_fmt yuv420p \
    -c:a aac -b:a 128k -ac 2 "$one"
fi
cargo build --release -q --manifest-path "$here/Cargo.toml" -p tapedeck
bin="$here/target/release/tapedeck"
work="$(mktemp -d /tmp/tapedeck-export-bench.XXXXXX)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
control=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/tapedeck.toml" <<TOML
data_dir = "$work/data"
[ingest]
rtmp_listen = "127.0.0.1:$port"
[control]
listen = "127.0.0.1:$control"
[[template]]
formats = ["m3u8"]
interruption_window = "0s"
TOML
TAPEDECK_LOG=warn "$bin" serve --config "$work/tapedeck.toml" 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
ffmpeg -hide_banner -loglevel error -stream_loop $((MINUTES - 1)) -i "$one" -c copy -f flv "rtmp://127.0.0.1:$port/live/bench"
for _ in $(seq 600); do grep -q . <(find "$work/data/recordings/record" -name '*.m3u8' ! -name '*recording*' 2>/dev/null) && break; sleep 0.5; done
playlist=$(find "$work/data/recordings/record" -name '*.m3u8' ! -name '*recording*' | head -1)
span=$("$bin" recordings spans --config "$work/tapedeck.toml" --app live --stream bench --start 2000-01-01T00:00:00Z --end 2100-01-01T00:00:00Z --json)
read -r start_ms end_ms < <(python3 -c 'import json,sys; s=json.loads(sys.argv[1])[0]; print(s["start_ms"], s["end_ms"])' "$span")
iso() { python3 -c 'import datetime,sys; print(datetime.datetime.fromtimestamp(int(sys.argv[1])/1000, datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00","Z"))' "$1"; }
from=$(iso $((start_ms + 500))); to=$(iso $((end_ms - 500)))
secs=$(python3 -c "print(($end_ms - $start_ms - 1000) / 1000)")
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
t0=$(date +%s.%N)
"$bin" export --config "$work/tapedeck.toml" --app live --stream bench --start "$from" --end "$to" -o "$work/tapedeck.mp4" 2>/dev/null
t1=$(date +%s.%N)
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
t2=$(date +%s.%N)
ffmpeg -hide_banner -loglevel error -y -ss 0.5 -to "$(python3 -c "print(0.5 + $secs)")" -i "$playlist" -c copy -movflags +faststart "$work/ffmpeg.mp4"
t3=$(date +%s.%N)
probe() { ffprobe -v error -show_entries format=duration,size -of csv=p=0 "$1"; }
ours=$(python3 -c "print(f'{$t1 - $t0:.1f}')"); theirs=$(python3 -c "print(f'{$t3 - $t2:.1f}')")
echo "| exporter | range | wall s | duration, bytes |"
echo "|---|---:|---:|---|"
echo "| tapedeck export | ${secs} s | $ours | $(probe "$work/tapedeck.mp4") |"
echo "| ffmpeg -ss/-to -c copy +faststart | ${secs} s | $theirs | $(probe "$work/ffmpeg.mp4") |"
python3 -c "print(f'ratio tapedeck / ffmpeg: {($t1 - $t0) / ($t3 - $t2):.2f} (target <= 1.0)')"
