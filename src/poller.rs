//! The poller actor: the only place that talks to the CDN.
//!
//! It runs under an actix [`Supervisor`], and the polling mode is its policy: auto poll
//! refreshes at start and then on a timer, lazy load when the evaluator finds the config
//! expired, manual poll only on [`ForceRefresh`]. After a restart, an auto-polling poller
//! re-arms its timer (the old one died with the old context) and fetches at once if its config
//! is stale or missing; the others wait to be asked.
//!
//! A refresh is one cycle: first the cache actor re-reads the external cache (another process
//! may have downloaded a fresh config), then, only if the config is still too old, a fetch,
//! whose outcome goes back to the cache actor. One cycle runs at a time; `ForceRefresh`
//! requests that arrive meanwhile wait for a cycle that fetches and get its result.
//!
//! A panic in the poller (in a handler, or in the fetch and parse of a cycle, which run code
//! of other crates) is caught and logged (event 9002), and the poller stops: its supervisor
//! restarts it, while the rest of the client goes on serving the last good config.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::prelude::*;
use futures_util::FutureExt;
use tokio::sync::oneshot;

use crate::cache::{Cache, Store, SyncExternal};
use crate::client::PollingMode;
use crate::fetch::{FetchOptions, FetchOutcome, Fetcher};
use crate::log::{LogLevel, LogSink, event};
use crate::messages::{ForceRefresh, RefreshResult};
use crate::snapshot::SharedEntry;

/// Fetches the config as the polling mode says.
pub struct Poller {
    options: FetchOptions,
    fetcher: Option<Fetcher>,
    mode: PollingMode,
    entry: SharedEntry,
    offline: Arc<AtomicBool>,
    /// Local-only flag overrides: the poller never fetches.
    local_only: bool,
    cache: Addr<Cache>,
    sink: Arc<dyn LogSink>,
    in_flight: Option<SpawnHandle>,
    /// A `ForceRefresh` arrived while a cycle that may not fetch was running.
    force_pending: bool,
    timer: Option<SpawnHandle>,
    waiters: Vec<oneshot::Sender<RefreshResult>>,
    closed: bool,
}

pub(crate) struct PollerParts {
    pub options: FetchOptions,
    pub mode: PollingMode,
    pub entry: SharedEntry,
    pub offline: Arc<AtomicBool>,
    pub local_only: bool,
    pub cache: Addr<Cache>,
    pub sink: Arc<dyn LogSink>,
}

/// When a refresh cycle fetches.
#[derive(Debug, Clone, Copy)]
enum Need {
    /// Whatever the age of the config.
    Always,
    /// When the config is missing or at least this old.
    OlderThan(Duration),
}

impl Poller {
    pub(crate) fn new(parts: PollerParts) -> Poller {
        Poller {
            options: parts.options,
            fetcher: None,
            mode: parts.mode,
            entry: parts.entry,
            offline: parts.offline,
            local_only: parts.local_only,
            cache: parts.cache,
            sink: parts.sink,
            in_flight: None,
            force_pending: false,
            timer: None,
            waiters: Vec::new(),
            closed: false,
        }
    }

    fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Relaxed)
    }

    /// Starts what the polling mode runs by itself: for auto poll, a refresh and the timer.
    fn schedule(&mut self, ctx: &mut Context<Self>) {
        if let PollingMode::AutoPoll { poll_interval, .. } = self.mode {
            if self.closed || self.local_only || self.is_offline() || self.timer.is_some() {
                return;
            }
            // A tick landing a little early still counts the config as due.
            let tolerance = (poll_interval / 2).min(Duration::from_millis(500));
            let due = Need::OlderThan(poll_interval - tolerance);
            self.refresh(due, ctx);
            self.timer = Some(ctx.run_interval(poll_interval, move |act, ctx| {
                act.supervised(ctx, "a timed refresh", |act, ctx| act.refresh(due, ctx));
            }));
        }
    }

    fn unschedule(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
    }

    fn fetcher(&mut self) -> Option<Fetcher> {
        if self.fetcher.is_none() {
            match Fetcher::new(self.options.clone(), self.sink.clone()) {
                Ok(fetcher) => self.fetcher = Some(fetcher),
                Err(error) => {
                    self.sink.log(
                        LogLevel::Error,
                        event::FETCH_FAILED,
                        format_args!("Cannot create the HTTP client: {error}"),
                    );
                    self.answer_waiters(RefreshResult::failure(error.to_string()));
                }
            }
        }
        self.fetcher.clone()
    }

    /// Runs one refresh cycle unless one is running.
    fn refresh(&mut self, need: Need, ctx: &mut Context<Self>) {
        if self.closed || self.local_only || self.is_offline() {
            return;
        }
        if self.in_flight.is_some() {
            self.force_pending |= matches!(need, Need::Always);
            return;
        }
        let Some(fetcher) = self.fetcher() else {
            return;
        };
        let cache = self.cache.clone();
        let entry = self.entry.clone();
        let cycle = async move {
            // Another process may have downloaded a config meanwhile.
            let fresh_within = match need {
                Need::Always => None,
                Need::OlderThan(max_age) => Some(max_age),
            };
            let _ = cache.send(SyncExternal(fresh_within)).await;
            let current = entry.load_full();
            let remote = current.remote.as_deref();
            let due = match need {
                Need::Always => true,
                Need::OlderThan(max_age) => remote.is_none_or(|e| e.age() >= max_age),
            };
            if !due {
                return None;
            }
            let etag = remote.and_then(|e| e.etag.clone());
            let outcome = fetcher.fetch(etag).await;
            let result = match &outcome {
                FetchOutcome::Fetched { .. } | FetchOutcome::NotModified => {
                    RefreshResult::success()
                }
                FetchOutcome::Failed { error, .. } => RefreshResult::failure(error.to_string()),
            };
            // Answer refresh requests only once the cache has published the outcome.
            let _ = cache.send(Store(outcome)).await;
            Some(result)
        };
        self.run_cycle(cycle, ctx);
    }

    /// Runs a refresh cycle as the one in flight; then answers the refresh requests, or starts
    /// the fetching cycle a `ForceRefresh` asked for meanwhile.
    fn run_cycle(
        &mut self,
        cycle: impl Future<Output = Option<RefreshResult>> + 'static,
        ctx: &mut Context<Self>,
    ) {
        let cycle = AssertUnwindSafe(cycle).catch_unwind();
        self.in_flight = Some(ctx.spawn(cycle.into_actor(self).map(|outcome, act, ctx| {
            act.in_flight = None;
            let Ok(fetched) = outcome else {
                act.panicked("a refresh", ctx);
                return;
            };
            match fetched {
                Some(result) => {
                    act.force_pending = false;
                    act.answer_waiters(result);
                }
                None if act.force_pending || !act.waiters.is_empty() => {
                    act.force_pending = false;
                    act.refresh(Need::Always, ctx);
                }
                None => {}
            }
        })));
    }

    /// Runs a handler's body; if it panics, the poller stops and its supervisor restarts it.
    fn supervised<R: Default>(
        &mut self,
        ctx: &mut Context<Self>,
        what: &str,
        body: impl FnOnce(&mut Self, &mut Context<Self>) -> R,
    ) -> R {
        match catch_unwind(AssertUnwindSafe(|| body(self, ctx))) {
            Ok(result) => result,
            Err(_) => {
                self.panicked(what, ctx);
                R::default()
            }
        }
    }

    fn panicked(&mut self, what: &str, ctx: &mut Context<Self>) {
        self.sink.log(
            LogLevel::Error,
            event::POLLER_PANICKED,
            format_args!("The poller panicked during {what}; its supervisor restarts it."),
        );
        // `restarting` answers the waiting refresh requests; `started` schedules anew.
        ctx.stop();
    }

    fn answer_waiters(&mut self, result: RefreshResult) {
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(result.clone());
        }
    }
}

impl Actor for Poller {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.supervised(ctx, "its start", Self::schedule);
    }
}

impl Supervised for Poller {
    fn restarting(&mut self, _: &mut Context<Self>) {
        // The old context's timer and cycle are gone; `started` schedules anew.
        self.in_flight = None;
        self.timer = None;
        self.fetcher = None;
        self.force_pending = false;
        self.answer_waiters(RefreshResult::failure("the poller was restarted"));
    }
}

impl Handler<ForceRefresh> for Poller {
    type Result = ResponseFuture<RefreshResult>;

