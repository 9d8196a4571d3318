//! The local fixtures of spec §7.3: canonical attribute conversion, attribute and comparison
//! value trimming, circular prerequisites, prerequisite type mismatches, flag and segment
//! overrides, and the hash vectors as far as evaluation can observe them.
//!
//! Expected values come from the official SDKs' tests (python-sdk `test_rollout.py` and
//! `test_override.py`, rust-sdk `tests/eval.rs` and `tests/eval_log.rs`, common-js
//! `ConfigV2EvaluationTests.ts` and `HashTests.ts`). Each test collects every failing case and
//! asserts once at the end, naming the fixture, the key and the case.

use crate::support;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use configcat_actix::overrides::{self, FlagOverrides, OverrideBehaviour};
use configcat_actix::{
    Config, EvaluationError, LogEvent, LogLevel, MemoryLog, User, UserValue, Value, eval,
};

use support::override_cases::{
    Case, PREREQUISITE_FILE, PREREQUISITE_SDK_KEY, SEGMENT_FILE, SEGMENT_SDK_KEY, evaluate,
    prerequisite_cases, segment_cases,
};

/// Counts the cases (table rows) and checks of one test and collects the failing checks.
struct Cases {
    test: &'static str,
    cases: usize,
    checked: usize,
    failures: Vec<String>,
}

impl Cases {
    fn new(test: &'static str) -> Cases {
        Cases {
            test,
            cases: 0,
            checked: 0,
            failures: Vec::new(),
        }
    }

    /// Starts the next case (a row of the table under test).
    fn next_case(&mut self) {
        self.cases += 1;
    }

    /// Records one check of the current case; `describe` is only called when it failed.
    fn check(&mut self, ok: bool, describe: impl FnOnce() -> String) {
        self.checked += 1;
        if !ok {
            self.failures.push(describe());
        }
    }

    fn finish(self) {
        assert!(
            self.cases > 0 && self.checked >= self.cases,
            "{}: no case checked",
            self.test
        );
        assert!(
            self.failures.is_empty(),
            "{}: {} of {} checks failed:\n{}",
            self.test,
            self.failures.len(),
            self.checked,
            self.failures.join("\n")
        );
        support::report(format_args!(
            "{}: {} cases checked ({} checks)",
            self.test, self.cases, self.checked
        ));
    }
}

/// What a client with these overrides evaluates (`None`: no overrides at all): the crate's own
/// `overrides::merge`.
fn with_overrides(remote: &Config, local: &Config, behaviour: Option<OverrideBehaviour>) -> Config {
    match behaviour {
        None => remote.clone(),
        Some(behaviour) => overrides::merge(Some(remote), local, behaviour),
    }
}

/// An in-memory override map (`{key: value}`), loaded as a map source.
fn map_overrides(entries: &[(&str, Value)]) -> Config {
    let values = entries.iter().map(|(key, value)| (*key, value.clone()));
    FlagOverrides::from_map(values, OverrideBehaviour::LocalOverRemote)
        .load()
        .expect("a map always loads")
}

/// A UTC date-time (days-from-civil, proleptic Gregorian; for dates after 1970).
fn utc(
    year: i64,
    month: i64,
    day: i64,
    hour: u64,
    minute: u64,
    second: u64,
    milli: u64,
) -> SystemTime {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = u64::try_from(era * 146_097 + day_of_era - 719_468).expect("date after 1970");
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
    UNIX_EPOCH + Duration::from_millis(seconds * 1_000 + milli)
}

