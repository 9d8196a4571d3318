//! The tests that need the process, or the shared test Redis, to themselves, in a binary of
//! their own (cargo runs test binaries one after another): they install the process's global
//! `log` logger and `tracing` subscriber (`logging`, `log_hygiene`), or pause the test Redis for
//! every client (`one_surface`). Within this binary they run one at a time: each test starts with
//! `let _alone = alone().await;`, and a new test here must too.

#[path = "../support/mod.rs"]
mod support;

mod global_log;
mod log_hygiene;
#[cfg(any(feature = "log", feature = "tracing"))]
mod logging;
#[cfg(feature = "redis")]
mod one_surface;

pub use global_log::{Alone, alone};
