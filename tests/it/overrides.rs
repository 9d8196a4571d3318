//! Flag overrides without a client (spec §6.4): the map and file sources, both file formats,
//! file errors (events 1300/1302), change detection, and `merge` in the three behaviours,
//! including the official salt/segment and prerequisite override fixtures.

use crate::support;
use crate::support::TempDir;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour, OverrideError, merge};
use configcat_actix::{Config, NoLog, SettingType, User, Value, eval};

use support::override_cases::{
    Case, PREREQUISITE_FILE, PREREQUISITE_SDK_KEY, SEGMENT_FILE, SEGMENT_SDK_KEY, evaluate,
    prerequisite_cases, segment_cases,
};

fn load_file(relative: &str, behaviour: OverrideBehaviour) -> Config {
    let path = support::data_path(relative);
    FlagOverrides::from_file(&path, behaviour)
        .load()
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

/// The default value and type of a setting, which must exist.
fn default_of(config: &Config, key: &str) -> (Option<SettingType>, Value) {
    let setting = config
        .settings()
        .get(key)
        .unwrap_or_else(|| panic!("no setting {key}"));
    (
        setting.setting_type(),
        setting.default_value().cloned().expect("a default value"),
    )
}

fn string_value(config: &Config, key: &str) -> Option<String> {
    config
        .settings()
        .get(key)
        .and_then(|s| s.default_value())
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

// -------------------------------------------------------------------------------------------
// Sources and formats
// -------------------------------------------------------------------------------------------

#[test]
fn simplified_file_gives_every_flag_its_type_and_value() {
    let config = load_file(
        "overrides/test_json_simple.json",
        OverrideBehaviour::LocalOnly,
    );
    let mut keys: Vec<&str> = config.settings().keys().map(|k| k.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "disabledFeature",
            "doubleSetting",
            "enabledFeature",
            "intSetting",
            "stringSetting"
        ]
    );
    let expected = [
        ("disabledFeature", SettingType::Bool, Value::Bool(false)),
        ("enabledFeature", SettingType::Bool, Value::Bool(true)),
        ("intSetting", SettingType::Int, Value::Int(5)),
        ("doubleSetting", SettingType::Double, Value::Double(1.2)),
        ("stringSetting", SettingType::String, Value::from("test")),
    ];
    for (key, setting_type, value) in expected {
        assert_eq!(
            default_of(&config, key),
            (Some(setting_type), value.clone()),
            "{key}"
        );
        let setting = &config.settings()[key];
        assert!(setting.targeting_rules().is_empty(), "{key} has no rules");
        assert!(
            setting.percentage_options().is_empty(),
            "{key} has no % options"
        );
        // And what evaluation gives, whatever the user.
        let user = User::new("someone@matching.com");
        assert_eq!(evaluate(&config, key, Some(&user)), Ok(value), "{key}");
    }
    assert!(eval::evaluate_value(
        &config,
        "enabledFeature",
        false,
        None,
        &NoLog
    ));
    assert_eq!(
        eval::evaluate_value(&config, "intSetting", 0_i64, None, &NoLog),
        5
    );
    assert_eq!(
        eval::evaluate_value(&config, "doubleSetting", 0.0, None, &NoLog),
        1.2
    );
    assert_eq!(
        eval::evaluate_value(&config, "stringSetting", String::new(), None, &NoLog),
        "test"
    );
}

#[test]
fn simplified_numbers_with_a_fraction_are_decimals_and_others_whole() {
    let dir = TempDir::new("numbers");
    let path = dir.file("flags.json");
    std::fs::write(
        &path,
        r#"{"flags": {"whole": -7, "decimalZero": 5.0, "exponent": 1e3, "big": 9007199254740993}}"#,
    )
    .unwrap();
    let config = FlagOverrides::from_file(&path, OverrideBehaviour::LocalOnly)
        .load()
        .unwrap();
    assert_eq!(
        default_of(&config, "whole"),
        (Some(SettingType::Int), Value::Int(-7))
    );
    assert_eq!(
        default_of(&config, "decimalZero"),
        (Some(SettingType::Double), Value::Double(5.0))
    );
    assert_eq!(
        default_of(&config, "exponent"),
        (Some(SettingType::Double), Value::Double(1000.0))
    );
    assert_eq!(
        default_of(&config, "big"),
        (Some(SettingType::Int), Value::Int(9_007_199_254_740_993))
    );
}

#[test]
fn full_file_rules_salt_and_values_work() {
    let config = load_file(
        "overrides/test_json_complex.json",
        OverrideBehaviour::LocalOnly,
    );
    assert_eq!(
        config.preferences().salt.as_deref(),
        Some("s449fLWNwiEFQ/AqfRj13pPHVdV9g3h0HAFzWtjpZgE=")
    );
    // disabledFeature: Identifier CONTAINS ANY OF ["@matching.com"] → true, else false.
    let matching = User::new("someone@matching.com");
    let other = User::new("someone@other.com");
    assert!(eval::evaluate_value(
        &config,
        "disabledFeature",
        false,
        Some(&matching),
        &NoLog
    ));
    assert!(!eval::evaluate_value(
        &config,
        "disabledFeature",
        true,
        Some(&other),
        &NoLog
    ));
    assert!(!eval::evaluate_value(
        &config,
        "disabledFeature",
        true,
        None,
        &NoLog
    ));
    assert_eq!(
        config.settings()["disabledFeature"].targeting_rules().len(),
        1
    );
    assert_eq!(
        evaluate(&config, "enabledFeature", Some(&other)),
        Ok(Value::Bool(true))
    );
    assert_eq!(evaluate(&config, "intSetting", None), Ok(Value::Int(5)));
    assert_eq!(
        evaluate(&config, "doubleSetting", None),
        Ok(Value::Double(1.2))
    );
    assert_eq!(
        evaluate(&config, "stringSetting", None),
        Ok(Value::from("test"))
    );
}

#[test]
fn map_source_holds_all_four_value_types() {
    let overrides = FlagOverrides::from_map(
        [
            ("boolFlag", Value::from(true)),
            ("stringFlag", Value::from("text")),
            ("intFlag", Value::from(42_i64)),
            ("doubleFlag", Value::from(3.25)),
        ],
        OverrideBehaviour::LocalOverRemote,
    );
    assert!(!overrides.is_file());
    assert_eq!(overrides.behaviour(), OverrideBehaviour::LocalOverRemote);
    assert_unchanged(&overrides);
    let config = overrides.load().unwrap();
    assert_eq!(config.settings().len(), 4);
    assert_eq!(
        default_of(&config, "boolFlag"),
        (Some(SettingType::Bool), Value::Bool(true))
    );
    assert_eq!(
        default_of(&config, "stringFlag"),
        (Some(SettingType::String), Value::from("text"))
    );
    assert_eq!(
        default_of(&config, "intFlag"),
        (Some(SettingType::Int), Value::Int(42))
    );
    assert_eq!(
        default_of(&config, "doubleFlag"),
        (Some(SettingType::Double), Value::Double(3.25))
    );
    assert!(eval::evaluate_value(
        &config, "boolFlag", false, None, &NoLog
    ));
    assert_eq!(
        eval::evaluate_value(&config, "stringFlag", String::new(), None, &NoLog),
        "text"
    );
    assert_eq!(
        eval::evaluate_value(&config, "intFlag", 0_i64, None, &NoLog),
        42
    );
    assert_eq!(
        eval::evaluate_value(&config, "doubleFlag", 0.0, None, &NoLog),
        3.25
    );
    // Loading again gives the same settings; a map never reports a change.
    assert_eq!(overrides.load().unwrap().settings().len(), 4);
    assert_unchanged(&overrides);

    // Any key and value types that convert: a HashMap<String, Value>, plain &str values.
    let from_hash: HashMap<String, Value> = HashMap::from([("n".to_owned(), Value::Int(1))]);
    let config = FlagOverrides::from_map(from_hash, OverrideBehaviour::LocalOnly)
        .load()
        .unwrap();
    assert_eq!(default_of(&config, "n").1, Value::Int(1));
    let config = FlagOverrides::from_map([("s", "x")], OverrideBehaviour::LocalOnly)
        .load()
        .unwrap();
    assert_eq!(
        default_of(&config, "s"),
        (Some(SettingType::String), Value::from("x"))
    );
}

#[test]
fn debug_names_the_source() {
    let map = FlagOverrides::from_map([("b", 1), ("a", 2)], OverrideBehaviour::LocalOnly);
    let shown = format!("{map:?}");
    assert!(shown.contains(r#"["a", "b"]"#), "{shown}");
    let file = FlagOverrides::from_file("flags.json", OverrideBehaviour::RemoteOverLocal);
    let shown = format!("{file:?}");
    assert!(
        shown.contains("flags.json") && shown.contains("RemoteOverLocal"),
        "{shown}"
    );
    assert!(file.is_file());
}

// -------------------------------------------------------------------------------------------
// File errors
// -------------------------------------------------------------------------------------------

#[test]
fn a_missing_file_is_file_not_found_1300() {
    let dir = TempDir::new("missing");
    let path = dir.file("nowhere.json");
    let overrides = FlagOverrides::from_file(&path, OverrideBehaviour::LocalOnly);
    let error = overrides.load().unwrap_err();
    assert_eq!(error, OverrideError::FileNotFound { path: path.clone() });
    assert_eq!(error.event_id(), 1300);
    assert_eq!(error.path(), path);
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "Cannot find the local config file '{}'.",
            path.display()
        )),
        "{message}"
    );
    // Still missing: no change to report.
    assert_unchanged(&overrides);
}

