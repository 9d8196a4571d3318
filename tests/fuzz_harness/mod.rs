//! What the fuzz targets run, shared with tests/it/fuzz_regressions.rs so that every kept input
//! replays through exactly the code the fuzzer ran. The targets in fuzz/fuzz_targets/ include
//! this file with `#[path]`; it only uses the crate's public API and its regular dependencies.
//!
//! Both functions panic (an assertion) when a property that holds by the spec is broken; any
//! other panic inside the crate is a bug the fuzzer reports as a crash.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use configcat_actix::cache::CacheError;
use configcat_actix::eval::{self, EvaluationError, Selection};
use configcat_actix::overrides::{OverrideBehaviour, merge};
use configcat_actix::{
    Config, ConfigEntry, LogLevel, MemoryLog, NoLog, ParseError, User, UserValue, Value,
};

/// At most this many flags are evaluated per input, so that a big config stays fast.
pub const MAX_FLAGS: usize = 64;

/// How a `config_eval` input ended.
#[derive(Debug)]
pub enum ConfigEvalOutcome {
    /// The bytes are not UTF-8: the client refuses such a body before parsing (event 1105).
    NotUtf8,
    /// `Config::parse` refused the text.
    Invalid(ParseError),
    /// The config parsed; `evaluated` flags were evaluated, `failed` of them (with no user)
    /// returned the default because the config is broken for that flag (event 1002).
    Evaluated { evaluated: usize, failed: usize },
}

/// How a `cache_entry` input ended.
#[derive(Debug)]
pub enum CacheEntryOutcome {
    /// The bytes are not UTF-8: a cache that holds text never returns them.
    NotUtf8,
    /// `ConfigEntry::deserialize` refused the text.
    Invalid(CacheError),
    /// A valid entry, which survived the round trip.
    Valid(ConfigEntry),
}

/// Parses arbitrary bytes as config JSON and evaluates every flag (up to [`MAX_FLAGS`]) for
/// no user, fixed users and users built from the config's own conditions, with the INFO
/// evaluation log on and off; then merges the config with local overrides both ways and
/// evaluates the merge.
pub fn config_eval(data: &[u8]) -> ConfigEvalOutcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return ConfigEvalOutcome::NotUtf8;
    };
    let config = match Config::parse(text) {
        Ok(config) => config,
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains(error.path()),
                "the message names the path: {message}"
            );
            assert!(error.line() >= 1, "lines are 1-based: {error:?}");
            return ConfigEvalOutcome::Invalid(error);
        }
    };
    let mut users: Vec<Option<User>> = vec![None];
    users.extend(fixed_users().iter().cloned().map(Some));
    users.extend(users_from_conditions(text).into_iter().map(Some));

    let keys = sorted_keys(&config);
    let mut failed = 0;
    for key in &keys {
        for user in &users {
            let fatal = evaluate_flag(&config, key, user.as_ref());
            if fatal && user.is_none() {
                failed += 1;
            }
        }
    }
    let _ = eval::key_and_value(&config, "no-such-variation", &NoLog);

    exercise_overrides(&config);
    ConfigEvalOutcome::Evaluated {
        evaluated: keys.len(),
        failed,
    }
}

