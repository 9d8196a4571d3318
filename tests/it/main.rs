//! The crate's integration tests, in one binary: each module is one topic (one former test
//! file), so that actix, awc and rustls are linked once instead of once per file. The tests
//! that need a process of their own are in the two other binaries: `tests/heap/` (a counting
//! global allocator) and `tests/serial/` (the global logger and subscriber, a paused Redis).
//!
//! To add tests: put them in `tests/it/<topic>.rs`, declare `mod <topic>;` below (in order,
//! behind `#[cfg(feature = "...")]` when they need a cargo feature: a binary cannot have
//! `required-features` per module), and take helpers from `crate::support`
//! (`use crate::support::{MockCdn, sdk_key};`). A former `tests/<topic>.rs` moves here with three
//! edits: `mod support;` becomes `use crate::support;` (`mod common;` goes, `common::` becomes
//! `support::`), its `#![cfg(...)]` moves to its `mod` line, and its `[[test]]` entry in
//! Cargo.toml goes. All modules share one process, so a test must not change process-wide state
//! (environment variables, the global logger, a panic hook, a pause of the shared Redis): run it
//! in a child process (`support::rerun`, as `quiet_failures` does) or put it in `tests/serial/`.
//! Test names are `<topic>::<test>` (`cargo test --test it <topic>::`).

#[path = "../support/mod.rs"]
mod support;

#[cfg(feature = "actix-web")]
mod actix_web;
mod bad_input;
mod change_stream;
mod client;
mod client_overrides;
mod config_fetched;
mod durability;
mod evaluation_api;
mod evaluation_log;
mod file_cache;
mod fixtures;
mod fleet_cache;
mod fuzz_regressions;
mod handle;
mod hostile_config;
#[cfg(unix)]
mod hostile_files;
mod logging;
mod matrix;
mod one_surface;
#[cfg(feature = "openfeature")]
mod openfeature;
#[cfg(all(feature = "opentelemetry", feature = "testing"))]
mod opentelemetry;
mod overrides;
mod papercuts;
mod polling;
mod quiet_failures;
#[cfg(feature = "redis")]
mod redis_cache;
#[cfg(feature = "redis")]
mod redis_cluster_bounds;
#[cfg(feature = "redis")]
mod redis_topologies;
mod reliability;
mod request_headers;
mod shared_cache;
mod subscribers;
#[cfg(feature = "testing")]
mod testing_kit;
mod user_code_panics;
#[cfg(feature = "actix-web")]
mod webhook;
