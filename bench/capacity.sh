#!/usr/bin/env bash
# Capacity: how fast can packets arrive before the monitor drops any? Replays a capture at
# tcpreplay's top speed through a veth pair (one end in a network namespace of its own) while
# `traffic-watch -i` and `tcpdump -w /dev/null` both capture the other end, then prints packets
# offered, captured and dropped by each, and traffic-watch's request count against the file's
# truth (its own `-r` count of the same file, which the replay tests hold to servers' logs).
#
#   sudo bench/capacity.sh [--rounds N] [--requests N] [--realistic] [--port P] [CAPTURE]
#   sudo bench/capacity.sh --smoke     # 20,000 generated requests, one round; CI
#
# Without CAPTURE it generates 200,000 keep-alive requests (examples/gen_capture.rs, port 8090);
# with --realistic it captures nginx served to wrk with bench/corpus.sh (port 18191). Needs root
# (namespaces, capture); installs tcpreplay and tcpdump through apt when missing. Exits non-zero
# if a round without drops counted a different number of requests than the file holds.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
requests=200000
realistic=0
port=""
capture=""
smoke=0
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) smoke=1; rounds=1; requests=20000; shift ;;
        --rounds) rounds="$2"; shift 2 ;;
        --requests) requests="$2"; shift 2 ;;
        --realistic) realistic=1; shift ;;
        --port) port="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        -*) echo "unknown option '$1'" >&2; exit 2 ;;
        *) capture="$1"; shift ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "error: network namespaces and capture need root; run with sudo" >&2; exit 2; }

missing=()
for t in tcpreplay tcpdump ip; do command -v "$t" >/dev/null || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
    pkgs=("${missing[@]/ip/iproute2}")
    echo "installing ${pkgs[*]} through apt..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >/dev/null 2>&1 || {
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >/dev/null
    }
fi

target="${CARGO_TARGET_DIR:-target}"
tw="$(realpath -m "$target/release/traffic-watch")"
gen="$(realpath -m "$target/release/examples/gen_capture")"
work="$(mktemp -d "${TMPDIR:-/tmp}/tw-capacity.XXXXXX")"
ns="tw-capacity-$$"
host_end="twcap$$"
host_end="${host_end:0:15}"
ns_end="twcapn$$"
ns_end="${ns_end:0:15}"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    ip link del "$host_end" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "building (release)..." >&2
cargo build --release --quiet --bin traffic-watch --example gen_capture

if [ -z "$capture" ]; then
    if [ "$realistic" = 1 ]; then
        capture="$work/realistic.pcap"
        echo "capturing $requests requests of nginx served to wrk..." >&2
        bench/corpus.sh --requests "$requests" "$capture" >/dev/null
        port="${port:-18191}"
    else
        capture="$work/keepalive.pcap"
        echo "generating $requests keep-alive requests..." >&2
        "$gen" "$capture" "$requests" 64 20000 >/dev/null
        port="${port:-8090}"
    fi
fi
[ -r "$capture" ] || { echo "error: cannot read '$capture'" >&2; exit 2; }
port="${port:-8090}"
json_num() { grep -o "\"$1\":[0-9.]*" | tail -1 | cut -d: -f2; }
truth=$("$tw" -r "$capture" --port "$port" --json --summary-only | json_num requests)
file_packets=$(tcpdump -r "$capture" 2>/dev/null | wc -l)

# The pair: tcpreplay writes into the namespace's end, the monitors listen on the host's end.
ip netns add "$ns"
ip link add "$host_end" type veth peer name "$ns_end"
ip link set "$ns_end" netns "$ns"
ip link set "$host_end" up
ip netns exec "$ns" ip link set "$ns_end" up
ip link set "$host_end" mtu 65535 2>/dev/null || true
ip netns exec "$ns" ip link set "$ns_end" mtu 65535 2>/dev/null || true

# Waits until FILE has a line matching PATTERN, at most 10 s.
wait_for() {
    for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "error: timed out waiting for '$2' in $1" >&2
    cat "$1" >&2
    return 1
}

