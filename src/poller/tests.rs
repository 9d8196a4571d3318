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
    Started {
        poller: start_poller(mode, make_fetcher, Arc::new(NoLog)),
        count,
        made,
    }
}

/// A poller with this fetcher and sink, beside a config store without an external cache.
fn start_poller(
    mode: PollingMode,
    make_fetcher: MakeFetcher,
    sink: Arc<dyn LogSink>,
) -> Addr<Poller> {
    let published = Arc::new(Published::new(Current::default(), false, false));
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
    Poller::new(PollerParts {
        mode,
        make_fetcher,
        published,
        store: cache.recipient(),
        sync: None,
        lease: None,
        sink,
        hooks: Arc::new(Hooks::default()),
    })
    .start()
}

async fn wait_for(count: &AtomicUsize, expected: usize) -> bool {
    eventually(|| count.load(Ordering::SeqCst) >= expected).await
}

/// Whether `done` holds within 10 s (looked at every 25 ms).
async fn eventually(done: impl Fn() -> bool) -> bool {
    for _ in 0..400 {
        if done() {
            return true;
        }
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    }
    done()
}

#[actix_rt::test]
async fn a_restarted_auto_poller_fetches_again_after_its_wait_when_it_has_no_config() {
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
    assert!(started.poller.connected(), "the poller restarted itself");
    assert_eq!(started.made.get(), 2, "a restart makes a new fetcher");
}

