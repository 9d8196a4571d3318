//! External caches: where a client keeps the config it downloaded so that other processes, and
//! the official ConfigCat SDKs, can use the same download.
//!
//! Every cache stores the cross-SDK shared format (spec §5): under the key
//! [`cache_key`]`(sdk_key)` = SHA-1 hex of `"<sdk key>_config_v6.json_v2"`, the text
//! `"<fetch time ms>\n<etag>\n<config json>"` ([`ConfigEntry::serialize`]).

use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::entry::{entry_with_fetch_time, head_of};

/// What [`ConfigCache::get`] and [`ConfigCache::set`] return: a boxed, `Send`, `'static`
/// future, so that a cache needs no dependency of its own to name it.
///
/// It is `'static` (it owns what it needs, a copy of the key for example) because the client
/// runs it after the call returns, on its own schedule, while the cache may be called again.
/// `Box::pin(async move { ... })` makes one:
///
/// ```
/// use configcat_actix::cache::{CacheError, CacheFuture};
/// fn answer(key: &str) -> CacheFuture<Option<String>> {
///     let key = key.to_owned();
///     Box::pin(async move { Ok(Some(format!("1\netag\n{{\"f\":{{}}}} for {key}"))) })
/// }
/// # let _ = answer("key");
/// ```
pub type CacheFuture<T> = BoxFuture<'static, Result<T, CacheError>>;

