#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End-to-end tests of the real binary. One integration binary, a module per area:
mod cli; // bad input: one-line errors, exit codes
mod fleet; // metrics, access logs, alert hooks through the binary
mod grpc; // gRPC over h2c against grpcio, its per-call log as the truth (root)
mod live; // live capture on loopback (root only; skipped with a reason otherwise)
mod log_servers; // access logs written by nginx, apache2, haproxy, caddy on loopback
mod nginx; // malformed and huge heads against nginx, its access log as the truth (root)
mod record; // -w rotation and the flight recorder, live (root): files replay to the counts
mod replay; // -r on the shared real captures and on generated ones, exact counts
mod replay_filter; // -r with --port/--ip: the in-process filter counts what BPF counted
mod replay_h2; // -r on generated HTTP/2 captures: mid-stream HPACK, rapid reset
mod replay_truncated; // -r on captures cut by a snap length: said first, counted, in JSON
mod routes; // routes beside sections: -r, --log, --routes, exact counts
mod server_counts; // generated captures of malformed floods and heads of any size
mod util; // running the binary, shared data lookup, JSON helpers
