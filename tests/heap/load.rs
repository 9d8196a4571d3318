//! Load and consistency: many sender actors on several arbiters query one client while its
//! config changes at the CDN every millisecond and the client downloads it again as soon as
//! the last download is in (every 3 to 4 ms in a debug build on 2 cores; each is a real HTTP
//! download and parse). Every answer must
//! come from exactly one config version (no torn `GetAllValues`), every message must be
//! answered, and a second round of the same load must leave the live heap where the first left
//! it.
//!
//! It runs in a process of its own, this test binary run again for this one test: the counting
//! global allocator (`tests/heap/main.rs`) counts the live heap of the whole process, which the
//! other tests of the binary would disturb.

use crate::support;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use configcat_actix::*;
use support::{MockCdn, sdk_key, sleep};

const FLAGS: usize = 20;
const SENDERS: usize = 50;
const PER_SENDER: usize = 2_000;
const ARBITERS: usize = 3;

fn flag(i: usize) -> String {
    format!("flag{i:02}")
}

/// A config whose every flag (all text) is `v<version>`.
fn versioned_config(version: u64) -> String {
    let value = format!("v{version}");
    let flags: serde_json::Map<String, serde_json::Value> = (0..FLAGS)
        .map(|i| (flag(i), serde_json::json!({"t": 1, "v": {"s": value}})))
        .collect();
    serde_json::json!({"p": {"s": "load-salt"}, "f": flags}).to_string()
}

fn parse_version(text: &str) -> Result<u64, String> {
    text.strip_prefix('v')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("not a version marker: {text:?}"))
}

/// The version of one `GetAllValues` answer; an error when it is torn or incomplete.
fn version_of_all(values: &HashMap<String, Value>) -> Result<u64, String> {
    if values.len() != FLAGS {
        return Err(format!("{} values instead of {FLAGS}", values.len()));
    }
    let versions: BTreeSet<u64> = values
        .values()
        .map(|v| match v {
            Value::String(s) => parse_version(s),
            other => Err(format!("not a text value: {other:?}")),
        })
        .collect::<Result<_, _>>()?;
    if versions.len() != 1 {
        return Err(format!("torn read: versions {versions:?} in one answer"));
    }
    Ok(*versions.iter().next().unwrap())
}

/// What one sender saw.
#[derive(Debug, Default)]
struct Report {
    answered: usize,
    all_values_answers: usize,
    versions: BTreeSet<u64>,
    errors: Vec<String>,
}

struct Sender {
    client: Addr<ConfigCat>,
    seed: usize,
}

impl Actor for Sender {
    type Context = Context<Self>;
}

struct Run;

impl Message for Run {
    type Result = Report;
}

impl Handler<Run> for Sender {
    type Result = ResponseFuture<Report>;

    fn handle(&mut self, _: Run, _: &mut Context<Self>) -> Self::Result {
        let client = self.client.clone();
        let seed = self.seed;
        Box::pin(async move {
            let mut report = Report::default();
            let mut last = 0u64;
            for i in 0..PER_SENDER {
                // `send().await`: one message in flight per sender, so mailboxes stay bounded.
                let version = if (i + seed).is_multiple_of(2) {
                    match client.send(GetAllValues(None)).await {
                        Ok(values) => {
                            report.all_values_answers += 1;
                            version_of_all(&values)
                        }
                        Err(e) => Err(format!("GetAllValues: {e}")),
                    }
                } else {
                    let key = flag((i * 7 + seed) % FLAGS);
                    match client.send(GetValue::new(key, "default".to_owned())).await {
                        Ok(text) => parse_version(&text),
                        Err(e) => Err(format!("GetValue: {e}")),
                    }
                };
                match version {
                    Ok(version) => {
                        report.answered += 1;
                        // One sender waits for each answer before the next request, and the
                        // cache publishes versions in order: reads never go back in time.
                        if version < last {
                            report
                                .errors
                                .push(format!("went back from v{last} to v{version}"));
                        }
                        last = version;
                        report.versions.insert(version);
                    }
                    Err(e) => report.errors.push(e),
                }
                if report.errors.len() > 10 {
                    break;
                }
            }
            report
        })
    }
}

