//! The live heap of a parsed config: the generated 2,000-flag config of the benches
//! (974,554 bytes of JSON) must parse into at most 2.5 MiB (it took 7.85 MiB when lists were
//! `Vec<String>`s with spare capacity and every condition 168 bytes). `cargo bench --bench
//! memory` says where the bytes go.
//!
//! The binary's counting global allocator (`tests/heap/main.rs`) keeps the live bytes per thread: the tests of this file run in
//! parallel threads, and parsing happens on the calling thread.

#[path = "../../benches/support/big_config.rs"]
mod big_config;

use configcat_actix::Config;

/// The live bytes `f`'s result holds on this thread.
fn live_bytes_of<R>(f: impl FnOnce() -> R) -> (R, i64) {
    let before = crate::thread_live_bytes();
    let result = f();
    (result, crate::thread_live_bytes() - before)
}

#[test]
fn the_counter_counts() {
    let (kept, bytes) = live_bytes_of(|| vec![0u8; 1000]);
    assert_eq!(bytes, 1000);
    drop(kept);
}

#[test]
fn a_parsed_config_holds_at_most_two_and_a_half_times_its_json() {
    let json = big_config::big_config_json(2_000);
    assert_eq!(json.len(), 974_554, "the generated config changed");
    // Once first: parsing keeps a small scratch buffer per thread for the next config.
    drop(Config::parse(&json).expect("parses"));
    let (config, bytes) = live_bytes_of(|| Config::parse(&json).expect("parses"));
    assert_eq!(config.settings().len(), 2_000);
    let mib = bytes as f64 / (1024.0 * 1024.0);
    assert!(mib <= 2.5, "the parsed config holds {mib:.2} MiB");
    // Nothing is left behind once the config is dropped.
    let ((), freed) = live_bytes_of(|| drop(config));
    assert_eq!(freed, -bytes);
}