/// Reads an external cache entry and checks what the shared format promises: the three parts
/// come back as written, and writing the entry and reading it again gives the same entry.
pub fn cache_entry(data: &[u8]) -> CacheEntryOutcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return CacheEntryOutcome::NotUtf8;
    };
    let entry = match ConfigEntry::deserialize(text) {
        Ok(entry) => entry,
        Err(error) => {
            assert!(!error.to_string().is_empty(), "errors say what is wrong");
            return CacheEntryOutcome::Invalid(error);
        }
    };
    // `<fetch time ms>\n<etag>\n<config json>`: the JSON is the rest, newlines and all.
    let mut parts = text.splitn(3, '\n');
    let (Some(time), Some(etag), Some(json)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("an entry of fewer than three parts was accepted: {text:?}");
    };
    // Whole milliseconds, a fraction truncated, before the epoch as the epoch (spec §5, as the
    // other SDKs read it).
    let whole = time.split_once('.').map_or(time, |(whole, _)| whole);
    let millis: i64 = whole
        .parse()
        .unwrap_or_else(|_| panic!("an invalid fetch time was accepted: {time:?}"));
    let millis = u64::try_from(millis).unwrap_or(0);
    assert_eq!(entry.fetch_time, UNIX_EPOCH + Duration::from_millis(millis));
    // An empty ETag, or the one this crate derives for an entry without one, is no ETag.
    let no_etag = etag.is_empty() || etag.starts_with("W/\"configcat-actix-sha256:");
    assert!(
        entry.etag.as_deref() == Some(etag) || (entry.etag.is_none() && no_etag),
        "{:?} read from {etag:?}",
        entry.etag
    );
    assert_eq!(&*entry.json, json);
    assert!(Config::parse(json).is_ok(), "the JSON alone is a config");

    let written = entry.serialize();
    let reread = ConfigEntry::deserialize(&written)
        .unwrap_or_else(|e| panic!("a written entry cannot be read back ({e}): {written:?}"));
    assert_eq!(reread.fetch_time, entry.fetch_time);
    assert_eq!(reread.etag, entry.etag);
    assert_eq!(reread.json, entry.json);
    assert_eq!(reread.config.preferences(), entry.config.preferences());
    assert_eq!(
        sorted_keys(&reread.config),
        sorted_keys(&entry.config),
        "the same settings"
    );
    assert_eq!(reread.serialize(), written, "writing is stable");
    CacheEntryOutcome::Valid(entry)
}

/// Evaluates one flag every way the API allows and checks that the ways agree; tells whether
/// the config is broken for the flag (a fatal error, event 1002).
fn evaluate_flag(config: &Config, key: &str, user: Option<&User>) -> bool {
    let quiet = eval::evaluate::<Value>(config, key, None, user, &NoLog);
    let log = MemoryLog::new(LogLevel::Info);
    let logged = eval::evaluate::<Value>(config, key, None, user, &log);
    assert_same(&quiet, &logged, key);
    let events = log.take();
    let evaluating = format!("Evaluating '{key}'");
    assert!(
        events
            .iter()
            .any(|e| e.event_id == 5000 && e.message.starts_with(&evaluating)),
        "an evaluation log for '{key}': {events:?}"
    );
    if let Err(error) = &quiet {
        assert!(
            events.iter().any(|e| e.event_id == error.event_id()),
            "event {} logged for {error:?}: {events:?}",
            error.event_id()
        );
    }

    let details = eval::evaluate_details(config, key, Value::Bool(false), user, None, &log);
    let _ = log.take();
    if let (Ok(selection), Some(_)) = (&quiet, config.settings()[key].setting_type()) {
        assert!(!details.is_default_value, "'{key}': {details:?}");
        assert!(same_value(&details.value, selection.value));
        assert_eq!(details.variation_id.as_deref(), selection.variation_id);
    }

    let as_bool = eval::evaluate_value(config, key, false, user, &NoLog);
    let as_text = eval::evaluate_value(config, key, String::new(), user, &NoLog);
    let as_int = eval::evaluate_value(config, key, 0_i64, user, &NoLog);
    let as_float = eval::evaluate_value(config, key, 0.0_f64, user, &NoLog);
    match quiet {
        Ok(Selection { value, .. }) => {
            match value {
                Value::Bool(b) => assert_eq!(as_bool, *b),
                Value::String(s) => assert_eq!(as_text, **s),
                Value::Int(i) => assert_eq!(as_int, *i),
                Value::Double(d) => assert!(same_float(as_float, *d)),
            }
            if let Some(id) = quiet.as_ref().ok().and_then(|s| s.variation_id) {
                let _ = eval::key_and_value(config, id, &NoLog);
            }
            false
        }
        Err(EvaluationError::InvalidConfig(_)) => true,
        Err(error) => panic!("'{key}' is in the config and no default was given: {error:?}"),
    }
}

/// Two evaluations of one flag with the same input: logging must not change the result.
fn assert_same(
    a: &Result<Selection<'_>, EvaluationError>,
    b: &Result<Selection<'_>, EvaluationError>,
    key: &str,
) {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            assert!(same_value(a.value, b.value), "'{key}': {a:?} / {b:?}");
            assert_eq!(a.variation_id, b.variation_id, "'{key}'");
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "'{key}'"),
        _ => panic!("'{key}': logging changed the result: {a:?} / {b:?}"),
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => same_float(*x, *y),
        _ => a == b,
    }
}