fn live_kib() -> i64 {
    crate::process_live_bytes() / 1024
}

/// Resident set size of this process in KiB (`VmRSS` of /proc/self/status).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// What one round of load left behind.
struct Round {
    /// The last config version the refresher published.
    last_published: u64,
}

/// One round: a publisher puts a new version on the CDN every millisecond and a refresher
/// downloads as fast as downloads complete (each is a real download and parse through the
/// actors: a few milliseconds), while SENDERS actors on ARBITERS arbiters send PER_SENDER
/// messages each. Checks every answer;
/// returns once the senders' arbiters are stopped and joined.
async fn load_round(client: &Addr<ConfigCat>, cdn: &Arc<MockCdn>, key: &str, first: u64) -> Round {
    let stop = Arc::new(AtomicBool::new(false));
    let published = Arc::new(AtomicU64::new(first));
    // The publisher: a new version at the CDN every millisecond, on a thread of its own so
    // that the load on the arbiters cannot slow it down.
    let publisher = {
        let (stop, published, cdn) = (stop.clone(), published.clone(), cdn.clone());
        let key = key.to_owned();
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut version = first;
            while !stop.load(Ordering::SeqCst) {
                version += 1;
                cdn.set_config(&key, versioned_config(version));
                published.store(version, Ordering::SeqCst);
                // To the next whole millisecond since the start: sleeps overshoot, and a
                // plain 1 ms sleep would publish every 1.2 ms.
                let next = start + Duration::from_millis(version - first);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
    };
    // The refresher: downloads again as soon as the last download is in, so the client takes
    // whichever version the CDN holds at that moment.
    let refresher = {
        let (stop, client) = (stop.clone(), client.clone());
        actix_rt::spawn(async move {
            let (mut refreshes, mut failures) = (0usize, 0usize);
            while !stop.load(Ordering::SeqCst) {
                refreshes += 1;
                if client.send(ForceRefresh).await.unwrap().is_err() {
                    failures += 1;
                }
            }
            (refreshes, failures)
        })
    };

    let arbiters: Vec<Arbiter> = (0..ARBITERS).map(|_| Arbiter::new()).collect();
    let senders: Vec<Addr<Sender>> = (0..SENDERS)
        .map(|seed| {
            let client = client.clone();
            Sender::start_in_arbiter(&arbiters[seed % ARBITERS].handle(), move |_| Sender {
                client,
                seed,
            })
        })
        .collect();
    let started = Instant::now();
    let runs: Vec<_> = senders.iter().map(|s| s.send(Run)).collect();
    let reports: Vec<Report> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .map(|r| r.expect("every sender answers"))
        .collect();
    let elapsed = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (refreshes, refresh_failures) = refresher.await.unwrap();
    publisher.join().unwrap();
    let last_published = published.load(Ordering::SeqCst);

    let answered: usize = reports.iter().map(|r| r.answered).sum();
    let all_values: usize = reports.iter().map(|r| r.all_values_answers).sum();
    let versions: BTreeSet<u64> = reports
        .iter()
        .flat_map(|r| r.versions.iter().copied())
        .collect();
    let errors: Vec<&String> = reports.iter().flat_map(|r| &r.errors).collect();
    let changes = last_published - first;
    eprintln!(
        "load: {answered} answers ({all_values} GetAllValues) from {SENDERS} senders on \
         {ARBITERS} arbiters in {elapsed:?}; {changes} config versions published (one every \
         {:?}), {refreshes} downloads, {} distinct versions seen, {refresh_failures} failed \
         refreshes",
        elapsed / u32::try_from(changes.max(1)).unwrap(),
        versions.len()
    );
    assert!(errors.is_empty(), "{} errors: {errors:?}", errors.len());
    assert_eq!(answered, SENDERS * PER_SENDER, "every message answered");
    assert!(all_values >= SENDERS * PER_SENDER / 2 - SENDERS);
    assert_eq!(
        refresh_failures, 0,
        "no refresh failed against the local CDN"
    );
    assert!(
        refreshes >= 5,
        "the client downloaded during the run ({refreshes} times)"
    );
    assert!(
        versions.len() >= 2,
        "answers came from several versions: {versions:?}"
    );
    assert!(
        versions.iter().all(|v| *v >= first && *v <= last_published),
        "only published versions are served: {versions:?}"
    );
    // Once the changes stop, one refresh brings everything to the last version.
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    let final_version = version_of_all(&client.send(GetAllValues(None)).await.unwrap()).unwrap();
    assert_eq!(final_version, last_published);

    for arbiter in &arbiters {
        arbiter.stop();
    }
    for arbiter in arbiters {
        arbiter.join().unwrap();
    }
    drop(senders);
    Round { last_published }
}

/// The live heap once the round's leftovers are gone: the mock CDN runs in this process and
/// records every request, so those records are forgotten first.
async fn settled_live_kib(cdn: &MockCdn) -> i64 {
    sleep(200).await;
    cdn.reset_requests();
    live_kib()
}

/// Set in the child process that runs the load.
const CHILD: &str = "CONFIGCAT_TEST_LOAD_CHILD";

/// Runs this test again, alone in a child process, and passes on its verdict and its figures.
fn in_a_child_process(test: &str) {
    let output = support::rerun(&support::test_name(module_path!(), test))
        .arg("--nocapture")
        .env(CHILD, "1")
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stderr}");
    assert!(
        output.status.success(),
        "the load failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran the load: {stdout}"
    );
}