    fn handle(&mut self, _: ForceRefresh, ctx: &mut Context<Self>) -> Self::Result {
        let requested = self.supervised(ctx, "a forced refresh", |act, ctx| {
            Some(act.force_refresh(ctx))
        });
        requested.unwrap_or_else(|| {
            Box::pin(async { RefreshResult::failure("the poller panicked and was restarted") })
        })
    }
}

impl Poller {
    fn force_refresh(&mut self, ctx: &mut Context<Self>) -> ResponseFuture<RefreshResult> {
        if self.closed {
            return Box::pin(async { RefreshResult::failure("the client is closed") });
        }
        if self.local_only {
            let message =
                "The client uses the `LocalOnly` flag override behaviour, it makes no HTTP calls.";
            return Box::pin(async move { RefreshResult::failure(message) });
        }
        if self.is_offline() {
            let message = "Client is in offline mode, it cannot initiate HTTP calls.";
            self.sink.log(
                LogLevel::Warn,
                event::OFFLINE_NO_HTTP,
                format_args!("{message}"),
            );
            return Box::pin(async move { RefreshResult::failure(message) });
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.push(tx);
        self.refresh(Need::Always, ctx);
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| RefreshResult::failure("the refresh was cancelled"))
        })
    }
}

/// Refresh unless the config is younger than this (lazy load's TTL).
pub(crate) struct RefreshIfOlder(pub Duration);

impl Message for RefreshIfOlder {
    type Result = ();
}

impl Handler<RefreshIfOlder> for Poller {
    type Result = ();

    fn handle(&mut self, RefreshIfOlder(max_age): RefreshIfOlder, ctx: &mut Context<Self>) {
        self.supervised(ctx, "a refresh on demand", |act, ctx| {
            act.refresh(Need::OlderThan(max_age), ctx);
        });
    }
}

/// The client went offline (`true`) or online (`false`).
pub(crate) struct OfflineChanged(pub bool);

impl Message for OfflineChanged {
    type Result = ();
}

impl Handler<OfflineChanged> for Poller {
    type Result = ();

    fn handle(&mut self, OfflineChanged(offline): OfflineChanged, ctx: &mut Context<Self>) {
        self.supervised(ctx, "a switch to offline or online", |act, ctx| {
            if offline {
                act.unschedule(ctx);
            } else {
                act.schedule(ctx);
            }
        });
    }
}

impl Handler<crate::cache::Shutdown> for Poller {
    type Result = ();

    fn handle(&mut self, _: crate::cache::Shutdown, ctx: &mut Context<Self>) {
        self.closed = true;
        self.unschedule(ctx);
        if let Some(cycle) = self.in_flight.take() {
            ctx.cancel_future(cycle);
        }
        self.fetcher = None;
        self.answer_waiters(RefreshResult::failure("the client is closed"));
        ctx.stop();
    }
}

/// Stops the poller as a failure would, so that its supervisor restarts it (tests only).
#[cfg(test)]
pub(crate) struct Crash;

#[cfg(test)]
impl Message for Crash {
    type Result = ();
}

#[cfg(test)]
impl Handler<Crash> for Poller {
    type Result = ();

