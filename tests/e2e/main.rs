//! End-to-end tests of the real binary. One integration binary, a module per area:
mod util; // running the binary, shared data lookup, JSON helpers
mod cli; // bad input: one-line errors, exit codes
mod replay; // -r on the shared real captures and on generated ones, exact counts
mod live; // live capture on loopback (root only; skipped with a reason otherwise)
