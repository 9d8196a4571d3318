//! The poller and its policies, with a fetcher that needs no server (and, at the end, the whole
//! client against a real one while its poller panics).

use std::cell::Cell;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::error::FetchError;
use crate::hooks::Hooks;
use crate::log::{MemoryLog, NoLog};
use crate::protocol::Sabotage;
use crate::state::Current;
use crate::store::{ConfigStore, StoreParts};

/// Answers every fetch with the same outcome after `delay`, counting the fetches.
struct FakeFetch {
    outcome: FetchOutcome,
    delay: Duration,
    count: Arc<AtomicUsize>,
}

impl Fetch for FakeFetch {
    fn fetch(&self, _: Option<String>) -> LocalBoxFuture<'static, FetchOutcome> {
        self.count.fetch_add(1, Ordering::SeqCst);
        let (outcome, delay) = (self.outcome.clone(), self.delay);
        Box::pin(async move {
            actix_rt::time::sleep(delay).await;
            outcome
        })
    }
}

fn failing() -> FetchOutcome {
    FetchOutcome::Failed {
        error: FetchError::UnexpectedStatus {
            status: 500,
            reason: "Internal Server Error".into(),
        },
        transient: true,
    }
}

fn fetched() -> FetchOutcome {
    let json = r#"{"f":{"greeting":{"t":1,"v":{"s":"hello"}}}}"#;
    FetchOutcome::Fetched {
        config: Arc::new(crate::model::Config::parse(json).unwrap()),
        json: Arc::from(json),
        etag: Some("\"1\"".into()),
    }
}

struct Started {
    poller: Addr<Poller>,
    count: Arc<AtomicUsize>,
    /// How many fetchers were made: one more after each restart that fetched.
    made: Rc<Cell<usize>>,
}

fn start(mode: PollingMode, outcome: FetchOutcome, delay: Duration) -> Started {
    let published = Arc::new(Published::new(Current::default(), false, false));
    let sink: Arc<dyn LogSink> = Arc::new(NoLog);
    let cache = ConfigStore::new(StoreParts {
        published: published.clone(),
        mode,
        hooks: Arc::new(Hooks::default()),
        sink: sink.clone(),
        external: None,
        sdk_key: String::new(),
        cache_timeout: Duration::from_secs(1),
        sync_throttle: Arc::new(crate::state::SyncThrottle::new(Duration::from_millis(100))),
        cache_lease: Duration::from_secs(2),
        overrides: None,
        subscribers: Vec::new(),
    })
    .start();
    let count = Arc::new(AtomicUsize::new(0));
    let made = Rc::new(Cell::new(0));
    let (counted, made_here) = (count.clone(), made.clone());
    let make_fetcher: MakeFetcher = Box::new(move || {
        made_here.set(made_here.get() + 1);
        Ok(Rc::new(FakeFetch {
            outcome: outcome.clone(),
            delay,
            count: counted.clone(),
        }) as Rc<dyn Fetch>)
    });
    let parts = PollerParts {
        mode,
        make_fetcher,
        published,
        store: cache.clone().recipient(),
        sync: None,
        lease: None,
        sink,
        hooks: Arc::new(Hooks::default()),
    };
    Started {
        poller: Supervisor::start(move |_| Poller::new(parts)),
        count,
        made,
    }
}

