//! The evaluator actor, [`ConfigCat`]: the actor users address.
//!
//! It answers every evaluation message itself, in one mailbox hop, from the state the cache
//! actor publishes (one lock-free load); it forwards refreshes and offline switching to the
//! poller and subscriptions to the config store, and on [`Close`] shuts them down in order.
//!
//! A request that arrives before the client is ready, or that the polling mode says must wait
//! for a refresh (lazy load with no config, or with `wait_for_refresh`), waits inside this actor
//! on the readiness the config store publishes, bounded by the mode's first wait; other requests
//! go on being answered meanwhile.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use crate::error::RefreshError;
use crate::eval::{EvaluationDetails, FlagValue};
use crate::handle::{ConfigCatHandle, Shared};
use crate::log::{LogLevel, event};
use crate::messages::*;
use crate::model::Value;
use crate::protocol::{Need, OfflineChanged, Refresh, Shutdown};
use crate::snapshot::Snapshot;
use crate::state::ClientCacheState;
use crate::state::Current;
use crate::user::User;

/// Mailbox capacity of the client's actors: senders wait (back-pressure) when it is full.
pub(crate) const MAILBOX_CAPACITY: usize = 1024;

/// Evaluation messages the evaluator answers in a row before it lets the other tasks of its
/// arbiter run.
const EVALUATIONS_PER_TURN: u32 = 64;

/// A message answered from the current config.
pub(crate) trait Evaluation: Message + Send + 'static
where
    Self::Result: Send,
{
    /// The answer from this view of the client.
    fn answer(self, shared: &Shared, current: &Current) -> Self::Result;
}

impl<T: FlagValue + Send + 'static> Evaluation for GetValue<T> {
    fn answer(self, shared: &Shared, current: &Current) -> T {
        let GetValue { key, default, user } = self;
        shared.view(current).get_value(&key, default, user.as_ref())
    }
}

impl<T: FlagValue + Send + 'static> Evaluation for GetValueDetails<T> {
    fn answer(self, shared: &Shared, current: &Current) -> EvaluationDetails<T> {
        let GetValue { key, default, user } = self.0;
        shared
            .view(current)
            .get_value_details(&key, default, user.as_ref())
    }
}

impl Evaluation for GetAllKeys {
    fn answer(self, shared: &Shared, current: &Current) -> Vec<String> {
        shared.view(current).get_all_keys()
    }
}

impl Evaluation for GetAllValues {
    fn answer(self, shared: &Shared, current: &Current) -> HashMap<String, Value> {
        shared.view(current).get_all_values(self.0.as_ref())
    }
}

impl Evaluation for GetAllValueDetails {
    fn answer(self, shared: &Shared, current: &Current) -> Vec<EvaluationDetails<Value>> {
        shared.view(current).get_all_value_details(self.0.as_ref())
    }
}

impl Evaluation for GetKeyAndValue {
    fn answer(self, shared: &Shared, current: &Current) -> Option<(String, Value)> {
        shared.view(current).get_key_and_value(&self.0)
    }
}

impl Evaluation for GetSnapshot {
    fn answer(self, shared: &Shared, current: &Current) -> Snapshot {
        shared.snapshot(current)
    }
}

/// The client's peers, as the builder wired them.
pub(crate) struct Peers {
    pub refresh: Recipient<Refresh>,
    pub offline_changed: Recipient<OfflineChanged>,
    pub subscribe: Recipient<Subscribe>,
    pub unsubscribe: Recipient<Unsubscribe>,
    pub poller_shutdown: Recipient<Shutdown>,
    pub cache_shutdown: Recipient<Shutdown>,
    /// Makes the poller fail (tests only).
    #[cfg(test)]
    pub sabotage: Recipient<crate::protocol::Sabotage>,
}

/// A ConfigCat client: the actor an application sends [`GetValue`] and the other messages to.
///
/// Start one with [`ConfigCat::builder`]. One client runs per SDK key in an actix `System`:
/// starting another with the same key returns the running client's address.
pub struct ConfigCat {
    shared: Arc<Shared>,
    peers: Peers,
    /// Frees the client's slot in the one-client-per-key registry when it stops.
    on_stop: Option<Box<dyn FnOnce()>>,
    /// Evaluations answered since the actor last yielded its arbiter.
    evaluations_this_turn: u32,
}

impl ConfigCat {
    pub(crate) fn new(shared: Arc<Shared>, peers: Peers, on_stop: Box<dyn FnOnce()>) -> ConfigCat {
        ConfigCat {
            shared,
            peers,
            on_stop: Some(on_stop),
            evaluations_this_turn: 0,
        }
    }

    fn set_offline(&mut self, offline: bool) {
        let published = &self.shared.published;
        if !offline && published.local_only() {
            self.shared.sink.log(
                LogLevel::Warn,
                event::LOCAL_ONLY_NO_EFFECT,
                format_args!("Client is configured to use the `LocalOnly` override behavior, thus `set_online()` has no effect."),
            );
            return;
        }
        if published.set_offline(offline) {
            let mode = if offline { "OFFLINE" } else { "ONLINE" };
            self.shared.sink.log(
                LogLevel::Info,
                event::MODE_SWITCHED,
                format_args!("Switched to {mode} mode."),
            );
            let _ = self.peers.offline_changed.try_send(OfflineChanged);
        }
    }

