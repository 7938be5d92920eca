#!/usr/bin/env bash
# Realistic capture for the benchmarks: nginx on loopback served to wrk, captured by tcpdump,
# with nginx's access log as the truth.
#
#   sudo bench/corpus.sh [--requests N] [--port P] OUT.pcap
#
# The traffic: about 1,000 distinct paths over 50 sections with Zipf popularity (a few paths
# take most hits, the tail is long), 7% POST and 2% PUT with JSON bodies, 3% of requests on
# paths nginx answers 404, 50 concurrent keep-alive connections that nginx closes every 1,000
# requests (`keepalive_requests`), so connections are recycled as in production. wrk stops once
# N responses have arrived (default 200,000). Prints `requests=R packets=P` on stdout, R being
# the number of lines nginx logged, and fails if tcpdump dropped packets. Needs root (capture)
# and nginx, wrk and tcpdump (installed through apt when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

requests=200000
port=18191
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) requests="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        -*) echo "unknown option '$1'" >&2; exit 2 ;;
        *) out="$1"; shift ;;
    esac
done
[ -n "$out" ] || { echo "usage: bench/corpus.sh [--requests N] [--port P] OUT.pcap" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "error: capturing needs root; run with sudo" >&2; exit 2; }

missing=()
for t in nginx wrk tcpdump; do command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} through apt..." >&2
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
    }
    rm -f /usr/sbin/policy-rc.d
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work="$(mktemp -d "${TMPDIR:-/tmp}/tw-corpus.XXXXXX")"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/tmp"
cat >"$work/nginx.conf" <<EOF
daemon on;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 1024; }
http {
    access_log $work/access.log;
    client_body_temp_path $work/tmp;
    keepalive_requests 1000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$port;
        location /missing/ { return 404; }
        location / {
            default_type application/json;
            return 200 '{"ok":true,"items":[1,2,3],"note":"a response body of realistic size for a small JSON API answer"}\n';
        }
    }
}
EOF
"$nginx_bin" -c "$work/nginx.conf" -e "$work/error.log"

# The path mix, built in Lua so wrk draws it itself: 50 sections x 20 paths (nested resources
# with numeric ids, word-like names and uuids), ranked by a Zipf law over all 1,000.
cat >"$work/mix.lua" <<'EOF'
local sections = {}
local words = {"alpha","bravo","charlie","delta","echo","foxtrot","golf","hotel","india","juliet"}
for s = 1, 50 do sections[s] = "api" .. s end
sections[1] = "users"; sections[2] = "orders"; sections[3] = "static"; sections[4] = "search"
local paths = {}
math.randomseed(42)
for s = 1, 50 do
  for p = 1, 20 do
    local kind = p % 5
    local path
    if kind == 0 then path = "/" .. sections[s] .. "/" .. (1000 + p * 37)
    elseif kind == 1 then path = "/" .. sections[s] .. "/" .. words[(p % 10) + 1] .. "/items/" .. p
    elseif kind == 2 then path = string.format("/%s/%08x-%04x-4%03x-a%03x-%012x", sections[s], s * 7919 + p, p, s, p, s * 104729 + p)
    elseif kind == 3 then path = "/" .. sections[s] .. "/v1/" .. words[(s % 10) + 1] .. "?page=" .. p
    else path = "/" .. sections[s] .. "/" .. words[(p % 10) + 1] end
    paths[#paths + 1] = path
  end
end
for i = #paths, 2, -1 do local j = math.random(i); paths[i], paths[j] = paths[j], paths[i] end
for m = 1, 30 do paths[#paths + 1] = "/missing/" .. m end
local cum, total = {}, 0
for r = 1, #paths do total = total + 1 / r; cum[r] = total end
local function pick()
  local x, lo, hi = math.random() * total, 1, #cum
  while lo < hi do local mid = math.floor((lo + hi) / 2); if cum[mid] < x then lo = mid + 1 else hi = mid end end
  return paths[lo]
end
local body = '{"name":"widget","tags":["a","b","c"],"count":12,"description":"a JSON body as an API client sends it"}'
local limit, seen = 0, 0
function setup(thread) thread:set("limit", tonumber(os.getenv("TW_LIMIT"))) end
function init(args) limit = tonumber(wrk.thread:get("limit")) or 100000 end
function request()
  local x = math.random(100)
  if x <= 7 then return wrk.format("POST", pick(), {["Content-Type"] = "application/json"}, body)
  elseif x <= 9 then return wrk.format("PUT", pick(), {["Content-Type"] = "application/json"}, body)
  else return wrk.format("GET", pick()) end
end
function response(status, headers, body)
  seen = seen + 1
  if seen >= limit then wrk.thread:stop() end
end
EOF

for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
# Immediate mode: without it, packets still in a half-filled kernel block when tcpdump is
# stopped are never written, and tcpdump does not count them as dropped.
# A large kernel buffer and a higher priority than the load: a busy machine otherwise makes
# tcpdump drop packets, and the capture would not hold what nginx logged.
nice -n -10 tcpdump -i lo -s 0 -B 524288 --immediate-mode -U -w "$out" "tcp port $port" 2>"$work/tcpdump.err" &
tcpdump=$!
pids+=("$tcpdump")
for _ in $(seq 1 50); do grep -q "listening on" "$work/tcpdump.err" && break; sleep 0.1; done

threads=2
# Each wrk thread stops itself after its share of responses, but wrk's main thread waits out
# its -d duration: stop it once nginx has logged them all and its log stopped growing (nginx
# logs a request when it finishes it).
TW_LIMIT=$(((requests + threads - 1) / threads)) wrk -t"$threads" -c50 -d120s -s "$work/mix.lua" \
    "http://127.0.0.1:$port" >"$work/wrk.out" 2>&1 &
wrk=$!
pids+=("$wrk")
prev=-1
while kill -0 "$wrk" 2>/dev/null; do
    sleep 0.2
    n=$(wc -l <"$work/access.log")
    [ "$n" -ge "$requests" ] && [ "$n" = "$prev" ] && break
    prev=$n
done
kill -INT "$wrk" 2>/dev/null || true
wait "$wrk" 2>/dev/null || true
kill "$(cat "$work/nginx.pid")"
for _ in $(seq 1 50); do [ -f "$work/nginx.pid" ] || break; sleep 0.1; done
kill -INT "$tcpdump"
wait "$tcpdump" 2>/dev/null || true
pids=()
dropped=$(grep -o '[0-9]* packets dropped by kernel' "$work/tcpdump.err" | awk '{print $1}')
captured=$(grep -o '[0-9]* packets captured' "$work/tcpdump.err" | awk '{print $1}')
if [ "${dropped:-0}" != 0 ]; then
    echo "error: tcpdump dropped $dropped packets; the capture is not whole, run again" >&2
    exit 1
fi
logged=$(wc -l <"$work/access.log")
echo "requests=$logged packets=${captured:-?}"
