//! configcat-actix against the official `configcat` crate (0.1.7), on the same config and users.
//!
//! Run with `cd benches/compare && cargo bench`. Both clients read the same config_v6 file
//! through LocalOnly flag overrides (no network). Before anything is measured, every case is
//! evaluated by both clients, and their values and variation ids must agree with each other and
//! with the expected ones.
//!
//! Per case (flag × with/without user):
//! * `official_get_value`: `client.get_value(key, false, user).await` on a current-thread tokio
//!   runtime; `iter_custom` with one `block_on` around the whole loop of awaited calls.
//! * `ours_snapshot`: `Snapshot::get_value(key, false, user)` on a snapshot taken with
//!   `GetSnapshot` from the running client.
//! * `ours_get_value`: `client.send(GetValue::new(key, false)[.user(u)]).await`, `iter_custom`
//!   with one `System::block_on` around the loop: the runtime polls that future apart from its
//!   tasks, so every wait for a reply parks and unparks its driver.
//! * `ours_get_value_in_task`: the same loop in a task spawned on the client's arbiter, as an
//!   actor or an actix-web handler on that arbiter sends.
//!
//! Both `get_value` APIs take the user by value, so those two loops clone the user on every
//! call (the `user_clone` group measures that clone for each crate); the snapshot borrows it.
//!
//! The `mixed` group runs the seeded mixed set of `benches/support/mixed_config.rs` (300
//! generated configs × 300 users, every comparator family): first both clients must agree on
//! the value and the variation id of every flag of every config for every user (the full
//! cross product), then each path runs the same workload, each user evaluated for every flag
//! of three configs, one criterion iteration for all of it (throughput = evaluations):
//! * `official_get_flag_details`: `client.get_flag_details(key, Some(user.clone()))` (the API
//!   takes the user by value);
//! * `official_user_clone`: the same loop doing only that clone, to take it out;
//! * `ours_snapshot_details`: `Snapshot::get_value_details(key, Value::Bool(false), Some(&user))`
//!   with the same users throughout (their attribute forms computed in the first iteration);
//! * `ours_snapshot_details_fresh_users`: the same with our users rebuilt before every
//!   iteration (outside the timing), so each user's forms are computed within the workload;
//! * `ours_evaluate_details`: the pure `eval::evaluate_details` on the parsed configs.
//!
//! The `parse` group times `configcat_actix::Config::parse` of a generated ~1 MB config with
//! 2,000 flags (and, for reference, serde deserialisation into the official crate's `Config`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour};
use configcat_actix::{
    ConfigCat, GetHandle, GetSnapshot, GetValue, GetValueDetails, NoLog, PollingMode, Snapshot,
    Value, eval,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

// ---------------------------------------------------------------------------------------------
// The evaluation config: the same flags as benches/evaluate.rs of the main crate.
// ---------------------------------------------------------------------------------------------

#[path = "../../support/bench_config.rs"]
mod bench_config;
pub use bench_config::bench_config_json;

/// (bench name, flag key, expected (value, variation id) with the user, without a user).
pub const CASES: &[(&str, &str, (bool, &str), (bool, &str))] = &[
    ("no_rules", "noRules", (true, "v-norules"), (true, "v-norules")),
    ("ten_text_rules_last_matches", "tenRules", (true, "rule10"), (false, "v-default")),
    ("percentage_options", "percentage", (false, "p-off"), (false, "v-default")),
    ("segment_condition", "segment", (true, "in-beta"), (false, "v-default")),
    ("prerequisite_chain_of_3", "chainA", (true, "a-on"), (false, "a-off")),
];

/// Identifier, email, country and three custom attributes, in each crate's user type.
pub fn our_user() -> configcat_actix::User {
    configcat_actix::User::new("user-4217")
        .email("jane@example.com")
        .country("Hungary")
        .custom("Plan", "enterprise")
        .custom("Seats", 25)
        .custom("Team", "platform")
}

pub fn their_user() -> configcat::User {
    configcat::User::new("user-4217")
        .email("jane@example.com")
        .country("Hungary")
        .custom("Plan", "enterprise")
        .custom("Seats", 25)
        .custom("Team", "platform")
}

// ---------------------------------------------------------------------------------------------
// The 1 MB parse config.
// ---------------------------------------------------------------------------------------------

#[path = "../../support/big_config.rs"]
mod big_config;
pub use big_config::big_config_json;

// ---------------------------------------------------------------------------------------------
// The mixed set.
// ---------------------------------------------------------------------------------------------

#[path = "../../support/mixed_config.rs"]
mod mixed_config;

/// The user of the mixed set in the official crate's type.
fn their_mixed_user(spec: &mixed_config::UserSpec) -> configcat::User {
    use mixed_config::AttrSpec;
    let mut user = configcat::User::new(&spec.identifier);
    if let Some(email) = &spec.email {
        user = user.email(email);
    }
    if let Some(country) = &spec.country {
        user = user.country(country);
    }
    for (name, value) in &spec.custom {
        user = match value {
            AttrSpec::Text(t) => user.custom(name, t.as_str()),
            AttrSpec::Int(i) => user.custom(name, *i),
            AttrSpec::Float(x) => user.custom(name, *x),
            AttrSpec::DateMillis(ms) => user.custom(
                name,
                chrono::DateTime::<chrono::Utc>::from_timestamp_millis(*ms).expect("in range"),
            ),
            AttrSpec::List(items) => user.custom(
                name,
                configcat::UserValue::StringVec(items.clone()),
            ),
            AttrSpec::SemVer(v) => user.custom(
                name,
                configcat::UserValue::SemVer(semver::Version::parse(v).expect("valid")),
            ),
        };
    }
    user
}

fn same_value(theirs: &Option<configcat::Value>, ours: &Value) -> bool {
    match (theirs, ours) {
        (Some(configcat::Value::Bool(a)), Value::Bool(b)) => a == b,
        (Some(configcat::Value::Int(a)), Value::Int(b)) => a == b,
        (Some(configcat::Value::Float(a)), Value::Double(b)) => a == b,
        (Some(configcat::Value::String(a)), Value::String(b)) => a.as_str() == &**b,
        _ => false,
    }
}

fn mixed(c: &mut Criterion) {
    let mixed = mixed_config::mixed();
    let dir = std::env::temp_dir().join(format!("configcat-compare-mixed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let system = actix::System::new();
    let mut theirs = Vec::new();
    let mut snapshots: Vec<Snapshot> = Vec::new();
    let mut configs = Vec::new();
    let mut clients = Vec::new();
    for (i, config) in mixed.configs.iter().enumerate() {
        let path = dir.join(format!("{i}.json"));
        std::fs::write(&path, &config.json).expect("write a mixed config");
        configs.push(configcat_actix::Config::parse(&config.json).expect("parses"));
        theirs.push(rt.block_on(async {
            configcat::Client::builder(&format!("local-only-mixed-{i}"))
                .polling_mode(configcat::PollingMode::Manual)
                .overrides(
                    Box::new(configcat::FileDataSource::new(path.to_str().unwrap()).expect("file source")),
                    configcat::OverrideBehavior::LocalOnly,
                )
                .build()
                .expect("official client")
        }));
        let ours = system.block_on(async {
            // A key of its own per client: clients of one SDK key share their cache.
            ConfigCat::builder(format!("local-only-mixed-{i}"))
                .polling_mode(PollingMode::manual_poll())
                .flag_overrides(FlagOverrides::from_file(&path, OverrideBehaviour::LocalOnly))
                .log_sink(NoLog)
                .start()
                .expect("our client")
        });
        snapshots.push(system.block_on(async { ours.send(GetSnapshot).await.expect("snapshot") }));
        clients.push(ours);
    }
    let their_users: Vec<configcat::User> = mixed.users.iter().map(their_mixed_user).collect();
    let build_users =
        || -> Vec<configcat_actix::User> { mixed.users.iter().map(mixed_config::our_user).collect() };
    let our_users = build_users();

    // Agreement on the whole cross product before anything is timed.
    let mut checked = 0;
    let mut matched_rules = 0;
    rt.block_on(async {
        for (c, config) in mixed.configs.iter().enumerate() {
            for (u, (tuser, ouser)) in their_users.iter().zip(&our_users).enumerate() {
                for key in &config.keys {
                    let t = theirs[c].get_flag_details(key, Some(tuser.clone())).await;
                    let s = snapshots[c].get_value_details(key, Value::Bool(false), Some(ouser));
                    let ctx = || format!("config {c}, user {u}, {key}: {}", config.json);
                    assert!(t.error.is_none(), "official error {:?} at {}", t.error, ctx());
                    assert!(s.error.is_none(), "our error {:?} at {}", s.error, ctx());
                    assert!(same_value(&t.value, &s.value), "{:?} vs {:?} at {}", t.value, s.value, ctx());
                    assert_eq!(t.variation_id.as_deref(), s.variation_id.as_deref(), "variation id at {}", ctx());
                    checked += 1;
                    matched_rules += usize::from(s.matched_targeting_rule.is_some());
                }
            }
        }
    });
    eprintln!(
        "mixed: both clients agree on all {checked} evaluations ({matched_rules} by a targeting rule)"
    );

    let requests = mixed.requests();
    let mut group = c.benchmark_group("mixed");
    group.throughput(Throughput::Elements(requests.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("official_get_flag_details", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations {
                    for &(c, u, key) in &requests {
                        let user = Some(their_users[u].clone());
                        black_box(theirs[c].get_flag_details(black_box(key), user).await);
                    }
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("official_user_clone", |b| {
        b.iter(|| {
            for &(_, u, _) in &requests {
                black_box(Some(black_box(&their_users[u]).clone()));
            }
        })
    });
    let run_snapshot = |users: &[configcat_actix::User]| {
        for &(c, u, key) in &requests {
            black_box(snapshots[c].get_value_details(black_box(key), Value::Bool(false), Some(&users[u])));
        }
    };
    group.bench_function("ours_snapshot_details", |b| b.iter(|| run_snapshot(&our_users)));
    group.bench_function("ours_snapshot_details_fresh_users", |b| {
        b.iter_batched(build_users, |users| run_snapshot(&users), BatchSize::LargeInput)
    });
    let handles: Vec<_> = clients
        .iter()
        .map(|client| system.block_on(async { client.send(GetHandle).await.expect("handle") }))
        .collect();
    group.bench_function("ours_handle_details", |b| {
        b.iter(|| {
            for &(c, u, key) in &requests {
                black_box(handles[c].get_value_details(black_box(key), Value::Bool(false), Some(&our_users[u])));
            }
        })
    });
    // The message from a task on the clients' arbiter, as an actor or a handler sends it; the
    // user is cloned into the message (an `Arc` count), as a caller must.
    group.bench_function("ours_get_value_details_message", |b| {
        b.iter_custom(|iterations| {
            let (clients, users) = (clients.clone(), our_users.clone());
            let requests: Vec<(usize, usize, String)> =
                requests.iter().map(|&(c, u, key)| (c, u, key.to_owned())).collect();
            let task = async move {
                let start = Instant::now();
                for _ in 0..iterations {
                    for (c, u, key) in &requests {
                        let (c, u) = (*c, *u);
                        let message = GetValueDetails::new(key, Value::Bool(false)).user(users[u].clone());
                        black_box(clients[c].send(message).await.expect("reply"));
                    }
                }
                start.elapsed()
            };
            system.block_on(async { actix_rt::spawn(task).await.expect("task") })
        })
    });
    group.bench_function("ours_evaluate_details", |b| {
        b.iter(|| {
            for &(c, u, key) in &requests {
                black_box(eval::evaluate_details(
                    black_box(&configs[c]),
                    key,
                    Value::Bool(false),
                    Some(&our_users[u]),
                    None,
                    &NoLog,
                ));
            }
        })
    });
    group.finish();
    drop(clients);
    let _ = std::fs::remove_dir_all(&dir);
}

fn compare(c: &mut Criterion) {
    let json = bench_config_json();
    let path = std::env::temp_dir().join(format!("configcat-compare-{}.json", std::process::id()));
    std::fs::write(&path, &json).expect("write the bench config");
    configcat_actix::Config::parse(&json).expect("the bench config parses");

    // The official client, LocalOnly over a FileDataSource of the same file.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let theirs = rt.block_on(async {
        configcat::Client::builder("local-only-bench")
            .polling_mode(configcat::PollingMode::Manual)
            .overrides(
                Box::new(configcat::FileDataSource::new(path.to_str().unwrap()).expect("file source")),
                configcat::OverrideBehavior::LocalOnly,
            )
            .build()
            .expect("official client")
    });

    // Our client, LocalOnly over the same file.
    let system = actix::System::new();
    let ours = system.block_on(async {
        ConfigCat::builder("local-only-bench")
            .polling_mode(PollingMode::manual_poll())
            .flag_overrides(FlagOverrides::from_file(&path, OverrideBehaviour::LocalOnly))
            .log_sink(NoLog)
            .start()
            .expect("our client")
    });
    let snapshot = system.block_on(async { ours.send(GetSnapshot).await.expect("snapshot") });

    let (ouser, tuser) = (our_user(), their_user());

    // Both clients must agree, with each other and with the expected values, before measuring.
    for &(name, key, with_user, without_user) in CASES {
        for (expected, has_user) in [(with_user, true), (without_user, false)] {
            let t = rt.block_on(theirs.get_value_details(key, !expected.0, has_user.then(|| tuser.clone())));
            let t_value = rt.block_on(theirs.get_value(key, !expected.0, has_user.then(|| tuser.clone())));
            let o = system.block_on(async {
                let mut m = GetValueDetails::new(key, !expected.0);
                if has_user {
                    m = m.user(ouser.clone());
                }
                ours.send(m).await.expect("reply")
            });
            let o_value = system.block_on(async {
                let mut m = GetValue::new(key, !expected.0);
                if has_user {
                    m = m.user(ouser.clone());
                }
                ours.send(m).await.expect("reply")
            });
            let s = snapshot.get_value_details(key, !expected.0, has_user.then_some(&ouser));
            let s_value = snapshot.get_value(key, !expected.0, has_user.then_some(&ouser));
            let ctx = format!("{name} (user: {has_user})");
            assert!(t.error.is_none() && o.error.is_none() && s.error.is_none(), "{ctx}: an evaluation error");
            assert_eq!((t.value, t.variation_id.as_deref()), (expected.0, Some(expected.1)), "{ctx}: official");
            assert_eq!((o.value, o.variation_id.as_deref()), (expected.0, Some(expected.1)), "{ctx}: ours GetValueDetails");
            assert_eq!((s.value, s.variation_id.as_deref()), (expected.0, Some(expected.1)), "{ctx}: ours snapshot");
            assert_eq!((t_value, o_value, s_value), (expected.0, expected.0, expected.0), "{ctx}: get_value");
        }
    }
    eprintln!("compare: both clients agree on all {} cases", CASES.len() * 2);

    let mut group = c.benchmark_group("compare");
    for &(name, key, _, _) in CASES {
        for has_user in [false, true] {
            let suffix = if has_user { "with_user" } else { "without_user" };
            group.bench_function(format!("{name}/{suffix}/official_get_value"), |b| {
                b.iter_custom(|iterations| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iterations {
                            let user = if has_user { Some(tuser.clone()) } else { None };
                            black_box(theirs.get_value(black_box(key), false, user).await);
                        }
                        start.elapsed()
                    })
                })
            });
            group.bench_function(format!("{name}/{suffix}/ours_snapshot"), |b| {
                let user = has_user.then_some(&ouser);
                b.iter(|| black_box(snapshot.get_value(black_box(key), false, black_box(user))))
            });
            let user = has_user.then(|| ouser.clone());
            group.bench_function(format!("{name}/{suffix}/ours_get_value"), |b| {
                b.iter_custom(|iterations| {
                    system.block_on(get_value_loop(ours.clone(), key, user.clone(), iterations))
                })
            });
            group.bench_function(format!("{name}/{suffix}/ours_get_value_in_task"), |b| {
                b.iter_custom(|iterations| {
                    let task = get_value_loop(ours.clone(), key, user.clone(), iterations);
                    system.block_on(async { actix_rt::spawn(task).await.expect("task") })
                })
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("user_clone");
    group.bench_function("official", |b| b.iter(|| black_box(black_box(&tuser).clone())));
    group.bench_function("ours", |b| b.iter(|| black_box(black_box(&ouser).clone())));
    group.finish();

    let _ = std::fs::remove_file(&path);
}

/// `iterations` awaited `GetValue` messages (the user cloned into each, as the API takes it
/// by value); the time they took.
async fn get_value_loop(
    client: actix::Addr<ConfigCat>,
    key: &'static str,
    user: Option<configcat_actix::User>,
    iterations: u64,
) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        let mut m = GetValue::new(black_box(key), false);
        if let Some(user) = &user {
            m = m.user(user.clone());
        }
        black_box(client.send(m).await.expect("reply"));
    }
    start.elapsed()
}

fn parse(c: &mut Criterion) {
    let json = big_config_json(2_000);
    let config = configcat_actix::Config::parse(&json).expect("the 1 MB config parses");
    assert_eq!(config.settings().len(), 2_000);
    // The official crate must accept it too (a sanity check of the generated document).
    let official: configcat::Config = serde_json::from_str(&json).expect("official parse");
    assert_eq!(official.settings.len(), 2_000);
    eprintln!("parse: {} bytes, {} flags", json.len(), config.settings().len());

    let mut group = c.benchmark_group("parse");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("ours_config_parse_1mb", |b| {
        b.iter(|| configcat_actix::Config::parse(black_box(&json)).expect("parses"))
    });
    group.bench_function("official_serde_1mb", |b| {
        b.iter(|| serde_json::from_str::<configcat::Config>(black_box(&json)).expect("parses"))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = mixed, compare, parse
}
criterion_main!(benches);