    /// Answers an evaluation at once when nothing must be waited for (the common case: one
    /// mailbox hop, one lock-free load, no boxing); otherwise once the wait is over.
    fn evaluate<M>(&mut self, msg: M, ctx: &mut Context<Self>) -> ActorResponse<Self, M::Result>
    where
        M: Evaluation,
        M::Result: Send,
    {
        self.take_turns(ctx);
        let current = self.shared.published.load();
        let Some(wait) = self.shared.access(&current) else {
            return ActorResponse::reply(msg.answer(&self.shared, &current));
        };
        drop(current);
        let settled = self.shared.clone().settle(wait);
        ActorResponse::r#async(fut::wrap_future(settled).map(move |(), act: &mut Self, _| {
            let current = act.shared.published.load();
            msg.answer(&act.shared, &current)
        }))
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
        if let Some(on_stop) = self.on_stop.take() {
            on_stop();
        }
    }
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

/// Sends `msg` to a peer; `()` if it has stopped (the client is closing).
fn forward<M>(peer: &Recipient<M>, msg: M) -> ResponseFuture<()>
where
    M: Message<Result = ()> + Send + 'static,
{
    let reply = peer.send(msg);
    Box::pin(async move {
        let _ = reply.await;
    })
}

impl Handler<Subscribe> for ConfigCat {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) -> Self::Result {
        forward(&self.peers.subscribe, msg)
    }
}

impl Handler<Unsubscribe> for ConfigCat {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) -> Self::Result {
        forward(&self.peers.unsubscribe, msg)
    }
}

impl Handler<ForceRefresh> for ConfigCat {
    type Result = ResponseFuture<Result<(), RefreshError>>;

    fn handle(&mut self, _: ForceRefresh, _: &mut Context<Self>) -> Self::Result {
        let reply = self.peers.refresh.send(Refresh(Need::Always));
        let sink = self.shared.sink.clone();
        Box::pin(async move {
            let result = reply.await.map_err(RefreshError::from).and_then(|r| r);
            if let Err(RefreshError::Interrupted) = &result {
                sink.log(
                    LogLevel::Error,
                    event::FORCE_REFRESH_FAILED,
                    format_args!(
                        "Error occurred in the `force_refresh` method. ({})",
                        RefreshError::Interrupted
                    ),
                );
            }
            result
        })
    }
}

impl ConfigCat {
    /// Publishes `user` as the default user, here and now: the messages after this one see
    /// it, and nothing waits for the config store (which may be writing to the external cache).
    fn change_default_user(&self, user: Option<User>) {
        self.shared.published.update(|current| Current {
            default_user: user.clone(),
            ..current.clone()
        });
    }
}

impl Handler<SetDefaultUser> for ConfigCat {
    type Result = ();

    fn handle(&mut self, SetDefaultUser(user): SetDefaultUser, _: &mut Context<Self>) {
        self.change_default_user(Some(user));
    }
}

impl Handler<ClearDefaultUser> for ConfigCat {
    type Result = ();

    fn handle(&mut self, _: ClearDefaultUser, _: &mut Context<Self>) {
        self.change_default_user(None);
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
        self.shared.published.offline()
    }
}

impl Handler<GetHandle> for ConfigCat {
    type Result = MessageResult<GetHandle>;

    fn handle(&mut self, _: GetHandle, _: &mut Context<Self>) -> Self::Result {
        MessageResult(ConfigCatHandle::new(self.shared.clone()))
    }
}

impl Handler<WaitForReady> for ConfigCat {
    type Result = ResponseFuture<ClientCacheState>;

    fn handle(
        &mut self,
        WaitForReady(timeout): WaitForReady,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let shared = self.shared.clone();
        Box::pin(async move { shared.wait_for_ready(timeout).await })
    }
}

impl Handler<Close> for ConfigCat {
    type Result = ResponseActFuture<Self, ()>;

    /// The client is closed from now on: nothing more is fetched, and handles (and the messages
    /// still queued) answer with defaults. The poller stops first, so that a download it
    /// finished is already queued at the config store; the config store stops after the writes
    /// queued before its `Shutdown`.
    fn handle(&mut self, _: Close, _: &mut Context<Self>) -> Self::Result {
        self.shared.published.close();
        let poller = self.peers.poller_shutdown.send(Shutdown);
        let cache = self.peers.cache_shutdown.clone();
        let closing = async move {
            let _ = poller.await;
            let _ = cache.send(Shutdown).await;
        };
        Box::pin(
            fut::wrap_future(closing).map(|(), _: &mut Self, ctx: &mut Context<Self>| ctx.stop()),
        )
    }
}

#[cfg(test)]
impl Handler<crate::protocol::Sabotage> for ConfigCat {
    type Result = ();

    fn handle(&mut self, sabotage: crate::protocol::Sabotage, _: &mut Context<Self>) {
        let _ = self.peers.sabotage.try_send(sabotage);
    }
}
