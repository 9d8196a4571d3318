//! The default of every option that has one, in one place.
//!
//! A leaf module: the options, the fetcher, the caches and the file reader all take their
//! defaults from here, and it names none of them.

use std::time::Duration;

/// The default connect timeout (the Python SDK's).
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default read timeout (the Python SDK's, and the Rust SDK's HTTP timeout).
pub(crate) const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The default largest body accepted.
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The default bound on each read or write of the external cache.
pub(crate) const DEFAULT_CACHE_TIMEOUT: Duration = Duration::from_secs(2);
/// The default shortest time between two re-reads of the external cache driven by accesses.
pub(crate) const DEFAULT_CACHE_SYNC_INTERVAL: Duration = Duration::from_millis(100);

/// The default time to live of the download lease in a shared cache.
pub(crate) const DEFAULT_CACHE_LEASE: Duration = Duration::from_secs(2);
