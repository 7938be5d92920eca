#!/usr/bin/env bash
# The test command: installs what is missing, then formatting, lints and every test.
# Live-capture tests run when root (CI is); otherwise they print why they were skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --all-targets 2>&1 | tee target/test-output.txt | grep -E "^(test result|running|skipped|error|failures|---- )|panicked|FAILED|skipped:" || true
# tee hides cargo's exit status: read it back from the output.
if grep -qE "^test result: FAILED|^error(\[|:)" target/test-output.txt; then
  echo "tests FAILED" >&2
  exit 1
fi
passed=$(grep -oE "[0-9]+ passed" target/test-output.txt | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE "[0-9]+ failed" target/test-output.txt | awk '{s+=$1} END {print s+0}')
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
