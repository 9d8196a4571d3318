//! The official evaluation-log suites (tests/data/evaluationlog): for each case, the returned
//! value and the complete text of every log event the evaluation emits, user JSON included.
//!
//! The expected files carry the official Rust SDK's wording, whose dates lack the `Z` that the
//! canonical JavaScript SDK writes (`2023-08-31T16:00:00.000Z UTC`); spec §7 asks for the
//! canonical dates, so the harness adds the `Z` to the expected text before comparing.

use crate::support;
use std::fmt;

use configcat_actix::{FlagValue, LogLevel, MemoryLog, User, Value, eval};
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

#[derive(Deserialize)]
struct Suite {
    #[serde(rename = "sdkKey")]
    sdk_key: Option<String>,
    #[serde(rename = "jsonOverride")]
    json_override: Option<String>,
    tests: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    key: String,
    #[serde(rename = "defaultValue")]
    default_value: serde_json::Value,
    user: Option<OrderedAttributes>,
    #[serde(rename = "returnValue")]
    return_value: serde_json::Value,
    #[serde(rename = "expectedLog")]
    expected_log: String,
}

/// The user attributes in file order (serde_json's map would sort them).
struct OrderedAttributes(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for OrderedAttributes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = OrderedAttributes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a user object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(OrderedAttributes(pairs))
            }
        }
        d.deserialize_map(Pairs)
    }
}

fn build_user(attributes: &OrderedAttributes) -> User {
    let text = |v: &serde_json::Value| v.as_str().expect("string attribute").to_owned();
    let identifier = attributes
        .0
        .iter()
        .find(|(name, _)| name == "Identifier")
        .map_or_else(String::new, |(_, v)| text(v));
    let mut user = User::new(identifier);
    for (name, value) in &attributes.0 {
        user = match name.as_str() {
            "Identifier" => user,
            "Email" => user.email(text(value)),
            "Country" => user.country(text(value)),
            _ => match value {
                serde_json::Value::String(s) => user.custom(name.as_str(), s.as_str()),
                serde_json::Value::Number(n) => user.custom(name.as_str(), n.as_f64().unwrap()),
                other => panic!("unsupported attribute value {other}"),
            },
        };
    }
    user
}

/// Evaluates with a default of the JSON default's type, as a typed `get_value` would.
fn evaluate_with_default(
    config: &configcat_actix::Config,
    case: &Case,
    user: Option<&User>,
    log: &MemoryLog,
) -> Value {
    fn run<T: FlagValue>(
        config: &configcat_actix::Config,
        key: &str,
        default: T,
        user: Option<&User>,
        log: &MemoryLog,
        wrap: fn(T) -> Value,
    ) -> Value {
        wrap(eval::evaluate_value(config, key, default, user, log))
    }
    let key = case.key.as_str();
    match &case.default_value {
        serde_json::Value::Bool(b) => run(config, key, *b, user, log, Value::Bool),
        serde_json::Value::String(s) => run(config, key, s.clone(), user, log, Value::from),
        serde_json::Value::Number(n) if n.is_i64() => {
            run(config, key, n.as_i64().unwrap(), user, log, Value::Int)
        }
        serde_json::Value::Number(n) => {
            run(config, key, n.as_f64().unwrap(), user, log, Value::Double)
        }
        other => panic!("unsupported default value {other}"),
    }
}

fn expected_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Number(n) if n.is_i64() => Value::Int(n.as_i64().unwrap()),
        serde_json::Value::Number(n) => Value::Double(n.as_f64().unwrap()),
        other => panic!("unsupported return value {other}"),
    }
}

/// `(2023-08-31T16:00:00.000 UTC)` → `(2023-08-31T16:00:00.000Z UTC)`.
fn canonical_dates(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(" UTC)") {
        out.push_str(&rest[..i]);
        if rest[..i].ends_with(|c: char| c.is_ascii_digit()) {
            out.push('Z');
        }
        out.push_str(" UTC)");
        rest = &rest[i + " UTC)".len()..];
    }
    out.push_str(rest);
    out
}

fn run_suite(name: &str) -> usize {
    let suite: Suite =
        serde_json::from_str(&support::read_data(&format!("evaluationlog/{name}.json"))).unwrap();
    let config = match (&suite.sdk_key, &suite.json_override) {
        (Some(key), _) => support::config_for_sdk_key(key),
        (None, Some(file)) => support::parse_config(&format!("evaluationlog/_overrides/{file}")),
        (None, None) => panic!("suite {name} names no config"),
    };
    let mut failures = Vec::new();
    for (index, case) in suite.tests.iter().enumerate() {
        let log = MemoryLog::new(LogLevel::Info);
        let user = case.user.as_ref().map(build_user);
        let value = evaluate_with_default(&config, case, user.as_ref(), &log);
        let actual: String = log.take().iter().map(|e| format!("{e}\n")).collect();
        let expected = canonical_dates(&support::read_data(&format!(
            "evaluationlog/{name}/{}",
            case.expected_log
        )));
        let label = format!(
            "{name}.json case {index} (key {}, {})",
            case.key, case.expected_log
        );
        if value != expected_value(&case.return_value) {
            failures.push(format!(
                "{label}: returned {value:?}, expected {}",
                case.return_value
            ));
        }
        if actual != expected {
            failures.push(format!(
                "{label}: log differs\n--- expected\n{expected}--- actual\n{actual}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s) in suite {name}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    support::report(format_args!(
        "{name}: {} cases checked (value and full log text)",
        suite.tests.len()
    ));
    suite.tests.len()
}

macro_rules! suites {
    ($($name:ident => $file:expr),* $(,)?) => {$(
        #[test]
        fn $name() {
            assert!(run_suite($file) > 0, "no case checked");
        }
    )*};
    ($($name:ident),* $(,)?) => { suites!($($name => (stringify!($name))),*); };
}

suites!(
    one_targeting_rule => "1_targeting_rule",
    two_targeting_rules => "2_targeting_rules",
);
suites!(
    simple_value,
    options_based_on_user_id,
    options_based_on_custom_attr,
    options_after_targeting_rule,
    options_within_targeting_rule,
    and_rules,
    segment,
    prerequisite_flag,
    comparators,
    epoch_date_validation,
    number_validation,
    semver_validation,
    list_truncation,
);