    fn handle(&mut self, _: Crash, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Makes the poller panic, in a handler or in a refresh cycle (tests only).
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub(crate) enum Panic {
    InHandler,
    InCycle,
}

#[cfg(test)]
impl Message for Panic {
    type Result = ();
}

#[cfg(test)]
impl Handler<Panic> for Poller {
    type Result = ();

    fn handle(&mut self, msg: Panic, ctx: &mut Context<Self>) {
        match msg {
            Panic::InHandler => self.supervised(ctx, "a test", |_, _| panic!("a bug in a handler")),
            Panic::InCycle => {
                let cycle = async { panic!("a bug in a fetch") };
                self.run_cycle(cycle, ctx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::cache::CacheParts;
    use crate::evaluator::Evaluator;
    use crate::hooks::Hooks;
    use crate::log::NoLog;

    /// A server that answers every request with a 500 and counts them.
    fn failing_server() -> (String, Arc<AtomicUsize>) {
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
                let _ = stream.write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        (url, count)
    }

    fn start_poller(url: String, mode: PollingMode) -> Addr<Poller> {
        let entry = SharedEntry::default();
        let sink: Arc<dyn LogSink> = Arc::new(NoLog);
        // The evaluator is never run: the cache's notifications to it are simply dropped.
        let evaluator = Context::<Evaluator>::new().address();
        let cache = Cache::new(CacheParts {
            entry: entry.clone(),
            evaluator,
            hooks: Arc::new(Hooks::default()),
            sink: sink.clone(),
            external: None,
            sdk_key: String::new(),
            overrides: None,
        })
        .start();
        let options = FetchOptions {
            sdk_key: "configcat-sdk-1/POLLER-TEST-0123456789/POLLER-TEST-0123456789".into(),
            base_url: Some(url),
            mode_letter: mode.letter(),
            ..FetchOptions::default()
        };
        Supervisor::start(move |_| {
            Poller::new(PollerParts {
                options,
                mode,
                entry,
                offline: Arc::new(AtomicBool::new(false)),
                local_only: false,
                cache,
                sink,
            })
        })
    }

    async fn wait_for(count: &AtomicUsize, expected: usize) -> bool {
        for _ in 0..200 {
            if count.load(Ordering::SeqCst) >= expected {
                return true;
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    #[actix_rt::test]
    async fn a_restarted_auto_poller_fetches_again_at_once_when_it_has_no_config() {
        let (url, count) = failing_server();
        let poller = start_poller(url, PollingMode::auto_poll(Duration::from_secs(3600)));
        assert!(wait_for(&count, 1).await, "fetched at start");
        poller.do_send(Crash);
        // The hour-long interval cannot explain a second request: the restart policy does.
        assert!(wait_for(&count, 2).await, "fetched again after the restart");
        assert!(poller.connected(), "the supervisor kept the poller alive");
    }

    #[actix_rt::test]
    async fn a_restarted_manual_poller_waits_to_be_asked() {
        let (url, count) = failing_server();
        let poller = start_poller(url, PollingMode::manual_poll());
        poller.do_send(Crash);
        actix_rt::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            count.load(Ordering::SeqCst),
            0,
            "manual polling never fetches by itself"
        );
        let result = poller
            .send(ForceRefresh)
            .await
            .expect("the restarted poller answers");
        assert!(!result.is_success);
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[actix_rt::test]
    async fn a_poller_that_panics_in_a_handler_or_a_cycle_is_restarted() {
        for panic in [Panic::InHandler, Panic::InCycle] {
            let (url, count) = failing_server();
            let poller = start_poller(url, PollingMode::auto_poll(Duration::from_secs(3600)));
            assert!(wait_for(&count, 1).await, "fetched at start");
            poller
                .send(panic)
                .await
                .expect("the poller takes the message");
            // Restarted with no config, an auto poller fetches at once: the hour-long interval
            // cannot explain a second request.
            assert!(
                wait_for(&count, 2).await,
                "{panic:?}: fetched again after the restart"
            );
            let result = poller.send(ForceRefresh).await;
            assert!(result.is_ok(), "{panic:?}: the restarted poller answers");
            assert!(wait_for(&count, 3).await, "{panic:?}: and fetches");
        }
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
        let log = Arc::new(crate::log::MemoryLog::new(LogLevel::Error));
        let client = crate::ConfigCat::builder(
            "configcat-sdk-1/POLLER-PANIC-012345678/POLLER-PANIC-012345678",
        )
        .base_url(url)
        .polling_mode(PollingMode::auto_poll(Duration::from_secs(3600)))
        .log_sink(log.clone())
        .start()
        .unwrap();
        let greeting = || client.send(crate::GetValue::new("greeting", String::from("default")));
        assert_eq!(greeting().await.unwrap(), "hello");
        let poller = client.send(crate::client::PollerAddress).await.unwrap();
        for panic in [Panic::InHandler, Panic::InCycle, Panic::InHandler] {
            poller.do_send(panic);
            for _ in 0..50 {
                assert_eq!(greeting().await.unwrap(), "hello", "served throughout");
            }
        }
        let refreshed = client.send(crate::ForceRefresh).await.unwrap();
        assert!(
            refreshed.is_success,
            "the restarted poller fetches: {refreshed:?}"
        );
        assert!(count.load(Ordering::SeqCst) >= 2);
        let panics = log
            .take()
            .into_iter()
            .filter(|e| e.event_id == event::POLLER_PANICKED)
            .count();
        assert_eq!(panics, 3, "each panic logged once as 9002");
        assert_eq!(greeting().await.unwrap(), "hello");
    }
}
