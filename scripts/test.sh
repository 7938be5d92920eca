#!/usr/bin/env bash
# The test command: installs what is missing, then formatting, lints and every test.
# Live-capture tests run when root (CI is); otherwise they print why they were skipped.
# With CI=true it also runs the heavy hostile-traffic tests (1M-packet floods), builds the
# benchmarks, runs both benchmark scripts once in smoke mode, and each fuzz target for 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
rustup component add rustfmt clippy >/dev/null 2>&1 || true
ci="${CI:-}"
if [ "$ci" = "true" ] && [ "$(id -u)" -eq 0 ] && ! command -v prometheus >/dev/null 2>&1; then
  # For the tests where a real Prometheus server scrapes traffic-watch.
  echo "== installing prometheus (CI)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null 2>&1; } ||
    echo "note: prometheus could not be installed; its tests will say skipped"
  # The package starts a server on :9090 we do not need.
  (systemctl stop prometheus || service prometheus stop || pkill -x prometheus) >/dev/null 2>&1 || true
fi

if [ "$ci" = "true" ] && [ "$(id -u)" -eq 0 ]; then
  # Real servers and clients whose own logs are the truth in the end-to-end tests: nginx
  # (HTTP/1 and h2c), h2load (Debian's nghttp2-client), grpcio; apache2, haproxy, caddy and
  # gunicorn write the access logs `--log` reads in tests/e2e/log_servers.rs.
  need=()
  [ -x /usr/sbin/nginx ] || need+=(nginx)
  [ -x /usr/sbin/apache2 ] || need+=(apache2)
  [ -x /usr/sbin/haproxy ] || need+=(haproxy)
  [ -x /usr/bin/caddy ] || need+=(caddy)
  [ -x /usr/bin/gunicorn ] || need+=(gunicorn)
  [ -x /usr/bin/h2load ] || need+=(nghttp2-client)
  /usr/bin/python3 -c "import grpc" >/dev/null 2>&1 || need+=(python3-grpcio)
  if [ "${#need[@]}" -gt 0 ]; then
    echo "== installing ${need[*]} (CI)"
    # Keep the packages from starting their services: several want port 80, and the tests
    # run their own instances.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1; } ||
      echo "note: ${need[*]} could not be installed; their tests will say skipped"
    [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
    # The packages start servers on :80 we do not need; the tests run their own.
    (systemctl stop nginx || service nginx stop || pkill -x nginx) >/dev/null 2>&1 || true
    for svc in apache2 haproxy caddy; do
      (systemctl stop "$svc" || service "$svc" stop) >/dev/null 2>&1 || true
    done
  fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo clippy --no-default-features -- -D warnings (the capture-only build)"
cargo clippy --no-default-features --quiet -- -D warnings
echo "== cargo test"
mkdir -p target
status=0
cargo test --all-targets 2>&1 | tee target/test-output.txt | grep -E "^(test result|running|error|failures|---- )|panicked|FAILED|skipped" || true
# tee hides cargo's exit status: read it back from the output.
if grep -qE "^test result: FAILED|^error(\[|:)" target/test-output.txt; then
  echo "tests FAILED" >&2
  status=1
fi
passed=$(grep -oE "[0-9]+ passed" target/test-output.txt | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE "[0-9]+ failed" target/test-output.txt | awk '{s+=$1} END {print s+0}')

if [ "$ci" = "true" ] && [ "$status" -eq 0 ]; then
  step() { # name, command...: counts as one passed or failed check
    local name="$1"; shift
    echo "== $name"
    if "$@"; then passed=$((passed + 1)); else echo "FAILED: $name" >&2; failed=$((failed + 1)); fi
  }
  step "cargo bench --no-run" cargo bench --no-run --quiet
  step "bench/replay.sh --smoke" bench/replay.sh --smoke
  if [ "$(id -u)" -eq 0 ]; then
    step "bench/live.sh --smoke" bench/live.sh --smoke
  fi
  step "fuzz: every target 60 s" scripts/fuzz.sh 60
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
