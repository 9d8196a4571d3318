//! The evaluator actor: holds the evaluation requests that must wait for the first config.
//!
//! Evaluations are answered from `Shared`, the config entry the cache actor publishes and
//! the default user, read without a lock. When no wait is needed, the facade answers them
//! itself (one mailbox hop); the evaluator gets only the requests that arrive before the first
//! fetch has finished, keeps them until it does (at most the max init wait in auto poll, or
//! for the first download in lazy load), and then answers them with whatever is there.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::prelude::*;
use arc_swap::ArcSwapOption;
use tokio::sync::oneshot;

use crate::cache::{Cache, InitTimedOut};
use crate::client::PollingMode;
use crate::eval::{EvaluationDetails, EvaluationError, FlagValue};
use crate::hooks::Hooks;
use crate::log::LogSink;
use crate::messages::{
    GetAllKeys, GetAllValueDetails, GetAllValues, GetKeyAndValue, GetSnapshot, GetValue,
    GetValueDetails,
};
use crate::model::Value;
use crate::poller::{Poller, RefreshIfOlder};
use crate::snapshot::{SharedEntry, Snapshot, View};
use crate::user::User;

/// How long a lazy-loading client's first request waits for the first download, and a
/// manual-polling one for the first read of its external cache.
pub(crate) const LAZY_FIRST_FETCH_WAIT: Duration = Duration::from_secs(5);

/// What answering an evaluation needs, shared by the facade and the evaluator.
pub(crate) struct Shared {
    entry: SharedEntry,
    default_user: ArcSwapOption<User>,
    /// Whether the first fetch has finished (or the max init wait has passed).
    initialized: AtomicBool,
    offline: Arc<AtomicBool>,
    /// Local-only flag overrides: nothing is ever fetched, so nothing is waited for.
    local_only: bool,
    mode: PollingMode,
    sink: Arc<dyn LogSink>,
    hooks: Arc<Hooks>,
    poller: Addr<Poller>,
}

pub(crate) struct SharedParts {
    pub entry: SharedEntry,
    pub offline: Arc<AtomicBool>,
    pub local_only: bool,
    /// An external cache is read at start: a manual-polling client waits for that read.
    pub has_external_cache: bool,
    pub default_user: Option<User>,
    pub sink: Arc<dyn LogSink>,
    pub hooks: Arc<Hooks>,
    pub mode: PollingMode,
    pub poller: Addr<Poller>,
}

impl Shared {
    pub(crate) fn new(parts: SharedParts) -> Shared {
        let waits_at_start = match parts.mode {
            PollingMode::AutoPoll { .. } => !parts.offline.load(Ordering::Relaxed),
            PollingMode::ManualPoll => parts.has_external_cache,
            PollingMode::LazyLoad { .. } => false,
        };
        Shared {
            initialized: AtomicBool::new(!waits_at_start || parts.local_only),
            default_user: ArcSwapOption::new(parts.default_user.map(Arc::new)),
            entry: parts.entry,
            offline: parts.offline,
            local_only: parts.local_only,
            mode: parts.mode,
            sink: parts.sink,
            hooks: parts.hooks,
            poller: parts.poller,
        }
    }

    pub(crate) fn set_default_user(&self, user: Option<User>) {
        self.default_user.store(user.map(Arc::new));
    }

    fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::Acquire)
    }

    fn mark_initialized(&self) {
        self.initialized.store(true, Ordering::Release);
    }

    /// How long a request must wait for a fetch before being answered, if at all; asks the
    /// poller for a download when a lazy-loading client's config is missing or expired.
    pub(crate) fn wait_needed(&self) -> Option<Duration> {
        match self.mode {
            PollingMode::AutoPoll { max_init_wait, .. } if !self.is_initialized() => {
                // The evaluator's timer ends the wait; this bound is a safety net.
                Some(max_init_wait)
            }
            PollingMode::ManualPoll if !self.is_initialized() => Some(LAZY_FIRST_FETCH_WAIT),
            PollingMode::LazyLoad { cache_ttl } => {
                if self.offline.load(Ordering::Relaxed) || self.local_only {
                    return None;
                }
                let current = self.entry.load();
                let expired = current
                    .remote
                    .as_deref()
                    .is_none_or(|e| e.age() >= cache_ttl);
                if expired {
                    self.poller.do_send(RefreshIfOlder(cache_ttl));
                }
                // Serve an expired config while it is refreshed; wait only when there is none.
                current.config.is_none().then_some(LAZY_FIRST_FETCH_WAIT)
            }
            _ => None,
        }
    }

    /// Runs `f` on a view of the current config, borrowed without reference counting.
    fn with_view<R>(&self, f: impl FnOnce(View<'_>) -> R) -> R {
        let current = self.entry.load();
        let default_user = self.default_user.load();
        f(View {
            config: current.config.as_deref(),
            fetch_time: current.fetch_time(),
            default_user: default_user.as_deref(),
            sink: &*self.sink,
            hooks: &self.hooks,
        })
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot::new(
            &self.entry.load(),
            self.default_user.load_full(),
            self.sink.clone(),
            self.hooks.clone(),
        )
    }
}

/// A message answered from the current config.
pub(crate) trait Evaluation: Message + Send + 'static
where
    Self::Result: Send,
{
    /// The answer from the config at hand.
    fn answer(self, shared: &Shared) -> Self::Result;

    /// The answer when the evaluator has stopped (the client is closing).
    fn fallback(&self, shared: &Shared) -> Self::Result;
}

impl<T: FlagValue + Send + 'static> Evaluation for GetValue<T> {
    fn answer(self, shared: &Shared) -> T {
        let GetValue { key, default, user } = self;
        shared.with_view(|view| view.get_value(&key, default, user.as_ref()))
    }

    fn fallback(&self, _: &Shared) -> T {
        self.default.clone()
    }
}

impl<T: FlagValue + Send + 'static> Evaluation for GetValueDetails<T> {
    fn answer(self, shared: &Shared) -> EvaluationDetails<T> {
        let GetValue { key, default, user } = self.0;
        shared.with_view(|view| view.get_value_details(&key, default, user.as_ref()))
    }

    fn fallback(&self, _: &Shared) -> EvaluationDetails<T> {
        EvaluationDetails::from_error(
            &self.0.key,
            self.0.default.clone(),
            EvaluationError::ClientClosed,
            self.0.user.as_ref(),
        )
    }
}

impl Evaluation for GetAllKeys {
    fn answer(self, shared: &Shared) -> Vec<String> {
        shared.with_view(|view| view.keys().into_iter().map(str::to_owned).collect())
    }

    fn fallback(&self, _: &Shared) -> Vec<String> {
        Vec::new()
    }
}

impl Evaluation for GetAllValues {
    fn answer(self, shared: &Shared) -> HashMap<String, Value> {
        shared.with_view(|view| view.get_all_values(self.0.as_ref()).into_iter().collect())
    }

    fn fallback(&self, _: &Shared) -> HashMap<String, Value> {
        HashMap::new()
    }
}

impl Evaluation for GetAllValueDetails {
    fn answer(self, shared: &Shared) -> Vec<EvaluationDetails<Value>> {
        shared.with_view(|view| view.get_all_value_details(self.0.as_ref()))
    }

    fn fallback(&self, _: &Shared) -> Vec<EvaluationDetails<Value>> {
        Vec::new()
    }
}

impl Evaluation for GetKeyAndValue {
    fn answer(self, shared: &Shared) -> Option<(String, Value)> {
        shared.with_view(|view| view.get_key_and_value(&self.0))
    }

    fn fallback(&self, _: &Shared) -> Option<(String, Value)> {
        None
    }
}

impl Evaluation for GetSnapshot {
    fn answer(self, shared: &Shared) -> Snapshot {
        shared.snapshot()
    }

    fn fallback(&self, shared: &Shared) -> Snapshot {
        Snapshot::new(
            &Default::default(),
            None,
            shared.sink.clone(),
            Arc::default(),
        )
    }
}

/// Holds the evaluation requests that arrive before the first config.
pub struct Evaluator {
    shared: Arc<Shared>,
    cache: Addr<Cache>,
    waiters: Vec<oneshot::Sender<()>>,
    /// The max-init-wait timer of auto poll, until the first fetch makes it pointless.
    init_timeout: Option<SpawnHandle>,
}

