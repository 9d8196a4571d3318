//! `GetValue` through the actors, the live handle and the snapshot path, against pure
//! evaluation.
//!
//! Run with `cargo bench --bench client`. Targets (dev/performance-history.md): a `GetValue`
//! round trip from a task on the client's arbiter no worse than 255 ns; the handle within 10 ns
//! of the snapshot; the snapshot within 10% of pure evaluation.

#[path = "../examples/support/local_cdn.rs"]
mod local_cdn;
#[path = "support/started_client.rs"]
mod started_client;
use started_client::started_client;

use std::hint::black_box;
use std::time::{Duration, Instant};

use configcat_actix::{Config, ConfigCat, GetHandle, GetSnapshot, GetValue, NoLog, User, eval};
use criterion::{Criterion, criterion_group, criterion_main};

const CONFIG: &str = r#"{"p":{"s":"bench-salt"},"f":{
  "noRules": {"t":0,"v":{"b":true},"i":"on"},
  "percentage": {"t":1,"v":{"s":"none"},"p":[
     {"p":25,"v":{"s":"a"}},{"p":25,"v":{"s":"b"}},{"p":25,"v":{"s":"c"}},{"p":25,"v":{"s":"d"}}]}
}}"#;
const SDK_KEY: &str = "configcat-sdk-1/BENCH-CLIENT-012345678/BENCH-CLIENT-012345678";

fn bench(c: &mut Criterion) {
    let system = actix::System::new();
    let (client, cdn) = system.block_on(async {
        let cdn = local_cdn::LocalCdn::start(CONFIG).expect("local CDN");
        let client = started_client(&cdn, SDK_KEY).await;
        (client, cdn)
    });
    let snapshot = system.block_on(async { client.send(GetSnapshot).await.expect("snapshot") });
    let handle = system.block_on(async { client.send(GetHandle).await.expect("handle") });
    let config = Config::parse(CONFIG).expect("config");
    let user = User::new("user-42")
        .email("a@example.com")
        .country("Hungary");

    let mut group = c.benchmark_group("client");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("get_value_message/no_rules", |b| {
        b.iter_custom(|iterations| system.block_on(get_value_loop(client.clone(), iterations)))
    });
    // The same loop as a task on the client's arbiter, as an actor or a handler sends: the
    // runtime polls `block_on`'s own future apart from its tasks, and parks its driver at
    // every wait for a reply, which a task does not.
    group.bench_function("get_value_message_in_task/no_rules", |b| {
        b.iter_custom(|iterations| {
            let task = get_value_loop(client.clone(), iterations);
            system.block_on(async { actix_rt::spawn(task).await.expect("task") })
        })
    });
    group.bench_function("snapshot/no_rules", |b| {
        b.iter(|| black_box(snapshot.get_value(black_box("noRules"), false, None)))
    });
    group.bench_function("handle/no_rules", |b| {
        b.iter(|| black_box(handle.get_value(black_box("noRules"), false, None)))
    });
    group.bench_function("handle/percentage_user", |b| {
        b.iter(|| black_box(handle.get_value(black_box("percentage"), String::new(), Some(&user))))
    });
    let standalone = configcat_actix::Snapshot::from_config(config.clone());
    group.bench_function("snapshot_standalone/no_rules", |b| {
        b.iter(|| black_box(standalone.get_value(black_box("noRules"), false, None)))
    });
    group.bench_function("pure/no_rules", |b| {
        b.iter(|| {
            black_box(eval::evaluate_value(
                &config,
                black_box("noRules"),
                false,
                None,
                &NoLog,
            ))
        })
    });
    group.bench_function("snapshot/percentage_user", |b| {
        b.iter(|| {
            black_box(snapshot.get_value(black_box("percentage"), String::new(), Some(&user)))
        })
    });
    group.bench_function("pure/percentage_user", |b| {
        b.iter(|| {
            black_box(eval::evaluate_value(
                &config,
                black_box("percentage"),
                String::new(),
                Some(&user),
                &NoLog,
            ))
        })
    });
    group.finish();
    system.block_on(cdn.stop());
}

/// `iterations` awaited `GetValue` messages for the no-rule flag; the time they took.
async fn get_value_loop(client: actix::Addr<ConfigCat>, iterations: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        let on = client
            .send(GetValue::new("noRules", false))
            .await
            .expect("reply");
        black_box(on);
    }
    start.elapsed()
}

criterion_group!(benches, bench);
criterion_main!(benches);
