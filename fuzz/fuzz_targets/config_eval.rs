//! Arbitrary bytes as config JSON: parse, then evaluate every flag for several users with the
//! INFO evaluation log on and off, and merge with local overrides. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    let _ = harness::config_eval(data);
});
