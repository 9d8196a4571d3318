//! The evaluation API around the algorithm: parse errors, default-value type rules, the error
//! events 1001/1002/2002, evaluation details, lookup by variation id.

use configcat_actix::{
    Config, EvaluationError, LogLevel, MemoryLog, NoLog, User, Value, eval, log::event,
};

const CONFIG: &str = r#"{
  "p": {"u": "https://cdn-global.configcat.com", "r": 0, "s": "test-salt"},
  "f": {
    "enabled": {"t": 0, "v": {"b": true}, "i": "v-enabled", "unknownField": [1, 2]},
    "greeting": {"t": 1, "v": {"s": "hello"}, "i": "v-hello",
      "r": [{"c": [{"u": {"a": "Country", "c": 0, "l": ["Hungary"]}}],
             "s": {"v": {"s": "szia"}, "i": "v-szia"}}],
      "p": [{"p": 100, "v": {"s": "hi"}, "i": "v-hi"}]},
    "count": {"t": 2, "v": {"i": 42}, "i": "v-42"},
    "ratio": {"t": 3, "v": {"d": 0.5}, "i": "v-half"},
    "badPercentages": {"t": 0, "v": {"b": false},
      "p": [{"p": 0, "v": {"b": true}}, {"p": 0, "v": {"b": false}}]},
    "wrongValueField": {"t": 0, "v": {"s": "not a bool"}},
    "unknownType": {"t": 9, "v": {"b": true}},
    "unknownComparator": {"t": 0, "v": {"b": false},
      "r": [{"c": [{"u": {"a": "Email", "c": 99, "s": "x"}}], "s": {"v": {"b": true}}}]},
    "danglingSegment": {"t": 0, "v": {"b": false},
      "r": [{"c": [{"s": {"s": 5, "c": 0}}], "s": {"v": {"b": true}}}]},
    "missingPrerequisite": {"t": 0, "v": {"b": false},
      "r": [{"c": [{"p": {"f": "nope", "c": 0, "v": {"b": true}}}], "s": {"v": {"b": true}}}]}
  },
  "futureRootField": {"anything": true}
}"#;

fn config() -> Config {
    Config::parse(CONFIG).expect("test config parses")
}

#[test]
fn malformed_documents_give_typed_errors_with_a_path() {
    let cases = [
        ("", "."),
        ("{", "."),
        ("[1,2]", "."),
        (
            r#"{"f": {"flag": {"t": "zero", "v": {"b": true}}}}"#,
            "f.flag.t",
        ),
        (
            r#"{"f": {"flag": {"t": 0, "v": {"b": true}, "r": [{"c": [{"u": {"a": "Email", "c": "2"}}]}]}}}"#,
            "f.flag.r[0].c[0].u.c",
        ),
        (r#"{"p": {"s": 42}, "f": {}}"#, "p.s"),
        (
            r#"{"f": {"flag": {"t": 1, "v": {"s": "x"}, "p": [{"p": "50"}]}}}"#,
            "f.flag.p[0].p",
        ),
    ];
    for (json, path) in cases {
        let error = Config::parse(json).expect_err(json);
        assert_eq!(error.path(), path, "path for {json}");
        assert!(error.line() >= 1, "line for {json}");
        let text = error.to_string();
        assert!(
            text.contains(path),
            "message {text:?} names the path {path}"
        );
    }
}

#[test]
fn unknown_fields_are_ignored_and_missing_optional_parts_default() {
    let config = config();
    assert_eq!(config.settings().len(), 10);
    assert_eq!(config.preferences().salt.as_deref(), Some("test-salt"));
    let empty = Config::parse("{}").expect("an empty document is an empty config");
    assert!(empty.settings().is_empty());
}

#[test]
fn typed_defaults_must_fit_the_setting_type() {
    let config = config();
    let log = MemoryLog::new(LogLevel::Error);
    // Fitting types evaluate.
    assert!(eval::evaluate_value(&config, "enabled", false, None, &log));
    assert_eq!(
        eval::evaluate_value(&config, "greeting", String::new(), None, &log),
        "hello"
    );
    assert_eq!(
        eval::evaluate_value(&config, "count", 0_i64, None, &log),
        42
    );
    assert_eq!(eval::evaluate_value(&config, "ratio", 0.0, None, &log), 0.5);
    // f64 reads whole-number settings too, as numbers are one type in the other SDKs.
    assert_eq!(
        eval::evaluate_value(&config, "count", 0.0, None, &log),
        42.0
    );
    let events = log.take();
    assert!(events.is_empty(), "{events:?}");

    // Mismatches return the default and log 2002.
    assert_eq!(
        eval::evaluate_value(&config, "enabled", "x".to_owned(), None, &log),
        "x"
    );
    assert_eq!(eval::evaluate_value(&config, "ratio", 7_i64, None, &log), 7);
    assert!(!eval::evaluate_value(&config, "count", false, None, &log));
    let events = log.take();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e.event_id == event::SETTING_TYPE_MISMATCH)
    );
    assert_eq!(
        events[0].message,
        "Failed to evaluate setting 'enabled' (The type of a setting must match the type of the specified default value. Setting's type was Boolean but the default value's type was String.). Returning the `default_value` parameter that you specified in your application: 'x'."
    );

    let details = eval::evaluate_details(&config, "enabled", 5_i64, None, None, &NoLog);
    assert!(details.is_default_value);
    assert_eq!(details.value, 5);
    assert!(matches!(
        details.error,
        Some(EvaluationError::SettingTypeMismatch {
            requested_type: "i64",
            ..
        })
    ));
}