/// One row of the conversion table: key, `Custom1` value, expected value.
fn row<'a>(
    key: &'a str,
    value: impl Into<UserValue>,
    expected: &'a str,
) -> (&'a str, UserValue, &'a str) {
    (key, value.into(), expected)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn show(result: &Result<Value, EvaluationError>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(error) => format!("error {error:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Canonical attribute conversion
// ---------------------------------------------------------------------------------------------

/// python-sdk `test_attribute_conversion_to_canonical_string` (16 rows), rust-sdk
/// `comp_attr_canonical_str_representation` (17 rows), with Rust-typed variants of the same
/// inputs. Each rule compares `Custom1` EQUALS the canonical text and then serves percentage
/// options on `Custom1`, so both the comparison and the hash input must be canonical.
#[test]
fn canonical_attribute_conversion() {
    const FILE: &str = "overrides/comparison_attribute_conversion.json";
    let config = support::parse_config(FILE);
    let date = utc(2023, 3, 31, 23, 59, 59, 999);
    // Integer and f32 variants are Rust-typed forms of the official inputs (rust-sdk uses
    // i64 and u64; Java and Swift test the narrower integer types).
    let cases = [
        row("numberToStringConversion", 0.12345_f64, "1"),
        row("numberToStringConversionInt", 125.0_f64, "4"),
        row("numberToStringConversionInt", 125.0_f32, "4"),
        row("numberToStringConversionInt", 125_i8, "4"),
        row("numberToStringConversionInt", 125_i16, "4"),
        row("numberToStringConversionInt", 125_i32, "4"),
        row("numberToStringConversionInt", 125_i64, "4"),
        row("numberToStringConversionInt", 125_u8, "4"),
        row("numberToStringConversionInt", 125_u16, "4"),
        row("numberToStringConversionInt", 125_u32, "4"),
        row(
            "numberToStringConversionPositiveExp",
            -1.23456789e96_f64,
            "2",
        ),
        row(
            "numberToStringConversionNegativeExp",
            -12345.6789E-100_f64,
            "4",
        ),
        row("numberToStringConversionNaN", f64::NAN, "3"),
        row("numberToStringConversionNaN", f32::NAN, "3"),
        row("numberToStringConversionPositiveInf", f64::INFINITY, "4"),
        row("numberToStringConversionPositiveInf", f32::INFINITY, "4"),
        row(
            "numberToStringConversionNegativeInf",
            f64::NEG_INFINITY,
            "3",
        ),
        row(
            "numberToStringConversionNegativeInf",
            f32::NEG_INFINITY,
            "3",
        ),
        // 2023-03-31T23:59:59.999Z, as a date-time and as Unix seconds.
        row("dateToStringConversion", date, "3"),
        row("dateToStringConversion", 1680307199.999_f64, "3"),
        row("dateToStringConversionNaN", f64::NAN, "3"),
        row("dateToStringConversionPositiveInf", f64::INFINITY, "1"),
        row("dateToStringConversionNegativeInf", f64::NEG_INFINITY, "5"),
        row(
            "stringArrayToStringConversion",
            vec!["read", "Write", " eXecute "],
            "4",
        ),
        row(
            "stringArrayToStringConversion",
            strings(&["read", "Write", " eXecute "]),
            "4",
        ),
        row(
            "stringArrayToStringConversion",
            &["read", "Write", " eXecute "][..],
            "4",
        ),
        row(
            "stringArrayToStringConversionEmpty",
            Vec::<String>::new(),
            "5",
        ),
        row(
            "stringArrayToStringConversionSpecialChars",
            vec!["+<>%\"'\\/\t\r\n"],
            "3",
        ),
        row(
            "stringArrayToStringConversionUnicode",
            vec!["äöüÄÖÜçéèñışğâ¢™✓😀"],
            "2",
        ),
    ];
    let mut checks = Cases::new("canonical_attribute_conversion");
    for (key, value, expected) in cases {
        checks.next_case();
        let user = User::new("12345").custom("Custom1", value.clone());
        let actual = evaluate(&config, key, Some(&user));
        checks.check(
            actual.as_ref().ok().and_then(Value::as_str) == Some(expected),
            || {
                format!(
                    "{FILE} key {key}, Custom1 = {value:?}: expected {expected:?}, got {}",
                    show(&actual)
                )
            },
        );
    }
    checks.finish();
}

// ---------------------------------------------------------------------------------------------
// 2. and 3. Trimming
// ---------------------------------------------------------------------------------------------

fn check_table(test: &'static str, file: &str, user: &User, table: &[(&str, &str)]) {
    let config = support::parse_config(file);
    let mut checks = Cases::new(test);
    for (key, expected) in table {
        checks.next_case();
        let actual = evaluate(&config, key, Some(user));
        checks.check(
            actual.as_ref().ok().and_then(Value::as_str) == Some(*expected),
            || {
                format!(
                    "{file} key {key}, user {}: expected {expected:?}, got {}",
                    user.to_json(),
                    show(&actual)
                )
            },
        );
    }
    checks.finish();
}

/// python-sdk `test_comparison_attribute_trimming` (36 rows; rust-sdk and common-js agree):
/// only semver, number and date comparators trim the user attribute.
#[test]
fn comparison_attribute_trimming() {
    let user = User::new(" 12345 ")
        .country("[\" USA \"]")
        .custom("Version", " 1.0.0 ")
        .custom("Number", " 3 ")
        .custom("Date", " 1705253400 ");
    check_table(
        "comparison_attribute_trimming",
        "overrides/comparison_attribute_trimming.json",
        &user,
        &[
            ("isoneof", "no trim"),
            ("isnotoneof", "no trim"),
            ("isoneofhashed", "no trim"),
            ("isnotoneofhashed", "no trim"),
            ("equalshashed", "no trim"),
            ("notequalshashed", "no trim"),
            ("arraycontainsanyofhashed", "no trim"),
            ("arraynotcontainsanyofhashed", "no trim"),
            ("equals", "no trim"),
            ("notequals", "no trim"),
            ("startwithanyof", "no trim"),
            ("notstartwithanyof", "no trim"),
            ("endswithanyof", "no trim"),
            ("notendswithanyof", "no trim"),
            ("arraycontainsanyof", "no trim"),
            ("arraynotcontainsanyof", "no trim"),
            ("startwithanyofhashed", "no trim"),
            ("notstartwithanyofhashed", "no trim"),
            ("endswithanyofhashed", "no trim"),
            ("notendswithanyofhashed", "no trim"),
            // Semver comparators trim the user value, for backward compatibility.
            ("semverisoneof", "4 trim"),
            ("semverisnotoneof", "5 trim"),
            ("semverless", "6 trim"),
            ("semverlessequals", "7 trim"),
            ("semvergreater", "8 trim"),
            ("semvergreaterequals", "9 trim"),
            // So do number and date comparators.
            ("numberequals", "10 trim"),
            ("numbernotequals", "11 trim"),
            ("numberless", "12 trim"),
            ("numberlessequals", "13 trim"),
            ("numbergreater", "14 trim"),
            ("numbergreaterequals", "15 trim"),
            ("datebefore", "18 trim"),
            ("dateafter", "19 trim"),
            // Untrimmed attribute against untrimmed comparison values.
            ("containsanyof", "no trim"),
            ("notcontainsanyof", "no trim"),
        ],
    );
}

/// python-sdk `test_comparison_value_trimming` (28 rows; rust-sdk and common-js agree): only
/// semver comparison values are trimmed.
#[test]
fn comparison_value_trimming() {
    let user = User::new("12345")
        .country("[\"USA\"]")
        .custom("Version", "1.0.0")
        .custom("Number", "3")
        .custom("Date", "1705253400");
    check_table(
        "comparison_value_trimming",
        "overrides/comparison_value_trimming.json",
        &user,
        &[
            ("isoneof", "no trim"),
            ("isnotoneof", "no trim"),
            ("containsanyof", "no trim"),
            ("notcontainsanyof", "no trim"),
            ("isoneofhashed", "no trim"),
            ("isnotoneofhashed", "no trim"),
            ("equalshashed", "no trim"),
            ("notequalshashed", "no trim"),
            ("arraycontainsanyofhashed", "no trim"),
            ("arraynotcontainsanyofhashed", "no trim"),
            ("equals", "no trim"),
            ("notequals", "no trim"),
            ("startwithanyof", "no trim"),
            ("notstartwithanyof", "no trim"),
            ("endswithanyof", "no trim"),
            ("notendswithanyof", "no trim"),
            ("arraycontainsanyof", "no trim"),
            ("arraynotcontainsanyof", "no trim"),
            ("startwithanyofhashed", "no trim"),
            ("notstartwithanyofhashed", "no trim"),
            ("endswithanyofhashed", "no trim"),
            ("notendswithanyofhashed", "no trim"),
            // Semver comparison values are trimmed, for backward compatibility.
            ("semverisoneof", "4 trim"),
            ("semverisnotoneof", "5 trim"),
            ("semverless", "6 trim"),
            ("semverlessequals", "7 trim"),
            ("semvergreater", "8 trim"),
            ("semvergreaterequals", "9 trim"),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Circular prerequisites
// ---------------------------------------------------------------------------------------------

fn errors_1002(events: &[LogEvent]) -> Vec<&LogEvent> {
    events
        .iter()
        .filter(|e| e.level == LogLevel::Error && e.event_id == 1002)
        .collect()
}

fn error_count(events: &[LogEvent]) -> usize {
    events.iter().filter(|e| e.level == LogLevel::Error).count()
}

/// python-sdk `test_prerequisite_flag_circular_dependency`, rust-sdk `prerequisite_circular_deps`
/// and common-js: the default is returned, the error and the ERROR [1002] line name the cycle.
/// Every flag of the fixture is on a cycle, so there is no non-circular key to evaluate.
#[test]
fn circular_dependencies() {
    const FILE: &str = "overrides/test_circulardependency_v6.json";
    let config = support::parse_config(FILE);
    let cases = [
        ("key1", "'key1' -> 'key1'"),
        ("key2", "'key2' -> 'key3' -> 'key2'"),
        ("key4", "'key4' -> 'key3' -> 'key2' -> 'key3'"),
        // Not in the official tests: derived from the algorithm of spec §2.8.
        ("key3", "'key3' -> 'key2' -> 'key3'"),
    ];
    let mut checks = Cases::new("circular_dependencies");
    for (key, cycle) in cases {
        checks.next_case();
        let message =
            format!("Circular dependency detected between the following depending flags: {cycle}.");
        let log = MemoryLog::new(LogLevel::Info);
        let details = eval::evaluate_details(&config, key, "default".to_owned(), None, None, &log);
        let events = log.take();

        checks.check(
            details.value == "default" && details.is_default_value,
            || {
                format!(
                    "{FILE} key {key}: expected the default value, got {:?} (is_default_value {})",
                    details.value, details.is_default_value
                )
            },
        );
        checks.check(details.variation_id.is_none(), || {
            format!(
                "{FILE} key {key}: expected no variation id, got {:?}",
                details.variation_id
            )
        });
        let error_ok = matches!(&details.error, Some(EvaluationError::InvalidConfig(reason)) if reason.contains(&message));
        checks.check(error_ok, || {
            format!(
                "{FILE} key {key}: expected an InvalidConfig error containing {message:?}, got {:?}",
                details.error
            )
        });
        let errors = errors_1002(&events);
        checks.check(
            errors.len() == 1 && error_count(&events) == 1 && errors[0].message.contains(&message),
            || {
                format!(
                    "{FILE} key {key}: expected exactly one ERROR [1002] containing {message:?}, got:\n  {}",
                    events.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
                )
            },
        );
    }
    checks.finish();
}

// ---------------------------------------------------------------------------------------------
// 5. Prerequisite comparison value type mismatch (in-memory overrides)
// ---------------------------------------------------------------------------------------------

/// python-sdk `test_prerequisite_flag_comparison_value_type_mismatch` and rust-sdk
/// `prerequisite_comp_val_mismatch`: the prerequisite flag is overridden from an in-memory map
/// (LocalOverRemote), no user. A value of another setting type than the comparison value is an
/// evaluation error (no value, one ERROR [1002] log).
///
/// The Python rows with a list (`[True]`, `["private"]`, `[2]`, `[0.1]`) or `None` as the
/// override are skipped: they test Python's dynamic typing, and this crate's override values
/// (`Value`) cannot hold a list or a null. Python's `1.0` and `2.0` rows are kept as
/// `Value::Double`, distinct from `Value::Int`.
#[test]
fn prerequisite_type_mismatch() {
    let remote = support::config_for_sdk_key(PREREQUISITE_SDK_KEY);
    let cases: [(&str, &str, Value, Option<&str>); 20] = [
        (
            "stringDependsOnBool",
            "mainBoolFlag",
            Value::Bool(true),
            Some("Dog"),
        ),
        (
            "stringDependsOnBool",
            "mainBoolFlag",
            Value::Bool(false),
            Some("Cat"),
        ),
        ("stringDependsOnBool", "mainBoolFlag", "1".into(), None),
        ("stringDependsOnBool", "mainBoolFlag", Value::Int(1), None),
        (
            "stringDependsOnBool",
            "mainBoolFlag",
            Value::Double(1.0),
            None,
        ),
        (
            "stringDependsOnString",
            "mainStringFlag",
            "private".into(),
            Some("Dog"),
        ),
        (
            "stringDependsOnString",
            "mainStringFlag",
            "Private".into(),
            Some("Cat"),
        ),
        (
            "stringDependsOnString",
            "mainStringFlag",
            Value::Bool(true),
            None,
        ),
        (
            "stringDependsOnString",
            "mainStringFlag",
            Value::Int(1),
            None,
        ),
        (
            "stringDependsOnString",
            "mainStringFlag",
            Value::Double(1.0),
            None,
        ),
        (
            "stringDependsOnInt",
            "mainIntFlag",
            Value::Int(2),
            Some("Dog"),
        ),
        (
            "stringDependsOnInt",
            "mainIntFlag",
            Value::Int(1),
            Some("Cat"),
        ),
        ("stringDependsOnInt", "mainIntFlag", "2".into(), None),
        ("stringDependsOnInt", "mainIntFlag", Value::Bool(true), None),
        (
            "stringDependsOnInt",
            "mainIntFlag",
            Value::Double(2.0),
            None,
        ),
        (
            "stringDependsOnDouble",
            "mainDoubleFlag",
            Value::Double(0.1),
            Some("Dog"),
        ),
        (
            "stringDependsOnDouble",
            "mainDoubleFlag",
            Value::Double(0.11),
            Some("Cat"),
        ),
        (
            "stringDependsOnDouble",
            "mainDoubleFlag",
            "0.1".into(),
            None,
        ),
        (
            "stringDependsOnDouble",
            "mainDoubleFlag",
            Value::Bool(true),
            None,
        ),
        (
            "stringDependsOnDouble",
            "mainDoubleFlag",
            Value::Int(1),
            None,
        ),
    ];
    let mut checks = Cases::new("prerequisite_type_mismatch");
    for (key, prerequisite, override_value, expected) in cases {
        checks.next_case();
        let local = map_overrides(&[(prerequisite, override_value.clone())]);
        let config = with_overrides(&remote, &local, Some(OverrideBehaviour::LocalOverRemote));
        let log = MemoryLog::new(LogLevel::Info);
        let actual =
            eval::evaluate::<Value>(&config, key, None, None, &log).map(|s| s.value.clone());
        let events = log.take();
        let case = format!(
            "config {PREREQUISITE_SDK_KEY} + map override {{{prerequisite}: {override_value:?}}} (LocalOverRemote), key {key}"
        );
        match expected {
            Some(expected) => {
                checks.check(
                    actual.as_ref().ok().and_then(Value::as_str) == Some(expected),
                    || format!("{case}: expected {expected:?}, got {}", show(&actual)),
                );
                checks.check(error_count(&events) == 0, || {
                    format!("{case}: expected no error log, got {events:?}")
                });
            }
            None => {
                let mismatch = "Type mismatch between comparison value";
                let flag = format!("and prerequisite flag '{prerequisite}'");
                let error_ok = matches!(&actual, Err(EvaluationError::InvalidConfig(reason)) if reason.contains(mismatch) && reason.contains(&flag));
                checks.check(error_ok, || {
                    format!(
                        "{case}: expected an InvalidConfig error containing {mismatch:?} and {flag:?}, got {}",
                        show(&actual)
                    )
                });
                let errors = errors_1002(&events);
                checks.check(
                    errors.len() == 1
                        && error_count(&events) == 1
                        && errors[0].message.contains(mismatch),
                    || format!("{case}: expected exactly one ERROR [1002] containing {mismatch:?}, got {events:?}"),
                );
            }
        }
    }
    checks.finish();
}

// ---------------------------------------------------------------------------------------------
// 6. Prerequisite flag overrides and segment overrides (file fixtures)
// ---------------------------------------------------------------------------------------------

/// Evaluates every case on the fixture's remote config merged with its local file.
fn check_overrides(test: &'static str, sdk_key: &str, file: &str, cases: &[Case]) {
    let remote = support::config_for_sdk_key(sdk_key);
    let local = support::parse_config(file);
    let mut checks = Cases::new(test);
    for (key, id, email, behaviour, expected) in cases {
        checks.next_case();
        let config = with_overrides(&remote, &local, *behaviour);
        let user = User::new(*id).email(*email);
        let actual = evaluate(&config, key, Some(&user));
        checks.check(expected.matches(key, &actual), || {
            format!(
                "config {sdk_key} + {file} ({behaviour:?}), key {key}, user {id}/{email}: expected {expected:?}, got {}",
                show(&actual)
            )
        });
    }
    checks.finish();
}

/// The prerequisite fixture ([`prerequisite_cases`]), local settings parsed and merged.
#[test]
fn prerequisite_flag_overrides() {
    check_overrides(
        "prerequisite_flag_overrides",
        PREREQUISITE_SDK_KEY,
        PREREQUISITE_FILE,
        &prerequisite_cases(),
    );
}

/// The segment and salt fixture ([`segment_cases`]), local settings parsed and merged.
#[test]
fn segment_overrides() {
    check_overrides(
        "segment_overrides",
        SEGMENT_SDK_KEY,
        SEGMENT_FILE,
        &segment_cases(),
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Hash vectors, as evaluation observes them
// ---------------------------------------------------------------------------------------------

/// common-js `HashTests.ts`: (input, SHA-1, SHA-256).
const HASH_VECTORS: [(&str, &str, &str); 4] = [
    (
        "",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        "abc",
        "a9993e364706816aba3e25717850c26c9cd0d89d",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ),
    (
        "<árvíztűrő tükörfúrógép | ÁRVÍZTŰRŐ TÜKÖRFÚRÓGÉP>",
        "1be0a50a536668a6ff6c9650e13c2c09f011f3d8",
        "8a396060d6d54c97112c2d420144d528f4b1d824c66a83b54070b0f0bb8cafa7",
    ),
    (
        "\u{0} \u{7F}\n\u{80} \u{7FF}\n\u{800} \u{FFFF}\n\u{10000} \u{10FFFF}\r\n",
        "b7cd3a8fe37c968f87d9d2eb581a42c94952a890",
        "306979857214e80b4eee7caf751d38c7491147fa62ed2980f4fd6d7398479b9b",
    ),
];

/// Splits a text after its first character and before its last one.
fn split3(text: &str) -> (&str, &str, &str) {
    let first = text.chars().next().map_or(0, char::len_utf8);
    let last = text.len() - text.chars().next_back().map_or(0, char::len_utf8);
    if first > last {
        return (text, "", "");
    }
    (&text[..first], &text[first..last], &text[last..])
}

/// A config whose only flag `key` is true when the user's `Email` satisfies `condition`.
fn hashed_flag_config(salt: &str, key: &str, condition: serde_json::Value) -> Config {
    let json = serde_json::json!({
        "p": { "s": salt },
        "f": { key: { "t": 0, "v": { "b": false }, "r": [ { "c": [ { "u": condition } ], "s": { "v": { "b": true } } } ] } }
    });
    Config::parse(&json.to_string()).expect("generated config parses")
}

/// Confidential comparators hash `SHA-256(attribute ++ config salt ++ setting key)`. Each vector's
/// input is split over those three parts, and the digest is the comparison value of a hashed
/// EQUALS; the empty input (an empty attribute counts as missing) goes through a zero-length
/// hashed STARTS WITH instead. Each case also checks that a different salt does not match.
/// Spec §2.4's `sha256("test_payload" + "salt" + "ctx_salt")` vector is included.
#[test]
fn sha256_vectors_through_confidential_comparators() {
    let mut checks = Cases::new("sha256_vectors_through_confidential_comparators");
    let mut vectors: Vec<(&str, &str, &str, &str)> = HASH_VECTORS
        .iter()
        .filter(|(input, _, _)| !input.is_empty())
        .map(|(input, _, sha256)| {
            let (attribute, salt, key) = split3(input);
            (attribute, salt, key, *sha256)
        })
        .collect();
    vectors.push((
        "test_payload",
        "salt",
        "ctx_salt",
        "5ee9b44b3b90bedd9441b256c429f862ceb2ea847a58a8e33d8052da141e47aa",
    ));
    let empty_sha256 = HASH_VECTORS[0].2;
    let mut cases: Vec<(String, &str, &str, &str, serde_json::Value)> = vectors
        .into_iter()
        .map(|(attribute, salt, key, sha256)| {
            (
                format!("{:?}", format!("{attribute}{salt}{key}")),
                attribute,
                salt,
                key,
                serde_json::json!({ "a": "Email", "c": 20, "s": sha256 }),
            )
        })
        .collect();
    cases.push((
        "\"\" (zero-length hashed STARTS WITH)".to_owned(),
        "anything",
        "",
        "",
        serde_json::json!({ "a": "Email", "c": 22, "l": [format!("0_{empty_sha256}")] }),
    ));

    for (input, attribute, salt, key, condition) in cases {
        checks.next_case();
        let user = User::new("id").email(attribute);
        for (salt, expected) in [(salt.to_owned(), true), (format!("{salt}x"), false)] {
            let config = hashed_flag_config(&salt, key, condition.clone());
            let actual = evaluate(&config, key, Some(&user));
            checks.check(actual.as_ref().ok() == Some(&Value::Bool(expected)), || {
                format!(
                    "SHA-256 of {input}: Email {attribute:?}, salt {salt:?}, key {key:?}, condition {condition}: expected {expected}, got {}",
                    show(&actual)
                )
            });
        }
    }
    checks.finish();
}

/// Percentage options pick `int(first 7 hex digits of SHA-1(key ++ attribute), 16) % 100`. Each
/// SHA-1 vector's input is split into a setting key and an `Identifier` (empty identifiers are
/// valid for percentage options), and a flag with 100 options of 1% each, serving their index,
/// must return the bucket derived from the vector. Only 28 bits of each digest are observable.
#[test]
fn sha1_vectors_through_percentage_options() {
    let mut checks = Cases::new("sha1_vectors_through_percentage_options");
    let options: Vec<serde_json::Value> = (0..100)
        .map(|i| serde_json::json!({ "p": 1, "v": { "i": i } }))
        .collect();
    let mut vectors: Vec<(&str, &str)> = HASH_VECTORS
        .iter()
        .map(|(input, sha1, _)| (*input, *sha1))
        .collect();
    vectors.push(("test_payload", "683231cec21572ae3afd898a1b1487f6b9193ebb"));
    for (input, sha1) in vectors {
        checks.next_case();
        let bucket = i64::from(u32::from_str_radix(&sha1[..7], 16).expect("hex") % 100);
        // Split after the first character: key, then identifier (both empty for "").
        let split = input.chars().next().map_or(0, char::len_utf8);
        let (key, identifier) = input.split_at(split);
        let json = serde_json::json!({ "f": { key: { "t": 2, "v": { "i": -1 }, "p": options } } });
        let config = Config::parse(&json.to_string()).expect("generated config parses");
        let actual = evaluate(&config, key, Some(&User::new(identifier)));
        checks.check(actual.as_ref().ok() == Some(&Value::Int(bucket)), || {
            format!(
                "SHA-1 of {input:?} (key {key:?}, Identifier {identifier:?}): expected bucket {bucket}, got {}",
                show(&actual)
            )
        });
    }
    checks.finish();
}

// ---------------------------------------------------------------------------------------------
// Deviations fixed against the canonical (JS) SDK: hex case, float parsing, white space
// ---------------------------------------------------------------------------------------------

/// The canonical SDK compares the lower-case hex text of the digest with the comparison value,
/// so an upper-case (or mixed-case) value never matches, for every confidential comparator:
/// the positive ones are false and the negated ones true. The lower-case value matches.
#[test]
fn confidential_values_match_in_lower_case_hex_only() {
    let mut checks = Cases::new("confidential_values_match_in_lower_case_hex_only");
    // SHA-256("test_payload" ++ "salt" ++ "ctx_salt"): Email "test_payload", key "ctx_salt".
    let lower = "5ee9b44b3b90bedd9441b256c429f862ceb2ea847a58a8e33d8052da141e47aa";
    let upper = lower.to_uppercase();
    let mixed = lower.replacen("ee9b", "EE9B", 1);
    // Hashed prefixes and suffixes: the whole text is its own 12-byte prefix and suffix.
    for (hex, positive_matches) in [
        (lower, true),
        (upper.as_str(), false),
        (mixed.as_str(), false),
    ] {
        let conditions = [
            (
                serde_json::json!({ "a": "Email", "c": 20, "s": hex }),
                positive_matches,
            ),
            (
                serde_json::json!({ "a": "Email", "c": 21, "s": hex }),
                !positive_matches,
            ),
            (
                serde_json::json!({ "a": "Email", "c": 16, "l": [hex] }),
                positive_matches,
            ),
            (
                serde_json::json!({ "a": "Email", "c": 17, "l": [hex] }),
                !positive_matches,
            ),
            (
                serde_json::json!({ "a": "Email", "c": 22, "l": [format!("12_{hex}")] }),
                positive_matches,
            ),
            (
                serde_json::json!({ "a": "Email", "c": 23, "l": [format!("12_{hex}")] }),
                !positive_matches,
            ),
            (
                serde_json::json!({ "a": "Email", "c": 24, "l": [format!("12_{hex}")] }),
                positive_matches,
            ),
            (
                serde_json::json!({ "a": "Email", "c": 25, "l": [format!("12_{hex}")] }),
                !positive_matches,
            ),
        ];
        for (condition, expected) in conditions {
            checks.next_case();
            let config = hashed_flag_config("salt", "ctx_salt", condition.clone());
            let actual = evaluate(
                &config,
                "ctx_salt",
                Some(&User::new("id").email("test_payload")),
            );
            checks.check(actual.as_ref().ok() == Some(&Value::Bool(expected)), || {
                format!("{condition}: expected {expected}, got {}", show(&actual))
            });
        }
        // Hashed ARRAY CONTAINS with the list item hashed the same way.
        for (comparator, expected) in [(26, positive_matches), (27, !positive_matches)] {
            checks.next_case();
            let condition = serde_json::json!({ "a": "Roles", "c": comparator, "l": [hex] });
            let json = serde_json::json!({
                "p": { "s": "salt" },
                "f": { "ctx_salt": { "t": 0, "v": { "b": false },
                    "r": [ { "c": [ { "u": condition } ], "s": { "v": { "b": true } } } ] } }
            });
            let config = Config::parse(&json.to_string()).expect("generated config parses");
            let user = User::new("id").custom("Roles", vec!["test_payload"]);
            let actual = evaluate(&config, "ctx_salt", Some(&user));
            checks.check(actual.as_ref().ok() == Some(&Value::Bool(expected)), || {
                format!("{condition}: expected {expected}, got {}", show(&actual))
            });
        }
    }
    checks.finish();
}

/// `1000000000000000.5` is parsed to the nearest double (as JavaScript and Python do), so the
/// config's `d` and a user's text of the same digits are the same number. It was one unit in
/// the last place off before serde_json's `float_roundtrip`, and matched no text.
#[test]
fn config_floats_parse_to_the_nearest_double() {
    let mut checks = Cases::new("config_floats_parse_to_the_nearest_double");
    let json = r#"{"f":{
        "served":{"t":3,"v":{"d":1000000000000000.5}},
        "equals":{"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"Big","c":10,"d":1000000000000000.5}}],"s":{"v":{"b":true}}}]}
    }}"#;
    let config = Config::parse(json).expect("parses");
    checks.next_case();
    let served = evaluate(&config, "served", None);
    checks.check(
        served.as_ref().ok() == Some(&Value::Double(1000000000000000.5)),
        || format!("served: expected 1000000000000000.5, got {}", show(&served)),
    );
    for (text, expected) in [
        ("1000000000000000.5", true),
        ("1000000000000000.4", false),
        ("1000000000000000.6", false),
    ] {
        checks.next_case();
        let user = User::new("id").custom("Big", text);
        let actual = evaluate(&config, "equals", Some(&user));
        checks.check(actual.as_ref().ok() == Some(&Value::Bool(expected)), || {
            format!("Big = {text:?}: expected {expected}, got {}", show(&actual))
        });
    }
    checks.finish();
}

/// Trimming uses ECMAScript's white space: U+FEFF (the byte-order mark) is trimmed, U+0085
/// (NEL) is not, for the number, date and semver comparators' user values and the semver
/// comparison values. Text comparators do not trim at all.
#[test]
fn trimming_uses_the_ecmascript_white_space_set() {
    let mut checks = Cases::new("trimming_uses_the_ecmascript_white_space_set");
    let json = r#"{"f":{
        "number":{"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"N","c":10,"d":5}}],"s":{"v":{"b":true}}}]},
        "date":{"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"N","c":19,"d":4}}],"s":{"v":{"b":true}}}]},
        "semver":{"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"N","c":8,"s":"1.0.0"}}],"s":{"v":{"b":true}}}]},
        "semverValue":{"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"V","c":4,"l":["\ufeff2.0.0"]}}],"s":{"v":{"b":true}}}]},
        "semverValueNel":{"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"V","c":4,"l":["\u00852.0.0"]}}],"s":{"v":{"b":true}}}]},
        "text":{"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"N","c":28,"s":"5"}}],"s":{"v":{"b":true}}}]}
    }}"#;
    let config = Config::parse(json).expect("parses");
    let cases: &[(&str, &str, &str, Result<bool, ()>)] = &[
        ("number", "N", "\u{feff}5", Ok(true)),
        ("number", "N", "5\u{feff}", Ok(true)),
        ("number", "N", "\u{85}5", Ok(false)),
        ("number", "N", "5\u{85}", Ok(false)),
        ("date", "N", "\u{feff}5\u{feff}", Ok(true)),
        ("date", "N", "\u{85}5", Ok(false)),
        ("semver", "N", "\u{feff}2.0.0", Ok(true)),
        ("semver", "N", "\u{85}2.0.0", Ok(false)),
        // A valid version: the \u{feff} of the comparison value is trimmed.
        ("semverValue", "V", "2.0.0", Ok(true)),
        // The NEL is kept, so the list holds an invalid version: IS ONE OF is false.
        ("semverValueNel", "V", "2.0.0", Ok(false)),
        ("text", "N", "\u{feff}5", Ok(false)),
        ("text", "N", "5", Ok(true)),
    ];
    for (key, attribute, text, expected) in cases {
        checks.next_case();
        let log = MemoryLog::new(LogLevel::Warn);
        let user = User::new("id").custom(*attribute, *text);
        let actual =
            eval::evaluate::<Value>(&config, key, None, Some(&user), &log).map(|s| s.value.clone());
        let expected_value = expected.map(Value::Bool).ok();
        // A false number/date/semver condition whose value is invalid logs 3004; a valid one
        // logs nothing.
        let invalid_logged = log.take().iter().any(|e| e.event_id == 3004);
        let expect_invalid =
            !matches!(expected, Ok(true)) && *key != "text" && !key.starts_with("semverValue");
        checks.check(
            actual.as_ref().ok() == expected_value.as_ref() && invalid_logged == expect_invalid,
            || {
                format!(
                    "{key} with {attribute} {text:?}: expected {expected:?} (3004: {expect_invalid}), got {} (3004: {invalid_logged})",
                    show(&actual)
                )
            },
        );
    }
    checks.finish();
}