/// A place to keep the serialized config entry: a file, Redis, anything shared.
///
/// Both methods return a [`CacheFuture`] so that a networked cache never blocks the arbiter
/// the client runs on. A failing cache is logged (events 2200 and 2201) and otherwise ignored:
/// the client keeps its in-memory config and keeps evaluating. The trait is object safe: the
/// client keeps its cache as an `Arc<dyn ConfigCache>`, and `Box<dyn ConfigCache>`,
/// `Arc<dyn ConfigCache>` and `Arc<T>` are caches themselves, so a cache chosen at run time
/// can be handed to [`ConfigCatBuilder::cache`](crate::ConfigCatBuilder::cache) as it is.
///
/// A cache of your own, here one that keeps entries in a map, and how to choose one at run
/// time:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{Arc, Mutex};
/// use configcat_actix::cache::{CacheError, CacheFuture, ConfigCache, FileCache};
///
/// #[derive(Default)]
/// struct MapCache(Arc<Mutex<HashMap<String, String>>>);
///
/// impl ConfigCache for MapCache {
///     fn get(&self, key: &str) -> CacheFuture<Option<String>> {
///         let entries = self.0.clone();
///         let key = key.to_owned();
///         Box::pin(async move {
///             let entries = entries.lock().map_err(|_| CacheError::new("poisoned"))?;
///             Ok(entries.get(&key).cloned())
///         })
///     }
///
///     fn set(&self, key: &str, value: String) -> CacheFuture<()> {
///         let entries = self.0.clone();
///         let key = key.to_owned();
///         Box::pin(async move {
///             entries.lock().map_err(|_| CacheError::new("poisoned"))?.insert(key, value);
///             Ok(())
///         })
///     }
/// }
///
/// # #[actix::main] async fn main() -> Result<(), CacheError> {
/// let cache: Box<dyn ConfigCache> = match std::env::var("CONFIG_CACHE_DIR") {
///     Ok(directory) => Box::new(FileCache::new(directory)),
///     Err(_) => Box::new(MapCache::default()),
/// };
/// # if std::env::var_os("CONFIG_CACHE_DIR").is_none() {
/// cache.set("key", "1\netag\n{}".to_owned()).await?;
/// assert_eq!(cache.get("key").await?.as_deref(), Some("1\netag\n{}"));
/// # }
/// // `builder.cache(cache)` takes it as it is.
/// # Ok(()) }
/// ```
///
/// # Following at the cost of a header, and one download per fleet
///
/// [`get`](ConfigCache::get) and [`set`](ConfigCache::set) are all a cache needs. Four more
/// methods, each with a default, make a fleet cheaper when the store can do better:
///
/// * [`get_head`](ConfigCache::get_head): the start of the value. The client re-reads the entry
///   at every sync (at most once per sync interval); with a head it reads only the fetch time
///   and the ETag, and the whole value only when the ETag differs from the one it holds.
///   Default: the whole value, as `get`.
/// * [`touch`](ConfigCache::touch): after a 304, moves the entry's fetch time on without
///   rewriting the config. Default: not done (`false`), and the client writes the whole entry.
/// * [`try_lease`](ConfigCache::try_lease) and [`release_lease`](ConfigCache::release_lease): a
///   short lease that lets one process of a fleet download while the others wait for its
///   entry. Default: every request is granted, so every process downloads for itself.
pub trait ConfigCache: Send + Sync + 'static {
    /// The value stored under `key`, if any.
    fn get(&self, key: &str) -> CacheFuture<Option<String>>;

    /// Stores `value` under `key`.
    fn set(&self, key: &str, value: String) -> CacheFuture<()>;

    /// The start of the value stored under `key`, if any: its first `max_bytes` bytes (fewer
    /// when the value is shorter, or when the cut would split a character), or more, up to the
    /// whole value.
    ///
    /// The client asks for a head large enough for the entry's first two lines (the fetch
    /// time and the ETag), and reads the whole value with [`get`](ConfigCache::get) only when
    /// they are not the ones it holds. A head longer than `max_bytes` is taken as the whole
    /// value. The default returns the whole value (one `get`): always correct, never cheaper.
    fn get_head(&self, key: &str, max_bytes: usize) -> CacheFuture<Option<String>> {
        let _ = max_bytes;
        self.get(key)
    }

    /// Moves the fetch time of the entry under `key` on without rewriting the rest: when the
    /// value is `"<time>\n<etag>\n<json>"` with exactly this `etag` line and a `<time>` of the
    /// same length as `fetch_time` (decimal milliseconds since the epoch), replaces `<time>`
    /// with `fetch_time` and answers `true`; otherwise changes nothing and answers `false`.
    ///
    /// The client calls it after a 304 (the config it holds is still current) and writes the
    /// whole entry with [`set`](ConfigCache::set) when it answers `false`. The result is byte
    /// for byte the entry `set` would have written, so every SDK reads it. The default answers
    /// `false`. [`entry_with_fetch_time`] computes the new value.
    fn touch(&self, key: &str, etag: &str, fetch_time: &str) -> CacheFuture<bool> {
        let _ = (key, etag, fetch_time);
        Box::pin(async { Ok(false) })
    }

    /// Takes the download lease of the entry under `key` for `holder` (a token unique to one
    /// client) for `ttl`, unless another holder has it: whether `holder` has it now.
    ///
    /// Before downloading, a client takes the lease; a client that is refused waits (at most
    /// `ttl`) for the holder's entry instead of downloading too, so a fleet sharing the cache
    /// makes one download. A lease must end by itself after `ttl` (or when its holder dies),
    /// must be kept apart from the entry, and must not be granted to two holders at once; a
    /// holder that asks again while it has the lease is granted it. The default grants every
    /// request: each process then downloads for itself.
    fn try_lease(&self, key: &str, holder: &str, ttl: Duration) -> CacheFuture<bool> {
        let _ = (key, holder, ttl);
        Box::pin(async { Ok(true) })
    }

    /// Gives back the lease of `key` if `holder` still has it (after its download is stored).
    /// The default does nothing.
    fn release_lease(&self, key: &str, holder: &str) -> CacheFuture<()> {
        let _ = (key, holder);
        Box::pin(async { Ok(()) })
    }
}

/// Forwards every method, the optional ones included (a wrapper that forwarded only `get`
/// and `set` would silently cost a fleet its savings).
macro_rules! forward_config_cache {
    () => {
        fn get(&self, key: &str) -> CacheFuture<Option<String>> {
            (**self).get(key)
        }

        fn set(&self, key: &str, value: String) -> CacheFuture<()> {
            (**self).set(key, value)
        }

        fn get_head(&self, key: &str, max_bytes: usize) -> CacheFuture<Option<String>> {
            (**self).get_head(key, max_bytes)
        }

        fn touch(&self, key: &str, etag: &str, fetch_time: &str) -> CacheFuture<bool> {
            (**self).touch(key, etag, fetch_time)
        }

        fn try_lease(&self, key: &str, holder: &str, ttl: Duration) -> CacheFuture<bool> {
            (**self).try_lease(key, holder, ttl)
        }

        fn release_lease(&self, key: &str, holder: &str) -> CacheFuture<()> {
            (**self).release_lease(key, holder)
        }
    };
}

