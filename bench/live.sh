#!/usr/bin/env bash
# Live benchmark: `traffic-watch serve` on a loopback port, the monitor
# `traffic-watch --port P --json -i lo` capturing it, and `traffic-watch load` driving it at
# each rate (0 = as fast as the connections allow). Prints, per rate: offered rate, achieved
# rate, the load report's answered count, the server's served count, the monitor's count (its
# final summary after SIGINT), kernel and queue drops, and the monitor's CPU% of one core over
# the load (nanoseconds on a CPU from /proc/PID/task/*/schedstat).
#
#   sudo bench/live.sh [--rates "10000 0"] [--duration 5s] [--connections 8] [--port 18090]
#   sudo bench/live.sh --smoke     # 2,000 req/s for 2 s; CI
#
# Needs root (or CAP_NET_RAW on the binary) to capture. Every run is bounded (the load's
# --duration, and timeouts on each stop). Exits non-zero if a run without drops counted a
# different number of requests than the server served.
set -euo pipefail
cd "$(dirname "$0")/.."

rates="10000 0"
duration="5s"
connections=8
port=18090
iface=lo
smoke=0
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) smoke=1; rates="2000"; duration="2s"; connections=4; shift ;;
        --rates) rates="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        -i) iface="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown argument '$1'" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" != 0 ]; then
    echo "error: live capture needs root; run with sudo" >&2
    exit 2
fi

target="${CARGO_TARGET_DIR:-target}"
tw="$(realpath -m "$target/release/traffic-watch")"
work="$(mktemp -d "${TMPDIR:-/tmp}/tw-live.XXXXXX")"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
echo "building (release)..." >&2
cargo build --release --quiet --bin traffic-watch

# Waits up to $2 seconds for pid $1 to exit.
wait_bounded() {
    for _ in $(seq 1 $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    echo "warning: pid $1 did not stop in $2 s; killing it" >&2
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
# Nanoseconds on a CPU, summed over the process's threads (schedstat, not the 10 ms ticks of
# /proc/PID/stat, which are too coarse for a few seconds at a low rate).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ns += $1} END {printf "%.0f", ns}'; }
json_num() { grep -o "\"$1\":[0-9.]*" | tail -1 | cut -d: -f2; }

rows=()
targets=()
status=0
for rate in $rates; do
    "$tw" serve --port "$port" 2>"$work/serve.err" &
    server=$!
    pids+=("$server")
    "$tw" --port "$port" --json -i "$iface" >"$work/monitor.out" 2>"$work/monitor.err" &
    monitor=$!
    pids+=("$monitor")
    # Let the server bind and the capture attach its filter before any packet is sent.
    for _ in $(seq 1 50); do
        grep -q "serving on" "$work/serve.err" 2>/dev/null && break
        sleep 0.1
    done
    sleep 1
    kill -0 "$monitor" 2>/dev/null || { echo "error: monitor did not start:" >&2; cat "$work/monitor.err" >&2; exit 1; }
    t0=$(cpu_ns "$monitor")
    s0=$(date +%s.%N)
    "$tw" load "http://127.0.0.1:$port" --rate "$rate" --duration "$duration" \
        --connections "$connections" --json >"$work/load.json" 2>"$work/load.err" ||
        { echo "error: load failed:" >&2; cat "$work/load.err" >&2; exit 1; }
    s1=$(date +%s.%N)
    t1=$(cpu_ns "$monitor")
    sleep 0.5 # the last packets reach the capture
    kill -INT "$monitor"
    wait_bounded "$monitor" 10
    kill -INT "$server"
    wait_bounded "$server" 10
    answered=$(json_num answered <"$work/load.json")
    achieved=$(json_num achieved_rate <"$work/load.json")
    served=$(grep -o 'served [0-9]* requests' "$work/serve.err" | awk '{print $2}')
    summary=$(grep '"summary"' "$work/monitor.out" | tail -1)
    counted=$(json_num requests <<<"$summary")
    kdrop=$(json_num kernel_dropped <<<"$summary")
    idrop=$(json_num interface_dropped <<<"$summary")
    qdrop=$(json_num queue_dropped <<<"$summary")
    cpu=$(awk -v a="$t0" -v b="$t1" -v s0="$s0" -v s1="$s1" \
        'BEGIN {printf "%.1f", 100 * (b - a) / 1e9 / (s1 - s0)}')
    us_per_req=$(awk -v a="$t0" -v b="$t1" -v n="${counted:-0}" \
        'BEGIN {if (n > 0) printf "%.2f", (b - a) / 1e3 / n; else print "-"}')
    offered=$rate
    [ "$rate" = 0 ] && offered="max"
    rows+=("$(printf '| %8s | %10s | %9s | %9s | %9s | %6s | %6s | %9s | %8s |' \
        "$offered" "${achieved:-?}" "${answered:-?}" "${served:-?}" "${counted:-?}" \
        "${kdrop:-?}+${idrop:-0}" "${qdrop:-?}" "$cpu" "$us_per_req")")
    drops=$(( ${kdrop:-0} + ${idrop:-0} + ${qdrop:-0} ))
    # The issue's targets: exact with zero drops at any rate the machine serves, and under 25%
    # of a core at 10,000 requests/s.
    ok="met"
    { [ "$drops" = 0 ] && [ -n "$counted" ] && [ "$counted" = "$served" ]; } || ok="NOT met"
    line="target: at $offered req/s (achieved ${achieved:-?}/s) the monitor counts exactly what was served, 0 drops"
    # At most 1 µs of the monitor's CPU per request at the highest rate.
    if [ "$rate" = 0 ] && [ "$smoke" = 0 ]; then
        awk -v u="$us_per_req" 'BEGIN {exit !(u != "-" && u <= 1.0)}' || ok="NOT met"
        line="$line, at most 1 µs of CPU per request ($us_per_req µs)"
    fi
    if [ "$rate" = 10000 ]; then
        awk -v c="$cpu" 'BEGIN {exit !(c < 25)}' || ok="NOT met"
        line="$line, under 25% of a core ($cpu%)"
    fi
    targets+=("$line: $ok")
    if [ -z "$counted" ] || [ -z "$served" ]; then
        echo "FAIL: rate $offered: missing counts (monitor summary or server count)" >&2
        cat "$work/monitor.err" "$work/serve.err" >&2
        status=1
    elif [ "$drops" = 0 ] && [ "$counted" != "$served" ]; then
        echo "FAIL: rate $offered: no drops, but the monitor counted $counted and the server served $served" >&2
        status=1
    elif [ "$drops" != 0 ]; then
        echo "note: rate $offered: $drops packets dropped; the monitor's count is a lower bound" >&2
    fi
done

echo
echo "loopback ($iface), traffic-watch serve + load, $connections connections, $duration per rate; $(nproc) cores"
echo
printf '| %8s | %10s | %9s | %9s | %9s | %6s | %6s | %9s | %8s |\n' offered "achieved/s" answered served monitor "kernel" queue "mon. CPU%" "µs/req"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' ---------: -----------: ----------: ----------: ----------: -------: -------: ----------: ---------:
printf '%s\n' "${rows[@]}"
echo
printf '%s\n' "${targets[@]}"
exit $status
