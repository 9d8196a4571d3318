//! The poller actor: the only place that talks to the CDN.
//!
//! It runs under an actix [`Supervisor`], and the polling mode is its
//! policy: auto poll fetches at start and then on a timer, lazy load fetches when the evaluator
//! finds the config expired, manual poll only on [`ForceRefresh`]. After a restart, an
//! auto-polling poller re-arms its timer (the old one died with the old context) and fetches at
//! once if its config is stale or missing; the others wait to be asked. One fetch is in flight at a time; refresh requests that arrive meanwhile join it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::cache::{Cache, Store};
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
    cache: Addr<Cache>,
    sink: Arc<dyn LogSink>,
    in_flight: Option<SpawnHandle>,
    timer: Option<SpawnHandle>,
    waiters: Vec<oneshot::Sender<RefreshResult>>,
    closed: bool,
}

pub(crate) struct PollerParts {
    pub options: FetchOptions,
    pub mode: PollingMode,
    pub entry: SharedEntry,
    pub offline: Arc<AtomicBool>,
    pub cache: Addr<Cache>,
    pub sink: Arc<dyn LogSink>,
}

impl Poller {
    pub(crate) fn new(parts: PollerParts) -> Poller {
        Poller {
            options: parts.options,
            fetcher: None,
            mode: parts.mode,
            entry: parts.entry,
            offline: parts.offline,
            cache: parts.cache,
            sink: parts.sink,
            in_flight: None,
            timer: None,
            waiters: Vec::new(),
            closed: false,
        }
    }

    fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Relaxed)
    }

    /// Starts what the polling mode runs by itself: for auto poll, a fetch and the timer.
    fn schedule(&mut self, ctx: &mut Context<Self>) {
        if let PollingMode::AutoPoll { poll_interval, .. } = self.mode {
            if self.closed || self.is_offline() || self.timer.is_some() {
                return;
            }
            self.fetch_if_older(poll_interval, ctx);
            self.timer = Some(ctx.run_interval(poll_interval, move |act, ctx| {
                act.fetch_if_older(poll_interval, ctx);
            }));
        }
    }

    fn unschedule(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
    }

    /// Fetches unless the config is younger than `max_age` (with a tolerance for timer jitter,
    /// so that a tick landing a little early still fetches).
    fn fetch_if_older(&mut self, max_age: Duration, ctx: &mut Context<Self>) {
        let tolerance = (max_age / 2).min(Duration::from_millis(500));
        let fresh = self
            .entry
            .load()
            .as_deref()
            .is_some_and(|e| e.age() + tolerance < max_age);
        if !fresh {
            self.fetch(ctx);
        }
    }

    fn fetch(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight.is_some() || self.closed || self.is_offline() {
            return;
        }
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
                    return;
                }
            }
        }
        let Some(fetcher) = self.fetcher.clone() else {
            return;
        };
        let etag = self.entry.load().as_deref().and_then(|e| e.etag.clone());
        let cache = self.cache.clone();
        let fetch = async move {
            let outcome = fetcher.fetch(etag).await;
            let result = match &outcome {
                FetchOutcome::Fetched { .. } | FetchOutcome::NotModified => {
                    RefreshResult::success()
                }
                FetchOutcome::Failed { error, .. } => RefreshResult::failure(error.to_string()),
            };
            // Answer refresh requests only once the cache has published the outcome.
            let _ = cache.send(Store(outcome)).await;
            result
        };
        self.in_flight = Some(ctx.spawn(fetch.into_actor(self).map(|result, act, _| {
            act.in_flight = None;
            act.answer_waiters(result);
        })));
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
        self.schedule(ctx);
    }
}

impl Supervised for Poller {
    fn restarting(&mut self, _: &mut Context<Self>) {
        // The old context's timer and fetch are gone; `started` schedules anew.
        self.in_flight = None;
        self.timer = None;
        self.fetcher = None;
        self.answer_waiters(RefreshResult::failure("the poller was restarted"));
    }
}

impl Handler<ForceRefresh> for Poller {
    type Result = ResponseFuture<RefreshResult>;

    fn handle(&mut self, _: ForceRefresh, ctx: &mut Context<Self>) -> Self::Result {
        if self.closed {
            return Box::pin(async { RefreshResult::failure("the client is closed") });
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
        self.fetch(ctx);
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| RefreshResult::failure("the refresh was cancelled"))
        })
    }
}

/// Fetch unless the config is younger than this (lazy load's TTL).
pub(crate) struct RefreshIfOlder(pub Duration);

impl Message for RefreshIfOlder {
    type Result = ();
}

impl Handler<RefreshIfOlder> for Poller {
    type Result = ();

    fn handle(&mut self, RefreshIfOlder(max_age): RefreshIfOlder, ctx: &mut Context<Self>) {
        let stale = self
            .entry
            .load()
            .as_deref()
            .is_none_or(|e| e.age() >= max_age);
        if stale {
            self.fetch(ctx);
        }
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
        if offline {
            self.unschedule(ctx);
        } else {
            self.schedule(ctx);
        }
    }
}

impl Handler<crate::cache::Shutdown> for Poller {
    type Result = ();

    fn handle(&mut self, _: crate::cache::Shutdown, ctx: &mut Context<Self>) {
        self.closed = true;
        self.unschedule(ctx);
        if let Some(fetch) = self.in_flight.take() {
            ctx.cancel_future(fetch);
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::atomic::AtomicUsize;

    use super::*;
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
        let cache = Cache::new(
            entry.clone(),
            evaluator,
            Arc::new(Hooks::default()),
            sink.clone(),
        )
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
}