async fn wait_for(count: &AtomicUsize, expected: usize) -> bool {
    for _ in 0..200 {
        if count.load(Ordering::SeqCst) >= expected {
            return true;
        }
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[actix_rt::test]
async fn a_restarted_auto_poller_fetches_again_at_once_when_it_has_no_config() {
    let started = start(
        PollingMode::auto_poll(Duration::from_secs(3600)),
        failing(),
        Duration::ZERO,
    );
    assert!(wait_for(&started.count, 1).await, "fetched at start");
    started.poller.do_send(Sabotage::Stop);
    // The hour-long interval cannot explain a second request: the restart policy does.
    assert!(
        wait_for(&started.count, 2).await,
        "fetched again after the restart"
    );
    assert!(started.poller.connected(), "the supervisor kept the poller");
    assert_eq!(started.made.get(), 2, "a restart makes a new fetcher");
}

#[actix_rt::test]
async fn a_restarted_manual_poller_waits_to_be_asked() {
    let started = start(PollingMode::manual_poll(), failing(), Duration::ZERO);
    started.poller.do_send(Sabotage::Stop);
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        started.count.load(Ordering::SeqCst),
        0,
        "manual polling never fetches by itself"
    );
    let result = started
        .poller
        .send(Refresh(Need::Always))
        .await
        .expect("the restarted poller answers");
    assert!(
        matches!(
            result,
            Err(RefreshError::Fetch(FetchError::UnexpectedStatus {
                status: 500,
                ..
            }))
        ),
        "{result:?}"
    );
    assert_eq!(started.count.load(Ordering::SeqCst), 1);
}

#[actix_rt::test]
async fn a_poller_that_panics_in_a_handler_or_a_cycle_is_restarted() {
    for sabotage in [Sabotage::PanicInHandler, Sabotage::PanicInCycle] {
        let started = start(
            PollingMode::auto_poll(Duration::from_secs(3600)),
            failing(),
            Duration::ZERO,
        );
        assert!(wait_for(&started.count, 1).await, "fetched at start");
        started.poller.send(sabotage).await.expect("taken");
        // Restarted with no config, an auto poller fetches at once.
        assert!(
            wait_for(&started.count, 2).await,
            "{sabotage:?}: fetched again after the restart"
        );
        // It answers with a fetch's outcome (a running cycle's, which the request may join).
        let result = started.poller.send(Refresh(Need::Always)).await;
        assert!(
            matches!(result, Ok(Err(RefreshError::Fetch(_)))),
            "{sabotage:?}: the restarted poller fetches: {result:?}"
        );
    }
}

#[actix_rt::test]
async fn refresh_requests_during_a_cycle_join_it() {
    let started = start(
        PollingMode::manual_poll(),
        fetched(),
        Duration::from_millis(200),
    );
    let requests: Vec<_> = (0..5)
        .map(|_| started.poller.send(Refresh(Need::Always)))
        .collect();
    for reply in futures_util::future::join_all(requests).await {
        assert_eq!(reply.unwrap(), Ok(()));
    }
    assert_eq!(started.count.load(Ordering::SeqCst), 1, "one fetch for all");
}

#[actix_rt::test]
async fn a_zero_poll_interval_is_clamped_and_does_not_spin() {
    let started = start(
        PollingMode::auto_poll(Duration::ZERO),
        fetched(),
        Duration::ZERO,
    );
    let since = Instant::now();
    actix_rt::time::sleep(Duration::from_millis(400)).await;
    let fetches = started.count.load(Ordering::SeqCst);
    let ceiling = 2 + (since.elapsed().as_millis() / 10) as usize;
    assert!(fetches >= 2, "it polls: {fetches}");
    assert!(
        fetches <= ceiling,
        "{fetches} fetches in {:?}: at most one per 10 ms",
        since.elapsed()
    );
}

#[actix_rt::test]
async fn a_zero_ttl_lazy_poller_fetches_only_when_asked() {
    let started = start(
        PollingMode::lazy_load(Duration::ZERO),
        fetched(),
        Duration::ZERO,
    );
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(started.count.load(Ordering::SeqCst), 0, "idle: no fetch");
    for _ in 0..20 {
        let _ = started.poller.send(Refresh(Need::IfDue)).await;
    }
    let asked = started.count.load(Ordering::SeqCst);
    assert!((1..=20).contains(&asked), "{asked} fetches for 20 requests");
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        started.count.load(Ordering::SeqCst),
        asked,
        "nothing more once nobody asks"
    );
}

