//! Criterion benchmarks of pure flag evaluation (no actors, no I/O) and of config parsing.
//!
//! Run with `cargo bench --bench evaluate`. Every evaluation goes through
//! [`eval::evaluate_value`], the typed path, with [`NoLog`] (all logging off). Each flag is
//! evaluated with a six-attribute user and without a user. Results are summarised in
//! `docs/performance.md`.

use std::hint::black_box;
use std::time::Duration;

use configcat_actix::{Config, NoLog, User, eval};
use criterion::{Criterion, criterion_group, criterion_main};

/// The largest config of the cross-SDK test data (28.6 KB).
const BIGGEST_CONFIG: &str = include_str!(
    "../tests/data/configs/by-sdk-key/configcat-sdk-1__JcPbCGl_1E-K9M-fJOyKyQ__OfQqcTjfFUGBwMKqtyEOrQ.json"
);

/// Ten targeting rules on `Email`, alternating CONTAINS ANY OF (2) and IS ONE OF (0), each
/// with three comparison values; only the tenth matches `jane@example.com`.
fn ten_text_rules() -> String {
    let rules: Vec<String> = (1..=10)
        .map(|i| {
            let (comparator, list) = if i == 10 {
                (2, r#"["@nomatch10.com","@other10.org","@example.com"]"#.to_owned())
            } else if i % 2 == 1 {
                (
                    2,
                    format!(r#"["@nomatch{i}.com","@other{i}.org","@third{i}.net"]"#),
                )
            } else {
                (
                    0,
                    format!(r#"["a{i}@nomatch.com","b{i}@nomatch.com","c{i}@nomatch.com"]"#),
                )
            };
            format!(
                r#"{{"c":[{{"u":{{"a":"Email","c":{comparator},"l":{list}}}}}],"s":{{"v":{{"b":true}},"i":"rule{i}"}}}}"#
            )
        })
        .collect();
    rules.join(",")
}

/// A config_v6 document with one flag per benchmarked case.
///
/// - `noRules`: a bool flag with only a default value.
/// - `tenRules`: [`ten_text_rules`], default `false`.
/// - `percentage`: 30 % / 70 % options on the identifier, default `false`.
/// - `segment`: one rule `IS IN SEGMENT 'Beta'`; Beta holds `Email CONTAINS ANY OF` and
///   `Country IS ONE OF`.
/// - `chainA` -> `chainB` -> `chainC`: each of A and B has a rule "prerequisite == true";
///   `chainC` has a rule `Country IS ONE OF ['Hungary']` serving `true`, default `false`.
fn bench_config_json() -> String {
    format!(
        r#"{{
  "p": {{"s": "bench-salt"}},
  "s": [{{"n": "Beta", "r": [
    {{"a": "Email", "c": 2, "l": ["@nomatch.com", "@example.com"]}},
    {{"a": "Country", "c": 0, "l": ["Germany", "Hungary"]}}
  ]}}],
  "f": {{
    "noRules": {{"t": 0, "v": {{"b": true}}, "i": "v-norules"}},
    "tenRules": {{"t": 0, "v": {{"b": false}}, "i": "v-default", "r": [{rules}]}},
    "percentage": {{"t": 0, "v": {{"b": false}}, "i": "v-default",
      "p": [{{"p": 30, "v": {{"b": true}}, "i": "p-on"}}, {{"p": 70, "v": {{"b": false}}, "i": "p-off"}}]}},
    "segment": {{"t": 0, "v": {{"b": false}}, "i": "v-default",
      "r": [{{"c": [{{"s": {{"s": 0, "c": 0}}}}], "s": {{"v": {{"b": true}}, "i": "in-beta"}}}}]}},
    "chainA": {{"t": 0, "v": {{"b": false}}, "i": "a-off",
      "r": [{{"c": [{{"p": {{"f": "chainB", "c": 0, "v": {{"b": true}}}}}}], "s": {{"v": {{"b": true}}, "i": "a-on"}}}}]}},
    "chainB": {{"t": 0, "v": {{"b": false}}, "i": "b-off",
      "r": [{{"c": [{{"p": {{"f": "chainC", "c": 0, "v": {{"b": true}}}}}}], "s": {{"v": {{"b": true}}, "i": "b-on"}}}}]}},
    "chainC": {{"t": 0, "v": {{"b": false}}, "i": "c-off",
      "r": [{{"c": [{{"u": {{"a": "Country", "c": 0, "l": ["Hungary"]}}}}], "s": {{"v": {{"b": true}}, "i": "c-on"}}}}]}}
  }}
}}"#,
        rules = ten_text_rules()
    )
}

/// The benchmark user: identifier, email, country and three custom attributes.
fn bench_user() -> User {
    User::new("user-4217")
        .email("jane@example.com")
        .country("Hungary")
        .custom("Plan", "enterprise")
        .custom("Seats", 25)
        .custom("Team", "platform")
}

/// Each benchmarked flag and the variation id it must select with and without the user,
/// checked before measuring so that a broken config cannot produce flattering numbers.
const CASES: &[(&str, &str, &str, &str)] = &[
    ("no_rules", "noRules", "v-norules", "v-norules"),
    (
        "ten_text_rules_last_matches",
        "tenRules",
        "rule10",
        "v-default",
    ),
    ("percentage_options", "percentage", "p-off", "v-default"),
    ("segment_condition", "segment", "in-beta", "v-default"),
    ("prerequisite_chain_of_3", "chainA", "a-on", "a-off"),
];

fn variation_id(config: &Config, key: &str, user: Option<&User>) -> String {
    let selection = eval::evaluate(config, key, Some(&false), user, &NoLog)
        .unwrap_or_else(|e| panic!("evaluating {key}: {e}"));
    selection.variation_id.unwrap_or_default().to_owned()
}

fn evaluation(c: &mut Criterion) {
    let config = Config::parse(&bench_config_json()).expect("the bench config parses");
    let user = bench_user();

    let mut group = c.benchmark_group("evaluate_value");
    for &(name, key, with_user, without_user) in CASES {
        assert_eq!(variation_id(&config, key, Some(&user)), with_user, "{key}");
        assert_eq!(variation_id(&config, key, None), without_user, "{key}");
        group.bench_function(format!("{name}/with_user"), |b| {
            b.iter(|| {
                eval::evaluate_value(
                    black_box(&config),
                    black_box(key),
                    false,
                    black_box(Some(&user)),
                    &NoLog,
                )
            })
        });
        group.bench_function(format!("{name}/without_user"), |b| {
            b.iter(|| {
                eval::evaluate_value(
                    black_box(&config),
                    black_box(key),
                    false,
                    black_box(None),
                    &NoLog,
                )
            })
        });
    }
    group.finish();
}

fn parsing(c: &mut Criterion) {
    let flags = Config::parse(BIGGEST_CONFIG)
        .expect("the biggest test config parses")
        .settings()
        .len();
    assert!(flags > 0);
    c.bench_function("config_parse/biggest_test_config_28KB", |b| {
        b.iter(|| Config::parse(black_box(BIGGEST_CONFIG)))
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = evaluation, parsing
}
criterion_main!(benches);
