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
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::model::Config;
use crate::snapshot::ConfigEntry;

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

/// The cache key of an SDK key: lowercase SHA-1 hex of `"<sdk key>_config_v6.json_v2"`.
///
/// ```
/// use configcat_actix::cache::cache_key;
/// assert_eq!(
///     cache_key("configcat-sdk-1/TEST_KEY-0123456789012/1234567890123456789012"),
///     "f83ba5d45bceb4bb704410f51b704fb6dfa19942"
/// );
/// ```
pub fn cache_key(sdk_key: &str) -> String {
    hex(&Sha1::digest(
        format!("{sdk_key}_config_v6.json_v2").as_bytes(),
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a cached text is not a valid entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError(String);

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for EntryError {}

/// What the ETag of an entry whose download had none starts with. The Python and Go SDKs
/// refuse an entry with an empty ETag, so such an entry gets one derived from its JSON:
/// equal for equal configs and different for different ones, which is what every SDK compares
/// ETags for. Read back, it is recognised and dropped (never sent as `If-None-Match`).
const DERIVED_ETAG_PREFIX: &str = "W/\"configcat-actix-sha256:";

/// `W/"configcat-actix-sha256:<SHA-256 hex of the JSON>"`.
fn derived_etag(json: &str) -> String {
    format!(
        "{DERIVED_ETAG_PREFIX}{}\"",
        hex(&Sha256::digest(json.as_bytes()))
    )
}

fn is_derived_etag(etag: &str) -> bool {
    etag.strip_prefix(DERIVED_ETAG_PREFIX)
        .and_then(|rest| rest.strip_suffix('"'))
        .is_some_and(|digest| digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The largest fetch time written: the Go and official Rust SDKs read it as an `i64`.
const MAX_WRITTEN_MILLIS: u128 = i64::MAX as u128;

impl ConfigEntry {
    /// The shared cache format: `"<fetch time ms>\n<etag>\n<config json>"`, the JSON being the
    /// response body byte for byte.
    ///
    /// An entry without a usable ETag (none, empty, or one that would break the format with a
    /// line break) is written with one derived from its JSON, `W/"configcat-actix-sha256:…"`,
    /// because the Python and Go SDKs refuse an entry whose ETag is empty;
    /// [`deserialize`](ConfigEntry::deserialize) drops it again. A time before the epoch is
    /// written as 0.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use configcat_actix::{Config, ConfigEntry};
    /// let json = r#"{"f":{"testKey":{"t":1,"v":{"s":"testValue"}}}}"#;
    /// let mut entry = ConfigEntry {
    ///     config: Arc::new(Config::parse(json)?),
    ///     json: Arc::from(json),
    ///     etag: Some("test-etag".to_owned()),
    ///     fetch_time: UNIX_EPOCH + Duration::from_millis(1686756435844),
    /// };
    /// let text = entry.serialize();
    /// assert_eq!(text, format!("1686756435844\ntest-etag\n{json}"));
    /// let read = ConfigEntry::deserialize(&text)?;
    /// assert_eq!((read.fetch_time, read.etag), (entry.fetch_time, entry.etag.clone()));
    ///
    /// // Without an ETag: one derived from the JSON is written, and dropped when read back.
    /// entry.etag = None;
    /// let text = entry.serialize();
    /// assert!(text.starts_with("1686756435844\nW/\"configcat-actix-sha256:"));
    /// assert_eq!(ConfigEntry::deserialize(&text)?.etag, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn serialize(&self) -> String {
        format!("{}\n{}\n{}", self.time_line(), self.etag_line(), self.json)
    }

    /// The first line of [`serialize`](ConfigEntry::serialize): the fetch time in ms.
    pub(crate) fn time_line(&self) -> String {
        let millis = self
            .fetch_time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis().min(MAX_WRITTEN_MILLIS));
        millis.to_string()
    }

    /// The second line of [`serialize`](ConfigEntry::serialize): the ETag, or one derived
    /// from the JSON.
    pub(crate) fn etag_line(&self) -> std::borrow::Cow<'_, str> {
        match self.etag.as_deref() {
            Some(etag) if !etag.is_empty() && !etag.contains(['\n', '\r']) => etag.into(),
            _ => std::borrow::Cow::Owned(derived_etag(&self.json)),
        }
    }

    /// Reads the shared cache format; the JSON may itself contain newlines.
    ///
    /// Lenient where an official SDK writes or accepts it: an empty ETag (the JS and Rust SDKs
    /// write one when the CDN sent none) is no ETag; a fractional time (accepted by the Python
    /// SDK) is truncated to the millisecond; a time before the epoch (accepted by all of them)
    /// is the epoch, so the entry counts as expired. A time in the future is kept as it is.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use configcat_actix::ConfigEntry;
    /// let entry = ConfigEntry::deserialize("1686756435844.5\n\n{\"f\":{}}")?;
    /// assert_eq!(entry.fetch_time, UNIX_EPOCH + Duration::from_millis(1686756435844));
    /// assert_eq!(entry.etag, None);
    /// assert_eq!(ConfigEntry::deserialize("-5\ne\n{}")?.fetch_time, UNIX_EPOCH);
    /// assert!(ConfigEntry::deserialize("18446744073709551615\ne\n{}").is_err());
    /// # Ok::<(), configcat_actix::cache::EntryError>(())
    /// ```
    ///
    /// # Errors
    /// An [`EntryError`] when a part is missing, the time is not a number of milliseconds
    /// (or does not fit a signed 64-bit integer, as the Go and Rust SDKs read it), or the JSON
    /// is not a config.
    pub fn deserialize(text: &str) -> Result<ConfigEntry, EntryError> {
        let (millis, etag, json) = split_entry(text)?;
        // Where, never what: an entry may come from a file or a Redis others write, and its
        // text must not reach a log line (a JSON error can quote it, its path names keys).
        let config = Config::parse(json).map_err(|e| {
            EntryError(format!(
                "Invalid config JSON (line {}, column {} of the JSON).",
                e.line(),
                e.column()
            ))
        })?;
        Ok(ConfigEntry {
            config: Arc::new(config),
            json: Arc::from(json),
            etag: (!etag.is_empty()).then(|| etag.to_owned()),
            // `split_entry` only returns times the platform can represent.
            fetch_time: fetch_time(millis).unwrap_or(UNIX_EPOCH),
        })
    }
}

/// The longest time line a head is asked for: 13 digits now, up to 20 with a sign, a
/// fraction (the Python SDK's) or a far date, with room to spare.
const TIME_LINE_BYTES: usize = 40;

/// How many bytes of an entry hold its time and an ETag line of `etag_len` bytes, with both
/// line breaks.
pub(crate) fn head_bytes(etag_len: usize) -> usize {
    TIME_LINE_BYTES + etag_len + 2
}

/// The fetch time (ms since the epoch, as [`split_entry`] reads it) and the ETag line, as
/// written (a derived ETag included), of an entry's head; `None` when the head does not hold
/// both lines whole or the time is not one.
pub(crate) fn split_head(head: &str) -> Option<(u64, &str)> {
    let (time, rest) = head.split_once('\n')?;
    let (etag, _) = rest.split_once('\n')?;
    let millis = parse_millis(time).filter(|&millis| fetch_time(millis).is_some())?;
    Some((millis, etag))
}

/// Whether an entry starting with `head` may have its time replaced by `fetch_time` in place:
/// its ETag line is `etag` and its time line is exactly as long as `fetch_time`. What
/// [`ConfigCache::touch`] checks.
pub(crate) fn touchable(head: &[u8], etag: &str, fetch_time: &str) -> bool {
    let width = fetch_time.len();
    let Some(after_time) = head.get(width..) else {
        return false;
    };
    !fetch_time.is_empty()
        && fetch_time.bytes().all(|b| b.is_ascii_digit())
        && !head[..width].contains(&b'\n')
        && after_time.first() == Some(&b'\n')
        && after_time[1..].starts_with(etag.as_bytes())
        && after_time.get(1 + etag.len()) == Some(&b'\n')
}

/// The value [`ConfigCache::touch`] leaves: `value` with its time line replaced by
/// `fetch_time`, when its ETag line is `etag` and its time line is as long as `fetch_time`
/// (so only the time changes, in place); `None` otherwise. For a cache of your own:
///
/// ```
/// use configcat_actix::cache::entry_with_fetch_time;
/// let entry = "1686756435844\ntest-etag\n{\"f\":{}}";
/// assert_eq!(
///     entry_with_fetch_time(entry, "test-etag", "1686756499999").as_deref(),
///     Some("1686756499999\ntest-etag\n{\"f\":{}}")
/// );
/// assert_eq!(entry_with_fetch_time(entry, "other-etag", "1686756499999"), None);
/// assert_eq!(entry_with_fetch_time(entry, "test-etag", "99"), None);
/// ```
pub fn entry_with_fetch_time(value: &str, etag: &str, fetch_time: &str) -> Option<String> {
    touchable(value.as_bytes(), etag, fetch_time)
        .then(|| format!("{fetch_time}{}", &value[fetch_time.len()..]))
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character.
pub(crate) fn head_of(text: &str, max_bytes: usize) -> &str {
    let mut end = max_bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The fetch time of `millis` since the epoch, if this platform's `SystemTime` can hold it.
pub(crate) fn fetch_time(millis: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

/// Splits an entry into fetch time (ms since the epoch), ETag and JSON without parsing the
/// JSON: enough to tell whether it holds news.
///
/// The time is the one [`ConfigEntry::deserialize`] reads (fraction truncated, before the
/// epoch as 0), and `UNIX_EPOCH + Duration::from_millis(millis)` never overflows for it on
/// this platform: a time that would is an error. The ETag is empty when the entry has none,
/// including a derived one (see [`ConfigEntry::serialize`]).
pub(crate) fn split_entry(text: &str) -> Result<(u64, &str, &str), EntryError> {
    let mut parts = text.splitn(3, '\n');
    let (Some(time), Some(etag), Some(json)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(EntryError(
            "Number of values is fewer than expected.".into(),
        ));
    };
    let millis = parse_millis(time)
        .filter(|&millis| fetch_time(millis).is_some())
        .ok_or_else(|| {
            // The first line is not quoted: it may be the first line of anything.
            EntryError(format!(
                "Invalid fetch time: the first line ({} bytes) is not a number of milliseconds \
                 within a signed 64-bit integer.",
                time.len()
            ))
        })?;
    let etag = if is_derived_etag(etag) { "" } else { etag };
    Ok((millis, etag, json))
}

/// `[+-]digits[.digits]` as whole milliseconds: truncated toward zero, negative as 0, and
/// `None` beyond `i64` (what the Go and Rust SDKs can read) or for anything else.
fn parse_millis(time: &str) -> Option<u64> {
    let (whole, fraction) = time.split_once('.').unwrap_or((time, ""));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = whole.strip_prefix(['-', '+']).unwrap_or(whole);
    // `i64::from_str` takes the one sign; digits only after it ("--5" and "-+5" are errors).
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: i64 = whole.parse().ok()?;
    // Before the epoch: the epoch.
    Some(u64::try_from(millis).unwrap_or(0))
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

    #[test]
    fn cache_keys_match_the_official_vectors() {
        assert_eq!(
            cache_key("configcat-sdk-1/TEST_KEY-0123456789012/1234567890123456789012"),
            "f83ba5d45bceb4bb704410f51b704fb6dfa19942"
        );
        assert_eq!(
            cache_key("configcat-sdk-1/TEST_KEY2-123456789012/1234567890123456789012"),
            "da7bfd8662209c8ed3f9db96daed4f8d91ba5876"
        );
    }

    #[test]
    fn entries_are_written_exactly_as_the_official_vector() {
        // The vector of the JS SDK's cache tests (spec §5): its JSON is not a v6 config, which
        // does not matter for writing, since the body is stored byte for byte.
        let json = r#"{"p":{"u":"https://cdn-global.configcat.com","r":0},"f":{"testKey":{"v":"testValue","t":1,"p":[],"r":[]}}}"#;
        let entry = ConfigEntry {
            config: Arc::new(Config::default()),
            json: Arc::from(json),
            etag: Some("test-etag".into()),
            fetch_time: UNIX_EPOCH + Duration::from_millis(1_686_756_435_844),
        };
        assert_eq!(
            entry.serialize(),
            format!("1686756435844\ntest-etag\n{json}")
        );
        let text = entry.serialize();
        let (millis, etag, body) = split_entry(&text).unwrap();
        assert_eq!((millis, etag, body), (1_686_756_435_844, "test-etag", json));
    }

    #[test]
    fn malformed_entries_are_typed_errors() {
        for (text, why) in [
            ("", "fewer"),
            ("123", "fewer"),
            ("123\netag", "fewer"),
            (
                "abc\netag\n{}",
                "Invalid fetch time: the first line (3 bytes)",
            ),
            ("\netag\n{}", "Invalid fetch time: the first line (0 bytes)"),
            (
                "-\netag\n{}",
                "Invalid fetch time: the first line (1 bytes)",
            ),
            (
                "--5\netag\n{}",
                "Invalid fetch time: the first line (3 bytes)",
            ),
            (
                "+-5\netag\n{}",
                "Invalid fetch time: the first line (3 bytes)",
            ),
            (
                ".5\netag\n{}",
                "Invalid fetch time: the first line (2 bytes)",
            ),
            (
                "1.5.5\netag\n{}",
                "Invalid fetch time: the first line (5 bytes)",
            ),
            (
                "1e12\netag\n{}",
                "Invalid fetch time: the first line (4 bytes)",
            ),
            (
                " 12\netag\n{}",
                "Invalid fetch time: the first line (3 bytes)",
            ),
            (
                "12\r\netag\n{}",
                "Invalid fetch time: the first line (3 bytes)",
            ),
            ("123\netag\nnot json", "Invalid config JSON"),
        ] {
            let error = ConfigEntry::deserialize(text).expect_err(text);
            assert!(error.to_string().contains(why), "{text:?}: {error}");
            assert!(split_entry(text).is_err() || why == "Invalid config JSON");
        }
        let multiline = ConfigEntry::deserialize("1\n\n{\n\"f\": {}\n}").unwrap();
        assert_eq!(multiline.etag, None);
        assert_eq!(&*multiline.json, "{\n\"f\": {}\n}");
    }

    #[test]
    fn errors_never_quote_the_entry() {
        // The first line of a planted file, and JSON whose errors would quote a value or
        // name a key.
        for text in [
            "root:password-in-the-first-line\netag\n{}",
            "1\netag\n{\"f\":{\"password-key\":{\"t\":1,\"v\":{\"s\":5}}}}",
            "1\netag\n{\"f\":{\"k\":{\"t\":\"password-value\"}}}",
            "1\netag\npassword-not-json",
        ] {
            let error = ConfigEntry::deserialize(text).expect_err(text);
            assert!(!error.to_string().contains("password"), "{text:?}: {error}");
        }
    }

    fn millis_of(text: &str) -> u64 {
        let entry = ConfigEntry::deserialize(text).expect(text);
        let (millis, _, _) = split_entry(text).unwrap();
        assert_eq!(entry.fetch_time, UNIX_EPOCH + Duration::from_millis(millis));
        millis
    }

    #[test]
    fn fractional_fetch_times_are_truncated_to_the_millisecond() {
        // The Python SDK reads the time with `float()`, so such entries exist.
        assert_eq!(millis_of("1686756435844.5\ne\n{}"), 1_686_756_435_844);
        assert_eq!(millis_of("1686756435844.999\ne\n{}"), 1_686_756_435_844);
        assert_eq!(millis_of("1686756435844.\ne\n{}"), 1_686_756_435_844);
        assert_eq!(millis_of("+1686756435844.0\ne\n{}"), 1_686_756_435_844);
        assert_eq!(millis_of("0.9\ne\n{}"), 0);
    }

    #[test]
    fn negative_fetch_times_are_the_epoch() {
        // Every official SDK reads a negative time as a time before 1970: the entry is as old
        // as can be. The epoch keeps that meaning (expired) for a type that starts there.
        for text in [
            "-5\ne\n{}",
            "-0\ne\n{}",
            "-0.5\ne\n{}",
            "-1686756435844\ne\n{}",
            "-9223372036854775808\ne\n{}",
        ] {
            assert_eq!(millis_of(text), 0, "{text:?}");
            assert_eq!(
                ConfigEntry::deserialize(text).unwrap().fetch_time,
                UNIX_EPOCH
            );
        }
    }

    #[test]
    fn huge_fetch_times_are_errors_never_overflows() {
        // The largest time the Go and Rust SDKs read (i64 ms) is kept as it is wherever
        // `SystemTime` can hold it (everywhere but Windows); beyond, as those SDKs do, the
        // entry is invalid (2200), and nothing panics.
        let max = i64::MAX.to_string();
        match UNIX_EPOCH.checked_add(Duration::from_millis(i64::MAX as u64)) {
            Some(time) => {
                let text = format!("{max}\ne\n{{}}");
                assert_eq!(millis_of(&text), i64::MAX as u64);
                assert_eq!(ConfigEntry::deserialize(&text).unwrap().fetch_time, time);
            }
            None => assert!(split_entry(&format!("{max}\ne\n{{}}")).is_err()),
        }
        for time in [
            "9223372036854775808".to_owned(),
            u64::MAX.to_string(),
            format!("{}.5", u64::MAX),
            "-99999999999999999999999".to_owned(),
            "1".repeat(400),
        ] {
            let text = format!("{time}\ne\n{{}}");
            let error = ConfigEntry::deserialize(&text).expect_err(&time);
            assert!(
                error
                    .to_string()
                    .starts_with("Invalid fetch time: the first line ("),
                "{error}"
            );
            assert!(!error.to_string().contains(&time), "{error}");
            assert!(split_entry(&text).is_err());
        }
    }

    #[test]
    fn a_fetch_time_in_the_future_is_kept_as_it_is() {
        let in_a_day = SystemTime::now() + Duration::from_secs(24 * 3600);
        let millis = in_a_day.duration_since(UNIX_EPOCH).unwrap().as_millis();
        let text = format!("{millis}\ne\n{{}}");
        assert_eq!(u128::from(millis_of(&text)), millis);
        let entry = ConfigEntry::deserialize(&text).unwrap();
        assert!(entry.fetch_time > SystemTime::now());
        assert_eq!(entry.age(), Duration::ZERO);
        assert_eq!(entry.serialize(), text);
    }

    fn entry_with_etag(json: &str, etag: Option<&str>) -> ConfigEntry {
        ConfigEntry {
            config: Arc::new(Config::parse(json).unwrap()),
            json: Arc::from(json),
            etag: etag.map(str::to_owned),
            fetch_time: UNIX_EPOCH + Duration::from_millis(1_686_756_435_844),
        }
    }

    #[test]
    fn an_entry_without_an_etag_is_written_with_one_derived_from_its_json() {
        let json = r#"{"f":{"k":{"t":1,"v":{"s":"a"}}}}"#;
        let other_json = r#"{"f":{"k":{"t":1,"v":{"s":"b"}}}}"#;
        // No ETag, an empty one, and one with a line break (which would shift the parts).
        for etag in [None, Some(""), Some("bad\netag"), Some("bad\r")] {
            let text = entry_with_etag(json, etag).serialize();
            let parts: Vec<&str> = text.splitn(3, '\n').collect();
            let [millis, read_etag, body] = parts[..] else {
                panic!("three parts: {text:?}")
            };
            assert_eq!((millis, body), ("1686756435844", json), "{etag:?}");
            // What the Python and Go SDKs require: a non-empty ETag...
            assert!(!read_etag.is_empty(), "{etag:?}");
            assert_eq!(read_etag, derived_etag(json));
            // ...that tells configs apart as the JSON does.
            assert_ne!(
                read_etag,
                derived_etag(other_json),
                "different configs, different ETags"
            );
            // Read back here: no ETag, as downloaded (so it is never sent as If-None-Match).
            assert_eq!(split_entry(&text).unwrap(), (1_686_756_435_844, "", json));
            let read = ConfigEntry::deserialize(&text).unwrap();
            assert_eq!(read.etag, None);
            assert_eq!(&*read.json, json);
        }
        // A real ETag that merely looks similar is kept.
        for etag in [
            "W/\"configcat-actix-sha256:abc\"",
            "W/\"configcat-actix-sha256:\"",
            "W/\"configcat-actix\"",
        ] {
            let text = entry_with_etag(json, Some(etag)).serialize();
            assert_eq!(split_entry(&text).unwrap().1, etag);
            assert_eq!(
                ConfigEntry::deserialize(&text).unwrap().etag.as_deref(),
                Some(etag)
            );
        }
    }

    #[test]
    fn heads_give_the_time_and_the_etag_line_as_written() {
        let entry = entry_with_etag("{}", None).serialize();
        let etag_line = derived_etag("{}");
        let head = head_of(&entry, head_bytes(etag_line.len()));
        // A derived ETag stays as written: heads are compared with what the cache holds.
        assert_eq!(
            split_head(head),
            Some((1_686_756_435_844, etag_line.as_str()))
        );
        assert_eq!(split_head("5\n\n{}"), Some((5, "")));
        assert_eq!(
            split_head("1686756435844.5\ne\n"),
            Some((1_686_756_435_844, "e"))
        );
        for cut in ["", "5", "5\n", "5\netag", "x\ne\n{}", "-\ne\n"] {
            assert_eq!(split_head(cut), None, "{cut:?}");
        }
        // Cut on a character, never inside one.
        assert_eq!(head_of("ab\u{e9}c", 3), "ab");
        assert_eq!(head_of("ab\u{e9}c", 4), "ab\u{e9}");
        assert_eq!(head_of("ab", 10), "ab");
    }

    #[test]
    fn only_the_same_etag_line_and_time_width_can_be_touched() {
        let entry = b"1686756435844\ne\n{}";
        assert!(touchable(entry, "e", "1686756499999"));
        assert!(!touchable(entry, "", "1686756499999"));
        assert!(!touchable(entry, "e\n{", "1686756499999"));
        assert!(!touchable(entry, "f", "1686756499999"));
        assert!(!touchable(entry, "e", "168675649999"));
        assert!(!touchable(entry, "e", "16867564999999"));
        assert!(!touchable(entry, "e", "168675649999x"));
        assert!(!touchable(b"1686756435844\ne", "e", "1686756499999"));
        assert!(!touchable(b"", "e", ""));
        assert!(
            touchable(b"5\n\n{}", "", "6"),
            "an empty ETag line is a line too"
        );
    }

    #[test]
    fn an_empty_etag_written_by_another_sdk_is_read_as_none() {
        // The JS and Rust SDKs write an empty ETag when the CDN sent none.
        assert_eq!(split_entry("5\n\n{}").unwrap(), (5, "", "{}"));
        assert_eq!(ConfigEntry::deserialize("5\n\n{}").unwrap().etag, None);
    }

    #[test]
    fn times_that_cannot_be_read_back_are_never_written() {
        let mut entry = entry_with_etag("{}", Some("e"));
        entry.fetch_time = UNIX_EPOCH - Duration::from_secs(1);
        assert!(entry.serialize().starts_with("0\ne\n"));
        if let Some(far) = UNIX_EPOCH.checked_add(Duration::from_secs(u64::MAX / 2)) {
            entry.fetch_time = far;
            assert_eq!(
                entry.serialize(),
                format!("{}\ne\n{{}}", i64::MAX),
                "clamped to what the Go and Rust SDKs read"
            );
        }
    }

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

        let error = CacheError::from_source(EntryError("bad".into()));
        assert_eq!(error.to_string(), "bad");
        assert_eq!(
            error.source().unwrap().downcast_ref::<EntryError>(),
            Some(&EntryError("bad".into()))
        );
        let plain = CacheError::new(String::from("plain"));
        assert_eq!(
            (plain.to_string(), plain.source().is_none()),
            ("plain".into(), true)
        );
    }
}