fn same_float(x: f64, y: f64) -> bool {
    x.to_bits() == y.to_bits() || x == y
}

fn sorted_keys(config: &Config) -> Vec<String> {
    let mut keys: Vec<String> = config.settings().keys().map(|k| k.to_string()).collect();
    keys.sort_unstable();
    keys.truncate(MAX_FLAGS);
    keys
}

/// Users that do not depend on the input: the well-known attributes set, and custom ones of
/// every kind (numbers, versions, dates, lists), including the awkward values.
pub fn fixed_users() -> &'static [User] {
    static USERS: OnceLock<Vec<User>> = OnceLock::new();
    USERS.get_or_init(|| {
        vec![
            User::new(""),
            User::new("user-42")
                .email("a@example.com")
                .country("Hungary")
                .custom("Version", "1.2.3-rc.1+build.5")
                .custom("SemVer", semver::Version::new(2, 0, 0))
                .custom("Number", "3,5")
                .custom("Float", 1e21)
                .custom("Int", i64::MIN)
                .custom("NaN", f64::NAN)
                .custom("Date", "1693497600.5")
                .custom(
                    "DateTime",
                    UNIX_EPOCH + Duration::from_millis(1_693_497_600_123),
                )
                .custom("Roles", vec!["admin", "ʄǟռƈʏ"])
                .custom("RolesJson", r#"["admin","billing"]"#),
            User::new("ʄǟռƈʏ 🙂")
                .email("")
                .country("  ")
                .custom("Identifier", "shadowed")
                .custom("Number", f64::NEG_INFINITY)
                .custom("Version", " 1.0.0 ")
                .custom("Date", before_epoch()),
        ]
    })
}

fn before_epoch() -> SystemTime {
    UNIX_EPOCH - Duration::from_secs(62_135_596_800)
}

/// The values [`users_from_conditions`] cycles through for its "awkward" user.
fn awkward_values() -> Vec<UserValue> {
    vec![
        UserValue::Float(f64::NAN),
        UserValue::Float(f64::INFINITY),
        UserValue::Float(-0.0),
        UserValue::Float(1e-7),
        UserValue::Float(f64::MAX),
        UserValue::Int(i64::MAX),
        UserValue::Int(-1),
        UserValue::DateTime(before_epoch()),
        UserValue::DateTime(UNIX_EPOCH + Duration::from_secs(253_402_300_800)),
        UserValue::SemVer(semver::Version::parse("1.0.0-alpha.1+meta").unwrap()),
        UserValue::StringList(vec![]),
        UserValue::StringList(vec!["".into(), "\"quoted\"".into(), "ü".into()]),
        UserValue::String("Infinity".into()),
        UserValue::String(" 1.0.0 ".into()),
        UserValue::String("[\"a\"]".into()),
        UserValue::String("1e400".into()),
    ]
}

/// Users whose attributes are the comparison values of the config's own user conditions, so
/// that rules match (and go on to segments, prerequisites and percentage options) instead of
/// failing on a missing attribute: one with the first comparison value as text, one with the
/// whole list as a list, one with awkward values of every kind under the same names.
fn users_from_conditions(text: &str) -> Vec<User> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    collect_conditions(&json, &mut found, 0);
    if found.is_empty() {
        return Vec::new();
    }
    let awkward = awkward_values();
    let mut as_text = User::new("fuzz");
    let mut as_list = User::new("fuzz");
    let mut as_awkward = User::new("fuzz");
    let mut names = BTreeSet::new();
    for (i, (attribute, value)) in found.into_iter().enumerate() {
        if !names.insert(attribute.clone()) {
            continue;
        }
        let (first, list) = match value {
            Comparison::Text(s) => (UserValue::String(s.clone()), UserValue::StringList(vec![s])),
            Comparison::Number(n) => (UserValue::Float(n), UserValue::Int(n as i64)),
            Comparison::List(items) => (
                UserValue::String(items.first().cloned().unwrap_or_default()),
                UserValue::StringList(items),
            ),
        };
        as_text = with_attribute(as_text, &attribute, first);
        as_list = with_attribute(as_list, &attribute, list);
        let odd = awkward[i % awkward.len()].clone();
        as_awkward = with_attribute(as_awkward, &attribute, odd);
    }
    vec![as_text, as_list, as_awkward]
}

