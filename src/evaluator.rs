//! The evaluator actor: answers evaluation messages from the current config entry.
//!
//! It reads the entry the cache actor publishes without taking a lock, so evaluations never
//! wait behind a fetch. The one exception is the start: before the first fetch has finished,
//! requests wait, at most until the max init wait (auto poll) or for the first download (lazy
//! load), and then are answered with whatever is there.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::cache::{Cache, InitTimedOut};
use crate::client::PollingMode;
use crate::eval::{EvaluationDetails, FlagValue};
use crate::hooks::Hooks;
use crate::log::LogSink;
use crate::messages::{
    ClearDefaultUser, GetAllKeys, GetAllValueDetails, GetAllValues, GetKeyAndValue, GetSnapshot,
    GetValue, GetValueDetails, SetDefaultUser,
};
use crate::model::Value;
use crate::poller::{Poller, RefreshIfOlder};
use crate::snapshot::{Current, SharedEntry, Snapshot, View};
use crate::user::User;

/// How long a lazy-loading client's first request waits for the first download, and a
/// manual-polling one for the first read of its external cache.
pub(crate) const LAZY_FIRST_FETCH_WAIT: Duration = Duration::from_secs(5);

/// Evaluates flags for the client.
pub struct Evaluator {
    entry: SharedEntry,
    offline: Arc<AtomicBool>,
    /// Local-only flag overrides: nothing is ever fetched, so nothing is waited for.
    local_only: bool,
    default_user: Option<Arc<User>>,
    sink: Arc<dyn LogSink>,
    hooks: Arc<Hooks>,
    mode: PollingMode,
    poller: Addr<Poller>,
    cache: Addr<Cache>,
    /// Whether the first fetch has finished (or the max init wait has passed).
    initialized: bool,
    waiters: Vec<oneshot::Sender<()>>,
}

pub(crate) struct EvaluatorParts {
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
    pub cache: Addr<Cache>,
}

impl Evaluator {
    pub(crate) fn new(parts: EvaluatorParts) -> Evaluator {
        let waits_at_start = match parts.mode {
            PollingMode::AutoPoll { .. } => !parts.offline.load(Ordering::Relaxed),
            PollingMode::ManualPoll => parts.has_external_cache,
            PollingMode::LazyLoad { .. } => false,
        };
        Evaluator {
            initialized: !waits_at_start || parts.local_only,
            local_only: parts.local_only,
            entry: parts.entry,
            offline: parts.offline,
            default_user: parts.default_user.map(Arc::new),
            sink: parts.sink,
            hooks: parts.hooks,
            mode: parts.mode,
            poller: parts.poller,
            cache: parts.cache,
            waiters: Vec::new(),
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot::new(
            &self.entry.load(),
            self.default_user.clone(),
            self.sink.clone(),
            self.hooks.clone(),
        )
    }

    /// Answers with `answer` now, or once the first fetch is in.
    fn respond<R: 'static>(
        &mut self,
        answer: impl FnOnce(&Self) -> R + 'static,
    ) -> ActorResponse<Self, R> {
        let Some(limit) = self.wait_needed() else {
            return ActorResponse::reply(answer(self));
        };
        let (tx, rx) = oneshot::channel();
        self.waiters.push(tx);
        let waited = async move {
            // Either the fetch finished or the wait is over: answer with what is there.
            let _ = tokio::time::timeout(limit, rx).await;
        };
        ActorResponse::r#async(waited.into_actor(self).map(move |_, act, _| answer(act)))
    }

