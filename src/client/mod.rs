//! The facade: the [`ConfigCat`] actor users address, and how it is built and started.
//!
//! `ConfigCat` owns no config itself. It answers evaluation messages from the config entry the
//! cache actor publishes (read without a lock) and hands them to the evaluator only while the
//! first config is awaited; it forwards refreshes and offline switching to the poller and
//! subscriptions to the cache actor, and on [`Close`] shuts them all down.

mod builder;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use actix::dev::ToEnvelope;
use actix::prelude::*;

pub use builder::ConfigCatBuilder;

use crate::cache::{Cache, Shutdown};
use crate::eval::{EvaluationDetails, FlagValue};
use crate::evaluator::{Evaluation, Evaluator, Shared};
use crate::log::{LogLevel, LogSink, event};
use crate::messages::*;
use crate::poller::{OfflineChanged, Poller};

/// Mailbox capacity of the client's actors: senders wait (back-pressure) when it is full.
pub(crate) const MAILBOX_CAPACITY: usize = 1024;

/// Evaluation messages the facade answers in a row before it lets the other tasks of its
/// arbiter run.
const EVALUATIONS_PER_TURN: u32 = 64;

/// When the client fetches the config (spec §5.1).
///
/// ```
/// use std::time::Duration;
/// use configcat_actix::PollingMode;
/// let auto = PollingMode::auto_poll(Duration::from_secs(60));
/// assert_eq!(auto, PollingMode::default());
/// let patient = PollingMode::auto_poll(Duration::from_secs(30)).max_init_wait(Duration::from_secs(10));
/// let lazy = PollingMode::lazy_load(Duration::from_secs(300));
/// let manual = PollingMode::manual_poll();
/// # let _ = (patient, lazy, manual);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollingMode {
    /// Fetch at start and then every `poll_interval`; requests made before the first fetch
    /// finishes wait for it at most `max_init_wait`.
    AutoPoll {
        /// Time between fetches (default 60 s).
        poll_interval: Duration,
        /// Longest wait for the first config (default 5 s).
        max_init_wait: Duration,
    },
    /// Fetch when a request finds the config older than `cache_ttl`; the expired config is
    /// served while the new one downloads.
    LazyLoad {
        /// How long a config stays fresh (default 60 s).
        cache_ttl: Duration,
    },
    /// Fetch only on [`ForceRefresh`].
    ManualPoll,
}

impl Default for PollingMode {
    fn default() -> Self {
        PollingMode::auto_poll(Duration::from_secs(60))
    }
}

impl PollingMode {
    /// Auto poll every `poll_interval`, waiting at most 5 s for the first config.
    pub fn auto_poll(poll_interval: Duration) -> PollingMode {
        PollingMode::AutoPoll {
            poll_interval: poll_interval.max(Duration::from_millis(10)),
            max_init_wait: Duration::from_secs(5),
        }
    }

    /// Changes an auto poll's longest wait for the first config; other modes are unchanged.
    #[must_use]
    pub fn max_init_wait(self, wait: Duration) -> PollingMode {
        match self {
            PollingMode::AutoPoll { poll_interval, .. } => PollingMode::AutoPoll {
                poll_interval,
                max_init_wait: wait,
            },
            other => other,
        }
    }

    /// Lazy load with this time to live.
    pub fn lazy_load(cache_ttl: Duration) -> PollingMode {
        PollingMode::LazyLoad {
            cache_ttl: cache_ttl.max(Duration::from_millis(10)),
        }
    }

    /// Manual poll.
    pub fn manual_poll() -> PollingMode {
        PollingMode::ManualPoll
    }

    /// The letter the user-agent header carries for this mode.
    pub(crate) fn letter(self) -> char {
        match self {
            PollingMode::AutoPoll { .. } => 'a',
            PollingMode::LazyLoad { .. } => 'l',
            PollingMode::ManualPoll => 'm',
        }
    }
}