#[actix_rt::test]
async fn a_restarted_manual_poller_waits_to_be_asked() {
    let quick = Duration::from_millis(50);
    let mode = PollingMode::manual_poll().restart_backoff(quick, quick);
    let started = start(mode, failing(), Duration::ZERO);
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
    let due = |age, last_download| mode.fetches(Need::IfDue, age, last_download);
    // Our own download, which took 0.7 s, finished 1.3 s before the next tick: due.
    assert!(due(
        Some(Duration::from_millis(1300)),
        Duration::from_millis(700)
    ));
    // Another process's download 0.2 s ago: not due, whatever our last download took.
    assert!(!due(
        Some(Duration::from_millis(200)),
        Duration::from_millis(700)
    ));
    assert!(due(None, Duration::ZERO), "no config: due");
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
    let client = crate::evaluator::ConfigCat::builder(
        "configcat-sdk-1/POLLER-PANIC-012345678/POLLER-PANIC-012345678",
    )
    .base_url(url)
    .polling_mode(
        PollingMode::auto_poll(Duration::from_secs(3600))
            .restart_backoff(Duration::from_millis(50), Duration::from_millis(200)),
    )
    .log_sink(log.clone())
    .start()
    .unwrap();
    let greeting = || {
        client.send(crate::messages::GetValue::new(
            "greeting",
            String::from("default"),
        ))
    };
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
    // Refused while the poller waits to restart (at most 200 ms here), then served.
    let mut refreshed = client.send(crate::messages::ForceRefresh).await.unwrap();
    for _ in 0..100 {
        if refreshed != Err(RefreshError::Interrupted) {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        refreshed = client.send(crate::messages::ForceRefresh).await.unwrap();
    }
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

/// Panics in its first `panics` fetches, then answers `outcome`; notes when each fetch began.
struct PanickingFetch {
    panics: usize,
    outcome: FetchOutcome,
    began: Rc<std::cell::RefCell<Vec<Instant>>>,
}

impl Fetch for PanickingFetch {
    fn fetch(&self, _: Option<String>) -> LocalBoxFuture<'static, FetchOutcome> {
        let mut began = self.began.borrow_mut();
        began.push(Instant::now());
        let panics = began.len() <= self.panics;
        let outcome = self.outcome.clone();
        Box::pin(async move {
            if panics {
                panic!("a bug in a fetch or a parse");
            }
            outcome
        })
    }
}

/// A poller whose fetches panic `panics` times (counted across restarts), then succeed.
fn start_panicking(
    mode: PollingMode,
    panics: usize,
    log: Arc<MemoryLog>,
) -> (Addr<Poller>, Rc<std::cell::RefCell<Vec<Instant>>>) {
    let began = Rc::new(std::cell::RefCell::new(Vec::new()));
    let noted = began.clone();
    let make_fetcher: MakeFetcher = Box::new(move || {
        Ok(Rc::new(PanickingFetch {
            panics,
            outcome: fetched(),
            began: noted.clone(),
        }) as Rc<dyn Fetch>)
    });
    (start_poller(mode, make_fetcher, log), began)
}

/// The waits the poller announced (9002: "... it restarts in N ms."), in milliseconds.
fn announced_waits(log: &MemoryLog) -> Vec<u64> {
    log.take()
        .into_iter()
        .filter(|e| e.event_id == event::POLLER_PANICKED)
        .map(|e| {
            let tail = e.message.rsplit("restarts in ").next().unwrap();
            tail.trim_end_matches(" ms.").parse().unwrap()
        })
        .collect()
}

/// A fetch (or parse) that panics on every attempt, before any config is stored, costs one
/// attempt per step of the policy's growing, capped backoff, not a tight refetch loop. Timers
/// never fire early, so each gap is at least its step however loaded the machine is.
#[actix_rt::test]
async fn a_fetch_that_always_panics_costs_one_attempt_per_backoff_step() {
    let log = Arc::new(MemoryLog::new(LogLevel::Error));
    let mode = PollingMode::auto_poll(Duration::from_secs(3600))
        .restart_backoff(Duration::from_millis(100), Duration::from_millis(400));
    let (_poller, began) = start_panicking(mode, usize::MAX, log.clone());
    assert!(
        eventually(|| began.borrow().len() >= 6).await,
        "it restarts and tries again"
    );
    let began = began.borrow().clone();
    let steps = [100, 200, 400, 400, 400];
    for (i, step) in steps.iter().enumerate() {
        let gap = began[i + 1] - began[i];
        assert!(
            gap >= Duration::from_millis(*step),
            "attempt {} came {gap:?} after the one before, under the {step} ms step",
            i + 2
        );
    }
    let waits = announced_waits(&log);
    assert_eq!(waits[..5], steps, "each panic logged (9002) with its wait");
}

/// Requests made while the poller waits to restart are answered at once, without a fetch: a
/// lazy-load client's accesses or a caller's `ForceRefresh` cannot turn a panicking fetch back
/// into a loop.
#[actix_rt::test]
async fn requests_during_the_restart_wait_are_refused_without_a_fetch() {
    let log = Arc::new(MemoryLog::new(LogLevel::Error));
    // A wait no loaded machine outlasts while the requests below are sent.
    let mode = PollingMode::lazy_load(Duration::from_secs(60))
        .restart_backoff(Duration::from_secs(30), Duration::from_secs(60));
    let (poller, began) = start_panicking(mode, usize::MAX, log.clone());
    let first = poller.send(Refresh(Need::Always)).await.unwrap();
    assert_eq!(first, Err(RefreshError::Interrupted), "the fetch panicked");
    for need in [Need::Always, Need::IfDue].repeat(25) {
        let reply = poller.send(Refresh(need)).await.unwrap();
        assert_eq!(reply, Err(RefreshError::Interrupted), "{need:?}");
    }
    assert_eq!(
        began.borrow().len(),
        1,
        "one attempt until the wait is over"
    );
    assert_eq!(announced_waits(&log), [30_000]);
}

/// A cycle that completes resets the backoff: the next panic waits the first step again.
#[actix_rt::test]
async fn a_completed_cycle_resets_the_restart_backoff() {
    let log = Arc::new(MemoryLog::new(LogLevel::Error));
    let mode = PollingMode::auto_poll(Duration::from_secs(3600))
        .restart_backoff(Duration::from_millis(50), Duration::from_secs(10));
    let (poller, began) = start_panicking(mode, 3, log.clone());
    assert!(
        eventually(|| began.borrow().len() >= 4).await,
        "three panics, then a fetch"
    );
    // Joins the fourth cycle (or finds the config it stored fresh): it has completed after.
    let joined = poller.send(Refresh(Need::IfDue)).await.unwrap();
    assert_eq!(joined, Ok(()));
    poller.send(Sabotage::PanicInHandler).await.unwrap();
    assert_eq!(
        announced_waits(&log),
        [50, 100, 200, 50],
        "the panic after a completed cycle waits the first step"
    );
}

/// `Shutdown` stops the poller for good, though a sender (here its address, as a handle's or a
/// webhook receiver's recipient) is still held: it is not restarted, and answers nothing more.
#[actix_rt::test]
async fn a_shut_down_poller_stays_stopped_while_senders_live() {
    let started = start(PollingMode::manual_poll(), failing(), Duration::ZERO);
    started.poller.send(Shutdown).await.unwrap();
    assert!(
        eventually(|| !started.poller.connected()).await,
        "the poller's actor has stopped"
    );
    let late = started.poller.send(Refresh(Need::Always)).await;
    assert!(matches!(late, Err(MailboxError::Closed)), "{late:?}");
    assert_eq!(started.count.load(Ordering::SeqCst), 0);
}

/// After `Close`, a live handle and a webhook receiver (each holding the poller as a
/// recipient) keep no poller alive, and nothing more is fetched.
#[cfg(feature = "actix-web")]
#[actix_rt::test]
async fn after_close_the_poller_is_stopped_though_a_handle_and_a_webhook_live() {
    let (url, count) = config_server(r#"{"f":{"greeting":{"t":1,"v":{"s":"hello"}}}}"#);
    let client = crate::evaluator::ConfigCat::builder(
        "configcat-sdk-1/POLLER-CLOSE-012345678/POLLER-CLOSE-012345678",
    )
    .base_url(url)
    .polling_mode(PollingMode::auto_poll(Duration::from_millis(50)))
    .log_sink(NoLog)
    .start()
    .unwrap();
    let handle = client.send(crate::GetHandle).await.unwrap();
    let webhook = crate::webhook::Webhook::new(handle.clone(), "signing key");
    let poller = handle.shared().refresh.clone();
    assert!(wait_for(&count, 2).await, "it polls");
    client.send(crate::Close).await.unwrap();
    assert!(
        eventually(|| !poller.connected()).await,
        "the poller's actor has stopped, not restarted"
    );
    let after_close = count.load(Ordering::SeqCst);
    let _ = poller.try_send(Refresh(Need::Always));
    let _ = handle.get_value("greeting", String::new(), None);
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        count.load(Ordering::SeqCst),
        after_close,
        "nothing fetched after close"
    );
    drop(webhook);
}

/// A real download whose parse panics (the same body every time, before any config is stored):
/// the fetcher is the real one, and the panic comes as its outcome is taken.
struct PanicAfterDownload(Fetcher);

impl Fetch for PanicAfterDownload {
    fn fetch(&self, etag: Option<String>) -> LocalBoxFuture<'static, FetchOutcome> {
        let download = Fetch::fetch(&self.0, etag);
        Box::pin(async move {
            let _ = download.await;
            panic!("a bug in the parse of this body");
        })
    }
}