#[test]
fn unknown_keys_log_1001_with_the_available_keys() {
    let config =
        Config::parse(r#"{"f":{"b":{"t":0,"v":{"b":true}},"a":{"t":0,"v":{"b":true}}}}"#).unwrap();
    let log = MemoryLog::new(LogLevel::Error);
    assert!(!eval::evaluate_value(&config, "missing", false, None, &log));
    let events = log.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_id, event::SETTING_KEY_MISSING);
    assert_eq!(
        events[0].message,
        "Failed to evaluate setting 'missing' (the key was not found in config JSON). Returning the `default_value` parameter that you specified in your application: 'false'. Available keys: ['a', 'b']."
    );
    let details = eval::evaluate_details(&config, "missing", true, None, None, &NoLog);
    assert_eq!(
        details.error,
        Some(EvaluationError::SettingKeyMissing {
            key: "missing".into(),
            available_keys: vec!["a".into(), "b".into()],
        })
    );
}

#[test]
fn broken_flags_return_the_default_with_error_1002_and_never_panic() {
    let config = config();
    let cases = [
        (
            "badPercentages",
            "Sum of percentage option percentages is less than 100.",
        ),
        ("wrongValueField", "Setting value is missing or invalid."),
        ("unknownComparator", "Comparison operator is invalid."),
        ("danglingSegment", "Segment reference is invalid."),
        (
            "missingPrerequisite",
            "Prerequisite flag key is missing or invalid.",
        ),
    ];
    let user = User::new("id").email("a@example.com");
    for (key, reason) in cases {
        let log = MemoryLog::new(LogLevel::Error);
        let details = eval::evaluate_details(&config, key, true, Some(&user), None, &log);
        assert!(details.is_default_value, "{key}");
        assert!(details.value, "{key} returns the default");
        assert_eq!(details.variation_id, None);
        assert_eq!(
            details.error,
            Some(EvaluationError::InvalidConfig(reason.into())),
            "{key}"
        );
        let events = log.take();
        assert_eq!(events.len(), 1, "{key}: {events:?}");
        assert_eq!(events[0].event_id, event::EVALUATION_FAILED, "{key}");
        assert!(
            events[0].message.contains(reason),
            "{key}: {}",
            events[0].message
        );
    }
    // An unknown setting type is a type mismatch for any typed default, and an error untyped.
    let untyped = eval::evaluate::<Value>(&config, "unknownType", None, None, &NoLog);
    assert!(untyped.is_err());
}

