//! The poller actor: the only place that talks to the CDN.
//!
//! The polling mode is its policy ([`PollingMode`]): the poller asks it what to do when it
//! starts (and again when it restarts), whether a refresh may run, whether a cycle fetches, which
//! requests a cycle serves, and how long to wait before a restart. It downloads through a
//! [`Fetch`], so tests can give it a fetcher without a server.
//!
//! A refresh is one cycle: the config store re-reads the external cache (another process may
//! have downloaded a fresh config), then, only if the config is still due, the download lease
//! of a shared cache ([`TakeLease`]: while another process holds it, the cycle waits for that
//! process's entry, at most one lease time) and a fetch, whose outcome goes back to the cache
//! actor ([`Store`]); the cycle ends once it is stored and the lease given back. One
//! cycle runs at a time; refresh requests that arrive meanwhile join it (a `ForceRefresh` waits
//! for a cycle that fetches).
//!
//! A panic in the poller (in a handler, or in the fetch and parse of a cycle, which run code
//! of other crates) is caught and logged (event 9002), and the poller restarts itself, as a
//! supervisor would, after the wait the policy gives (growing while the panics go on, reset by
//! a cycle that completes), while the rest of the client goes on serving the last good config.
//! It restarts in place rather than under actix's `Supervisor`: that one restarts at once, and
//! whenever the actor stops while anyone holds a sender, so neither the wait nor the final stop
//! of `Shutdown` would be the policy's. After `Shutdown` the actor is stopped for good: later
//! sends fail with `MailboxError::Closed`, whoever holds a sender (a handle, a webhook
//! receiver, the change stream).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;
use tokio::sync::oneshot;

use crate::error::Error;
use crate::error::RefreshError;
use crate::fetch::{FetchOutcome, Fetcher};
use crate::hooks::{ConfigFetched, FetchResult, Hooks};
use crate::log::{LogLevel, LogSink, event};
use crate::policy::{PollingMode, Start};
use crate::protocol::{
    Need, OfflineChanged, Refresh, ReleaseLease, Shutdown, Store, SyncExternal, TakeLease,
};
use crate::state::Published;

/// Downloads the config: one refresh per call (redirects included), failures logged.
pub(crate) trait Fetch {
    /// Fetches with this ETag (a conditional request) or none.
    fn fetch(&self, etag: Option<String>) -> LocalBoxFuture<'static, FetchOutcome>;
}

impl Fetch for Fetcher {
    fn fetch(&self, etag: Option<String>) -> LocalBoxFuture<'static, FetchOutcome> {
        Box::pin(Fetcher::fetch(self, etag))
    }
}

/// Makes the fetcher (again after a restart: the old one may be what failed).
pub(crate) type MakeFetcher = Box<dyn Fn() -> Result<Rc<dyn Fetch>, Error>>;

/// The download lease of a shared cache: one process of a fleet downloads, the others wait for
/// its entry.
#[derive(Clone)]
pub(crate) struct LeaseParts {
    pub(crate) take: Recipient<TakeLease>,
    pub(crate) release: Recipient<ReleaseLease>,
    /// The longest a cycle waits for another leaseholder's entry: the lease's time to live.
    pub(crate) wait: Duration,
    /// How often a waiting cycle re-reads the entry's head and asks for the lease again: the
    /// cache sync interval (so that every re-read is a real one).
    pub(crate) step: Duration,
}

/// The shortest time between two looks at a taken lease, whatever the sync interval: a
/// waiting fleet asks the cache at most this often.
const MIN_LEASE_STEP: Duration = Duration::from_millis(10);

/// How waiting for the lease ended.
enum Leased {
    /// This client may download (and gives the lease back after).
    Held,
    /// The leaseholder's entry arrived: the config is no longer due.
    Served,
    /// The wait ran out, or the request does not wait (`ForceRefresh`): download anyway.
    NotHeld,
}

