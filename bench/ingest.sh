#!/usr/bin/env bash
# Ingest benchmark: N concurrent `ffmpeg -re -c copy` RTMP publishers of a 720p30 H.264
# 3 Mbit/s + AAC 128k file into
#   - Tapedeck (m3u8 + mp4 + flv at once, interruption_window 0s),
#   - nginx with the RTMP module (record all + hls on),
#   - one `ffmpeg -listen 1 ... -c copy out.flv` recorder per stream,
# one after the other for each N. Prints, for each: CPU s per stream-minute, peak RSS,
# RSS per stream, bytes written, frames lost; and Tapedeck CPU / nginx CPU per N.
#
#   bench/ingest.sh                              # DURATION=60 NS="1 16 64 128"
#   DURATION=20 NS="1 16" bench/ingest.sh        # a quick development run
#
# Environment:
#   DURATION   seconds of input, so of each publish (default 60)
#   NS         publisher counts (default "1 16 64 128")
#   RECORDERS  subset/order of "tapedeck nginx ffmpeg" (default all three)
#   WORKDIR    where recordings go (default a new folder under /tmp; each cell is deleted
#              after it is measured unless KEEP=1)
#   KEEP=1     keep the recordings
#   OUT        also write the table to this file (default bench/.cache/last-table.md);
#              the raw numbers go next to it as .json
#
# Installs its peers when missing (nginx, libnginx-mod-rtmp, ffmpeg: Debian packages; needs
# root) and builds `cargo build --release -p tapedeck`. Only the recorders' processes are
# measured (from /proc), never the publishers'; the publishers' wall time is printed so a
# machine too small to keep N publishers at real time shows as such.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
DURATION="${DURATION:-60}"
NS="${NS:-1 16 64 128}"
RECORDERS="${RECORDERS:-tapedeck nginx ffmpeg}"
cache="$here/.cache"
mkdir -p "$cache"
OUT="${OUT:-$cache/last-table.md}"

# --- peers
need=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v nginx >/dev/null || need+=(nginx)
[ -f /usr/share/nginx/modules/ngx_rtmp_module.so ] || need+=(libnginx-mod-rtmp)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y nginx libnginx-mod-rtmp ffmpeg python3
fi

# --- input: made once, cached per duration
input="$cache/input-720p30-3M-${DURATION}s.flv"
if [ ! -s "$input" ]; then
    echo "making $input (720p30 H.264 3 Mbit/s + AAC 128k, ${DURATION}s)" >&2
    # testsrc2 alone compresses to far below 3 Mbit/s; temporal noise keeps the encoder at
    # its rate, like camera footage.
    ffmpeg -hide_banner -nostdin -loglevel error -y \
        -f lavfi -i "testsrc2=size=1280x720:rate=30" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000" \
        -t "$DURATION" \
        -vf "noise=alls=12:allf=t" \
        -c:v libx264 -preset veryfast -b:v 3M -maxrate 3M -bufsize 6M -g 60 -pix_fmt yuv420p \
        -c:a aac -b:a 128k -ac 2 \
        "$input.tmp.flv"
    mv "$input.tmp.flv" "$input"
fi
ffprobe -v error -show_entries format=duration,bit_rate -of default=noprint_wrappers=1 "$input" >&2

# --- Tapedeck
(cd "$root" && cargo build --release -p tapedeck >&2)
tapedeck="$root/target/release/tapedeck"

workdir="${WORKDIR:-$(mktemp -d /tmp/tapedeck-bench.XXXXXX)}"
keep=()
[ "${KEEP:-0}" = 1 ] && keep=(--keep)
echo "recordings under $workdir" >&2

python3 "$here/ingest.py" \
    --tapedeck "$tapedeck" --input "$input" --duration "$DURATION" \
    --ns "$NS" --recorders "$RECORDERS" --workdir "$workdir" \
    --json "${OUT%.md}.json" "${keep[@]}" | tee "$OUT"

[ "${KEEP:-0}" = 1 ] || rmdir "$workdir" 2>/dev/null || true
