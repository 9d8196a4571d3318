//! The cache actor: the only writer of the current config entry.
//!
//! The poller hands it every fetch outcome (`Store`); it decides what changed, publishes the
//! new entry for lock-free readers, tells the evaluator that a fetch finished, notifies
//! subscribers and hooks of real changes (never of a 304), and fires the ready hook once.

use std::sync::Arc;
use std::time::SystemTime;

use actix::prelude::*;

use crate::evaluator::{Evaluator, FetchFinished};
use crate::fetch::FetchOutcome;
use crate::hooks::{ClientCacheState, Hooks};
use crate::log::{LogLevel, LogSink};
use crate::messages::{ConfigChanged, Subscribe, Unsubscribe};
use crate::snapshot::{ConfigEntry, SharedEntry};

/// Owns the current config entry and the subscriber list.
pub struct Cache {
    entry: SharedEntry,
    subscribers: Vec<Recipient<ConfigChanged>>,
    evaluator: Addr<Evaluator>,
    hooks: Arc<Hooks>,
    sink: Arc<dyn LogSink>,
    ready_reported: bool,
}

impl Cache {
    pub(crate) fn new(
        entry: SharedEntry,
        evaluator: Addr<Evaluator>,
        hooks: Arc<Hooks>,
        sink: Arc<dyn LogSink>,
    ) -> Cache {
        Cache {
            entry,
            subscribers: Vec::new(),
            evaluator,
            hooks,
            sink,
            ready_reported: false,
        }
    }

    /// Applies a fetch outcome; returns the entry to announce when the config changed.
    fn apply(&mut self, outcome: &FetchOutcome) -> Option<Arc<ConfigEntry>> {
        let current = self.entry.load_full();
        let now = SystemTime::now();
        match outcome {
            FetchOutcome::Fetched { config, json, etag } => {
                let unchanged = current
                    .as_deref()
                    .is_some_and(|c| c.etag == *etag && etag.is_some() || *c.json == **json);
                let entry = Arc::new(ConfigEntry {
                    config: config.clone(),
                    json: json.clone(),
                    etag: etag.clone(),
                    fetch_time: now,
                });
                self.entry.store(Some(entry.clone()));
                (!unchanged).then_some(entry)
            }
            // A 304, or a non-transient failure (a wrong SDK key): keep the config, but record
            // that it was checked now, so that nobody fetches again before the next interval.
            FetchOutcome::NotModified
            | FetchOutcome::Failed {
                transient: false, ..
            } => {
                if let Some(current) = current {
                    self.entry.store(Some(Arc::new(ConfigEntry {
                        fetch_time: now,
                        ..(*current).clone()
                    })));
                }
                None
            }
            FetchOutcome::Failed { .. } => None,
        }
    }

    fn announce(&mut self, entry: &ConfigEntry) {
        self.hooks.config_changed(&entry.config, &*self.sink);
        let message = ConfigChanged {
            config: entry.config.clone(),
            fetch_time: entry.fetch_time,
        };
        self.subscribers.retain(|subscriber| match subscriber.try_send(message.clone()) {
            Ok(()) => true,
            // A subscriber with a full mailbox misses this change rather than stall the cache;
            // it gets the next one.
            Err(SendError::Full(_)) => {
                self.sink.log(
                    LogLevel::Warn,
                    crate::log::event::SUBSCRIBER_BUSY,
                    format_args!("A ConfigChanged subscriber's mailbox is full; it missed a config change."),
                );
                true
            }
            Err(SendError::Closed(_)) => false,
        });
    }

    fn report_ready(&mut self) {
        if self.ready_reported {
            return;
        }
        self.ready_reported = true;
        let state = match self.entry.load().as_deref() {
            None => ClientCacheState::NoFlagData,
            Some(_) => ClientCacheState::HasUpToDateFlagData,
        };
        self.hooks.ready(state, &*self.sink);
    }
}

impl Actor for Cache {
    type Context = Context<Self>;
}

/// A fetch finished: store what it brought. Replies once the entry is published, so that the
/// poller can answer a `ForceRefresh` knowing that evaluations see the new config.
pub(crate) struct Store(pub FetchOutcome);

impl Message for Store {
    type Result = ();
}

impl Handler<Store> for Cache {
    type Result = ();

    fn handle(&mut self, Store(outcome): Store, _: &mut Context<Self>) {
        if let Some(changed) = self.apply(&outcome) {
            self.announce(&changed);
        }
        self.evaluator.do_send(FetchFinished);
        self.report_ready();
    }
}

/// The client gave up waiting for the first fetch (max init wait): it is ready with what it has.
pub(crate) struct InitTimedOut;

impl Message for InitTimedOut {
    type Result = ();
}

impl Handler<InitTimedOut> for Cache {
    type Result = ();

    fn handle(&mut self, _: InitTimedOut, _: &mut Context<Self>) {
        self.report_ready();
    }
}

impl Handler<Subscribe> for Cache {
    type Result = ();

    fn handle(&mut self, Subscribe(recipient): Subscribe, _: &mut Context<Self>) {
        if !self.subscribers.contains(&recipient) {
            self.subscribers.push(recipient);
        }
    }
}

impl Handler<Unsubscribe> for Cache {
    type Result = ();

    fn handle(&mut self, Unsubscribe(recipient): Unsubscribe, _: &mut Context<Self>) {
        self.subscribers.retain(|s| *s != recipient);
    }
}

/// Stops the actor (part of `Close`).
pub(crate) struct Shutdown;

impl Message for Shutdown {
    type Result = ();
}

impl Handler<Shutdown> for Cache {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        self.subscribers.clear();
        ctx.stop();
    }
}