/// Takes the lease, or waits for the leaseholder's entry: polls the head every `step` and asks
/// for the lease again (a dead holder's lease ends by itself), at most `wait`. A forced refresh
/// or a change notice asks once and never waits: a download was asked for.
async fn lease_or_wait(
    lease: &LeaseParts,
    need: Need,
    sync: &Recipient<SyncExternal>,
    still_due: impl Fn() -> bool,
) -> Leased {
    let started = Instant::now();
    loop {
        if lease.take.send(TakeLease).await.unwrap_or(true) {
            // The entry was read again once the lease was ours: the last holder may have
            // written it after this cycle's first read.
            if !still_due() {
                let _ = lease.release.send(ReleaseLease).await;
                return Leased::Served;
            }
            return Leased::Held;
        }
        // A change notice (a webhook, a stream message) does not wait either: the entry that
        // another holder writes may predate the change it announces.
        if matches!(need, Need::Always | Need::Changed(_)) || started.elapsed() >= lease.wait {
            return Leased::NotHeld;
        }
        let step = lease.step.max(MIN_LEASE_STEP);
        actix_rt::time::sleep(step.min(lease.wait.saturating_sub(started.elapsed()))).await;
        let _ = sync.send(SyncExternal { claimed: false }).await;
        if !still_due() {
            return Leased::Served;
        }
    }
}

/// A refresh request waiting for the cycle that answers it.
struct Waiter {
    need: Need,
    reply: oneshot::Sender<Result<(), RefreshError>>,
    /// A `Need::Changed` that arrived while a cycle ran: served by the next cycle, not this one.
    deferred: bool,
}

/// Fetches the config as the polling mode says.
pub(crate) struct Poller {
    mode: PollingMode,
    make_fetcher: MakeFetcher,
    fetcher: Option<Rc<dyn Fetch>>,
    /// The published state, and the switches (offline, local-only, closed) beside it.
    published: Arc<Published>,
    store: Recipient<Store>,
    /// Re-reads the external cache; `None` without one.
    sync: Option<Recipient<SyncExternal>>,
    /// The download lease; `None` without an external cache or with leases off.
    lease: Option<LeaseParts>,
    sink: Arc<dyn LogSink>,
    /// For `on_config_fetched`.
    hooks: Arc<Hooks>,
    in_flight: Option<SpawnHandle>,
    timer: Option<SpawnHandle>,
    waiters: Vec<Waiter>,
    /// How long the last download took: a tick allows for it (see `AutoPoll::due`).
    last_download: Duration,
    /// Panics since the last cycle that completed: how long the next restart waits.
    failures: u32,
    /// The wait before a restart, while it runs.
    restarting: Option<SpawnHandle>,
}

/// What the builder hands the poller.
pub(crate) struct PollerParts {
    pub(crate) mode: PollingMode,
    pub(crate) make_fetcher: MakeFetcher,
    pub(crate) published: Arc<Published>,
    pub(crate) store: Recipient<Store>,
    pub(crate) sync: Option<Recipient<SyncExternal>>,
    pub(crate) lease: Option<LeaseParts>,
    pub(crate) sink: Arc<dyn LogSink>,
    pub(crate) hooks: Arc<Hooks>,
}

impl Poller {
    pub(crate) fn new(parts: PollerParts) -> Poller {
        Poller {
            mode: parts.mode,
            make_fetcher: parts.make_fetcher,
            fetcher: None,
            published: parts.published,
            store: parts.store,
            sync: parts.sync,
            lease: parts.lease,
            sink: parts.sink,
            hooks: parts.hooks,
            in_flight: None,
            timer: None,
            waiters: Vec::new(),
            last_download: Duration::ZERO,
            failures: 0,
            restarting: None,
        }
    }

    fn can_fetch(&self) -> bool {
        self.refusal().is_none()
    }

