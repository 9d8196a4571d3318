//! Load and consistency: many sender actors on several arbiters query one client while its
//! config is replaced every millisecond or so. Every answer must come from exactly one config
//! version (no torn `GetAllValues`), every message must be answered, and memory must stay
//! bounded.
//!
//! Alone in its own test binary so that the coarse RSS check is not disturbed by other tests.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

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

/// Resident set size of this process in KiB (`VmRSS` of /proc/self/status).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

#[actix_rt::test]
async fn one_hundred_thousand_messages_under_constant_config_changes_never_tear() {
    let cdn = Arc::new(MockCdn::start());
    let key = sdk_key("load-consistency");
    cdn.set_config(&key, versioned_config(0));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(Arc::new(MemoryLog::new(LogLevel::Warn)))
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_success);
    assert_eq!(
        version_of_all(&client.send(GetAllValues(None)).await.unwrap()),
        Ok(0)
    );

    // Warm up the allocator and the runtime before taking the baseline.
    for _ in 0..1_000 {
        let _ = client.send(GetAllValues(None)).await.unwrap();
    }
    let rss_before = rss_kib();

    // The refresher: publishes version n+1 and force-refreshes, about every millisecond.
    let stop = Arc::new(AtomicBool::new(false));
    let published = Arc::new(AtomicU64::new(0));
    let refresher = {
        let (stop, published, client, cdn) =
            (stop.clone(), published.clone(), client.clone(), cdn.clone());
        let key = key.clone();
        actix_rt::spawn(async move {
            let mut version = 0u64;
            let mut failures = 0usize;
            while !stop.load(Ordering::SeqCst) {
                version += 1;
                cdn.set_config(&key, versioned_config(version));
                let refreshed = client.send(ForceRefresh).await.unwrap();
                if refreshed.is_success {
                    published.store(version, Ordering::SeqCst);
                } else {
                    failures += 1;
                }
                sleep(1).await;
            }
            failures
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
    let refresh_failures = refresher.await.unwrap();
    let last_published = published.load(Ordering::SeqCst);

    let answered: usize = reports.iter().map(|r| r.answered).sum();
    let all_values: usize = reports.iter().map(|r| r.all_values_answers).sum();
    let versions: BTreeSet<u64> = reports
        .iter()
        .flat_map(|r| r.versions.iter().copied())
        .collect();
    let errors: Vec<&String> = reports.iter().flat_map(|r| &r.errors).collect();
    eprintln!(
        "load: {answered} answers ({all_values} GetAllValues) from {SENDERS} senders on \
         {ARBITERS} arbiters in {elapsed:?}; {last_published} config versions published, \
         {} distinct versions seen, {refresh_failures} failed refreshes",
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
        last_published >= 5,
        "the config changed during the run ({last_published} versions)"
    );
    assert!(
        versions.len() >= 2,
        "answers came from several versions: {versions:?}"
    );
    assert!(versions.iter().all(|v| *v <= last_published + 1));
    // After the refresher stopped, everything agrees on the last version.
    let final_version = version_of_all(&client.send(GetAllValues(None)).await.unwrap()).unwrap();
    assert!(
        final_version >= last_published,
        "{final_version} < {last_published}"
    );

    for arbiter in &arbiters {
        arbiter.stop();
    }
    for arbiter in arbiters {
        arbiter.join().unwrap();
    }
    drop(senders);
    client.send(Close).await.unwrap();
    sleep(500).await;

    // Coarse check: RSS also moves with the allocator's caching and thread stacks; this only
    // catches unbounded growth (queues or configs piling up), not small leaks.
    let rss_after = rss_kib();
    eprintln!(
        "load: RSS {} KiB before, {} KiB after ({:+} KiB)",
        rss_before,
        rss_after,
        rss_after as i64 - rss_before as i64
    );
    assert!(
        rss_after < rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    drop(cdn);
}
