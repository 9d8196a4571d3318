//! External caches: where a client keeps the config it downloaded so that other processes, and
//! the official ConfigCat SDKs, can use the same download.
//!
//! Every cache stores the cross-SDK shared format (spec §5): under the key
//! [`cache_key`]`(sdk_key)` = SHA-1 hex of `"<sdk key>_config_v6.json_v2"`, the text
//! `"<fetch time ms>\n<etag>\n<config json>"` ([`ConfigEntry::serialize`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use sha1::{Digest, Sha1};

use crate::model::Config;
use crate::snapshot::ConfigEntry;

/// A place to keep the serialized config entry: a file, Redis, anything shared.
///
/// Both methods return futures so that a networked cache never blocks the arbiter the client
/// runs on. A failing cache is logged (events 2200 and 2201) and otherwise ignored: the client
/// keeps its in-memory config and keeps evaluating.
///
/// ```
/// use configcat_actix::cache::{CacheError, ConfigCache};
/// use futures_util::future::BoxFuture;
///
/// /// A cache that forgets everything.
/// struct Forgetful;
///
/// impl ConfigCache for Forgetful {
///     fn get(&self, _key: &str) -> BoxFuture<'static, Result<Option<String>, CacheError>> {
///         Box::pin(async { Ok(None) })
///     }
///     fn set(&self, _key: &str, _value: String) -> BoxFuture<'static, Result<(), CacheError>> {
///         Box::pin(async { Ok(()) })
///     }
/// }
/// ```
pub trait ConfigCache: Send + Sync + 'static {
    /// The value stored under `key`, if any.
    fn get(&self, key: &str) -> BoxFuture<'static, Result<Option<String>, CacheError>>;

    /// Stores `value` under `key`.
    fn set(&self, key: &str, value: String) -> BoxFuture<'static, Result<(), CacheError>>;
}

/// Why a cache could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheError(pub String);

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CacheError {}

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
    let digest = Sha1::digest(format!("{sdk_key}_config_v6.json_v2").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a cached text is not a valid entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError(String);

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EntryError {}

impl ConfigEntry {
    /// The shared cache format: `"<fetch time ms>\n<etag>\n<config json>"`, the JSON being the
    /// response body byte for byte.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use configcat_actix::{Config, ConfigEntry};
    /// let json = r#"{"f":{"testKey":{"t":1,"v":{"s":"testValue"}}}}"#;
    /// let entry = ConfigEntry {
    ///     config: Arc::new(Config::parse(json)?),
    ///     json: Arc::from(json),
    ///     etag: Some("test-etag".to_owned()),
    ///     fetch_time: UNIX_EPOCH + Duration::from_millis(1686756435844),
    /// };
    /// let text = entry.serialize();
    /// assert_eq!(text, format!("1686756435844\ntest-etag\n{json}"));
    /// let read = ConfigEntry::deserialize(&text)?;
    /// assert_eq!((read.fetch_time, read.etag), (entry.fetch_time, entry.etag));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn serialize(&self) -> String {
        let millis = self
            .fetch_time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!(
            "{millis}\n{}\n{}",
            self.etag.as_deref().unwrap_or(""),
            self.json
        )
    }

    /// Reads the shared cache format; the JSON may itself contain newlines.
    ///
    /// # Errors
    /// An [`EntryError`] when a part is missing, the time is not a number of milliseconds, or
    /// the JSON is not a config.
    pub fn deserialize(text: &str) -> Result<ConfigEntry, EntryError> {
        let (millis, etag, json) = split_entry(text)?;
        let config =
            Config::parse(json).map_err(|e| EntryError(format!("Invalid config JSON: {e}")))?;
        Ok(ConfigEntry {
            config: Arc::new(config),
            json: Arc::from(json),
            etag: (!etag.is_empty()).then(|| etag.to_owned()),
            fetch_time: UNIX_EPOCH + Duration::from_millis(millis),
        })
    }
}

/// Splits an entry into fetch time (ms), ETag and JSON without parsing the JSON: enough to
/// tell whether it holds news.
pub(crate) fn split_entry(text: &str) -> Result<(u64, &str, &str), EntryError> {
    let mut parts = text.splitn(3, '\n');
    let (Some(time), Some(etag), Some(json)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(EntryError(
            "Number of values is fewer than expected.".into(),
        ));
    };
    let millis = time
        .parse()
        .map_err(|_| EntryError(format!("Invalid fetch time: {time}")))?;
    Ok((millis, etag, json))
}

/// A cache in this process's memory: lets several clients (or a client and its successor after
/// `Close`) share one download without any infrastructure.
#[derive(Debug, Clone, Default)]
pub struct InMemoryCache {
    entries: Arc<Mutex<HashMap<String, String>>>,
}

impl InMemoryCache {
    /// An empty cache.
    pub fn new() -> InMemoryCache {
        InMemoryCache::default()
    }
}

impl ConfigCache for InMemoryCache {
    fn get(&self, key: &str) -> BoxFuture<'static, Result<Option<String>, CacheError>> {
        let value = self
            .entries
            .lock()
            .map_err(|_| CacheError("the in-memory cache is poisoned".into()))
            .map(|entries| entries.get(key).cloned());
        Box::pin(async move { value })
    }

    fn set(&self, key: &str, value: String) -> BoxFuture<'static, Result<(), CacheError>> {
        let stored = self
            .entries
            .lock()
            .map_err(|_| CacheError("the in-memory cache is poisoned".into()))
            .map(|mut entries| {
                entries.insert(key.to_owned(), value);
            });
        Box::pin(async move { stored })
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
            ("abc\netag\n{}", "Invalid fetch time"),
            ("-5\netag\n{}", "Invalid fetch time"),
            ("123\netag\nnot json", "Invalid config JSON"),
        ] {
            let error = ConfigEntry::deserialize(text).expect_err(text);
            assert!(error.to_string().contains(why), "{text:?}: {error}");
        }
        let multiline = ConfigEntry::deserialize("1\n\n{\n\"f\": {}\n}").unwrap();
        assert_eq!(multiline.etag, None);
        assert_eq!(&*multiline.json, "{\n\"f\": {}\n}");
    }
}