fn assert_invalid(path: &Path, contents: &str, reason_contains: &str) {
    std::fs::write(path, contents).unwrap();
    let error = FlagOverrides::from_file(path, OverrideBehaviour::LocalOnly)
        .load()
        .unwrap_err();
    let OverrideError::Invalid { path: p, reason } = &error else {
        panic!("{contents}: expected Invalid, got {error:?}");
    };
    assert_eq!(p, path);
    assert!(
        reason.contains(reason_contains),
        "{contents}: reason {reason:?} lacks {reason_contains:?}"
    );
    assert_eq!(error.event_id(), 1302);
    assert_eq!(
        error.to_string(),
        format!(
            "Failed to read the local config file '{}'. ({reason})",
            path.display()
        )
    );
}

#[test]
fn a_malformed_file_is_invalid_1302() {
    let dir = TempDir::new("malformed");
    let path = dir.file("bad.json");
    assert_invalid(&path, r#"{"flags": {"a": tru"#, "line 1");
    assert_invalid(&path, "", "");
    assert_invalid(&path, "[1, 2]", "expected a JSON object");
    assert_invalid(&path, r#"{"f": {"a": {"t": "zero"}}}"#, "f.a.t");
    assert_invalid(&path, r#"{"flags": 5}"#, "`flags` must be an object");
    assert_invalid(&path, r#"{"flags": {"a": null}}"#, "flag 'a'");
    assert_invalid(&path, r#"{"flags": {"a": [true]}}"#, "flag 'a'");
    assert_invalid(&path, r#"{"flags": {"a": {"b": true}}}"#, "flag 'a'");
    assert_invalid(
        &path,
        r#"{"flags": {"a": 18446744073709551615}}"#,
        "does not fit",
    );
}

#[test]
fn a_directory_cannot_be_read_1302() {
    let dir = TempDir::new("directory");
    let error = FlagOverrides::from_file(dir.path(), OverrideBehaviour::LocalOnly)
        .load()
        .unwrap_err();
    assert!(
        matches!(
            error,
            OverrideError::ReadFailed { .. } | OverrideError::Invalid { .. }
        ),
        "{error:?}"
    );
    assert_eq!(error.event_id(), 1302);
    assert!(
        error.to_string().starts_with(&format!(
            "Failed to read the local config file '{}'.",
            dir.path().display()
        )),
        "{error}"
    );
}

#[test]
fn a_file_that_is_not_utf8_cannot_be_read_1302() {
    let dir = TempDir::new("binary");
    let path = dir.file("binary.json");
    std::fs::write(&path, [0xff, 0xfe, b'{', b'}']).unwrap();
    let error = FlagOverrides::from_file(&path, OverrideBehaviour::LocalOnly)
        .load()
        .unwrap_err();
    assert!(
        matches!(
            error,
            OverrideError::ReadFailed { .. } | OverrideError::Invalid { .. }
        ),
        "{error:?}"
    );
    assert_eq!(error.event_id(), 1302);
}

// -------------------------------------------------------------------------------------------
// Change detection
// -------------------------------------------------------------------------------------------

fn flags(value: &str) -> String {
    format!(r#"{{"flags": {{"animal": "{value}"}}}}"#)
}

fn assert_unchanged(overrides: &FlagOverrides) {
    let reloaded = overrides.reload_if_changed();
    assert!(reloaded.is_none(), "expected no change, got {reloaded:?}");
}

fn assert_not_found(overrides: &FlagOverrides, path: &Path) {
    match overrides.reload_if_changed() {
        Some(Err(error)) => assert_eq!(
            error,
            OverrideError::FileNotFound {
                path: path.to_owned()
            }
        ),
        other => panic!("expected FileNotFound, got {other:?}"),
    }
}

fn set_modified(path: &Path, time: SystemTime) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(time).unwrap();
}

fn reloaded_animal(overrides: &FlagOverrides) -> String {
    match overrides.reload_if_changed() {
        Some(Ok(config)) => string_value(&config, "animal").expect("animal"),
        other => panic!("expected a reloaded config, got {other:?}"),
    }
}

#[test]
fn reload_if_changed_reports_rewrites_deletion_and_restoration() {
    let dir = TempDir::new("reload");
    let path = dir.file("flags.json");
    std::fs::write(&path, flags("Cat")).unwrap();
    let overrides = FlagOverrides::from_file(&path, OverrideBehaviour::LocalOverRemote);
    let config = overrides.load().unwrap();
    assert_eq!(string_value(&config, "animal").as_deref(), Some("Cat"));

    // Unchanged: nothing, however often asked.
    assert_unchanged(&overrides);
    assert_unchanged(&overrides);

    // Rewritten with a different length.
    std::fs::write(&path, flags("Horse")).unwrap();
    assert_eq!(reloaded_animal(&overrides), "Horse");
    assert_unchanged(&overrides);

    // Rewritten with the same length: the modification time tells.
    std::fs::write(&path, flags("Zebra")).unwrap();
    set_modified(&path, SystemTime::now() + Duration::from_secs(60));
    assert_eq!(reloaded_animal(&overrides), "Zebra");
    assert_unchanged(&overrides);

    // Rewritten with a different length, within the same modification time (coarse clocks):
    // the length tells.
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, flags("Elephant")).unwrap();
    set_modified(&path, before);
    assert_eq!(reloaded_animal(&overrides), "Elephant");
    assert_unchanged(&overrides);

    // Deleted: reported once.
    std::fs::remove_file(&path).unwrap();
    assert_not_found(&overrides, &path);
    assert_unchanged(&overrides);

    // Restored.
    std::fs::write(&path, flags("Dog")).unwrap();
    assert_eq!(reloaded_animal(&overrides), "Dog");
    assert_unchanged(&overrides);

    // Broken, then fixed.
    std::fs::write(&path, r#"{"flags": {"animal": "#).unwrap();
    let broken = overrides.reload_if_changed();
    assert!(
        matches!(broken, Some(Err(OverrideError::Invalid { .. }))),
        "{broken:?}"
    );
    assert_unchanged(&overrides);
    std::fs::write(&path, flags("Bird")).unwrap();
    assert_eq!(reloaded_animal(&overrides), "Bird");
}

/// An editor that saves by writing a new file and renaming it over the old one: same length,
/// same modification time, a different file.
#[cfg(unix)]
#[test]
fn reload_if_changed_notices_a_file_replaced_by_a_rename() {
    let dir = TempDir::new("rename");
    let path = dir.file("flags.json");
    std::fs::write(&path, flags("Cat")).unwrap();
    let overrides = FlagOverrides::from_file(&path, OverrideBehaviour::LocalOnly);
    overrides.load().unwrap();
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    let replacement = dir.file("flags.json.new");
    std::fs::write(&replacement, flags("Dog")).unwrap();
    set_modified(&replacement, before);
    std::fs::rename(&replacement, &path).unwrap();
    assert_eq!(reloaded_animal(&overrides), "Dog");
    assert_unchanged(&overrides);
}

#[test]
fn reload_if_changed_without_load_reads_once_and_a_file_appearing_is_a_change() {
    let dir = TempDir::new("appear");
    let path = dir.file("flags.json");
    let overrides = FlagOverrides::from_file(&path, OverrideBehaviour::LocalOnly);
    // Not loaded yet: the first call reads (and finds nothing).
    assert_not_found(&overrides, &path);
    assert_unchanged(&overrides);
    std::fs::write(&path, flags("Cat")).unwrap();
    assert_eq!(reloaded_animal(&overrides), "Cat");
    assert_unchanged(&overrides);
}

#[test]
fn clones_observe_the_file_independently() {
    let dir = TempDir::new("clones");
    let path = dir.file("flags.json");
    std::fs::write(&path, flags("Cat")).unwrap();
    let first = FlagOverrides::from_file(&path, OverrideBehaviour::LocalOnly);
    first.load().unwrap();
    let second = first.clone();
    assert_unchanged(&second);
    std::fs::write(&path, flags("Horse")).unwrap();
    assert_eq!(reloaded_animal(&first), "Horse");
    // The change seen through the first is still news to the second.
    assert_eq!(reloaded_animal(&second), "Horse");
    assert_unchanged(&first);
    assert_unchanged(&second);
}

// -------------------------------------------------------------------------------------------
// Merging
// -------------------------------------------------------------------------------------------

const REMOTE: &str = r#"{"p":{"u":"https://cdn-eu.configcat.com","r":1,"s":"remote-salt"},"f":{
    "onlyRemote":{"t":1,"v":{"s":"remote"}},
    "both":{"t":1,"v":{"s":"remote"}}}}"#;
const LOCAL: &str = r#"{"p":{"u":"https://local.example.com","r":0,"s":"local-salt"},"f":{
    "onlyLocal":{"t":1,"v":{"s":"local"}},
    "both":{"t":1,"v":{"s":"local"}}}}"#;

fn merged_values(config: &Config) -> Vec<(String, String)> {
    let mut values: Vec<(String, String)> = config
        .settings()
        .keys()
        .map(|k| (k.to_string(), string_value(config, k).unwrap()))
        .collect();
    values.sort();
    values
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn merge_in_the_three_behaviours() {
    let remote = Config::parse(REMOTE).unwrap();
    let local = Config::parse(LOCAL).unwrap();

    let merged = merge(Some(&remote), &local, OverrideBehaviour::LocalOnly);
    assert_eq!(
        merged_values(&merged),
        pairs(&[("both", "local"), ("onlyLocal", "local")])
    );

    let merged = merge(Some(&remote), &local, OverrideBehaviour::LocalOverRemote);
    assert_eq!(
        merged_values(&merged),
        pairs(&[
            ("both", "local"),
            ("onlyLocal", "local"),
            ("onlyRemote", "remote")
        ])
    );
    assert_eq!(merged.preferences(), remote.preferences());

    let merged = merge(Some(&remote), &local, OverrideBehaviour::RemoteOverLocal);
    assert_eq!(
        merged_values(&merged),
        pairs(&[
            ("both", "remote"),
            ("onlyLocal", "local"),
            ("onlyRemote", "remote")
        ])
    );
    assert_eq!(merged.preferences(), remote.preferences());
    assert_eq!(
        merged.preferences().base_url.as_deref(),
        Some("https://cdn-eu.configcat.com")
    );

    // No remote config yet: the local settings and preferences, whatever the behaviour.
    for behaviour in [
        OverrideBehaviour::LocalOnly,
        OverrideBehaviour::LocalOverRemote,
        OverrideBehaviour::RemoteOverLocal,
    ] {
        let merged = merge(None, &local, behaviour);
        assert_eq!(
            merged_values(&merged),
            pairs(&[("both", "local"), ("onlyLocal", "local")]),
            "{behaviour:?}"
        );
        assert_eq!(merged.preferences(), local.preferences(), "{behaviour:?}");
    }

    // An empty local config changes nothing but the behaviour's choice of source.
    let empty = Config::parse("{}").unwrap();
    let merged = merge(Some(&remote), &empty, OverrideBehaviour::RemoteOverLocal);
    assert_eq!(
        merged_values(&merged),
        pairs(&[("both", "remote"), ("onlyRemote", "remote")])
    );
    assert!(
        merge(Some(&remote), &empty, OverrideBehaviour::LocalOnly)
            .settings()
            .is_empty()
    );
}

#[test]
fn merged_settings_keep_their_own_salt() {
    // The same confidential rule (Email IS ONE OF, hashed) in both configs, hashed with each
    // config's own salt: whichever config a setting comes from, it matches only with its salt.
    fn hashed(salt: &str, key: &str, email: &str, value: &str) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{email}{salt}{key}"));
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            r#"{{"p":{{"s":"{salt}"}},"f":{{"{key}":{{"t":1,"v":{{"s":"default"}},
            "r":[{{"c":[{{"u":{{"a":"Email","c":16,"l":["{hex}"]}}}}],"s":{{"v":{{"s":"{value}"}}}}}}]}}}}}}"#
        )
    }
    let remote = Config::parse(&hashed("remote-salt", "flag", "r@example.com", "remote")).unwrap();
    let local = Config::parse(&hashed("local-salt", "flag", "l@example.com", "local")).unwrap();
    let remote_user = User::new("1").email("r@example.com");
    let local_user = User::new("2").email("l@example.com");

    let merged = merge(Some(&remote), &local, OverrideBehaviour::LocalOverRemote);
    // The merged preferences carry the remote salt, yet the local setting hashes with its own.
    assert_eq!(merged.preferences().salt.as_deref(), Some("remote-salt"));
    assert_eq!(
        evaluate(&merged, "flag", Some(&local_user)),
        Ok(Value::from("local"))
    );
    assert_eq!(
        evaluate(&merged, "flag", Some(&remote_user)),
        Ok(Value::from("default"))
    );

    let merged = merge(Some(&remote), &local, OverrideBehaviour::RemoteOverLocal);
    assert_eq!(
        evaluate(&merged, "flag", Some(&remote_user)),
        Ok(Value::from("remote"))
    );
    assert_eq!(
        evaluate(&merged, "flag", Some(&local_user)),
        Ok(Value::from("default"))
    );
}