rows=()
status=0
for ((r = 1; r <= rounds; r++)); do
    "$tw" -i "$host_end" --port "$port" --json >"$work/tw.out" 2>"$work/tw.err" &
    mon=$!
    pids+=("$mon")
    tcpdump -i "$host_end" -B 65536 -w /dev/null "tcp port $port" 2>"$work/tcpdump.err" &
    tcpd=$!
    pids+=("$tcpd")
    wait_for "$work/tcpdump.err" "listening on"
    wait_for "$work/tw.err" "capturing on"
    ip netns exec "$ns" tcpreplay --topspeed -i "$ns_end" "$capture" >"$work/tcpreplay.out" 2>&1 ||
        { cat "$work/tcpreplay.out" >&2; exit 1; }
    # Both capture sides read until the kernel's buffers are empty; a summary only then.
    sleep 1
    kill -INT "$mon" "$tcpd"
    wait "$mon" 2>/dev/null || true
    wait "$tcpd" 2>/dev/null || true
    pids=()
    offered=$(grep -o 'Successful packets: *[0-9]*' "$work/tcpreplay.out" | grep -o '[0-9]*$')
    pps=$(grep -o 'Rated: [0-9.]* Bps, [0-9.]* Mbps, [0-9.]* pps' "$work/tcpreplay.out" | awk '{print $6}')
    summary=$(grep '"summary"' "$work/tw.out" | tail -1)
    [ -n "$summary" ] || { echo "error: no summary from traffic-watch:" >&2; cat "$work/tw.err" >&2; exit 1; }
    tw_packets=$(grep -o '^[0-9]* packets captured' "$work/tw.err" | awk '{print $1}')
    tw_req=$(json_num requests <<<"$summary")
    kdrop=$(json_num kernel_dropped <<<"$summary")
    idrop=$(json_num interface_dropped <<<"$summary")
    qdrop=$(json_num queue_dropped <<<"$summary")
    td_cap=$(grep -o '[0-9]* packets captured' "$work/tcpdump.err" | awk '{print $1}')
    td_drop=$(grep -o '[0-9]* packets dropped by kernel' "$work/tcpdump.err" | awk '{print $1}')
    drops=$(( ${kdrop:-0} + ${idrop:-0} + ${qdrop:-0} ))
    rows+=("$(printf '| %5s | %9s | %9s | %11s | %9s | %9s | %9s | %11s | %9s |' "$r" "${offered:-?}" \
        "${pps:-?}" "${tw_packets:-?}" "$drops" "${tw_req:-?}" "$truth" "${td_cap:-?}" "${td_drop:-?}")")
    if [ "$drops" = 0 ] && [ "${tw_req:-}" != "$truth" ]; then
        echo "FAIL: round $r: no drops, but traffic-watch counted ${tw_req:-?} requests of $truth" >&2
        status=1
    fi
    [ "$drops" = 0 ] && [ "${tw_req:-}" = "$truth" ] && echo "round $r: exact, 0 drops" >&2 ||
        echo "round $r: $drops drops, ${tw_req:-?} of $truth requests" >&2
done

echo
echo "capacity: $(basename "$capture") ($file_packets packets, $truth requests) replayed with tcpreplay --topspeed through a veth pair; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo
printf '| %5s | %9s | %9s | %11s | %9s | %9s | %9s | %11s | %9s |\n' round offered "offered/s" "tw captured" "tw drops" "tw reqs" truth "tcpdump cap" "tcpdump drops"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------: ----------: ----------: ------------: ----------: ----------: ----------: ------------: ----------:
printf '%s\n' "${rows[@]}"
echo
all_exact=1
for row in "${rows[@]}"; do
    d=$(awk -F'|' '{gsub(/ /, "", $6); print $6}' <<<"$row")
    q=$(awk -F'|' '{gsub(/ /, "", $7); print $7}' <<<"$row")
    { [ "$d" = 0 ] && [ "$q" = "$truth" ]; } || all_exact=0
done
if [ "$all_exact" = 1 ]; then
    echo "target: zero drops and exact counts at tcpreplay's top speed: met"
else
    echo "target: zero drops and exact counts at tcpreplay's top speed: NOT met"
fi
[ "$smoke" = 1 ] && echo "(smoke run: a small capture, one round)"
exit $status
