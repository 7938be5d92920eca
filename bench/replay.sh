#!/usr/bin/env bash
# Replay benchmark: traffic-watch -r against a bare libpcap read (tcpdump -w /dev/null),
# httpry and tshark's HTTP statistics, on the same capture, alternating, several rounds.
# Prints medians of wall time, CPU (user+sys) and peak RSS, requests counted, requests/s, and
# the ratio of traffic-watch to each peer. traffic-watch runs as it does by default (two replay
# threads on two or more CPUs) and, beside it, with --replay-threads 1 ("tw-1-thread").
#
#   bench/replay.sh [--rounds N] [--expect REQUESTS] [--port P] [CAPTURE]
#   bench/replay.sh --smoke        # small captures, one round; CI
#
# Without CAPTURE, runs on two captures in turn: one of 200,000 keep-alive requests generated
# by examples/gen_capture.rs (~400k packets, ~92 MiB), and, as root, a realistic one made by
# bench/corpus.sh (nginx served to wrk on loopback: 1,000 paths with Zipf popularity, POST/PUT
# bodies, 50 connections recycled every 1,000 requests; nginx's log is the truth). Missing
# peers are installed through apt when we may (root or sudo); otherwise they are skipped with
# a note. Exits non-zero if traffic-watch's request count differs from the expected one (the
# generated count, nginx's log, or --expect).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=5
requests=200000
smoke=0
expect=""
capture=""
port=8090
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) smoke=1; rounds=1; requests=2000; shift ;;
        --rounds) rounds="$2"; shift 2 ;;
        --expect) expect="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) capture="$1"; shift ;;
    esac
done

target="${CARGO_TARGET_DIR:-target}"
tw="$target/release/traffic-watch"
gen="$target/release/examples/gen_capture"
work="$(mktemp -d "${TMPDIR:-/tmp}/tw-replay.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "building (release)..." >&2
cargo build --release --quiet --bin traffic-watch --example gen_capture

# Peers through apt, non-interactively, only when we are allowed to.
apt_install() {
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null && sudo -n true 2>/dev/null && sudo="sudo -n" || return 1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "$@" >"$work/apt.log" 2>&1 || {
        DEBIAN_FRONTEND=noninteractive $sudo apt-get update -q >>"$work/apt.log" 2>&1 &&
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "$@" >>"$work/apt.log" 2>&1
    }
}
missing=()
[ -x /usr/bin/time ] || missing+=(time)
for t in tcpdump httpry tshark; do command -v "$t" >/dev/null || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} through apt..." >&2
    apt_install "${missing[@]}" || echo "note: could not install ${missing[*]}; skipping what is missing" >&2
fi
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time is required (apt-get install time)" >&2; exit 2; }

