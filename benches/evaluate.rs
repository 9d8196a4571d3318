//! Criterion benchmarks of pure flag evaluation (no actors, no I/O) and of config parsing.
//!
//! Run with `cargo bench --bench evaluate`. Every evaluation goes through
//! [`eval::evaluate_value`], the typed path, with [`NoLog`] (all logging off). Each flag is
//! evaluated with a six-attribute user and without a user. Results are summarised in
//! `docs/performance.md`.

use std::hint::black_box;
use std::time::Duration;

#[path = "support/bench_config.rs"]
mod bench_config;
#[path = "support/big_config.rs"]
mod big_config;
#[path = "support/mixed_config.rs"]
mod mixed_config;

use bench_config::bench_config_json;
use configcat_actix::{Config, NoLog, User, Value, eval};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// The largest config of the cross-SDK test data (28.6 KB).
const BIGGEST_CONFIG: &str = include_str!(
    "../tests/data/configs/by-sdk-key/configcat-sdk-1__JcPbCGl_1E-K9M-fJOyKyQ__OfQqcTjfFUGBwMKqtyEOrQ.json"
);

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

/// The mixed set of benches/support/mixed_config.rs: each user evaluated for every flag of
/// three configs, one criterion iteration for the whole workload (throughput = evaluations).
///
/// * `details_warm_users`: `eval::evaluate_details` with users reused across iterations, so
///   their attribute forms are computed by the first iteration only (a long-lived user, or
///   `get_all_values`);
/// * `details_fresh_users`: the same with the users rebuilt before each iteration (outside the
///   timing), so each user's forms are computed within its 6–24 evaluations, as for a user
///   built per request;
/// * `value_warm_users`: `eval::evaluate_value`, no details.
fn mixed(c: &mut Criterion) {
    let mixed = mixed_config::mixed();
    let configs: Vec<Config> = mixed
        .configs
        .iter()
        .map(|c| Config::parse(&c.json).expect("a generated config parses"))
        .collect();
    let build_users = || -> Vec<User> { mixed.users.iter().map(mixed_config::our_user).collect() };
    let users = build_users();
    let requests = mixed.requests();
    // Every evaluation must succeed: an error would measure the error path.
    for &(c, u, key) in &requests {
        let details = eval::evaluate_details(
            &configs[c],
            key,
            Value::Bool(false),
            Some(&users[u]),
            None,
            &NoLog,
        );
        assert!(
            details.error.is_none(),
            "{key} of config {c}: {:?}",
            details.error
        );
    }
    let mut group = c.benchmark_group("mixed");
    group.throughput(Throughput::Elements(requests.len() as u64));
    group.sample_size(20);
    let run = |users: &[User]| {
        for &(c, u, key) in &requests {
            black_box(eval::evaluate_details(
                black_box(&configs[c]),
                key,
                Value::Bool(false),
                Some(&users[u]),
                None,
                &NoLog,
            ));
        }
    };
    group.bench_function("details_warm_users", |b| b.iter(|| run(&users)));
    group.bench_function("details_fresh_users", |b| {
        b.iter_batched(build_users, |users| run(&users), BatchSize::LargeInput)
    });
    group.bench_function("value_warm_users", |b| {
        b.iter(|| {
            for &(c, u, key) in &requests {
                black_box(eval::evaluate_value(
                    black_box(&configs[c]),
                    key,
                    Value::Bool(false),
                    Some(&users[u]),
                    &NoLog,
                ));
            }
        })
    });
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
    let big = big_config::big_config_json(2_000);
    let mut group = c.benchmark_group("config_parse");
    group.sample_size(20);
    group.bench_function("generated_1MB_2000_flags", |b| {
        b.iter(|| Config::parse(black_box(&big)).expect("parses"))
    });
    group.finish();
}

/// A comparison list of a million values against a thousand user items, none matching: the
/// evaluator looks each user item up (issue: 2.1 s per evaluation when each lookup scanned the
/// list; the index makes it a thousand hash lookups).
fn large_lists(c: &mut Criterion) {
    let values: Vec<String> = (0..1_000_000).map(|i| format!("value-{i}")).collect();
    let list = serde_json::to_string(&values).expect("serialises");
    let json = format!(
        r#"{{"f":{{"arrayAny":{{"t":0,"v":{{"b":false}},"i":"none","r":[{{"c":[{{"u":{{"a":"Roles","c":34,"l":{list}}}}}],"s":{{"v":{{"b":true}},"i":"any"}}}}]}},
                "oneOf":{{"t":0,"v":{{"b":false}},"i":"none","r":[{{"c":[{{"u":{{"a":"Email","c":0,"l":{list}}}}}],"s":{{"v":{{"b":true}},"i":"one"}}}}]}}}}}}"#
    );
    let config = Config::parse(&json).expect("the large-list config parses");
    let items: Vec<String> = (0..1_000).map(|i| format!("role-{i}")).collect();
    let user = User::new("u")
        .email("nobody@example.com")
        .custom("Roles", items);
    let mut group = c.benchmark_group("large_list");
    group.sample_size(20);
    for (name, key) in [
        ("array_contains_any_of_1M_values_1k_items", "arrayAny"),
        ("is_one_of_1M_values", "oneOf"),
    ] {
        assert_eq!(variation_id(&config, key, Some(&user)), "none", "{key}");
        group.bench_function(name, |b| {
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
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = evaluation, mixed, parsing, large_lists
}
criterion_main!(benches);