/// Counted at the server: a body whose download panics every time costs at most one request
/// per backoff step (100, 200, 400, 400… ms here) over a window, not a refetch loop.
#[actix_rt::test]
async fn a_body_that_panics_every_time_costs_at_most_one_request_per_backoff_step() {
    let (url, count) = config_server(r#"{"f":{"greeting":{"t":1,"v":{"s":"hello"}}}}"#);
    let mut options = crate::options::Options::new(
        "configcat-sdk-1/POLLER-PARSE-012345678/POLLER-PARSE-012345678".into(),
    );
    options.base_url = Some(url);
    let fetch_options = options.fetch_options();
    let make_fetcher: MakeFetcher = Box::new(move || {
        let fetcher = Fetcher::new(fetch_options.clone(), Arc::new(NoLog))?;
        Ok(Rc::new(PanicAfterDownload(fetcher)) as Rc<dyn Fetch>)
    });
    let mode = PollingMode::auto_poll(Duration::from_secs(3600))
        .restart_backoff(Duration::from_millis(100), Duration::from_millis(400));
    let since = Instant::now();
    let _poller = start_poller(mode, make_fetcher, Arc::new(NoLog));
    assert!(
        eventually(|| count.load(Ordering::SeqCst) >= 3).await,
        "it tries again"
    );
    actix_rt::time::sleep(Duration::from_millis(1500)).await;
    let (requests, window) = (count.load(Ordering::SeqCst), since.elapsed());
    // Timers never fire early: after the first request, the k-th more needs the first k steps.
    let mut ceiling = 1;
    let mut waited = Duration::ZERO;
    for step in [100, 200].into_iter().chain(std::iter::repeat(400)) {
        waited += Duration::from_millis(step);
        if waited > window {
            break;
        }
        ceiling += 1;
    }
    assert!(
        requests <= ceiling,
        "{requests} requests in {window:?}: at most {ceiling}, one per backoff step"
    );
}