    /// Does what the policy says a (re)started poller does (a restarting one, once its wait is
    /// over).
    fn schedule(&mut self, ctx: &mut Context<Self>) {
        let Start::RefreshAndTick(interval) = self.mode.on_start() else {
            return;
        };
        if !self.can_fetch() || self.timer.is_some() || self.restarting.is_some() {
            return;
        }
        self.refresh(Need::IfDue, ctx);
        self.timer = Some(ctx.run_interval(interval, |act, ctx| {
            act.supervised(ctx, "a timed refresh", |act, ctx| {
                act.refresh(Need::IfDue, ctx)
            });
        }));
    }

    fn unschedule(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
    }

    fn fetcher(&mut self) -> Result<Rc<dyn Fetch>, RefreshError> {
        if let Some(fetcher) = &self.fetcher {
            return Ok(fetcher.clone());
        }
        match (self.make_fetcher)() {
            Ok(fetcher) => Ok(self.fetcher.insert(fetcher).clone()),
            Err(error) => {
                let error = crate::error::FetchError::Network(format!(
                    "Cannot create the HTTP client: {error}"
                ));
                error.log_to(&*self.sink);
                Err(RefreshError::Fetch(error))
            }
        }
    }

    /// Runs one refresh cycle unless one is running (a request then waits for it).
    fn refresh(&mut self, need: Need, ctx: &mut Context<Self>) {
        if !self.can_fetch() || self.in_flight.is_some() || self.restarting.is_some() {
            return;
        }
        let fetcher = match self.fetcher() {
            Ok(fetcher) => fetcher,
            Err(error) => return self.answer_waiters(Err(error)),
        };
        let published = self.published.clone();
        let sync = self.sync.clone();
        let lease = self.lease.clone().zip(self.sync.clone());
        let store = self.store.clone();
        let mode = self.mode;
        let last_download = self.last_download;
        let (hooks, sink) = (self.hooks.clone(), self.sink.clone());
        let cycle = async move {
            if let Some(sync) = sync {
                // Another process may have downloaded a config meanwhile (and a forced fetch
                // then sends its ETag).
                let _ = sync.send(SyncExternal { claimed: false }).await;
            }
            let due = || mode.fetches(need, published.load().age(), last_download);
            if !due() {
                return None;
            }
            // One process of a fleet downloads; the others wait for its entry.
            let mut leased = None;
            if let Some((lease, sync)) = &lease {
                match lease_or_wait(lease, need, sync, due).await {
                    Leased::Held => leased = Some(lease.release.clone()),
                    Leased::Served => return None,
                    Leased::NotHeld => {}
                }
            }
            let current = published.load_full();
            let etag = current.remote.as_deref().and_then(|e| e.etag.clone());
            let started = Instant::now();
            let outcome = fetcher.fetch(etag).await;
            let took = started.elapsed();
            let result = match &outcome {
                FetchOutcome::Failed { error, .. } => Err(RefreshError::Fetch(error.clone())),
                FetchOutcome::Fetched { .. } | FetchOutcome::NotModified => Ok(()),
            };
            let fetched = (!hooks.on_config_fetched.is_empty()).then(|| ConfigFetched {
                result: fetch_result(&outcome, current.remote.as_deref().map(|e| &*e.json)),
                trigger: need.trigger(),
                duration: took,
            });
            // Refresh requests are answered only once evaluations see the outcome.
            let _ = store.send(Store(outcome)).await;
            if let Some(release) = leased {
                let _ = release.send(ReleaseLease).await;
            }
            if let Some(fetched) = fetched {
                hooks.config_fetched(&fetched, &*sink);
            }
            Some((result, took))
        };
        self.run_cycle(cycle, ctx);
    }

