#!/usr/bin/env bash
# See traffic-watch work without root: builds it, writes a sample capture of HTTP traffic and
# replays it, printing reports, alerts and the summary as they happen in packet time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --quiet
bin=target/release/traffic-watch
$bin sample-capture target/sample.pcap --rate 20 --seconds 100 --spike
$bin -r target/sample.pcap --plain --window 20s --threshold 40