// -------------------------------------------------------------------------------------------
// The official override fixtures, through the real `merge`
// -------------------------------------------------------------------------------------------

/// Evaluates every case on the fixture's remote config merged with its local file, loaded
/// through `FlagOverrides::from_file`.
fn check_fixture(sdk_key: &str, file: &str, cases: &[Case]) {
    let remote = support::config_for_sdk_key(sdk_key);
    let path = support::data_path(file);
    let mut failures = Vec::new();
    for (key, id, email, behaviour, expected) in cases {
        let config = match behaviour {
            None => remote.clone(),
            Some(behaviour) => {
                let overrides = FlagOverrides::from_file(&path, *behaviour);
                let local = overrides.load().unwrap();
                let remote = (*behaviour != OverrideBehaviour::LocalOnly).then_some(&remote);
                merge(remote, &local, overrides.behaviour())
            }
        };
        let user = User::new(*id).email(*email);
        let actual = evaluate(&config, key, Some(&user));
        if !expected.matches(key, &actual) {
            failures.push(format!(
                "{file} over {sdk_key} ({behaviour:?}), key {key}, user {id}/{email}: expected {expected:?}, got {actual:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The prerequisite fixture ([`prerequisite_cases`]) through the file source and the real
/// `merge`.
#[test]
fn prerequisite_flag_overrides() {
    check_fixture(
        PREREQUISITE_SDK_KEY,
        PREREQUISITE_FILE,
        &prerequisite_cases(),
    );
}

/// The segment and salt fixture ([`segment_cases`]) through the file source and the real
/// `merge`.
#[test]
fn segment_overrides() {
    check_fixture(SEGMENT_SDK_KEY, SEGMENT_FILE, &segment_cases());
}

/// Merging with the remote config present even in LocalOnly (as a caller may): still only the
/// local settings.
#[test]
fn local_only_ignores_a_remote_config() {
    let remote = support::config_for_sdk_key(SEGMENT_SDK_KEY);
    let local = load_file(
        "overrides/test_override_segments_v6.json",
        OverrideBehaviour::LocalOnly,
    );
    let merged = merge(Some(&remote), &local, OverrideBehaviour::LocalOnly);
    let mut keys: Vec<&str> = merged.settings().keys().map(|k| k.as_str()).collect();
    keys.sort();
    let mut local_keys: Vec<&str> = local.settings().keys().map(|k| k.as_str()).collect();
    local_keys.sort();
    assert_eq!(keys, local_keys);
    let john = User::new("1").email("john@example.com");
    assert_eq!(
        evaluate(&merged, "developerAndBetaUserSegment", Some(&john)),
        Ok(Value::Bool(true))
    );
}