// `?Sized` covers `Box<dyn ConfigCache>` and `Arc<dyn ConfigCache>` as well as boxed and
// shared concrete caches, so the builder's `impl ConfigCache` takes all of them.
impl<C: ConfigCache + ?Sized> ConfigCache for Box<C> {
    forward_config_cache!();
}

impl<C: ConfigCache + ?Sized> ConfigCache for Arc<C> {
    forward_config_cache!();
}

/// Why a cache could not be read or written.
///
/// Its text says what failed, the cause included: the client logs only that text (2200,
/// 2201). An error made [`from_source`](CacheError::from_source) or
/// [`with_source`](CacheError::with_source) also gives the original error back through
/// [`Error::source`], for downcasting. Two errors are equal when their texts are, and either
/// both or neither has a source.
///
/// ```
/// use std::error::Error;
/// use configcat_actix::cache::CacheError;
///
/// let plain = CacheError::new("the bucket is gone");
/// assert_eq!(plain.to_string(), "the bucket is gone");
/// assert!(plain.source().is_none());
///
/// let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
/// let error = CacheError::with_source("reading /var/cache/configcat/entry", io);
/// assert_eq!(error.to_string(), "reading /var/cache/configcat/entry: denied");
/// let source = error.source().and_then(|s| s.downcast_ref::<std::io::Error>());
/// assert_eq!(source.map(|s| s.kind()), Some(std::io::ErrorKind::PermissionDenied));
///
/// let error = CacheError::from_source(std::io::Error::other("disk full"));
/// assert_eq!(error.to_string(), "disk full");
/// assert!(error.source().is_some());
/// ```
#[derive(Debug, Clone)]
pub struct CacheError {
    message: String,
    // An `Arc` keeps the error `Clone`, which a shared failure (one read awaited by several
    // requests) needs.
    source: Option<Arc<dyn Error + Send + Sync + 'static>>,
    /// The cache answered, but its entry cannot be used (see [`CacheError::invalid_entry`]).
    invalid_entry: bool,
}

impl CacheError {
    /// An error that says `message`.
    pub fn new(message: impl Into<String>) -> CacheError {
        CacheError {
            message: message.into(),
            source: None,
            invalid_entry: false,
        }
    }

    /// An error caused by `source`: its text is the source's.
    pub fn from_source(source: impl Error + Send + Sync + 'static) -> CacheError {
        CacheError {
            message: source.to_string(),
            source: Some(Arc::new(source)),
            invalid_entry: false,
        }
    }

    /// An error caused by `source` while doing `context`: its text is `"<context>: <source>"`.
    pub fn with_source(
        context: impl fmt::Display,
        source: impl Error + Send + Sync + 'static,
    ) -> CacheError {
        CacheError {
            message: format!("{context}: {source}"),
            source: Some(Arc::new(source)),
            invalid_entry: false,
        }
    }

    /// An error that says the cache answered but its entry cannot be used: not UTF-8 text,
    /// over the size limit, not a regular file. The client takes such a cache for a working
    /// one holding a corrupt entry (logged 2200 once, like an entry that does not parse), not
    /// for a failing one: a download is then written before it is served, as with any
    /// reachable cache, and replaces the entry. `message` must not quote the entry.
    ///
    /// ```
    /// use configcat_actix::cache::CacheError;
    /// let error = CacheError::invalid_entry("the entry is not UTF-8 text");
    /// assert!(error.is_invalid_entry());
    /// assert!(!CacheError::new("connection refused").is_invalid_entry());
    /// ```
    pub fn invalid_entry(message: impl Into<String>) -> CacheError {
        CacheError {
            invalid_entry: true,
            ..CacheError::new(message)
        }
    }

    /// Whether this error was made by [`invalid_entry`](CacheError::invalid_entry): the cache
    /// itself works.
    pub fn is_invalid_entry(&self) -> bool {
        self.invalid_entry
    }

    /// This error, marked as [`invalid_entry`](CacheError::invalid_entry).
    pub(crate) fn into_invalid_entry(self) -> CacheError {
        CacheError {
            invalid_entry: true,
            ..self
        }
    }
}

