//! Fuzz target `h2_flow`: the body is `traffic_watch::fuzzing::h2_flow`, shared with
//! `tests/e2e/fuzz_corpus.rs`, which replays the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| traffic_watch::fuzzing::h2_flow(data));