    /// Runs a refresh cycle as the one in flight; then answers the requests it serves, and
    /// starts the fetching cycle a `ForceRefresh` that joined a non-fetching one needs.
    fn run_cycle(
        &mut self,
        cycle: impl Future<Output = Option<(Result<(), RefreshError>, Duration)>> + 'static,
        ctx: &mut Context<Self>,
    ) {
        let cycle = AssertUnwindSafe(cycle).catch_unwind();
        self.in_flight = Some(ctx.spawn(cycle.into_actor(self).map(|outcome, act, ctx| {
            act.in_flight = None;
            if outcome.is_ok() {
                // A cycle that completes, whatever its outcome, ends a run of panics.
                act.failures = 0;
            }
            match outcome {
                Err(_) => act.restart("a refresh", ctx),
                Ok(Some((result, took))) => {
                    act.last_download = took;
                    act.answer_served_waiters(result);
                    act.refresh_for_deferred(ctx);
                }
                Ok(None) => {
                    act.answer_unfetched_waiters();
                    act.refresh_for_deferred(ctx);
                }
            }
        })));
    }

    /// Runs a handler's body; if it panics, the poller restarts.
    fn supervised<R: Default>(
        &mut self,
        ctx: &mut Context<Self>,
        what: &str,
        body: impl FnOnce(&mut Self, &mut Context<Self>) -> R,
    ) -> R {
        match catch_unwind(AssertUnwindSafe(|| body(self, ctx))) {
            Ok(result) => result,
            Err(_) => {
                self.restart(what, ctx);
                R::default()
            }
        }
    }

    /// After a panic, restarts the poller as a supervisor would, once the wait the policy
    /// gives is over: what ran is dropped (the timer, a cycle), the requests waiting on it are
    /// answered `Interrupted`, and a new fetcher is made (the old one may be what failed).
    /// Requests made during the wait are answered `Interrupted` at once: queued, they would
    /// pile up (an access of an expired lazy-load config asks at every evaluation).
    fn restart(&mut self, what: &str, ctx: &mut Context<Self>) {
        self.failures = self.failures.saturating_add(1);
        let wait = self.mode.restart_delay(self.failures);
        self.sink.log(
            LogLevel::Error,
            event::POLLER_PANICKED,
            format_args!(
                "The poller panicked during {what}; it restarts in {} ms.",
                wait.as_millis()
            ),
        );
        self.unschedule(ctx);
        for running in [self.in_flight.take(), self.restarting.take()]
            .into_iter()
            .flatten()
        {
            ctx.cancel_future(running);
        }
        self.fetcher = None;
        self.answer_waiters(Err(RefreshError::Interrupted));
        self.restarting = Some(ctx.run_later(wait, |act, ctx| {
            act.restarting = None;
            act.supervised(ctx, "its restart", Self::schedule);
        }));
    }

    fn answer_waiters(&mut self, result: Result<(), RefreshError>) {
        for waiter in self.waiters.drain(..) {
            let _ = waiter.reply.send(result.clone());
        }
    }

    /// A fetching cycle serves the requests that were waiting when it started (or joined it);
    /// the `Need::Changed` ones that arrived meanwhile wait for the next.
    fn answer_served_waiters(&mut self, result: Result<(), RefreshError>) {
        let (served, deferred) = std::mem::take(&mut self.waiters)
            .into_iter()
            .partition(|w| !w.deferred);
        self.waiters = deferred;
        for waiter in served {
            let _ = waiter.reply.send(result.clone());
        }
    }

    /// After a cycle: the requests left over get one more cycle, which fetches (all of them
    /// coalesce into it).
    fn refresh_for_deferred(&mut self, ctx: &mut Context<Self>) {
        let Some(first) = self.waiters.first() else {
            return;
        };
        let need = self.mode.follow_up(first.need);
        for waiter in &mut self.waiters {
            waiter.deferred = false;
        }
        self.refresh(need, ctx);
    }

    /// A cycle that found the config fresh serves the requests the policy says it serves
    /// (those that only wanted it fresh).
    fn answer_unfetched_waiters(&mut self) {
        let mode = self.mode;
        let (served, forced) = std::mem::take(&mut self.waiters)
            .into_iter()
            .partition(|w| mode.served_without_fetch(w.need));
        self.waiters = forced;
        for waiter in served {
            let _ = waiter.reply.send(Ok(()));
        }
    }

    fn refusal(&self) -> Option<RefreshError> {
        let published = &self.published;
        self.mode.refusal(
            published.closed(),
            published.local_only(),
            published.offline(),
        )
    }

