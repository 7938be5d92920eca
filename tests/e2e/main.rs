#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The integration tests: one binary, a module per area. Tests that need root or an outside
//! program are `#[ignore = "needs …"]`, so every run says how many it left out; scripts/test.sh
//! runs them (`-- --ignored`) as root, after installing the programs in CI.
mod cli; // bad input: one-line errors, exit codes
mod demo; // the built-in server and load generator, HTTP/1 and h2c, in process
#[cfg(feature = "fuzzing")]
mod fuzz_corpus; // every committed fuzz corpus and crash input, replayed through the targets
mod grpc; // gRPC over h2c against grpcio, its per-call log as the truth (root)
mod hooks; // alert hooks: webhook and command, in process and through the binary
mod hostile; // floods under memory bounds, slow heads, terminal escapes in packets
mod live; // live capture on loopback (root)
mod logs; // access logs: parsing, following, alerting, real servers' logs
mod metrics; // the Prometheus exposition, its server, and a real Prometheus scraping it
mod nginx; // malformed and huge heads against nginx, its access log as the truth (root)
mod record; // -w rotation and the flight recorder, live (root): files replay to the counts
mod replay; // -r on the shared real captures and on generated ones, exact counts
mod replay_filter; // -r with --port/--ip: the in-process filter counts what BPF counted
mod replay_h2; // -r on generated HTTP/2 captures: mid-stream HPACK, rapid reset
mod replay_truncated; // -r on captures cut by a snap length: said first, counted, in JSON
mod routes; // routes beside sections: -r, --log, --routes, exact counts
mod server_counts; // generated captures of malformed floods and heads of any size
mod util; // the binary as a child process, polling, free ports, JSON helpers

/// Stands in for the fuzz corpus tests when the `fuzzing` feature is off, so the run counts
/// them as not run instead of leaving them out silently.
#[cfg(not(feature = "fuzzing"))]
#[test]
#[ignore = "needs --features fuzzing"]
fn fuzz_corpus() {
    panic!("build with --features fuzzing to replay the fuzz corpus");
}