/// An entry's bytes as text, or an [`invalid_entry`](CacheError::invalid_entry) error that does
/// not quote them.
pub(crate) fn entry_text(bytes: Vec<u8>) -> Result<String, CacheError> {
    String::from_utf8(bytes)
        .map_err(|e| CacheError::invalid_entry(format!("the entry is not UTF-8 text ({e})")))
}

impl PartialEq for CacheError {
    fn eq(&self, other: &CacheError) -> bool {
        self.message == other.message
            && self.source.is_some() == other.source.is_some()
            && self.invalid_entry == other.invalid_entry
    }
}

impl Eq for CacheError {}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for CacheError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn Error + 'static))
    }
}

/// A cache in this process's memory: lets several clients (or a client and its successor after
/// `Close`) share one download without any infrastructure.
///
/// It implements every optional method of [`ConfigCache`]: clients in one process that share it
/// make one download between them (see [`ConfigCache::try_lease`]).
#[derive(Debug, Clone, Default)]
pub struct InMemoryCache {
    entries: Arc<Mutex<HashMap<String, String>>>,
    /// The download leases: holder and end, per key.
    leases: Arc<Mutex<HashMap<String, (String, std::time::Instant)>>>,
}

impl InMemoryCache {
    /// An empty cache.
    pub fn new() -> InMemoryCache {
        InMemoryCache::default()
    }
}

impl ConfigCache for InMemoryCache {
    fn get(&self, key: &str) -> CacheFuture<Option<String>> {
        let value = self
            .entries
            .lock()
            .map_err(|_| CacheError::new("the in-memory cache is poisoned"))
            .map(|entries| entries.get(key).cloned());
        Box::pin(async move { value })
    }

    fn set(&self, key: &str, value: String) -> CacheFuture<()> {
        let stored = self
            .entries
            .lock()
            .map_err(|_| CacheError::new("the in-memory cache is poisoned"))
            .map(|mut entries| {
                entries.insert(key.to_owned(), value);
            });
        Box::pin(async move { stored })
    }

    fn get_head(&self, key: &str, max_bytes: usize) -> CacheFuture<Option<String>> {
        let value = self
            .entries
            .lock()
            .map_err(|_| CacheError::new("the in-memory cache is poisoned"))
            .map(|entries| entries.get(key).map(|v| head_of(v, max_bytes).to_owned()));
        Box::pin(async move { value })
    }

    fn touch(&self, key: &str, etag: &str, fetch_time: &str) -> CacheFuture<bool> {
        let touched = self
            .entries
            .lock()
            .map_err(|_| CacheError::new("the in-memory cache is poisoned"))
            .map(|mut entries| {
                let Some(value) = entries.get_mut(key) else {
                    return false;
                };
                match entry_with_fetch_time(value, etag, fetch_time) {
                    Some(touched) => {
                        *value = touched;
                        true
                    }
                    None => false,
                }
            });
        Box::pin(async move { touched })
    }

    fn try_lease(&self, key: &str, holder: &str, ttl: Duration) -> CacheFuture<bool> {
        let taken = self
            .leases
            .lock()
            .map_err(|_| CacheError::new("the in-memory cache is poisoned"))
            .map(|mut leases| {
                let now = std::time::Instant::now();
                match leases.get(key) {
                    Some((other, until)) if other != holder && *until > now => false,
                    _ => {
                        leases.insert(key.to_owned(), (holder.to_owned(), now + ttl));
                        true
                    }
                }
            });
        Box::pin(async move { taken })
    }

