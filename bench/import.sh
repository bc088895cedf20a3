#!/usr/bin/env bash
# Bucket import benchmark (Recordings issue): `tapedeck catalog import` of a bucket holding
# 1,000 recordings (3 segments of 2 s each, as Tapedeck uploads them) in s3s-fs on
# 127.0.0.1, against boto3 listing the same bucket and reading every playlist (16 threads):
# the least any importer must do. Then an import again, with nothing new.
#
#   bench/import.sh                 # RECORDINGS=1000 by default
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
RECORDINGS="${RECORDINGS:-1000}"
cache="$here/bench/.cache"
mkdir -p "$cache"
command -v ffmpeg >/dev/null || { apt-get update -qq && apt-get install -y -qq ffmpeg; }
command -v s3s-fs >/dev/null || "$here/scripts/setup"
python3 -c 'import boto3' 2>/dev/null || pip install -q boto3
clip="$cache/import-720p30.flv"
if [ ! -s "$clip" ]; then
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=48000 -t 6 \
    -c:v libx264 -preset veryfast -b:v 3M -g 60 -pix_fmt yuv420p -c:a aac -b:a 128k "$clip"
fi
CARGO_PROFILE_RELEASE_STRIP=symbols cargo build --release -q --manifest-path "$here/Cargo.toml" -p tapedeck
bin="$here/target/release/tapedeck"
work="$(mktemp -d /tmp/tapedeck-import-bench.XXXXXX)"
trap 'kill "${server:-}" "${s3:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
# shellcheck source=bench/lib.sh
. "$here/bench/lib.sh"
s3port=$(free_port)
# One real recording, made by Tapedeck...
start_recorder "$bin" "$work" '[[template]]
formats = ["m3u8"]
interruption_window = "0s"
[template.m3u8]
slice_duration = "2s"'
ffmpeg -hide_banner -loglevel error -i "$clip" -c copy -f flv "rtmp://127.0.0.1:$port/live/bench"
sleep 2
kill -INT "$server"; wait "$server" || true
# ...laid out 1,000 times in the bucket's folder, an hour apart, as 10 streams.
mkdir -p "$work/s3/archive"
python3 - "$work/rec/recordings" "$work/s3/archive/studio" "$RECORDINGS" <<'PY'
import datetime, os, re, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = [os.path.relpath(os.path.join(d, f), src) for d, _, fs in os.walk(src) for f in fs]
playlist = next(f for f in files if open(os.path.join(src, f), "rb").read().find(b"EXT-X-TAPEDECK-RECORDING") >= 0)
text = open(os.path.join(src, playlist)).read()
segments = [f for f in files if f.endswith(".ts")]
fmt = "%Y-%m-%dT%H:%M:%S.%f"
def shift(m, hours):
    t = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")) + datetime.timedelta(hours=hours)
    return "#EXT-X-PROGRAM-DATE-TIME:" + t.isoformat(timespec="milliseconds").replace("+00:00", "Z")
for i in range(n):
    root = os.path.join(dst, f"host{i % 10}", f"r{i:04d}")
    for s in segments:
        os.makedirs(os.path.dirname(os.path.join(root, s)), exist_ok=True)
        os.link(os.path.join(src, s), os.path.join(root, s))
    body = re.sub(r"#EXT-X-PROGRAM-DATE-TIME:(\S+)", lambda m: shift(m, -i), text)
    body = re.sub(r"#EXT-X-TAPEDECK-RECORDING:live/bench/(\d+)",
                  lambda m: f"#EXT-X-TAPEDECK-RECORDING:live/cam{i % 10}/{int(m.group(1)) - i * 3_600_000}", body)
    os.makedirs(os.path.dirname(os.path.join(root, playlist)), exist_ok=True)
    open(os.path.join(root, playlist), "w").write(body)
print(f"{n} recordings of {len(segments)} segments each in the bucket")
PY
s3s-fs --host 127.0.0.1 --port "$s3port" --access-key BENCHKEY --secret-key bench-secret-0123456789 "$work/s3" 2>"$work/s3.log" &
s3=$!
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$s3port) 2>/dev/null && break; sleep 0.1; done
cat > "$work/b.toml" <<TOML
data_dir = "$work/b"
[[storage]]
name = "shared"
provider = "custom"
endpoint = "http://127.0.0.1:$s3port"
bucket = "archive"
prefix = "studio/"
TOML
export AWS_ACCESS_KEY_ID=BENCHKEY AWS_SECRET_ACCESS_KEY=bench-secret-0123456789
t0=$(date +%s.%N)
"$bin" catalog import shared --config "$work/b.toml" > "$work/import.txt"
t1=$(date +%s.%N)
"$bin" catalog import shared --config "$work/b.toml" > "$work/again.txt"
t2=$(date +%s.%N)
python3 - "$s3port" <<'PY' > "$work/boto.txt"
import sys, time, boto3
from concurrent.futures import ThreadPoolExecutor
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1")
t0 = time.perf_counter()
keys = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="archive", Prefix="studio/"):
    keys += [o["Key"] for o in page.get("Contents", [])]
playlists = [k for k in keys if k.endswith(".m3u8")]
with ThreadPoolExecutor(16) as pool:
    list(pool.map(lambda k: s3.get_object(Bucket="archive", Key=k)["Body"].read(), playlists))
print(f"{time.perf_counter() - t0:.2f} {len(keys)} {len(playlists)}")
PY
read -r boto objects playlists < "$work/boto.txt"
python3 - "$t0" "$t1" "$t2" "$boto" "$objects" "$RECORDINGS" "$(cat "$work/import.txt")" "$(cat "$work/again.txt")" <<'PY'
import sys
t0, t1, t2, boto = map(float, sys.argv[1:5])
objects, n, first, again = sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8]
print(f"\n{n} recordings, {objects} objects in s3s-fs on 127.0.0.1\n")
print("| step | seconds |\n|---|---:|")
print(f"| tapedeck catalog import (first) | {t1 - t0:.2f} |")
print(f"| tapedeck catalog import (again, nothing new) | {t2 - t1:.2f} |")
print(f"| boto3: list + GET every playlist, 16 threads | {boto:.2f} |")
print(f"\nratio tapedeck / boto3 (first import): {(t1 - t0) / boto:.2f}")
print(f"tapedeck said: {first.strip()}\nagain: {again.strip()}")
PY
