//! One cache entry in the cross-SDK shared format (spec §5): the key it is stored under
//! ([`cache_key`]), its text `"<fetch time ms>\n<etag>\n<config json>"`
//! ([`ConfigEntry::serialize`], [`ConfigEntry::deserialize`]), and the head (time and ETag
//! lines) a fleet reads and touches instead of the whole entry.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::CacheError;
use crate::model::Config;

/// A downloaded config with what the protocol needs to refresh it.
#[derive(Debug, Clone)]
pub struct ConfigEntry {
    /// The parsed config.
    pub config: Arc<Config>,
    /// The response body, byte for byte: what the shared cache stores.
    pub json: Arc<str>,
    /// The ETag the CDN sent with it.
    pub etag: Option<String>,
    /// When it was downloaded or last confirmed unchanged (a 304).
    pub fetch_time: SystemTime,
}

impl ConfigEntry {
    /// How long ago the entry was fetched; zero for an entry dated in the future.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::{Duration, SystemTime};
    /// use configcat_actix::{Config, ConfigEntry};
    /// let entry = ConfigEntry {
    ///     config: Arc::new(Config::default()),
    ///     json: Arc::from("{}"),
    ///     etag: None,
    ///     fetch_time: SystemTime::now() + Duration::from_secs(86_400),
    /// };
    /// assert_eq!(entry.age(), Duration::ZERO);
    /// ```
    pub fn age(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.fetch_time)
            .unwrap_or_default()
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
    /// # Ok::<(), configcat_actix::cache::CacheError>(())
    /// ```
    ///
    /// # Errors
    /// A [`CacheError`] that [`is_invalid_entry`](CacheError::is_invalid_entry) when a part is
    /// missing, the time is not a number of milliseconds (or does not fit a signed 64-bit
    /// integer, as the Go and Rust SDKs read it), or the JSON is not a config.
    pub fn deserialize(text: &str) -> Result<ConfigEntry, CacheError> {
        let (millis, etag, json) = split_entry(text)?;
        // Where, never what: an entry may come from a file or a Redis others write, and its
        // text must not reach a log line (a JSON error can quote it, its path names keys).
        let config = Config::parse(json).map_err(|e| {
            CacheError::invalid_entry(format!(
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
/// [`ConfigCache::touch`](super::ConfigCache::touch) checks.
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

/// The value [`ConfigCache::touch`](super::ConfigCache::touch) leaves: `value` with its time line replaced by
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
pub(crate) fn split_entry(text: &str) -> Result<(u64, &str, &str), CacheError> {
    let mut parts = text.splitn(3, '\n');
    let (Some(time), Some(etag), Some(json)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(CacheError::invalid_entry(
            "Number of values is fewer than expected.",
        ));
    };
    let millis = parse_millis(time)
        .filter(|&millis| fetch_time(millis).is_some())
        .ok_or_else(|| {
            // The first line is not quoted: it may be the first line of anything.
            CacheError::invalid_entry(format!(
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
}
