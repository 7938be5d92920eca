//! Fuzz target `http_parse`: the body is `traffic_watch::fuzzing::http_parse`, shared with
//! `tests/e2e/fuzz_corpus.rs`, which replays the committed corpus and crash inputs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| traffic_watch::fuzzing::http_parse(data));