#[test]
fn the_evaluation_log_is_built_only_when_info_is_enabled() {
    let config = config();
    let user = User::new("id").country("Hungary");
    let warn = MemoryLog::new(LogLevel::Warn);
    eval::evaluate_value(&config, "greeting", String::new(), Some(&user), &warn);
    assert!(warn.take().is_empty());
    let info = MemoryLog::new(LogLevel::Info);
    eval::evaluate_value(&config, "greeting", String::new(), Some(&user), &info);
    let events = info.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_id, event::EVALUATION_LOG);
    assert_eq!(
        events[0].message,
        "Evaluating 'greeting' for User '{\"Identifier\":\"id\",\"Country\":\"Hungary\"}'\n  Evaluating targeting rules and applying the first match if any:\n  - IF User.Country IS ONE OF ['Hungary'] THEN 'szia' => MATCH, applying rule\n  Returning 'szia'."
    );
}

#[test]
fn details_name_the_matched_rule_and_option() {
    let config = config();
    let hungarian = User::new("id").country("Hungary");
    let details = eval::evaluate_details(
        &config,
        "greeting",
        String::new(),
        Some(&hungarian),
        None,
        &NoLog,
    );
    assert_eq!(details.value, "szia");
    assert_eq!(details.variation_id.as_deref(), Some("v-szia"));
    assert!(!details.is_default_value);
    let rule = details.matched_targeting_rule.expect("a rule matched");
    assert_eq!(rule.variation_id(), Some("v-szia"));
    assert!(details.matched_percentage_option.is_none());
    assert_eq!(details.user, Some(hungarian));

    let other = User::new("id").country("Austria");
    let fetched = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let details = eval::evaluate_details(
        &config,
        "greeting",
        String::new(),
        Some(&other),
        Some(fetched),
        &NoLog,
    );
    assert_eq!(details.value, "hi");
    assert!(details.matched_targeting_rule.is_none());
    let option = details
        .matched_percentage_option
        .expect("an option matched");
    assert_eq!(option.percentage(), 100);
    assert_eq!(details.fetch_time, Some(fetched));
}

#[test]
fn variation_ids_lead_back_to_key_and_value() {
    let config = config();
    let log = MemoryLog::new(LogLevel::Error);
    let cases = [
        ("v-enabled", "enabled", Value::Bool(true)),
        ("v-szia", "greeting", Value::from("szia")),
        ("v-hi", "greeting", Value::from("hi")),
        ("v-42", "count", Value::Int(42)),
        ("v-half", "ratio", Value::Double(0.5)),
    ];
    for (id, key, value) in cases {
        assert_eq!(
            eval::key_and_value(&config, id, &log),
            Some((key, &value)),
            "{id}"
        );
    }
    assert_eq!(eval::key_and_value(&config, "unknown", &log), None);
    let events = log.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_id, event::VARIATION_ID_NOT_FOUND);
}

#[test]
fn user_attributes_of_every_type_are_accepted() {
    // Custom attributes of each type, compared by the text, number, date, list and semver
    // comparators; names the well-known attributes use are ignored as custom attributes.
    let config = Config::parse(
        r#"{"p":{"s":"s"},"f":{
        "text": {"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"Plan","c":28,"s":"gold"}}],"s":{"v":{"b":true}}}]},
        "number": {"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"Seats","c":14,"d":10}}],"s":{"v":{"b":true}}}]},
        "date": {"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"Joined","c":18,"d":1700000000}}],"s":{"v":{"b":true}}}]},
        "list": {"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"Roles","c":34,"l":["admin"]}}],"s":{"v":{"b":true}}}]},
        "version": {"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"App","c":8,"s":"1.2.0"}}],"s":{"v":{"b":true}}}]},
        "email": {"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"Email","c":28,"s":"x@y"}}],"s":{"v":{"b":true}}}]}
        }}"#,
    )
    .unwrap();
    let user = User::new("u")
        .custom("Plan", "gold")
        .custom("Seats", 25)
        .custom(
            "Joined",
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000),
        )
        .custom("Roles", vec!["admin", "billing"])
        .custom("App", semver::Version::new(1, 3, 0))
        .custom("Email", "x@y");
    for key in ["text", "number", "date", "list", "version"] {
        assert!(
            eval::evaluate_value(&config, key, false, Some(&user), &NoLog),
            "{key}"
        );
    }
    assert!(
        !eval::evaluate_value(&config, "email", false, Some(&user), &NoLog),
        "a custom attribute named Email does not set the Email attribute"
    );
}