    /// Runs `f` on a view of the current config, borrowed without reference counting.
    fn with_view<R>(&self, f: impl FnOnce(View<'_>) -> R) -> R {
        let current = self.entry.load();
        f(self.view(&current))
    }

    fn view<'a>(&'a self, current: &'a Current) -> View<'a> {
        View {
            config: current.config.as_deref(),
            fetch_time: current.fetch_time(),
            default_user: self.default_user.as_deref(),
            sink: &*self.sink,
            hooks: &self.hooks,
        }
    }

    /// How long a request must wait for a fetch before being answered, if at all; asks the
    /// poller for a download when a lazy-loading client's config is missing or expired.
    fn wait_needed(&mut self) -> Option<Duration> {
        match self.mode {
            PollingMode::AutoPoll { max_init_wait, .. } if !self.initialized => {
                // The timer set in `started` ends the wait; this bound is a safety net.
                Some(max_init_wait)
            }
            PollingMode::ManualPoll if !self.initialized => Some(LAZY_FIRST_FETCH_WAIT),
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

    fn release_waiters(&mut self) {
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(());
        }
    }
}

impl Actor for Evaluator {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(crate::client::MAILBOX_CAPACITY);
        if let PollingMode::AutoPoll { max_init_wait, .. } = self.mode
            && !self.initialized
        {
            ctx.run_later(max_init_wait, |act, _| {
                if !act.initialized {
                    act.initialized = true;
                    act.release_waiters();
                    act.cache.do_send(InitTimedOut);
                }
            });
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

    fn handle(&mut self, _: FetchFinished, _: &mut Context<Self>) {
        self.initialized = true;
        self.release_waiters();
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
        if self.mode == PollingMode::ManualPoll {
            self.initialized = true;
            self.release_waiters();
        }
    }
}

impl<T: FlagValue + Send + 'static> Handler<GetValue<T>> for Evaluator {
    type Result = ActorResponse<Self, T>;

    fn handle(&mut self, msg: GetValue<T>, _: &mut Context<Self>) -> Self::Result {
        self.respond(move |act| {
            let GetValue { key, default, user } = msg;
            act.with_view(|view| view.get_value(&key, default, user.as_ref()))
        })
    }
}

impl<T: FlagValue + Send + 'static> Handler<GetValueDetails<T>> for Evaluator {
    type Result = ActorResponse<Self, EvaluationDetails<T>>;

    fn handle(&mut self, msg: GetValueDetails<T>, _: &mut Context<Self>) -> Self::Result {
        self.respond(move |act| {
            let GetValue { key, default, user } = msg.0;
            act.with_view(|view| view.get_value_details(&key, default, user.as_ref()))
        })
    }
}

impl Handler<GetAllKeys> for Evaluator {
    type Result = ActorResponse<Self, Vec<String>>;

    fn handle(&mut self, _: GetAllKeys, _: &mut Context<Self>) -> Self::Result {
        self.respond(|act| {
            act.with_view(|view| view.keys().into_iter().map(str::to_owned).collect())
        })
    }
}

impl Handler<GetAllValues> for Evaluator {
    type Result = ActorResponse<Self, HashMap<String, Value>>;

    fn handle(&mut self, GetAllValues(user): GetAllValues, _: &mut Context<Self>) -> Self::Result {
        self.respond(move |act| {
            act.with_view(|view| view.get_all_values(user.as_ref()).into_iter().collect())
        })
    }
}

impl Handler<GetAllValueDetails> for Evaluator {
    type Result = ActorResponse<Self, Vec<EvaluationDetails<Value>>>;

    fn handle(
        &mut self,
        GetAllValueDetails(user): GetAllValueDetails,
        _: &mut Context<Self>,
    ) -> Self::Result {
        self.respond(move |act| act.with_view(|view| view.get_all_value_details(user.as_ref())))
    }
}

impl Handler<GetKeyAndValue> for Evaluator {
    type Result = ActorResponse<Self, Option<(String, Value)>>;

    fn handle(
        &mut self,
        GetKeyAndValue(id): GetKeyAndValue,
        _: &mut Context<Self>,
    ) -> Self::Result {
        self.respond(move |act| act.with_view(|view| view.get_key_and_value(&id)))
    }
}

impl Handler<GetSnapshot> for Evaluator {
    type Result = ActorResponse<Self, Snapshot>;

    fn handle(&mut self, _: GetSnapshot, _: &mut Context<Self>) -> Self::Result {
        self.respond(Self::snapshot)
    }
}

impl Handler<SetDefaultUser> for Evaluator {
    type Result = ();

    fn handle(&mut self, SetDefaultUser(user): SetDefaultUser, _: &mut Context<Self>) {
        self.default_user = Some(Arc::new(user));
    }
}

impl Handler<ClearDefaultUser> for Evaluator {
    type Result = ();

    fn handle(&mut self, _: ClearDefaultUser, _: &mut Context<Self>) {
        self.default_user = None;
    }
}

impl Handler<crate::cache::Shutdown> for Evaluator {
    type Result = ();

    fn handle(&mut self, _: crate::cache::Shutdown, ctx: &mut Context<Self>) {
        self.release_waiters();
        ctx.stop();
    }
}