#[actix_rt::test]
async fn one_hundred_thousand_messages_under_constant_config_changes_never_tear() {
    if std::env::var_os(CHILD).is_none() {
        return in_a_child_process(
            "one_hundred_thousand_messages_under_constant_config_changes_never_tear",
        );
    }
    let cdn = Arc::new(MockCdn::start());
    let key = sdk_key("load-consistency");
    cdn.set_config(&key, versioned_config(0));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(Arc::new(MemoryLog::new(LogLevel::Warn)))
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    assert_eq!(
        version_of_all(&client.send(GetAllValues(None)).await.unwrap()),
        Ok(0)
    );

    // Warm up the allocator and the runtime before taking the baseline.
    for _ in 0..1_000 {
        let _ = client.send(GetAllValues(None)).await.unwrap();
    }
    let rss_before = rss_kib();
    let live_before = settled_live_kib(&cdn).await;

    let first = load_round(&client, &cdn, &key, 0).await;
    let live_after_first = settled_live_kib(&cdn).await;
    // The same load again. A first round leaves the runtime's high-water marks behind (its
    // timer wheel, I/O slab pages, channel blocks, the HTTP pool): they are reused, not grown,
    // by the second. Anything that piles up with work (queued messages, configs, reply
    // channels, log lines) would grow again.
    let second = load_round(&client, &cdn, &key, first.last_published).await;
    let live_after_second = settled_live_kib(&cdn).await;
    eprintln!(
        "load: live heap {live_before} KiB before, {live_after_first} KiB after round 1 \
         ({:+} KiB), {live_after_second} KiB after round 2 ({:+} KiB over round 1); \
         {} versions in all",
        live_after_first - live_before,
        live_after_second - live_after_first,
        second.last_published
    );
    assert!(
        live_after_second - live_after_first < 64,
        "the second round left {} KiB more on the heap than the first",
        live_after_second - live_after_first
    );
    assert!(
        live_after_first - live_before < 512,
        "the first round left {} KiB on the heap",
        live_after_first - live_before
    );

    client.send(Close).await.unwrap();
    drop(client);
    let live_after_close = settled_live_kib(&cdn).await;
    // Coarse check: RSS also moves with the allocator's caching and thread stacks; this only
    // catches unbounded growth, the live heap above catches the rest.
    let rss_after = rss_kib();
    eprintln!(
        "load: after Close, live heap {live_after_close} KiB; RSS {rss_before} KiB before, \
         {rss_after} KiB after ({:+} KiB)",
        rss_after as i64 - rss_before as i64
    );
    assert!(
        live_after_close < live_after_second,
        "closing the client frees what it held: {live_after_close} KiB, {live_after_second} KiB before"
    );
    assert!(
        rss_after < rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    drop(cdn);
}