/// A ConfigCat client: the actor an application sends [`GetValue`] and the other messages to.
///
/// Start one with [`ConfigCat::builder`]. One client runs per SDK key in an actix `System`:
/// starting another with the same key returns the running client's address.
pub struct ConfigCat {
    registry_key: RegistryKey,
    local_only: bool,
    poller: Addr<Poller>,
    cache: Addr<Cache>,
    evaluator: Addr<Evaluator>,
    shared: Arc<Shared>,
    offline: Arc<AtomicBool>,
    sink: Arc<dyn LogSink>,
    /// Evaluations answered since the facade last yielded its arbiter.
    evaluations_this_turn: u32,
}

impl ConfigCat {
    /// Starts configuring a client for an SDK key.
    pub fn builder(sdk_key: impl Into<String>) -> ConfigCatBuilder {
        ConfigCatBuilder::new(sdk_key.into())
    }

    fn set_offline(&mut self, offline: bool) {
        if !offline && self.local_only {
            self.sink.log(
                LogLevel::Warn,
                event::LOCAL_ONLY_NO_EFFECT,
                format_args!("Client is configured to use the `LocalOnly` override behavior, thus `set_online()` has no effect."),
            );
            return;
        }
        if self.offline.swap(offline, Ordering::Relaxed) != offline {
            let mode = if offline { "OFFLINE" } else { "ONLINE" };
            self.sink.log(
                LogLevel::Info,
                event::MODE_SWITCHED,
                format_args!("Switched to {mode} mode."),
            );
            self.poller.do_send(OfflineChanged(offline));
        }
    }

    /// Answers an evaluation at once when no wait for the first config is needed (the common
    /// case: one mailbox hop, no boxing); otherwise the evaluator answers it when it can.
    fn evaluate<M>(&mut self, msg: M, ctx: &mut Context<Self>) -> ActorResponse<Self, M::Result>
    where
        M: Evaluation,
        M::Result: Send,
        Evaluator: Handler<M>,
    {
        self.take_turns(ctx);
        if self.shared.wait_needed().is_none() {
            return ActorResponse::reply(msg.answer(&self.shared));
        }
        let fallback = msg.fallback(&self.shared);
        let reply = self.evaluator.send(msg);
        ActorResponse::r#async(fut::wrap_future(
            async move { reply.await.unwrap_or(fallback) },
        ))
    }

    /// actix handles messages until the mailbox is empty, and senders on other arbiters can
    /// keep it from ever emptying: without a pause now and then, the poller, the cache and
    /// everything else on this arbiter would starve (a refresh would wait for the load to end).
    fn take_turns(&mut self, ctx: &mut Context<Self>) {
        self.evaluations_this_turn += 1;
        if self.evaluations_this_turn >= EVALUATIONS_PER_TURN {
            self.evaluations_this_turn = 0;
            // The mailbox stops being read until this future is done: one trip through the
            // scheduler's queue.
            ctx.wait(fut::wrap_future(tokio::task::yield_now()));
        }
    }
}

impl Actor for ConfigCat {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.registry_key);
    }
}

/// Forwards a message to another of the client's actors; `fallback` answers if that actor has
/// stopped (the client is closing).
fn forward<A, M>(addr: &Addr<A>, msg: M, fallback: M::Result) -> ResponseFuture<M::Result>
where
    A: Handler<M>,
    A::Context: ToEnvelope<A, M>,
    M: Message + Send + 'static,
    M::Result: Send,
{
    let reply = addr.send(msg);
    Box::pin(async move { reply.await.unwrap_or(fallback) })
}

impl<T: FlagValue + Send + 'static> Handler<GetValue<T>> for ConfigCat {
    type Result = ActorResponse<Self, T>;

    fn handle(&mut self, msg: GetValue<T>, ctx: &mut Context<Self>) -> Self::Result {
        self.evaluate(msg, ctx)
    }
}

