#!/usr/bin/env bash
# Memory at the section cap: replays a synthesized capture in which every one of 10,000
# sections gets a request each second, answered after a latency that moves, for 12 minutes
# (7.2 M requests, more than the 10-minute window), through `traffic-watch -r F --json
# --summary-only` under /usr/bin/time, and prints the peak RSS against the 64 MiB target.
# The capture (examples/gen_sections.rs, about 1.7 GB) is written to a temporary directory
# under ${TMPDIR:-/tmp} and removed at the end.
#
#   bench/memory.sh [--sections S] [--seconds T]
#
# Exits non-zero if the peak is 64 MiB or more, or if the count of requests is not exact.
set -euo pipefail
cd "$(dirname "$0")/.."

sections=10000
seconds=720
while [ $# -gt 0 ]; do
    case "$1" in
        --sections) sections="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

target="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d "${TMPDIR:-/tmp}/tw-memory.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "building (release)..." >&2
cargo build --release --quiet --bin traffic-watch --example gen_sections

"$target/release/examples/gen_sections" "$work/sections.pcap" "$sections" "$seconds" \
    2>"$work/gen.err"
/usr/bin/time -v -o "$work/time" "$target/release/traffic-watch" -r "$work/sections.pcap" \
    --port 8090 --json --summary-only >"$work/summary.json"
truth=$(sed -n 's/^requests=\([0-9]*\).*/\1/p' "$work/gen.err")
counted=$(grep -o '"requests":[0-9]*' "$work/summary.json" | head -1 | cut -d: -f2)
peak_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time")
peak_mib=$(awk -v k="$peak_kb" 'BEGIN { printf "%.1f", k / 1024 }')

echo "sections: $sections, every second for $seconds s: $truth requests"
echo "traffic-watch counted: $counted requests"
echo "peak RSS: $peak_mib MiB"
status=0
if [ "$counted" = "$truth" ]; then
    echo "ok: counted exactly $truth requests"
else
    echo "FAIL: counted $counted requests of $truth"
    status=1
fi
if [ "$peak_kb" -lt $((64 * 1024)) ]; then
    echo "target: peak memory under 64 MiB at $sections sections active every second: $peak_mib MiB, met"
else
    echo "target: peak memory under 64 MiB at $sections sections active every second: $peak_mib MiB, NOT met"
    status=1
fi
exit "$status"