impl Evaluator {
    pub(crate) fn new(shared: Arc<Shared>, cache: Addr<Cache>) -> Evaluator {
        Evaluator {
            shared,
            cache,
            waiters: Vec::new(),
            init_timeout: None,
        }
    }

    /// Answers now, or once the first fetch is in.
    fn respond<M: Evaluation>(&mut self, msg: M) -> ActorResponse<Self, M::Result>
    where
        M::Result: Send,
    {
        let Some(limit) = self.shared.wait_needed() else {
            return ActorResponse::reply(msg.answer(&self.shared));
        };
        let (tx, rx) = oneshot::channel();
        self.waiters.push(tx);
        let waited = async move {
            // Either the fetch finished or the wait is over: answer with what is there.
            let _ = tokio::time::timeout(limit, rx).await;
        };
        ActorResponse::r#async(
            waited
                .into_actor(self)
                .map(move |_, act, _| msg.answer(&act.shared)),
        )
    }

    fn initialized(&mut self) {
        self.shared.mark_initialized();
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(());
        }
    }
}

impl Actor for Evaluator {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(crate::client::MAILBOX_CAPACITY);
        if let PollingMode::AutoPoll { max_init_wait, .. } = self.shared.mode
            && !self.shared.is_initialized()
        {
            let timer = ctx.run_later(max_init_wait, |act, _| {
                act.init_timeout = None;
                if !act.shared.is_initialized() {
                    act.initialized();
                    act.cache.do_send(InitTimedOut);
                }
            });
            self.init_timeout = Some(timer);
        }
    }
}

/// A fetch finished (with or without a new config): waiting requests can be answered.
pub(crate) struct FetchFinished;

impl Message for FetchFinished {
    type Result = ();
}

impl Handler<FetchFinished> for Evaluator {
    type Result = ();

    fn handle(&mut self, _: FetchFinished, ctx: &mut Context<Self>) {
        self.initialized();
        // An idle client should not wake up for a timer that has nothing left to do.
        if let Some(timer) = self.init_timeout.take() {
            ctx.cancel_future(timer);
        }
    }
}

/// The external cache has been read once at start: a manual-polling client has all it will
/// get without a refresh.
pub(crate) struct CacheLoaded;

impl Message for CacheLoaded {
    type Result = ();
}

impl Handler<CacheLoaded> for Evaluator {
    type Result = ();

    fn handle(&mut self, _: CacheLoaded, _: &mut Context<Self>) {
        if self.shared.mode == PollingMode::ManualPoll {
            self.initialized();
        }
    }
}

impl<T: FlagValue + Send + 'static> Handler<GetValue<T>> for Evaluator {
    type Result = ActorResponse<Self, T>;

    fn handle(&mut self, msg: GetValue<T>, _: &mut Context<Self>) -> Self::Result {
        self.respond(msg)
    }
}

impl<T: FlagValue + Send + 'static> Handler<GetValueDetails<T>> for Evaluator {
    type Result = ActorResponse<Self, EvaluationDetails<T>>;

    fn handle(&mut self, msg: GetValueDetails<T>, _: &mut Context<Self>) -> Self::Result {
        self.respond(msg)
    }
}

macro_rules! respond_to {
    ($($msg:ty),* $(,)?) => {$(
        impl Handler<$msg> for Evaluator {
            type Result = ActorResponse<Self, <$msg as Message>::Result>;

            fn handle(&mut self, msg: $msg, _: &mut Context<Self>) -> Self::Result {
                self.respond(msg)
            }
        }
    )*};
}

respond_to!(
    GetAllKeys,
    GetAllValues,
    GetAllValueDetails,
    GetKeyAndValue,
    GetSnapshot
);

impl Handler<crate::cache::Shutdown> for Evaluator {
    type Result = ();

    fn handle(&mut self, _: crate::cache::Shutdown, ctx: &mut Context<Self>) {
        // Waiting requests are answered with what is there rather than dropped.
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(());
        }
        ctx.stop();
    }
}