impl<T: FlagValue + Send + 'static> Handler<GetValueDetails<T>> for ConfigCat {
    type Result = ActorResponse<Self, EvaluationDetails<T>>;

    fn handle(&mut self, msg: GetValueDetails<T>, ctx: &mut Context<Self>) -> Self::Result {
        self.evaluate(msg, ctx)
    }
}

macro_rules! evaluate {
    ($($msg:ty),* $(,)?) => {$(
        impl Handler<$msg> for ConfigCat {
            type Result = ActorResponse<Self, <$msg as Message>::Result>;

            fn handle(&mut self, msg: $msg, ctx: &mut Context<Self>) -> Self::Result {
                self.evaluate(msg, ctx)
            }
        }
    )*};
}

evaluate!(
    GetAllKeys,
    GetAllValues,
    GetAllValueDetails,
    GetKeyAndValue,
    GetSnapshot
);

macro_rules! forward_to {
    ($actor:ident: $($msg:ty => $fallback:expr),* $(,)?) => {$(
        impl Handler<$msg> for ConfigCat {
            type Result = ResponseFuture<<$msg as Message>::Result>;

            fn handle(&mut self, msg: $msg, _: &mut Context<Self>) -> Self::Result {
                forward(&self.$actor, msg, $fallback)
            }
        }
    )*};
}

forward_to!(cache:
    Subscribe => (),
    Unsubscribe => (),
);
forward_to!(poller:
    ForceRefresh => RefreshResult::failure("the client is closed"),
);

impl Handler<SetDefaultUser> for ConfigCat {
    type Result = ();

    fn handle(&mut self, SetDefaultUser(user): SetDefaultUser, _: &mut Context<Self>) {
        self.shared.set_default_user(Some(user));
    }
}

impl Handler<ClearDefaultUser> for ConfigCat {
    type Result = ();

    fn handle(&mut self, _: ClearDefaultUser, _: &mut Context<Self>) {
        self.shared.set_default_user(None);
    }
}

impl Handler<SetOffline> for ConfigCat {
    type Result = ();

    fn handle(&mut self, _: SetOffline, _: &mut Context<Self>) {
        self.set_offline(true);
    }
}

impl Handler<SetOnline> for ConfigCat {
    type Result = ();

    fn handle(&mut self, _: SetOnline, _: &mut Context<Self>) {
        self.set_offline(false);
    }
}

impl Handler<IsOffline> for ConfigCat {
    type Result = bool;

    fn handle(&mut self, _: IsOffline, _: &mut Context<Self>) -> bool {
        self.offline.load(Ordering::Relaxed)
    }
}

impl Handler<Close> for ConfigCat {
    type Result = ();

    fn handle(&mut self, _: Close, ctx: &mut Context<Self>) {
        self.poller.do_send(Shutdown);
        self.evaluator.do_send(Shutdown);
        self.cache.do_send(Shutdown);
        ctx.stop();
    }
}

/// Replies the client's poller (tests only).
#[cfg(test)]
pub(crate) struct PollerAddress;

#[cfg(test)]
impl Message for PollerAddress {
    type Result = Addr<Poller>;
}

#[cfg(test)]
impl Handler<PollerAddress> for ConfigCat {
    type Result = MessageResult<PollerAddress>;

    fn handle(&mut self, _: PollerAddress, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.poller.clone())
    }
}

/// Clients are unique per SDK key within an actix System (a client's actors live and die with
/// their System, so a client of another System is no use).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RegistryKey {
    system: usize,
    sdk_key: String,
}

pub(crate) struct Registered {
    pub addr: Addr<ConfigCat>,
    /// The options it was started with, to tell whether a second start asks for the same.
    pub fingerprint: String,
}

fn registry() -> &'static Mutex<HashMap<RegistryKey, Registered>> {
    static CLIENTS: OnceLock<Mutex<HashMap<RegistryKey, Registered>>> = OnceLock::new();
    CLIENTS.get_or_init(Mutex::default)
}
