//! Arbitrary bytes as an external cache entry (`<fetch time ms>\n<etag>\n<config json>`): read,
//! and for a valid entry check the round trip. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    let _ = harness::cache_entry(data);
});