    fn release_lease(&self, key: &str, holder: &str) -> CacheFuture<()> {
        let released = self
            .leases
            .lock()
            .map_err(|_| CacheError::new("the in-memory cache is poisoned"))
            .map(|mut leases| {
                if leases.get(key).is_some_and(|(ours, _)| ours == holder) {
                    leases.remove(key);
                }
            });
        Box::pin(async move { released })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts calls and answers with what it was told, to see that a wrapper delegates.
    #[derive(Default)]
    struct Recording {
        gets: std::sync::atomic::AtomicUsize,
        sets: Mutex<Vec<(String, String)>>,
    }

    impl ConfigCache for Recording {
        fn get(&self, key: &str) -> CacheFuture<Option<String>> {
            self.gets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = Some(format!("value of {key}"));
            Box::pin(async move { Ok(answer) })
        }

        fn set(&self, key: &str, value: String) -> CacheFuture<()> {
            self.sets.lock().unwrap().push((key.to_owned(), value));
            Box::pin(async { Err(CacheError::new("set recorded")) })
        }

        // Each answers what its default never would.
        fn get_head(&self, key: &str, max_bytes: usize) -> CacheFuture<Option<String>> {
            let answer = Some(format!("head of {key}, {max_bytes} bytes"));
            Box::pin(async move { Ok(answer) })
        }

        fn touch(&self, _: &str, _: &str, _: &str) -> CacheFuture<bool> {
            Box::pin(async { Ok(true) })
        }

        fn try_lease(&self, _: &str, _: &str, _: Duration) -> CacheFuture<bool> {
            Box::pin(async { Ok(false) })
        }

        fn release_lease(&self, _: &str, _: &str) -> CacheFuture<()> {
            Box::pin(async { Err(CacheError::new("release recorded")) })
        }
    }

    async fn check_delegation(cache: &dyn ConfigCache, inner: &Recording) {
        let gets = inner.gets.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(cache.get("k1").await, Ok(Some("value of k1".into())));
        assert_eq!(
            inner.gets.load(std::sync::atomic::Ordering::SeqCst),
            gets + 1
        );
        assert_eq!(
            cache.set("k2", "v2".into()).await,
            Err(CacheError::new("set recorded"))
        );
        assert_eq!(
            inner.sets.lock().unwrap().last(),
            Some(&("k2".to_owned(), "v2".to_owned()))
        );
        // The optional methods are forwarded too, not answered by their defaults.
        assert_eq!(
            cache.get_head("k3", 7).await,
            Ok(Some("head of k3, 7 bytes".into()))
        );
        assert_eq!(cache.touch("k", "e", "1").await, Ok(true));
        assert_eq!(
            cache.try_lease("k", "h", Duration::from_secs(1)).await,
            Ok(false)
        );
        assert_eq!(
            cache.release_lease("k", "h").await,
            Err(CacheError::new("release recorded"))
        );
    }

    #[actix_rt::test]
    async fn boxed_and_shared_caches_delegate() {
        fn takes(cache: impl ConfigCache) -> Arc<dyn ConfigCache> {
            Arc::new(cache)
        }

        let inner = Arc::new(Recording::default());

        // Arc<T>
        let shared: Arc<Recording> = inner.clone();
        check_delegation(&*takes(shared), &inner).await;

        // Arc<dyn ConfigCache>
        let dynamic: Arc<dyn ConfigCache> = inner.clone();
        check_delegation(&*takes(dynamic), &inner).await;

        // Box<dyn ConfigCache> (and Box<T>), around a cache that itself is shared.
        let boxed: Box<dyn ConfigCache> = Box::new(inner.clone());
        check_delegation(&*takes(boxed), &inner).await;
        let boxed_concrete: Box<Arc<Recording>> = Box::new(inner.clone());
        check_delegation(&*takes(boxed_concrete), &inner).await;

        assert_eq!(inner.gets.load(std::sync::atomic::Ordering::SeqCst), 4);
        assert_eq!(inner.sets.lock().unwrap().len(), 4);
    }

    #[test]
    fn cache_errors_keep_their_source() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = CacheError::with_source("reading /x", io);
        assert_eq!(error.to_string(), "reading /x: no such file");
        let source = error.source().unwrap();
        assert_eq!(
            source.downcast_ref::<std::io::Error>().unwrap().kind(),
            std::io::ErrorKind::NotFound
        );
        assert_eq!(error.clone(), error);
        assert_ne!(error, CacheError::new("reading /x: no such file"));

        let error = CacheError::from_source(std::fmt::Error);
        assert_eq!(error.to_string(), std::fmt::Error.to_string());
        assert!(error.source().unwrap().is::<std::fmt::Error>());
        let plain = CacheError::new(String::from("plain"));
        assert_eq!(
            (plain.to_string(), plain.source().is_none()),
            ("plain".into(), true)
        );
    }
}
