//! Bad input, one test per kind: empty and malformed SDK keys, unknown flag keys, defaults of
//! another type than the setting, user attributes that are NaN, infinite, huge, invalid
//! semantic versions, invalid dates or malformed list text, malformed override files and
//! corrupt cache entries. Each gets a typed error or the documented default, with its logged
//! event, and never a panic.
//!
//! Attribute tests go through the pure evaluation API (spec §2.3, §2.4: an attribute its
//! comparator cannot read is WARNING 3004, the rule is skipped and evaluation goes on with the
//! next rule); the others through the client, where the existing tests (client.rs,
//! evaluation_api.rs, overrides.rs, client_overrides.rs, shared_cache.rs) do not already.

use crate::support;

use std::sync::{Arc, Mutex};

use actix::Addr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use configcat_actix::cache::{ConfigCache, FileCache, cache_key};
use configcat_actix::log::event;
use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour, OverrideError};
use configcat_actix::*;
use serde_json::json;
use support::{MockCdn, TempDir, memory_log, sdk_key, simple_config, sleep, text};

/// Level, event id and message of each event logged so far (and forgets them).
fn events(log: &MemoryLog) -> Vec<(LogLevel, u32, String)> {
    log.take()
        .into_iter()
        .map(|e| (e.level, e.event_id, e.message))
        .collect()
}

/// Level and event id of each event logged so far (and forgets them).
fn ids(log: &MemoryLog) -> Vec<(LogLevel, u32)> {
    log.take()
        .into_iter()
        .map(|e| (e.level, e.event_id))
        .collect()
}

/// Waits (bounded, 10 s) until `key` reads `expected` through the client; returns the last
/// value read.
async fn eventually(client: &Addr<ConfigCat>, key: &str, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = text(client, key).await;
        if value == expected || Instant::now() >= deadline {
            return value;
        }
        sleep(50).await;
    }
}

// ---------------------------------------------------------------------------------------------
// SDK keys (spec §6.3)
// ---------------------------------------------------------------------------------------------

#[actix_rt::test]
async fn an_empty_sdk_key_is_refused_at_start_with_a_typed_error() {
    let cdn = MockCdn::start();
    for custom_base_url in [false, true] {
        for mode in [
            PollingMode::manual_poll(),
            PollingMode::auto_poll(Duration::from_secs(60)),
        ] {
            let mut builder = ConfigCat::builder("").polling_mode(mode).log_sink(NoLog);
            if custom_base_url {
                builder = builder.base_url(cdn.base_url());
            }
            let error = builder.start().expect_err("an empty key is refused");
            assert_eq!(error, Error::InvalidSdkKey(String::new()));
            assert_eq!(error.to_string(), "SDK Key cannot be empty.");
        }
    }
    // Overrides that still download need a key too.
    let error = ConfigCat::builder("")
        .base_url(cdn.base_url())
        .flag_overrides(FlagOverrides::from_map(
            [("enabled", true)],
            OverrideBehaviour::LocalOverRemote,
        ))
        .log_sink(NoLog)
        .start()
        .expect_err("LocalOverRemote downloads: the key is checked");
    assert_eq!(error, Error::InvalidSdkKey(String::new()));
    assert_eq!(cdn.request_count(), 0, "nothing was requested");

    // Local-only overrides never talk to ConfigCat: the check is skipped, even for "".
    let log = memory_log(LogLevel::Warn);
    let client = ConfigCat::builder("")
        .base_url(cdn.base_url())
        .flag_overrides(FlagOverrides::from_map(
            [("enabled", true)],
            OverrideBehaviour::LocalOnly,
        ))
        .log_sink(log.clone())
        .start()
        .expect("LocalOnly skips the SDK key check");
    assert!(client.send(GetValue::new("enabled", false)).await.unwrap());
    let refreshed = client.send(ForceRefresh).await.unwrap();
    assert!(refreshed.is_err(), "{refreshed:?}");
    client.send(Close).await.unwrap();
    assert_eq!(cdn.request_count(), 0, "nothing was requested");
}

