//! External caches: where a client keeps its downloads so that other processes, and the
//! official ConfigCat SDKs, use the same download.
//!
//! Give the builder a [`FileCache`], a `RedisCache` (cargo feature `redis`), an
//! [`InMemoryCache`] or a [`ConfigCache`] of your own; every one stores the cross-SDK shared
//! format under [`cache_key`]. What is written when, and what a client follows, is in
//! `docs/caching.md`.

mod entry;
mod external;
mod file;
#[cfg(feature = "redis")]
mod redis;

pub use entry::{ConfigEntry, cache_key, entry_with_fetch_time};
pub(crate) use entry::{fetch_time, head_bytes, split_entry, split_head};
pub use external::{CacheError, CacheFuture, ConfigCache, InMemoryCache};
pub use file::FileCache;
#[cfg(feature = "redis")]
pub use redis::{EntryTooLarge, RedisCache, RedisCacheBuilder};
