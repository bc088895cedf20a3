#!/usr/bin/env bash
# Upload benchmark: Tapedeck's uploader against awscli into the same loopback S3 server
# (s3s-fs, which checks signatures), in the same run, plus the latency from a segment
# closing to its object being in the bucket with 16 live streams recording.
#
#   bench/upload.sh                       # 1 GiB file, 1000 x 1 MiB, 16 streams x 60 s
#   BIG_MIB=256 SMALL=200 STREAMS=4 DURATION=20 bench/upload.sh    # a quick run
#
# Prints a Markdown table (commit it to bench/RESULTS.md with the command that made it).
# Ratios are awscli's time / Tapedeck's time: above 1.0 Tapedeck is faster.
set -euo pipefail
cd "$(dirname "$0")/.."

BIG_MIB=${BIG_MIB:-1024}
SMALL=${SMALL:-1000}
STREAMS=${STREAMS:-16}
DURATION=${DURATION:-60}

./scripts/setup >/dev/null
venv="${XDG_CACHE_HOME:-$HOME/.cache}/tapedeck/venv"
if ! command -v aws >/dev/null 2>&1; then
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet awscli
  export PATH="$venv/bin:$PATH"
fi
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet -p tapedeck
tapedeck="$PWD/target/release/tapedeck"

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
mkdir -p "$work/s3"
s3s-fs --host 127.0.0.1 --port "$port" --access-key BENCHKEY --secret-key benchsecret "$work/s3" 2>"$work/s3s.log" &
pids+=($!)
export AWS_ACCESS_KEY_ID=BENCHKEY AWS_SECRET_ACCESS_KEY=benchsecret AWS_DEFAULT_REGION=us-east-1
endpoint="http://127.0.0.1:$port"
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
aws --endpoint-url "$endpoint" s3 mb s3://bench >/dev/null

rtmp=$(free_port)
control=$(free_port)
cat >"$work/tapedeck.toml" <<EOF
data_dir = "$work/data"
[ingest]
rtmp_listen = "127.0.0.1:$rtmp"
[control]
listen = "127.0.0.1:$control"
[[storage]]
name = "bench"
provider = "custom"
endpoint = "$endpoint"
bucket = "bench"
[[template]]
storage = "bench"
formats = ["m3u8", "mp4"]
[template.m3u8]
slice_duration = "2s"
daily_object = ""
EOF

echo "making ${BIG_MIB} MiB and ${SMALL} x 1 MiB of random data..." >&2
head -c "$((BIG_MIB << 20))" /dev/urandom >"$work/big.bin"
mkdir -p "$work/small"
python3 - "$work/small" "$SMALL" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, f"{i:04d}.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))
PY

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }; t1=$(date +%s.%N); python3 -c "print(f'{$t1-$t0:.2f}')"; }

echo "1 file of ${BIG_MIB} MiB..." >&2
aws_big=$(secs aws --endpoint-url "$endpoint" s3 cp "$work/big.bin" s3://bench/awscli/big.bin)
td_big=$(secs "$tapedeck" --config "$work/tapedeck.toml" storage upload bench "$work/big.bin" --key-prefix tapedeck/)
echo "${SMALL} files of 1 MiB..." >&2
aws_small=$(secs aws --endpoint-url "$endpoint" s3 sync "$work/small" s3://bench/awscli-sync/)
td_small=$(secs "$tapedeck" --config "$work/tapedeck.toml" storage upload bench "$work/small" --key-prefix tapedeck-small/)
# Both sides really uploaded everything.
count=$(aws --endpoint-url "$endpoint" s3 ls --recursive s3://bench/ | wc -l)
[ "$count" -eq $((2 + 2 * SMALL)) ] || { echo "expected $((2 + 2 * SMALL)) objects, found $count" >&2; exit 1; }

echo "${STREAMS} live streams for ${DURATION} s..." >&2
ffmpeg -hide_banner -loglevel error -f lavfi -i "testsrc2=size=1280x720:rate=30" \
  -f lavfi -i "sine=frequency=440:sample_rate=44100" -t "$DURATION" \
  -c:v libx264 -preset ultrafast -b:v 3M -g 60 -pix_fmt yuv420p -c:a aac -b:a 128k \
  -y "$work/input.flv"
"$tapedeck" --config "$work/tapedeck.toml" serve 2>"$work/serve.log" &
serve=$!
pids+=($serve)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$rtmp") 2>/dev/null && break; sleep 0.1; done
pushers=()
for i in $(seq "$STREAMS"); do
  ffmpeg -hide_banner -loglevel error -re -i "$work/input.flv" -c copy -f flv \
    "rtmp://127.0.0.1:$rtmp/live/cam$i" &
  pushers+=($!)
done
for p in "${pushers[@]}"; do wait "$p"; done
kill -INT "$serve"
wait "$serve" || true

python3 - "$work/data/state/catalog.sqlite3" "$aws_big" "$td_big" "$aws_small" "$td_small" \
  "$BIG_MIB" "$SMALL" "$STREAMS" "$DURATION" <<'PY'
import sqlite3, sys
db, aws_big, td_big, aws_small, td_small = sys.argv[1], *map(float, sys.argv[2:6])
big_mib, small, streams, duration = map(int, sys.argv[6:10])
rows = sqlite3.connect(db).execute(
    "SELECT done_ms - queued_ms FROM uploads WHERE kind = 'segment' AND state = 'done' ORDER BY 1").fetchall()
lat = [r[0] for r in rows]
left = sqlite3.connect(db).execute("SELECT count(*) FROM uploads WHERE kind = 'segment' AND state != 'done'").fetchone()[0]
def pct(p):
    return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))] / 1000
mb = lambda mib, s: mib * 1.048576 / s
print("| case | awscli | Tapedeck | ratio (awscli time / Tapedeck time) |")
print("|---|---|---|---|")
print(f"| 1 x {big_mib} MiB (`aws s3 cp`) | {aws_big:.2f} s ({mb(big_mib, aws_big):.0f} MB/s) | {td_big:.2f} s ({mb(big_mib, td_big):.0f} MB/s) | {aws_big / td_big:.2f} |")
print(f"| {small} x 1 MiB (`aws s3 sync`) | {aws_small:.2f} s ({mb(small, aws_small):.0f} MB/s) | {td_small:.2f} s ({mb(small, td_small):.0f} MB/s) | {aws_small / td_small:.2f} |")
print()
print(f"| {streams} live streams x {duration} s, 2 s segments | segments | p50 | p99 | max | not uploaded |")
print("|---|---|---|---|---|---|")
print(f"| segment closed -> object in the bucket | {len(lat)} | {pct(50):.3f} s | {pct(99):.3f} s | {lat[-1] / 1000 if lat else 0:.3f} s | {left} |")
PY