    fn request(
        &mut self,
        need: Need,
        ctx: &mut Context<Self>,
    ) -> ResponseFuture<Result<(), RefreshError>> {
        if let Some(refusal) = self.refusal() {
            if refusal == RefreshError::Offline && need == Need::Always {
                self.sink.log(
                    LogLevel::Warn,
                    event::OFFLINE_NO_HTTP,
                    format_args!("{refusal}"),
                );
            }
            return Box::pin(async move { Err(refusal) });
        }
        if self.restarting.is_some() {
            return Box::pin(async { Err(RefreshError::Interrupted) });
        }
        let (reply, answer) = oneshot::channel();
        let deferred = self
            .mode
            .waits_for_next_cycle(need, self.in_flight.is_some());
        self.waiters.push(Waiter {
            need,
            reply,
            deferred,
        });
        self.refresh(need, ctx);
        Box::pin(async move { answer.await.unwrap_or(Err(RefreshError::Interrupted)) })
    }
}

impl Actor for Poller {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.supervised(ctx, "its start", Self::schedule);
    }
}

impl Handler<Refresh> for Poller {
    type Result = ResponseFuture<Result<(), RefreshError>>;

    fn handle(&mut self, Refresh(need): Refresh, ctx: &mut Context<Self>) -> Self::Result {
        let requested = self.supervised(ctx, "a refresh request", |act, ctx| {
            Some(act.request(need, ctx))
        });
        requested.unwrap_or_else(|| Box::pin(async { Err(RefreshError::Interrupted) }))
    }
}

impl Handler<OfflineChanged> for Poller {
    type Result = ();

    fn handle(&mut self, _: OfflineChanged, ctx: &mut Context<Self>) {
        self.supervised(ctx, "a switch to offline or online", |act, ctx| {
            if act.published.offline() {
                act.unschedule(ctx);
            } else {
                act.schedule(ctx);
            }
        });
    }
}

impl Handler<Shutdown> for Poller {
    type Result = ();

    /// The client is closed from now on (the evaluator marks it when `Close` begins; marked
    /// here too, whoever sent it), and the poller stops for good: nothing restarts it.
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        self.published.close();
        self.unschedule(ctx);
        if let Some(wait) = self.restarting.take() {
            ctx.cancel_future(wait);
        }
        // A download that finished has been handed to the config store already (the cycle sends
        // it as soon as it is in): cancelling loses only a download still under way.
        if let Some(cycle) = self.in_flight.take() {
            ctx.cancel_future(cycle);
        }
        self.fetcher = None;
        self.answer_waiters(Err(RefreshError::Closed));
        ctx.stop();
    }
}

/// What a fetch brought, for `on_config_fetched`: a 200 is a change unless its body is the one
/// served before.
fn fetch_result(outcome: &FetchOutcome, before: Option<&str>) -> FetchResult {
    match outcome {
        FetchOutcome::Fetched { json, .. } if before == Some(&**json) => FetchResult::Unchanged,
        FetchOutcome::Fetched { .. } => FetchResult::Changed,
        FetchOutcome::NotModified => FetchResult::NotModified,
        FetchOutcome::Failed { error, .. } => FetchResult::Failed(error.clone()),
    }
}

#[cfg(test)]
impl Handler<crate::protocol::Sabotage> for Poller {
    type Result = ();

    fn handle(&mut self, sabotage: crate::protocol::Sabotage, ctx: &mut Context<Self>) {
        use crate::protocol::Sabotage;
        match sabotage {
            Sabotage::Stop => self.restart("a test", ctx),
            Sabotage::PanicInHandler => {
                self.supervised(ctx, "a test", |_, _| panic!("a bug in a handler"))
            }
            Sabotage::PanicInCycle => {
                let cycle = async { panic!("a bug in a fetch") };
                self.run_cycle(cycle, ctx);
            }
        }
    }
}

#[cfg(test)]
mod tests;