fn with_attribute(user: User, name: &str, value: UserValue) -> User {
    let text = match &value {
        UserValue::String(s) => Some(s.clone()),
        _ => None,
    };
    match (name, text) {
        ("Identifier", Some(s)) => {
            let mut renamed = User::new(s);
            if let Some(email) = user.get_email() {
                renamed = renamed.email(email);
            }
            if let Some(country) = user.get_country() {
                renamed = renamed.country(country);
            }
            renamed
        }
        ("Email", Some(s)) => user.email(s),
        ("Country", Some(s)) => user.country(s),
        _ => user.custom(name, value),
    }
}

enum Comparison {
    Text(String),
    Number(f64),
    List(Vec<String>),
}

/// Finds `{"a": <attribute>, "c": <comparator>, ...}` objects: user conditions, wherever they
/// are (rules or segments). At most 32, so that a huge config stays fast.
fn collect_conditions(
    json: &serde_json::Value,
    found: &mut Vec<(String, Comparison)>,
    depth: usize,
) {
    if found.len() >= 32 || depth > 64 {
        return;
    }
    match json {
        serde_json::Value::Object(map) => {
            if let (Some(serde_json::Value::String(attribute)), Some(_)) =
                (map.get("a"), map.get("c"))
            {
                let value = if let Some(serde_json::Value::String(s)) = map.get("s") {
                    Some(Comparison::Text(s.clone()))
                } else if let Some(n) = map.get("d").and_then(serde_json::Value::as_f64) {
                    Some(Comparison::Number(n))
                } else if let Some(serde_json::Value::Array(items)) = map.get("l") {
                    let items = items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_owned))
                        .collect();
                    Some(Comparison::List(items))
                } else {
                    None
                };
                if let Some(value) = value {
                    found.push((attribute.clone(), value));
                }
            }
            for value in map.values() {
                collect_conditions(value, found, depth + 1);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_conditions(item, found, depth + 1);
            }
        }
        _ => {}
    }
}

/// A small local config with a rule, a prerequisite on a flag the remote config may have, and
/// a salt of its own.
fn local_overrides() -> &'static Config {
    static LOCAL: OnceLock<Config> = OnceLock::new();
    LOCAL.get_or_init(|| {
        Config::parse(
            r#"{"p":{"s":"local-salt"},"f":{
                "isAwesome":{"t":0,"v":{"b":true}},
                "local":{"t":1,"v":{"s":"local"},"r":[{"c":[{"p":{"f":"isAwesome","c":0,"v":{"b":true}}}],"s":{"v":{"s":"prerequisite held"}}}]},
                "hashed":{"t":2,"v":{"i":1},"r":[{"c":[{"u":{"a":"Email","c":20,"s":"0000000000000000000000000000000000000000000000000000000000000000"}}],"s":{"v":{"i":2}}}]}
            }}"#,
        )
        .expect("the local overrides parse")
    })
}

/// Merges the config with local overrides in every behaviour, as remote and as local, and
/// evaluates the merge.
fn exercise_overrides(config: &Config) {
    let local = local_overrides();
    let user = fixed_users().get(1);
    for behaviour in [
        OverrideBehaviour::LocalOnly,
        OverrideBehaviour::LocalOverRemote,
        OverrideBehaviour::RemoteOverLocal,
    ] {
        for (remote, local) in [(config, local), (local, config)] {
            let merged = merge(Some(remote), local, behaviour);
            let expected: BTreeSet<_> = match behaviour {
                OverrideBehaviour::LocalOnly => local.settings().keys().collect(),
                _ => remote
                    .settings()
                    .keys()
                    .chain(local.settings().keys())
                    .collect(),
            };
            assert_eq!(
                merged.settings().keys().collect::<BTreeSet<_>>(),
                expected,
                "{behaviour:?}"
            );
            for key in sorted_keys(&merged) {
                let _ = eval::evaluate::<Value>(&merged, &key, None, user, &NoLog);
            }
        }
    }
}