# Benchmarks one capture: bench_capture NAME FILE PORT EXPECTED-REQUESTS
bench_capture() {
    local name="$1" capture="$2" port="$3" expect="$4"
    # tool name -> command; each prints its own request count on stdout via count_<tool>.
    tools=(traffic-watch tw-1-thread libpcap-read)
    command -v httpry >/dev/null && tools+=(httpry)
    command -v tshark >/dev/null && tools+=(tshark)

    run_tool() { # tool outfile: runs it under /usr/bin/time, no wrapper shell in between
        local t=(/usr/bin/time -f '%e %U %S %M' -o "$2.time")
        case "$1" in
            traffic-watch) "${t[@]}" "$tw" -r "$capture" --port "$port" --json --summary-only ;;
            tw-1-thread) "${t[@]}" "$tw" -r "$capture" --port "$port" --json --summary-only --replay-threads 1 ;;
            libpcap-read) "${t[@]}" tcpdump -r "$capture" -w /dev/null ;;
            httpry) "${t[@]}" httpry -r "$capture" "tcp port $port" ;;
            tshark) "${t[@]}" tshark -r "$capture" -q -z http,tree ;;
        esac >"$2" 2>"$2.err"
    }
    count_tool() { # tool outfile
        case "$1" in
            traffic-watch | tw-1-thread) grep -o '"requests":[0-9]*' "$2" | tail -1 | cut -d: -f2 ;;
            libpcap-read) echo "-" ;;
            httpry) awk -F'\t' '$4 == ">"' "$2" | wc -l ;;
            tshark) awk '/HTTP Request Packets/ {print $4}' "$2" | head -1 ;;
        esac
    }

    # Alternate: each round runs every tool once, in a rotated order.
    for ((r = 0; r < rounds; r++)); do
        n=${#tools[@]}
        for ((k = 0; k < n; k++)); do
            t="${tools[$(((k + r) % n))]}"
            out="$work/$name.$t.$r.out"
            s0=$(date +%s%N)
            run_tool "$t" "$out" || { echo "error: $t failed:" >&2; cat "$out.err" >&2; exit 1; }
            s1=$(date +%s%N)
            # /usr/bin/time's wall clock has 10 ms steps; keep ours (ns) in its place.
            awk -v ns=$((s1 - s0)) '{printf "%.4f %s %s %s\n", ns / 1e9, $2, $3, $4}' "$out.time" >"$work/$name.$t.$r.time"
            rm -f "$out.time"
            count_tool "$t" "$out" >"$work/$name.$t.$r.count"
        done
        echo "round $((r + 1))/$rounds done" >&2
    done

    median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.4f\n", (a[NR/2]+a[NR/2+1])/2}'; }
    declare -A wall cpu mem cnt
    for t in "${tools[@]}"; do
        wall[$t]=$(cat "$work/$name.$t".*.time | awk '{printf "%.3f\n", $1}' | median)
        cpu[$t]=$(cat "$work/$name.$t".*.time | awk '{printf "%.2f\n", $2 + $3}' | median)
        mem[$t]=$(cat "$work/$name.$t".*.time | awk '{printf "%.1f\n", $4 / 1024}' | median)
        wall[$t]=$(printf '%.3f' "${wall[$t]}"); cpu[$t]=$(printf '%.2f' "${cpu[$t]}"); mem[$t]=$(printf '%.1f' "${mem[$t]}")
        cnt[$t]=$(cat "$work/$name.$t".0.count)
    done

    packets=$(tcpdump -r "$capture" 2>/dev/null | wc -l)
    size=$(du -m "$capture" | cut -f1)
    echo
    echo "capture: $name ($(basename "$capture")), $packets packets, ${size} MiB; medians of $rounds rounds (alternating)"
    echo
    printf '| %-14s | %9s | %9s | %9s | %9s | %11s | %-16s |\n' tool "wall s" "cpu s" "peak MiB" requests "requests/s" "traffic-watch ÷"
    printf '|%s|%s|%s|%s|%s|%s|%s|\n' ---------------- ----------: ----------: ----------: ----------: ------------: ------------------
    for t in "${tools[@]}"; do
        rps="-"
        [[ "${cnt[$t]}" =~ ^[0-9]+$ ]] && rps=$(awk -v n="${cnt[$t]}" -v w="${wall[$t]}" 'BEGIN {printf "%.0f", n / (w > 0 ? w : 0.001)}')
        ratio=$(awk -v a="${wall[traffic-watch]}" -v b="${wall[$t]}" -v ca="${cpu[traffic-watch]}" -v cb="${cpu[$t]}" \
            'BEGIN {printf "%.2f× wall, %s× cpu", a / (b > 0 ? b : 0.001), (cb > 0 ? sprintf("%.2f", ca / cb) : "-")}')
        [ "$t" = traffic-watch ] && ratio="-"
        printf '| %-14s | %9s | %9s | %9s | %9s | %11s | %-16s |\n' "$t" "${wall[$t]}" "${cpu[$t]}" "${mem[$t]}" "${cnt[$t]}" "$rps" "$ratio"
    done

    # The issue's targets, from the medians above.
    echo
    [ "$smoke" = 1 ] && echo "(smoke run: the capture is too small for these to mean anything; process start dominates)"
    verdict() { awk -v v="$1" -v lim="$2" -v op="$3" 'BEGIN {ok = (op == "<=") ? v <= lim : v >= lim; print (ok ? "met" : "NOT met")}'; }
    r=$(awk -v a="${wall[traffic-watch]}" -v b="${wall[libpcap-read]}" 'BEGIN {printf "%.2f", a / b}')
    echo "target: wall within 1.5x of the bare libpcap read: ${r}x, $(verdict "$r" 1.5 "<=")"
    if [ -n "${wall[httpry]:-}" ]; then
        h=$(awk -v a="${wall[traffic-watch]}" -v b="${wall[httpry]}" 'BEGIN {printf "%.1f", b / a}')
        echo "target: at least 10x httpry's speed: ${h}x, $(verdict "$h" 10 ">=")"
    fi
    echo "target: peak memory under 64 MiB: ${mem[traffic-watch]} MiB, $(verdict "${mem[traffic-watch]}" 64 "<=")"

    local status=0
    if [ -n "$expect" ] && [ "${cnt[traffic-watch]}" != "$expect" ]; then
        echo "FAIL: traffic-watch counted ${cnt[traffic-watch]} requests, expected $expect" >&2
        status=1
    fi
    for r in $(seq 0 $((rounds - 1))); do
        for t in traffic-watch tw-1-thread; do
            if [ "$(cat "$work/$name.$t.$r.count")" != "${cnt[traffic-watch]}" ]; then
                echo "FAIL: traffic-watch counts differ between rounds or thread counts" >&2
                status=1
            fi
        done
    done
    [ $status = 0 ] && [ -n "$expect" ] && echo && echo "ok: traffic-watch counted exactly $expect requests"
    return $status
}

status=0
if [ -n "$capture" ]; then
    [ -r "$capture" ] || { echo "error: cannot read '$capture'" >&2; exit 2; }
    bench_capture given "$capture" "$port" "$expect" || status=1
else
    generated="$work/keepalive.pcap"
    echo "generating $requests keep-alive requests into $generated..." >&2
    line="$("$gen" "$generated" "$requests" 64 20000)"
    n="${line#requests=}"
    bench_capture generated "$generated" "$port" "${n%% *}" || status=1
    if [ "$(id -u)" = 0 ]; then
        realistic="$work/realistic.pcap"
        echo "capturing $requests requests of nginx served to wrk into $realistic..." >&2
        line="$(bench/corpus.sh --requests "$requests" "$realistic")" || { echo "error: bench/corpus.sh failed" >&2; exit 1; }
        n="${line#requests=}"
        bench_capture realistic "$realistic" 18191 "${n%% *}" || status=1
    else
        echo "note: the realistic capture needs root (bench/corpus.sh captures nginx on loopback); skipped" >&2
    fi
fi
exit $status