#[actix_rt::test]
async fn malformed_sdk_keys_are_refused_at_start_with_a_typed_error() {
    let p22 = "sdk-key-90123456789012";
    let q22 = "1234567890123456789012";
    let malformed = [
        "abc".to_owned(),
        "configcat-sdk-1/short".to_owned(),
        "configcat-sdk-1/short/short".to_owned(),
        format!("configcat-sdk-1/{p22}"),
        format!("configcat-sdk-1/{p22}/{q22}/"),
        format!("configcat-sdk-1//{p22}/{q22}"),
        format!(" configcat-sdk-1/{p22}/{q22}"),
        format!("configcat-sdk-1/{p22}/{q22} "),
        format!("CONFIGCAT-SDK-1/{p22}/{q22}"),
        format!("configcat-sdk-1/{}/{q22}", &p22[1..]),
        format!("configcat-sdk-1/{p22}x/{q22}"),
        format!("{p22}/{q22}/{q22}"),
        format!("/{p22}/{q22}"),
        "/".to_owned(),
        "//".to_owned(),
        "configcat-proxy/".to_owned(),
    ];
    let cdn = MockCdn::start();
    for key in &malformed {
        for custom_base_url in [false, true] {
            let mut builder = ConfigCat::builder(key.as_str())
                .polling_mode(PollingMode::manual_poll())
                .log_sink(NoLog);
            if custom_base_url {
                builder = builder.base_url(cdn.base_url());
            }
            let error = builder.start().expect_err(key);
            // Quoted masked, as the logs show keys (a malformed key may be a real one).
            let masked = configcat_actix::log::mask_sdk_key(key);
            assert_eq!(error, Error::InvalidSdkKey(masked.clone()), "{key:?}");
            let text = error.to_string();
            assert!(
                text.starts_with(&format!("SDK Key '{masked}' is invalid. A valid key is ")),
                "{text}"
            );
            assert!(text.contains("configcat-sdk-1/<22 characters>/<22 characters>"));
        }
    }
    // The right shape (22 characters that are not `/`, spec §6.3), but characters a URL
    // cannot carry: refused at start all the same, as the CDN URL cannot be built from them.
    // (Reported as an invalid option naming the URL today; an invalid key would do as well.)
    for part in [
        "sdk key 90123456789012",
        "sdk-key\n90123456789012",
        "éééééééééééééééééééééé",
    ] {
        let key = format!("configcat-sdk-1/{part}/{q22}");
        for custom_base_url in [false, true] {
            let mut builder = ConfigCat::builder(key.as_str())
                .polling_mode(PollingMode::manual_poll())
                .log_sink(NoLog);
            if custom_base_url {
                builder = builder.base_url(cdn.base_url());
            }
            let error = builder.start().expect_err(&key);
            let masked = configcat_actix::log::mask_sdk_key(&key);
            let refused = match &error {
                Error::InvalidSdkKey(k) => *k == masked,
                // The URL is quoted with the key masked.
                Error::InvalidUrl(why) => why.contains(&masked) && !why.contains(part),
                _ => false,
            };
            assert!(refused, "{key:?}: {error:?}");
        }
    }
    // A proxy key is valid only with a custom base URL.
    let proxy_key = "configcat-proxy/my-proxy-key";
    let error = ConfigCat::builder(proxy_key)
        .log_sink(NoLog)
        .start()
        .expect_err("a proxy key needs a custom base URL");
    assert_eq!(
        error,
        Error::InvalidSdkKey(configcat_actix::log::mask_sdk_key(proxy_key))
    );
    assert_eq!(cdn.request_count(), 0, "nothing was requested");

    // Well formed but unknown to the CDN: the client starts, and the fetch fails with 1100
    // (the SDK key seems to be wrong) while the default is served.
    let key = sdk_key("well-formed-but-unknown");
    let log = memory_log(LogLevel::Warn);
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(log.clone())
        .start()
        .unwrap();
    let refreshed = client.send(ForceRefresh).await.unwrap();
    assert!(
        matches!(&refreshed, Err(RefreshError::Fetch(e))
            if e.to_string().starts_with("Your SDK Key seems to be wrong.")),
        "{refreshed:?}"
    );
    assert_eq!(ids(&log), vec![(LogLevel::Error, 1100)]);
    assert_eq!(text(&client, "greeting").await, "default");
    client.send(Close).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Flag keys and default values (spec §2.1)
// ---------------------------------------------------------------------------------------------

/// A config with one setting of each type, with variation ids.
fn typed_config() -> String {
    json!({"p": {"s": "salt"}, "f": {
        "enabled": {"t": 0, "v": {"b": true}, "i": "v-enabled"},
        "greeting": {"t": 1, "v": {"s": "hello"}, "i": "v-hello"},
        "count": {"t": 2, "v": {"i": 42}, "i": "v-42"},
        "ratio": {"t": 3, "v": {"d": 0.5}, "i": "v-half"}
    }})
    .to_string()
}

/// A manual-poll client of `typed_config()`, refreshed once, with a log at `level` and the
/// details every `on_flag_evaluated` hook call saw.
async fn typed_client(
    cdn: &MockCdn,
    name: &str,
    level: LogLevel,
) -> (
    Addr<ConfigCat>,
    Arc<MemoryLog>,
    Arc<Mutex<Vec<EvaluationDetails<Value>>>>,
) {
    let key = sdk_key(name);
    cdn.set_config(&key, typed_config());
    let log = memory_log(level);
    let evaluated = Arc::new(Mutex::new(Vec::new()));
    let seen = evaluated.clone();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .on_flag_evaluated(move |details| seen.lock().unwrap().push(details.clone()))
        .log_sink(log.clone())
        .start()
        .unwrap();
    (client, log, evaluated)
}

#[actix_rt::test]
async fn an_unknown_flag_key_returns_the_default_and_logs_1001_listing_the_available_keys() {
    let cdn = MockCdn::start();
    let (client, log, evaluated) = typed_client(&cdn, "unknown-flag-key", LogLevel::Warn).await;

    // Before any config: that is 1000 (no config), not 1001.
    assert_eq!(text(&client, "greeting").await, "default");
    let logged = events(&log);
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(
        (logged[0].0, logged[0].1),
        (LogLevel::Error, event::CONFIG_JSON_NOT_AVAILABLE)
    );
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    evaluated.lock().unwrap().clear();

    let available = ["count", "enabled", "greeting", "ratio"];
    // Case matters; so do blanks; the empty key is a key like any other.
    for key in ["nope", "Greeting", "greeting ", ""] {
        assert_eq!(text(&client, key).await, "default", "{key:?}");
        assert_eq!(
            events(&log),
            vec![(
                LogLevel::Error,
                event::SETTING_KEY_MISSING,
                format!(
                    "Failed to evaluate setting '{key}' (the key was not found in config JSON). Returning the `default_value` parameter that you specified in your application: 'default'. Available keys: ['count', 'enabled', 'greeting', 'ratio']."
                )
            )],
            "{key:?}"
        );
        let details = client.send(GetValueDetails::new(key, 7_i64)).await.unwrap();
        assert_eq!(details.value, 7);
        assert!(details.is_default_value);
        assert_eq!(details.variation_id, None);
        assert_eq!(
            details.error,
            Some(EvaluationError::SettingKeyMissing {
                key: key.to_owned(),
                available_keys: available.map(str::to_owned).to_vec(),
            })
        );
        assert_eq!(
            details.error.as_ref().map(EvaluationError::event_id),
            Some(1001)
        );
        assert_eq!(ids(&log), vec![(LogLevel::Error, 1001)]);
    }
    // The hook saw every one of them as a default value with the error.
    let seen = evaluated.lock().unwrap().clone();
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert!(
        seen.iter().all(|d| d.is_default_value
            && matches!(d.error, Some(EvaluationError::SettingKeyMissing { .. }))),
        "{seen:?}"
    );
    // A snapshot answers the same, and the known keys still evaluate.
    let snapshot = client.send(GetSnapshot).await.unwrap();
    assert!(!snapshot.get_value("nope", false, None));
    assert_eq!(ids(&log), vec![(LogLevel::Error, 1001)]);
    assert_eq!(text(&client, "greeting").await, "hello");
    assert_eq!(ids(&log), vec![]);
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_default_of_another_type_than_the_setting_returns_the_default_and_logs_2002() {
    let cdn = MockCdn::start();
    let (client, log, evaluated) = typed_client(&cdn, "default-type", LogLevel::Warn).await;
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());

    /// One mismatch: the default comes back, 2002 is logged once with both type names.
    async fn mismatch<T>(
        client: &Addr<ConfigCat>,
        log: &MemoryLog,
        key: &str,
        default: T,
        setting_type: &str,
        requested_type: &str,
        shown_default: &str,
    ) where
        T: FlagValue + PartialEq + std::fmt::Debug + Send + 'static,
    {
        assert_eq!(T::type_name(), requested_type);
        let value = client
            .send(GetValue::new(key, default.clone()))
            .await
            .unwrap();
        assert_eq!(value, default, "{key} as {requested_type}");
        assert_eq!(
            events(log),
            vec![(
                LogLevel::Error,
                event::SETTING_TYPE_MISMATCH,
                format!(
                    "Failed to evaluate setting '{key}' (The type of a setting must match the type of the specified default value. Setting's type was {setting_type} but the default value's type was {requested_type}.). Returning the `default_value` parameter that you specified in your application: '{shown_default}'."
                )
            )]
        );
        let details = client
            .send(GetValueDetails::new(key, default.clone()))
            .await
            .unwrap();
        assert_eq!(details.value, default);
        assert!(details.is_default_value);
        assert_eq!(details.variation_id, None);
        assert_eq!(
            details.error,
            Some(EvaluationError::SettingTypeMismatch {
                setting_type: setting_type.to_owned(),
                requested_type: T::type_name(),
            })
        );
        assert_eq!(ids(log), vec![(LogLevel::Error, 2002)]);
    }

    mismatch(
        &client,
        &log,
        "enabled",
        "on".to_owned(),
        "Boolean",
        "String",
        "on",
    )
    .await;
    mismatch(&client, &log, "enabled", 1_i64, "Boolean", "i64", "1").await;
    mismatch(&client, &log, "enabled", 1.0, "Boolean", "f64", "1").await;
    mismatch(&client, &log, "greeting", true, "String", "bool", "true").await;
    mismatch(&client, &log, "greeting", 0_i64, "String", "i64", "0").await;
    mismatch(&client, &log, "count", false, "Int", "bool", "false").await;
    mismatch(
        &client,
        &log,
        "count",
        "42".to_owned(),
        "Int",
        "String",
        "42",
    )
    .await;
    // A whole-number default cannot read a decimal setting (it would lose the fraction).
    mismatch(&client, &log, "ratio", 0_i64, "Double", "i64", "0").await;
    mismatch(&client, &log, "ratio", true, "Double", "bool", "true").await;

    // What does fit: f64 reads whole numbers too, and Value reads anything.
    assert_eq!(
        client.send(GetValue::new("count", 0.0)).await.unwrap(),
        42.0
    );
    assert_eq!(
        client
            .send(GetValue::new("ratio", Value::Bool(false)))
            .await
            .unwrap(),
        Value::Double(0.5)
    );
    assert_eq!(ids(&log), vec![]);
    // The hook saw each mismatch as a default value with its error.
    let seen = evaluated.lock().unwrap().clone();
    let mismatches = seen
        .iter()
        .filter(|d| matches!(d.error, Some(EvaluationError::SettingTypeMismatch { .. })))
        .count();
    assert_eq!(mismatches, 18, "{seen:?}");
    // Every value of GetAllValues is untyped: nothing to mismatch, nothing logged.
    let all = client.send(GetAllValues(None)).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(ids(&log), vec![]);
    client.send(Close).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// User attributes (spec §2.3, §2.4)
// ---------------------------------------------------------------------------------------------

/// A text flag `probe`: its first rule tests `User.A` with `comparator` against the comparison
/// value `operand` (field name and value) and serves "matched"; its second rule serves
/// "next rule" to the user "next"; a 100% option serves "percentage" to everyone else.
fn probe_config(comparator: u8, operand: (&str, serde_json::Value)) -> Config {
    let mut condition = json!({"a": "A", "c": comparator});
    condition[operand.0] = operand.1;
    let config = json!({"p": {"s": "salt"}, "f": {"probe": {"t": 1, "v": {"s": "default"},
        "r": [
            {"c": [{"u": condition}], "s": {"v": {"s": "matched"}}},
            {"c": [{"u": {"a": "Identifier", "c": 0, "l": ["next"]}}], "s": {"v": {"s": "next rule"}}}
        ],
        "p": [{"p": 100, "v": {"s": "percentage"}}]}}});
    Config::parse(&config.to_string()).expect("probe config")
}

/// What evaluating `probe` for `user` gave: the details, the warnings and the INFO 5000 log.
struct Probe {
    details: EvaluationDetails<String>,
    warnings: Vec<(LogLevel, u32, String)>,
    log: String,
}

fn probe(config: &Config, user: &User) -> Probe {
    let log = MemoryLog::new(LogLevel::Info);
    let details = eval::evaluate_details(
        config,
        "probe",
        "default".to_owned(),
        Some(user),
        None,
        &log,
    );
    let mut warnings = events(&log);
    let (level, id, log) = warnings.pop().expect("the evaluation log");
    assert_eq!((level, id), (LogLevel::Info, event::EVALUATION_LOG));
    assert!(details.error.is_none(), "{:?}", details.error);
    assert!(!details.is_default_value);
    Probe {
        details,
        warnings,
        log,
    }
}

/// `A` = `value` is compared (no warning at all) and matches or not.
fn assert_compared(config: &Config, value: impl Into<UserValue>, matched: bool) {
    let value = value.into();
    let result = probe(config, &User::new("next").custom("A", value.clone()));
    let expected = if matched { "matched" } else { "next rule" };
    assert_eq!(result.details.value, expected, "A = {value:?}");
    assert_eq!(result.warnings, vec![], "A = {value:?}");
    let outcome = if matched {
        "=> MATCH, applying rule"
    } else {
        "=> no match"
    };
    assert!(
        result.log.contains(outcome),
        "A = {value:?}: {}",
        result.log
    );
}

/// How warnings quote an attribute value: its first 256 characters, then a note of its size.
fn shortened_in_warnings(value: &str) -> String {
    match value.char_indices().nth(256) {
        Some((cut, _)) => format!(
            "{}...[truncated, {} bytes in total]",
            &value[..cut],
            value.len()
        ),
        None => value.to_owned(),
    }
}

/// `A` = `value` cannot be read by the comparator of the first rule (whose text is
/// `condition`): WARNING 3004 with `reason`, the rule is skipped, and evaluation continues
/// with the next rule (user "next") or the percentage options (anyone else).
fn assert_skipped(config: &Config, condition: &str, value: impl Into<UserValue>, reason: &str) {
    let value = value.into();
    let warning = (
        LogLevel::Warn,
        event::USER_ATTRIBUTE_INVALID,
        format!(
            "Cannot evaluate condition ({condition}) for setting 'probe' ({reason}). Please check the User.A attribute and make sure that its value corresponds to the comparison operator."
        ),
    );
    let next = probe(config, &User::new("next").custom("A", value.clone()));
    assert_eq!(next.details.value, "next rule", "A = {value:?}");
    assert_eq!(next.warnings, vec![warning.clone()], "A = {value:?}");
    let rule = next.details.matched_targeting_rule.expect("the next rule");
    assert_eq!(
        std::ptr::from_ref(&*rule),
        std::ptr::from_ref(&config.settings()["probe"].targeting_rules()[1]),
        "A = {value:?}: the second rule matched"
    );
    let skipped = format!(
        "IF {condition} THEN 'matched' => cannot evaluate, the User.A attribute is invalid ({reason})\n    The current targeting rule is ignored and the evaluation continues with the next rule."
    );
    // A value too long for the INFO log's cap leaves only the start of the user there.
    if next.log.ends_with(eval::LOG_TRUNCATED_NOTE) {
        assert!(next.log.len() <= eval::MAX_EVALUATION_LOG_BYTES + eval::LOG_TRUNCATED_NOTE.len());
        assert!(format!("{value:?}").len() > eval::MAX_EVALUATION_LOG_BYTES / 2);
    } else {
        assert!(
            next.log.contains(&skipped),
            "{skipped}\nnot in\n{}",
            next.log
        );
    }

    let other = probe(config, &User::new("other").custom("A", value.clone()));
    assert_eq!(other.details.value, "percentage", "A = {value:?}");
    assert_eq!(other.warnings, vec![warning], "A = {value:?}");
    assert!(other.details.matched_percentage_option.is_some());
}

const NUMBER_COMPARATORS: [(u8, &str); 6] = [
    (10, "="),
    (11, "!="),
    (12, "<"),
    (13, "<="),
    (14, ">"),
    (15, ">="),
];

#[test]
fn nan_number_attributes_compare_false_except_not_equals() {
    // NaN is a valid number (spec §2.4: `NaN` text is accepted; NaN != x is true): compared
    // as IEEE doubles, never a 3004, whether given as a float or as text.
    let nans: [UserValue; 4] = [
        f64::NAN.into(),
        (-f64::NAN).into(),
        "NaN".into(),
        " NaN ".into(),
    ];
    for (comparator, op) in NUMBER_COMPARATORS {
        for comparison in [0.0, f64::MAX, -1.5] {
            let config = probe_config(comparator, ("d", json!(comparison)));
            for nan in &nans {
                assert_compared(&config, nan.clone(), op == "!=");
            }
        }
    }
    // Dates: NaN is neither before nor after anything.
    for comparator in [18, 19] {
        let config = probe_config(comparator, ("d", json!(1_700_000_000)));
        for nan in &nans {
            assert_compared(&config, nan.clone(), false);
        }
    }
    // Text comparators see the canonical text "NaN" (WARNING 3005 for a non-text value).
    let config = probe_config(28, ("s", json!("NaN")));
    let result = probe(&config, &User::new("next").custom("A", f64::NAN));
    assert_eq!(result.details.value, "matched");
    assert_eq!(result.warnings.len(), 1, "{:?}", result.warnings);
    assert_eq!(
        result.warnings[0].1,
        event::USER_ATTRIBUTE_CONVERTED,
        "{:?}",
        result.warnings
    );
    assert!(result.warnings[0].2.contains("the string value 'NaN'"));
    // The evaluation log shows the user as JSON, where NaN has no literal: null, as
    // JavaScript's JSON.stringify writes it.
    assert!(
        result
            .log
            .starts_with(r#"Evaluating 'probe' for User '{"Identifier":"next","A":null}'"#),
        "{}",
        result.log
    );
    // Only the exact spellings count: Rust's own "nan" is not a number in the other SDKs.
    let config = probe_config(11, ("d", json!(0)));
    for spelling in ["nan", "NAN", "+NaN", "-NaN", "NaN0"] {
        assert_skipped(
            &config,
            "User.A != '0'",
            spelling,
            &format!("'{spelling}' is not a valid decimal number"),
        );
    }
}

#[test]
fn infinite_number_attributes_compare_as_infinities() {
    let positive: [UserValue; 4] = [
        f64::INFINITY.into(),
        "Infinity".into(),
        "+Infinity".into(),
        " Infinity\t".into(),
    ];
    let negative: [UserValue; 2] = [f64::NEG_INFINITY.into(), "-Infinity".into()];
    let above_max = probe_config(14, ("d", json!(f64::MAX)));
    let below_min = probe_config(12, ("d", json!(f64::MIN)));
    let equals_max = probe_config(10, ("d", json!(f64::MAX)));
    for value in &positive {
        assert_compared(&above_max, value.clone(), true);
        assert_compared(&below_min, value.clone(), false);
        assert_compared(&equals_max, value.clone(), false);
    }
    for value in &negative {
        assert_compared(&above_max, value.clone(), false);
        assert_compared(&below_min, value.clone(), true);
    }
    // Dates: +Infinity is after every time, -Infinity before.
    let after = probe_config(19, ("d", json!(1_700_000_000)));
    let before = probe_config(18, ("d", json!(1_700_000_000)));
    for value in &positive {
        assert_compared(&after, value.clone(), true);
        assert_compared(&before, value.clone(), false);
    }
    for value in &negative {
        assert_compared(&after, value.clone(), false);
        assert_compared(&before, value.clone(), true);
    }
    // Spellings the other SDKs reject (Rust's float parser would take some of them).
    for spelling in [
        "inf",
        "-inf",
        "infinity",
        "INFINITY",
        "Inf",
        "∞",
        "Infinity!",
    ] {
        assert_skipped(
            &above_max,
            "User.A > '1.7976931348623157e+308'",
            spelling,
            &format!("'{spelling}' is not a valid decimal number"),
        );
    }
    // Text comparators see "Infinity" / "-Infinity" (3005).
    let config = probe_config(28, ("s", json!("-Infinity")));
    let result = probe(&config, &User::new("next").custom("A", f64::NEG_INFINITY));
    assert_eq!(result.details.value, "matched");
    assert_eq!(
        result.warnings.iter().map(|w| w.1).collect::<Vec<_>>(),
        vec![event::USER_ATTRIBUTE_CONVERTED]
    );
}

#[test]
fn huge_number_attributes_are_compared_not_rejected() {
    let above_1e308 = probe_config(14, ("d", json!(1e308)));
    for value in [
        UserValue::from(f64::MAX),
        "1.7976931348623157e308".into(),
        // Beyond f64: Infinity, as JavaScript's Number() reads it.
        "1e400".into(),
        format!("1{}", "0".repeat(400)).into(),
        format!("{},5", "9".repeat(400)).into(),
    ] {
        assert_compared(&above_1e308, value, true);
    }
    for value in [
        UserValue::from(-f64::MAX),
        "-1e400".into(),
        i64::MAX.into(),
        "1e308".into(),
    ] {
        assert_compared(&above_1e308, value, false);
    }
    // Whole numbers past 2^53 compare as the nearest double, as everywhere else.
    let equals_i64_max = probe_config(10, ("d", json!(i64::MAX)));
    for value in [
        UserValue::from(i64::MAX),
        "9223372036854775807".into(),
        "9223372036854775808".into(),
        (i64::MAX as f64).into(),
    ] {
        assert_compared(&equals_i64_max, value, true);
    }
    assert_compared(&probe_config(10, ("d", json!(i64::MIN))), i64::MIN, true);
    // Underflow is zero; a tiny denormal is not.
    let equals_zero = probe_config(10, ("d", json!(0)));
    assert_compared(&equals_zero, "1e-400", true);
    assert_compared(&equals_zero, "-1e-400", true);
    assert_compared(&equals_zero, 5e-324, false);
    // Long texts parse whole, with a comma as the decimal separator too.
    let equals_half = probe_config(10, ("d", json!(0.5)));
    let zeros = "0".repeat(200);
    for value in [
        format!("0.5{zeros}"),
        format!("0,5{zeros}"),
        format!("{zeros}0,5"),
        format!(" 0,5{zeros} "),
    ] {
        assert_compared(&equals_half, value, true);
    }
    // Huge, but not numbers: rejected with 3004, no panic, whatever the length; the warning
    // quotes the value shortened.
    let junk = format!("{}x", "9".repeat(100_000));
    assert_skipped(
        &above_1e308,
        "User.A > '1e+308'",
        junk.as_str(),
        &format!(
            "'{}' is not a valid decimal number",
            shortened_in_warnings(&junk)
        ),
    );
    assert_skipped(
        &above_1e308,
        "User.A > '1e+308'",
        "1e400e1",
        "'1e400e1' is not a valid decimal number",
    );
    // Text comparators see the JavaScript rendering (3005).
    let config = probe_config(28, ("s", json!("1.7976931348623157e+308")));
    let result = probe(&config, &User::new("next").custom("A", f64::MAX));
    assert_eq!(result.details.value, "matched");
    let config = probe_config(28, ("s", json!("9223372036854775807")));
    let result = probe(&config, &User::new("next").custom("A", i64::MAX));
    assert_eq!(result.details.value, "matched");
}

#[test]
fn invalid_semver_attributes_skip_the_rule_with_3004() {
    let greater = probe_config(8, ("s", json!("1.0.0")));
    // Negated comparators must skip too, not match.
    let not_one_of = probe_config(5, ("l", json!(["1.0.0", "2.0.0"])));
    let invalid = [
        "1.2",
        "1",
        "v1.0.0",
        "V2.0.0",
        "1.0.0.0",
        "01.0.0",
        "1.01.0",
        "1.0.0-",
        "1.0.0+",
        "1.0.0-01",
        "1..0",
        "-1.0.0",
        "1.0.0 beta",
        "latest",
        "99999999999999999999.0.0",
        "١.٠.٠",
        " ",
    ];
    for value in invalid {
        let reason = format!("'{value}' is not a valid semantic version");
        assert_skipped(&greater, "User.A > '1.0.0'", value, &reason);
        assert_skipped(
            &not_one_of,
            "User.A IS NOT ONE OF ['1.0.0', '2.0.0']",
            value,
            &reason,
        );
    }
    // Values of other types have no version in them.
    for (value, shown) in [
        (UserValue::from(2), "2"),
        (UserValue::from(2.5), "2.5"),
        (UserValue::from(vec!["2.0.0"]), r#"["2.0.0"]"#),
    ] {
        assert_skipped(
            &greater,
            "User.A > '1.0.0'",
            value,
            &format!("'{shown}' is not a valid semantic version"),
        );
    }
    // Valid ones compare: trimmed, build metadata ignored, a prerelease before its release.
    assert_compared(&greater, " 2.0.0 ", true);
    assert_compared(&greater, "2.0.0+build.7", true);
    assert_compared(&greater, semver::Version::new(1, 0, 1), true);
    assert_compared(&greater, "1.0.0+build", false);
    assert_compared(&greater, "1.0.0-rc.1", false);
    assert_compared(&not_one_of, "3.0.0", true);
    assert_compared(&not_one_of, "2.0.0+meta", false);
    // An empty attribute is a missing one (3003), not an invalid one.
    let result = probe(&greater, &User::new("next").custom("A", ""));
    assert_eq!(result.details.value, "next rule");
    assert_eq!(
        result
            .warnings
            .iter()
            .map(|w| (w.0, w.1))
            .collect::<Vec<_>>(),
        vec![(LogLevel::Warn, event::USER_ATTRIBUTE_MISSING)]
    );
}

#[test]
fn invalid_date_attributes_skip_the_rule_with_3004() {
    let before = probe_config(18, ("d", json!(1_700_000_000)));
    let after = probe_config(19, ("d", json!(1_700_000_000)));
    let before_text = "User.A BEFORE '1700000000' (2023-11-14T22:13:20.000Z UTC)";
    let after_text = "User.A AFTER '1700000000' (2023-11-14T22:13:20.000Z UTC)";
    let invalid = [
        "not a date",
        "2023-11-14",
        "2023-11-14T22:13:20Z",
        "Tue, 14 Nov 2023 22:13:20 GMT",
        "1,700,000,000",
        "1700000000s",
        "0x6553F100",
        "1e",
        "tomorrow",
        " ",
    ];
    for value in invalid {
        let reason = format!(
            "'{value}' is not a valid Unix timestamp (number of seconds elapsed since Unix epoch)"
        );
        assert_skipped(&before, before_text, value, &reason);
        assert_skipped(&after, after_text, value, &reason);
    }
    for (value, shown) in [
        (UserValue::from(vec!["1700000000"]), r#"["1700000000"]"#),
        (UserValue::from(semver::Version::new(1, 0, 0)), "1.0.0"),
    ] {
        let reason = format!(
            "'{shown}' is not a valid Unix timestamp (number of seconds elapsed since Unix epoch)"
        );
        assert_skipped(&after, after_text, value, &reason);
    }
    // Out-of-range numbers are still numbers: compared, not rejected.
    assert_compared(&after, f64::MAX, true);
    assert_compared(&before, f64::MAX, false);
    assert_compared(&before, -f64::MAX, true);
    assert_compared(&after, "1e400", true);
    assert_compared(&after, i64::MAX, true);
    assert_compared(&before, i64::MIN, true);
    // Equal is neither before nor after.
    assert_compared(&before, 1_700_000_000, false);
    assert_compared(&after, "1700000000", false);
    // Times far from now, either side of the epoch, and beyond JavaScript's dates.
    let far_future = UNIX_EPOCH + Duration::from_secs(10_000_000_000_000);
    let long_ago = UNIX_EPOCH - Duration::from_secs(10_000_000_000);
    assert_compared(&after, far_future, true);
    assert_compared(&before, long_ago, true);
    assert_compared(&after, long_ago, false);
    assert_compared(&before, SystemTime::UNIX_EPOCH, true);
}

#[test]
fn list_attributes_given_as_malformed_json_text_skip_the_rule_with_3004() {
    let contains = probe_config(34, ("l", json!(["read"])));
    // The negated and the hashed (confidential) forms must skip too.
    let not_contains = probe_config(35, ("l", json!(["read"])));
    let hashed = probe_config(26, ("l", json!(["0123456789abcdef"])));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let malformed = [
        "[1,2",
        "{}",
        "[1,2]",
        "read",
        "read, write",
        r#"["read","#,
        r#"["read"]]"#,
        r#"['read']"#,
        "null",
        r#"["read", null]"#,
        r#"[["read"]]"#,
        r#"{"0": "read"}"#,
        r#""read""#,
        "[read]",
        deep.as_str(),
    ];
    for value in malformed {
        let reason = format!(
            "'{}' is not a valid string array",
            shortened_in_warnings(value)
        );
        assert_skipped(
            &contains,
            "User.A ARRAY CONTAINS ANY OF ['read']",
            value,
            &reason,
        );
        assert_skipped(
            &not_contains,
            "User.A ARRAY NOT CONTAINS ANY OF ['read']",
            value,
            &reason,
        );
        assert_skipped(
            &hashed,
            "User.A ARRAY CONTAINS ANY OF [<1 hashed value>]",
            value,
            &reason,
        );
    }
    for (value, shown) in [
        (UserValue::from(1), "1"),
        (UserValue::from(f64::NAN), "NaN"),
        (UserValue::from(semver::Version::new(1, 0, 0)), "1.0.0"),
    ] {
        assert_skipped(
            &contains,
            "User.A ARRAY CONTAINS ANY OF ['read']",
            value,
            &format!("'{shown}' is not a valid string array"),
        );
    }
    // Well-formed JSON arrays of strings are lists, with blanks around them or not.
    assert_compared(&contains, r#"["write","read"]"#, true);
    assert_compared(&contains, " [ \"read\" ] \n", true);
    assert_compared(&contains, r#"["READ", " read"]"#, false);
    assert_compared(&contains, "[]", false);
    assert_compared(&not_contains, "[]", true);
    assert_compared(&contains, vec!["read"], true);
}

// ---------------------------------------------------------------------------------------------
// Override files (spec §6.4)
// ---------------------------------------------------------------------------------------------

#[actix_rt::test]
async fn malformed_override_files_are_logged_1302_and_the_last_good_local_config_kept() {
    // Shapes that tests/overrides.rs does not try, through `load`: typed errors, no panic.
    let dir = TempDir::new("bad-input-overrides");
    let path = dir.file("flags.json");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_flags = format!(
        r#"{{"flags": {{"a": {}{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    for contents in [
        deep.as_str(),
        deep_flags.as_str(),
        "\u{feff}{\"flags\": {\"a\": true}}",
        r#"{"flags": {"a": 1e400}}"#,
        r#"{"flags": {"a": true}} trailing"#,
        r#"{"flags": {"a": true}, "f": 5}"#,
        r#"{"f": {"a": {"t": 0, "v": {"b": true}}}, "s": [{"n": 5}]}"#,
        "null",
        "\"flags\"",
    ] {
        std::fs::write(&path, contents).unwrap();
        let error = FlagOverrides::from_file(&path, OverrideBehaviour::LocalOnly)
            .load()
            .expect_err(&contents[..contents.len().min(60)]);
        assert!(matches!(error, OverrideError::Invalid { .. }), "{error:?}");
        assert_eq!(error.event_id(), 1302);
        assert_eq!(error.path(), path);
    }

    // Through a local-only client: nothing to serve but defaults while the file is bad, the
    // fixed file is picked up by itself, and a new breakage keeps the last good values.
    std::fs::write(&path, r#"{"flags": {"greeting": "hel"#).unwrap();
    let log = memory_log(LogLevel::Warn);
    let client = ConfigCat::builder("any key will do")
        .flag_overrides(FlagOverrides::from_file(
            &path,
            OverrideBehaviour::LocalOnly,
        ))
        .log_sink(log.clone())
        .start()
        .expect("a bad override file is no reason to refuse to start");
    let details = client
        .send(GetValueDetails::new("greeting", "default".to_owned()))
        .await
        .unwrap();
    assert_eq!(details.value, "default");
    assert_eq!(details.error, Some(EvaluationError::ConfigJsonNotAvailable));
    let logged = events(&log);
    assert_eq!(
        logged.iter().map(|e| (e.0, e.1)).collect::<Vec<_>>(),
        vec![
            (LogLevel::Error, 1302),
            (LogLevel::Error, event::CONFIG_JSON_NOT_AVAILABLE)
        ],
        "{logged:?}"
    );
    assert!(
        logged[0].2.starts_with(&format!(
            "Failed to read the local config file '{}'.",
            path.display()
        )),
        "{logged:?}"
    );

    std::fs::write(&path, r#"{"flags": {"greeting": "hello, fixed"}}"#).unwrap();
    assert_eq!(
        eventually(&client, "greeting", "hello, fixed").await,
        "hello, fixed"
    );
    // Only the 1000s of the reads made while waiting; the file is not reported again.
    let waiting = ids(&log);
    assert!(
        waiting
            .iter()
            .all(|e| *e == (LogLevel::Error, event::CONFIG_JSON_NOT_AVAILABLE)),
        "{waiting:?}"
    );

    // Broken again (a longer text, so that the change is seen whatever the clock's grain).
    std::fs::write(&path, r#"{"flags": {"greeting": "broken again, "#).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut logged = Vec::new();
    while logged.is_empty() && Instant::now() < deadline {
        sleep(50).await;
        logged.extend(ids(&log));
    }
    assert_eq!(logged, vec![(LogLevel::Error, 1302)]);
    assert_eq!(text(&client, "greeting").await, "hello, fixed");
    // Logged once per change, not once per check (the file is checked every 500 ms).
    sleep(1200).await;
    assert_eq!(ids(&log), vec![]);
    assert_eq!(text(&client, "greeting").await, "hello, fixed");
    client.send(Close).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Cache entries (spec §5)
// ---------------------------------------------------------------------------------------------

#[actix_rt::test]
async fn corrupt_cache_entries_are_logged_2200_and_replaced_by_the_next_download() {
    // The typed error of each shape, with the messages of spec §5.
    for (entry, message) in [
        ("garbage", "Number of values is fewer than expected."),
        (
            "1686756435844\netag",
            "Number of values is fewer than expected.",
        ),
        ("", "Number of values is fewer than expected."),
        // The first line is never quoted (it may be the first line of any file).
        ("not-a-time\netag\n{}", "Invalid fetch time: the first line"),
        // "-5" and "1.5" are valid since the other SDKs read them (the epoch, and 1 ms:
        // src/cache/external.rs tests them).
        ("--5\netag\n{}", "Invalid fetch time: the first line"),
        ("1.5.5\netag\n{}", "Invalid fetch time: the first line"),
        (
            "99999999999999999999999\netag\n{}",
            "Invalid fetch time: the first line",
        ),
        (
            "1686756435844\netag\n{\"f\":{\"greeting\":",
            "Invalid config JSON",
        ),
        ("1686756435844\netag\n{\"f\": 5}", "Invalid config JSON"),
        ("1686756435844\netag\n", "Invalid config JSON"),
    ] {
        let error = ConfigEntry::deserialize(entry).expect_err(entry);
        assert!(error.to_string().starts_with(message), "{entry:?}: {error}");
    }

    // Through a client: a corrupt entry in a FileCache is logged once with 2200, evaluation
    // goes on (with the default, as nothing else is there), and the next download replaces it.
    let cdn = MockCdn::start();
    let dir = TempDir::new("bad-input-cache");
    let deep = format!("1686756435844\netag\n{}", "[".repeat(100_000));
    let corrupt: [&[u8]; 9] = [
        b"garbage",
        b"1686756435844\netag",
        b"not-a-time\netag\n{}",
        b"99999999999999999999999\netag\n{}",
        b"1686756435844\netag\n{\"f\":{\"greeting\":",
        b"1686756435844\netag\n{\"f\": 5}",
        b"1686756435844\netag\n[1]",
        deep.as_bytes(),
        // Not text at all: an invalid entry in a working cache (`CacheError::invalid_entry`),
        // logged once like the others, and written over before the download is served.
        b"\xff\xfe1686756435844\netag\n{}",
    ];
    for (i, bytes) in corrupt.into_iter().enumerate() {
        let key = sdk_key(&format!("corrupt-cache-{i}"));
        cdn.set_config(&key, simple_config("greeting", "downloaded"));
        let file = dir.file(&cache_key(&key));
        std::fs::write(&file, bytes).unwrap();
        let log = memory_log(LogLevel::Warn);
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(PollingMode::manual_poll())
            .cache(FileCache::new(dir.path()))
            .log_sink(log.clone())
            .start()
            .unwrap();
        assert_eq!(text(&client, "greeting").await, "default", "entry {i}");
        let logged = events(&log);
        assert_eq!(
            logged.iter().map(|e| (e.0, e.1)).collect::<Vec<_>>(),
            vec![
                (LogLevel::Error, event::CACHE_READ_FAILED),
                (LogLevel::Error, event::CONFIG_JSON_NOT_AVAILABLE)
            ],
            "entry {i}: {logged:?}"
        );
        assert!(
            logged[0]
                .2
                .starts_with("Error occurred while reading the cache."),
            "entry {i}: {logged:?}"
        );

        // Past the sync interval, the refresh reads the cache again first: the same corrupt
        // text is not parsed (nor logged) again (spec §5), nor is the same unreadable one.
        sleep(150).await;
        let refreshed = client.send(ForceRefresh).await.unwrap();
        assert!(refreshed.is_ok(), "entry {i}: {refreshed:?}");
        assert_eq!(text(&client, "greeting").await, "downloaded", "entry {i}");
        assert_eq!(ids(&log), vec![], "entry {i}");
        // Written back in the shared format (asynchronously: wait, bounded).
        let deadline = Instant::now() + Duration::from_secs(10);
        let json = cdn.config_json(&key).unwrap();
        let mut stored = FileCache::new(dir.path())
            .get(&cache_key(&key))
            .await
            .ok()
            .flatten();
        while !stored.as_deref().is_some_and(|s| s.ends_with(&json)) && Instant::now() < deadline {
            sleep(50).await;
            stored = FileCache::new(dir.path())
                .get(&cache_key(&key))
                .await
                .ok()
                .flatten();
        }
        let stored = stored.expect("an entry was written");
        let entry = ConfigEntry::deserialize(&stored).expect("the new entry is valid");
        assert_eq!(&*entry.json, json.as_str(), "entry {i}");
        // What the next refresh reads is good: nothing logged.
        assert!(client.send(ForceRefresh).await.unwrap().is_ok());
        assert_eq!(text(&client, "greeting").await, "downloaded", "entry {i}");
        assert_eq!(ids(&log), vec![], "entry {i}");
        client.send(Close).await.unwrap();
    }
}
