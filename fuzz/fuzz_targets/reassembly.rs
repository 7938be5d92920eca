//! Fuzz target `reassembly`: the body is `traffic_watch::fuzzing::reassembly`, shared with
//! `tests/e2e/fuzz_corpus.rs`, which replays the committed corpus and crash inputs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| traffic_watch::fuzzing::reassembly(data));
