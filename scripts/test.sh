#!/usr/bin/env bash
# The test command: installs what is missing, then formatting, lints, the licence and source
# check, and every test.
# Tests that need root or an outside program are `#[ignore = "needs …"]`: plain `cargo test`
# leaves them out and says how many. Run as root (CI is), this script installs those programs
# and runs the ignored tests too; whatever it still cannot run is named before the tests start.
# With CI=true it also runs the heavy hostile-traffic tests (1M-packet floods), builds the
# benchmarks, runs both benchmark scripts once in smoke mode, and each fuzz target for 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
rustup component add rustfmt clippy >/dev/null 2>&1 || true
ci="${CI:-}"
root=""
[ "$(id -u)" -eq 0 ] && root=1

if [ -n "$root" ] && [ "$ci" = "true" ]; then
  # Real servers and clients whose own logs are the truth in the end-to-end tests: nginx
  # (HTTP/1 and h2c), h2load (Debian's nghttp2-client), grpcio, Prometheus (which scrapes
  # traffic-watch) and curl; apache2, haproxy, caddy and gunicorn write the access logs
  # `--log` reads in tests/e2e/logs/servers.rs.
  need=()
  [ -x /usr/sbin/nginx ] || need+=(nginx)
  [ -x /usr/sbin/apache2 ] || need+=(apache2)
  [ -x /usr/sbin/haproxy ] || need+=(haproxy)
  [ -x /usr/bin/caddy ] || need+=(caddy)
  [ -x /usr/bin/gunicorn ] || need+=(gunicorn)
  [ -x /usr/bin/h2load ] || need+=(nghttp2-client)
  [ -x /usr/bin/curl ] || need+=(curl)
  { [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; } || need+=(prometheus)
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
      echo "note: ${need[*]} could not be installed; their tests are named below as not run"
    [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
    # The packages may still have started servers (:80, :9090) we do not need.
    for svc in nginx apache2 haproxy caddy prometheus; do
      (systemctl stop "$svc" || service "$svc" stop) >/dev/null 2>&1 || true
    done
  fi
fi
if [ "$ci" = "true" ] && ! command -v cargo-deny >/dev/null 2>&1; then
  echo "== installing cargo-deny (CI)"
  cargo install --locked --quiet cargo-deny || echo "note: cargo-deny could not be installed"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets --features fuzzing -- -D warnings"
cargo clippy --all-targets --features fuzzing --quiet -- -D warnings
echo "== cargo clippy --no-default-features -- -D warnings (the capture-only build)"
cargo clippy --no-default-features --quiet -- -D warnings
deny=""
if command -v cargo-deny >/dev/null 2>&1; then
  # Advisories are left out: their database is fetched from GitHub, which this network does
  # not reach. Licences, bans and sources need only Cargo.lock and deny.toml.
  echo "== cargo deny check licenses bans sources"
  if cargo deny --log-level error check licenses bans sources; then deny=passed; else deny=failed; fi
else
  echo "not run: cargo deny (cargo install --locked cargo-deny; CI=true installs it)"
fi

# The ignored tests this run can do, and the ones it cannot, named.
# write_seed_corpus regenerates fuzz/corpus: run by hand only.
ignored=(--skip fuzz_corpus::write_seed_corpus)
if [ -n "$root" ]; then
  skip() { # reason, test-name filters...
    local why="$1"; shift
    echo "not run: $* ($why)"
    for f in "$@"; do ignored+=(--skip "$f"); done
  }
  [ -x /usr/sbin/nginx ] || skip "nginx missing" nginx:: logs::servers::nginx_
  [ -x /usr/sbin/apache2 ] || skip "apache2 missing" logs::servers::apache2_
  [ -x /usr/sbin/haproxy ] || skip "haproxy missing" logs::servers::haproxy_
  [ -x /usr/bin/caddy ] || skip "caddy missing" logs::servers::caddy_
  [ -x /usr/bin/gunicorn ] || skip "gunicorn missing" logs::servers::gunicorn_
  [ -x /usr/bin/curl ] || skip "curl missing" logs::servers:: demo::curl_ live::curl_
  [ -x /usr/bin/prometheus ] || skip "prometheus missing" metrics::scrape::prometheus_ metrics::exposition::real_prometheus
  [ -x /usr/bin/promtool ] || skip "promtool missing" metrics::exposition::promtool metrics::scrape::the_documented
  /usr/bin/python3 -c "import grpc" >/dev/null 2>&1 || skip "python3-grpcio missing" grpc::
  [ "$ci" = "true" ] || skip "heavy; CI=true runs them" hostile::section_flood hostile::half_open_flood
else
  echo "not run: the tests marked ignored (they need root or outside programs; run as root)"
fi

echo "== cargo test --features fuzzing"
mkdir -p target
status=0
{
  cargo test --all-targets --features fuzzing 2>&1
  if [ -n "$root" ]; then
    echo "== the ignored tests (root, outside programs)"
    cargo test --features fuzzing --test e2e 2>&1 -- --ignored "${ignored[@]}"
  fi
} | tee target/test-output.txt | grep -E "^(test result|running|error|failures|---- |== )|panicked|FAILED|skipped|ignored, " || true
# tee hides cargo's exit status: read it back from the output.
if grep -qE "^test result: FAILED|^error(\[|:)" target/test-output.txt; then
  echo "tests FAILED" >&2
  status=1
fi
passed=$(grep -oE "[0-9]+ passed" target/test-output.txt | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE "[0-9]+ failed" target/test-output.txt | awk '{s+=$1} END {print s+0}')

case "$deny" in
  passed) passed=$((passed + 1)) ;;
  failed) echo "FAILED: cargo deny" >&2; failed=$((failed + 1)) ;;
esac

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
