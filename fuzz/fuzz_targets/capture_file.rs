//! Fuzz target `capture_file`: the body is `traffic_watch::fuzzing::capture_file`, shared with
//! `tests/e2e/fuzz_corpus.rs`, which replays the committed corpus and crash inputs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| traffic_watch::fuzzing::capture_file(data));
