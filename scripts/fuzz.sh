#!/usr/bin/env bash
# Runs each cargo-fuzz target for SECONDS (default 60) on the stable toolchain, without
# sanitizers (`--sanitizer none`: AddressSanitizer needs nightly; the crate forbids unsafe code,
# so the fuzzers look for panics, hangs and runaway memory). Installs cargo-fuzz if missing.
#
#   scripts/fuzz.sh [SECONDS]
#
# New inputs go to a scratch corpus (fuzz/target/corpus-work/<target>); the committed seeds in
# fuzz/corpus/<target> are read, never written. A crash leaves its input in
# fuzz/artifacts/<target>/: copy it to fuzz/regressions/<target>/ and add a named test in
# tests/e2e/fuzz_corpus.rs. Exits non-zero if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== cargo install cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
work="fuzz/target/corpus-work"
failed=()
echo "== cargo fuzz build --sanitizer none"
(cd fuzz && cargo fuzz build --sanitizer none)
for t in decode_frame reassembly http_parse capture_file hpack h2_flow; do
  echo "== fuzz $t for ${secs}s"
  mkdir -p "$work/$t" "fuzz/artifacts/$t"
  if ! (cd fuzz && cargo fuzz run --sanitizer none "$t" "../$work/$t" "corpus/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1); then
    failed+=("$t")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz targets that crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "all fuzz targets ran ${secs}s without a crash"