#[test]
fn an_auto_poll_tick_allows_for_the_last_download_time() {
    let mode = PollingMode::auto_poll(Duration::from_secs(2));
    let policy = mode.policy();
    // Our own download, which took 0.7 s, finished 1.3 s before the next tick: due.
    assert!(policy.due(
        Some(Duration::from_millis(1300)),
        Duration::from_millis(700)
    ));
    // Another process's download 0.2 s ago: not due, whatever our last download took.
    assert!(!policy.due(Some(Duration::from_millis(200)), Duration::from_millis(700)));
    assert!(policy.due(None, Duration::ZERO), "no config: due");
}

/// A server that answers every request with the same config, and counts them.
fn config_server(json: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            counted.fetch_add(1, Ordering::SeqCst);
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                json.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (url, count)
}

#[actix_rt::test]
async fn the_client_keeps_answering_while_its_poller_panics_and_restarts() {
    let (url, count) = config_server(r#"{"f":{"greeting":{"t":1,"v":{"s":"hello"}}}}"#);
    let log = Arc::new(MemoryLog::new(LogLevel::Error));
    let client =
        crate::ConfigCat::builder("configcat-sdk-1/POLLER-PANIC-012345678/POLLER-PANIC-012345678")
            .base_url(url)
            .polling_mode(PollingMode::auto_poll(Duration::from_secs(3600)))
            .log_sink(log.clone())
            .start()
            .unwrap();
    let greeting = || client.send(crate::GetValue::new("greeting", String::from("default")));
    assert_eq!(greeting().await.unwrap(), "hello");
    for sabotage in [
        Sabotage::PanicInHandler,
        Sabotage::PanicInCycle,
        Sabotage::PanicInHandler,
    ] {
        client.do_send(sabotage);
        for _ in 0..50 {
            assert_eq!(greeting().await.unwrap(), "hello", "served throughout");
        }
    }
    let refreshed = client.send(crate::ForceRefresh).await.unwrap();
    assert_eq!(refreshed, Ok(()), "the restarted poller fetches");
    assert!(count.load(Ordering::SeqCst) >= 2);
    let panics = log
        .take()
        .into_iter()
        .filter(|e| e.event_id == event::POLLER_PANICKED)
        .count();
    assert_eq!(panics, 3, "each panic logged once as 9002");
    assert_eq!(greeting().await.unwrap(), "hello");
}

/// A change notice (webhook, change stream) that arrives while a fetch runs is not answered by
/// that fetch, which may predate the change: the notices meanwhile coalesce into one more fetch.
#[actix_rt::test]
async fn change_notices_during_a_fetch_coalesce_into_one_fetch_after_it() {
    use crate::hooks::FetchTrigger;
    let started = start(
        PollingMode::manual_poll(),
        fetched(),
        // Long enough for the notices to arrive during the first fetch on a loaded machine.
        Duration::from_millis(1000),
    );
    let forced = started.poller.send(Refresh(Need::Always));
    assert!(wait_for(&started.count, 1).await, "the forced fetch runs");
    let notices: Vec<_> = (0..3)
        .map(|_| {
            started
                .poller
                .send(Refresh(Need::Changed(FetchTrigger::Webhook)))
        })
        .collect();
    assert_eq!(forced.await.unwrap(), Ok(()));
    for reply in futures_util::future::join_all(notices).await {
        assert_eq!(reply.unwrap(), Ok(()));
    }
    assert_eq!(
        started.count.load(Ordering::SeqCst),
        2,
        "the in-flight fetch, then one for the three notices"
    );
    // With nothing in flight, a notice starts its own fetch at once.
    let alone = started
        .poller
        .send(Refresh(Need::Changed(FetchTrigger::ChangeStream)));
    assert_eq!(alone.await.unwrap(), Ok(()));
    assert_eq!(started.count.load(Ordering::SeqCst), 3);
}
