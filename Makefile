# Shortcuts; each target installs what is missing (libpcap headers) first.
.PHONY: demo test build man completions try

build:
	scripts/deps.sh
	cargo build --release

# The one command to see it work: server, traffic with a spike, and the live dashboard.
demo: build
	@if [ "$$(id -u)" -eq 0 ]; then target/release/traffic-watch demo; \
	else echo "capturing needs root: running with sudo"; sudo target/release/traffic-watch demo; fi

test:
	scripts/test.sh

# Replay a generated capture, no root needed.
try:
	scripts/try.sh

man: build
	mkdir -p target/man && target/release/traffic-watch manpage > target/man/traffic-watch.1
	@echo "man target/man/traffic-watch.1"

completions: build
	mkdir -p target/completions
	for s in bash zsh fish; do target/release/traffic-watch completions $$s > target/completions/traffic-watch.$$s; done
	@echo "completions in target/completions/"
