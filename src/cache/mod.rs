//! The cache actor: the only writer of what the client serves.
//!
//! It publishes `Current` (the last download and the config evaluations use) for lock-free
//! readers. The poller hands it every fetch outcome (`Store`) and asks it to re-read the
//! external cache before deciding to fetch (`SyncExternal`); it merges flag overrides in, writes
//! downloads back to the external cache in the shared format, watches an override file, tells
//! the evaluator when a config arrived, notifies subscribers and hooks of real changes (never of
//! a 304), and fires the ready hook once.

mod external;
mod file;
mod guarded;
#[cfg(feature = "redis")]
mod redis;

pub use external::{CacheError, CacheFuture, ConfigCache, EntryError, InMemoryCache, cache_key};
pub use file::FileCache;
#[cfg(feature = "redis")]
pub use redis::RedisCache;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;

use crate::evaluator::{CacheLoaded, Evaluator, FetchFinished};
use crate::fetch::{FetchError, FetchOutcome};
use crate::hooks::{ClientCacheState, Hooks};
use crate::log::{LogLevel, LogSink, event};
use crate::messages::{ConfigChanged, Subscribe, Unsubscribe};
use crate::model::Config;
use crate::overrides::{self, FlagOverrides, OverrideBehaviour};
use crate::snapshot::{ConfigEntry, Current, SharedEntry};

/// How often an override file is checked for changes.
pub(crate) const OVERRIDE_FILE_CHECK: Duration = Duration::from_millis(500);

/// Owns what the client serves, the external cache and the subscriber list.
pub struct Cache {
    entry: SharedEntry,
    subscribers: Vec<Recipient<ConfigChanged>>,
    evaluator: Addr<Evaluator>,
    hooks: Arc<Hooks>,
    sink: Arc<dyn LogSink>,
    ready_reported: bool,
    external: Option<Arc<dyn ConfigCache>>,
    cache_key: String,
    /// A digest of the external entry last read: a text is parsed (and a corrupt one logged)
    /// once, not at every read (spec §5: only a text that differs from the last one seen is
    /// parsed).
    last_external: Option<u64>,
    overrides: Option<FlagOverrides>,
    local: Option<Arc<Config>>,
}

pub(crate) struct CacheParts {
    pub entry: SharedEntry,
    pub evaluator: Addr<Evaluator>,
    pub hooks: Arc<Hooks>,
    pub sink: Arc<dyn LogSink>,
    pub external: Option<Arc<dyn ConfigCache>>,
    pub sdk_key: String,
    /// Flag overrides and the local config loaded from them at start.
    pub overrides: Option<(FlagOverrides, Option<Arc<Config>>)>,
}

impl Cache {
    pub(crate) fn new(parts: CacheParts) -> Cache {
        let (overrides, local) = match parts.overrides {
            Some((overrides, local)) => (Some(overrides), local),
            None => (None, None),
        };
        Cache {
            entry: parts.entry,
            subscribers: Vec::new(),
            evaluator: parts.evaluator,
            hooks: parts.hooks,
            sink: parts.sink,
            ready_reported: false,
            external: parts.external.map(guarded::PanicGuard::wrap),
            cache_key: cache_key(&parts.sdk_key),
            last_external: None,
            overrides,
            local,
        }
    }

    fn local_only(&self) -> bool {
        self.overrides
            .as_ref()
            .is_some_and(|o| o.behaviour() == OverrideBehaviour::LocalOnly)
    }

    /// The config evaluations use, for a remote entry and the current local overrides.
    pub(crate) fn effective(
        overrides: Option<&FlagOverrides>,
        local: Option<&Arc<Config>>,
        remote: Option<&ConfigEntry>,
    ) -> Option<Arc<Config>> {
        let Some(behaviour) = overrides.map(FlagOverrides::behaviour) else {
            return remote.map(|r| r.config.clone());
        };
        match (behaviour, remote, local) {
            (OverrideBehaviour::LocalOnly, _, local) => local.cloned(),
            (_, remote, Some(local)) => Some(Arc::new(overrides::merge(
                remote.map(|r| &*r.config),
                local,
                behaviour,
            ))),
            (_, remote, None) => remote.map(|r| r.config.clone()),
        }
    }

    /// Publishes a new remote entry; when the config changed, recomputes what evaluations use
    /// and announces it.
    fn publish(&mut self, remote: Option<Arc<ConfigEntry>>, config_changed: bool) {
        let config = if config_changed {
            Cache::effective(
                self.overrides.as_ref(),
                self.local.as_ref(),
                remote.as_deref(),
            )
        } else {
            self.entry.load().config.clone()
        };
        let fetch_time = remote.as_deref().map(|r| r.fetch_time);
        self.entry.store(Arc::new(Current {
            remote,
            config: config.clone(),
        }));
        if let (true, Some(config)) = (config_changed, config) {
            self.announce(config, fetch_time);
        }
    }

    /// Applies a fetch outcome; returns the entry to write to the external cache.
    fn apply(&mut self, outcome: FetchOutcome) -> Option<Arc<ConfigEntry>> {
        let current = self.entry.load_full();
        let remote = current.remote.as_deref();
        let now = SystemTime::now();
        match outcome {
            FetchOutcome::Fetched { config, json, etag } => {
                let unchanged =
                    remote.is_some_and(|r| (etag.is_some() && r.etag == etag) || *r.json == *json);
                let entry = Arc::new(ConfigEntry {
                    config,
                    json,
                    etag,
                    fetch_time: now,
                });
                self.publish(Some(entry.clone()), !unchanged);
                Some(entry)
            }
            // A 304, or a non-transient failure (a wrong SDK key): keep the config, but record
            // that it was checked now, so that nobody fetches again before the next interval.
            FetchOutcome::NotModified
            | FetchOutcome::Failed {
                transient: false, ..
            } => {
                let Some(remote) = remote else {
                    if matches!(outcome, FetchOutcome::NotModified) {
                        FetchError::NotModifiedWithoutConfig.log_to(&*self.sink);
                    }
                    return None;
                };
                let entry = Arc::new(ConfigEntry {
                    fetch_time: now,
                    ..remote.clone()
                });
                self.publish(Some(entry.clone()), false);
                Some(entry)
            }
            FetchOutcome::Failed { .. } => None,
        }
    }

    fn write_external(&self, entry: &ConfigEntry, ctx: &mut Context<Self>) {
        let Some(external) = self.external.clone() else {
            return;
        };
        let write = external.set(&self.cache_key, entry.serialize());
        let sink = self.sink.clone();
        ctx.spawn(
            async move {
                if let Err(error) = write.await {
                    sink.log(
                        LogLevel::Error,
                        event::CACHE_WRITE_FAILED,
                        format_args!("Error occurred while writing the cache. ({error})"),
                    );
                }
            }
            .into_actor(self),
        );
    }

    /// Takes an entry read from the external cache, if it is news; tells whether it was.
    fn take_external(&mut self, text: &str) -> bool {
        let digest = {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(text, &mut hasher);
            std::hash::Hasher::finish(&hasher)
        };
        if self.last_external.replace(digest) == Some(digest) {
            return false; // Seen already: taken then, or older than ours, or corrupt.
        }
        let (millis, etag, json) = match external::split_entry(text) {
            Ok(parts) => parts,
            Err(error) => {
                self.cache_read_failed(&error);
                return false;
            }
        };
        let fetch_time = UNIX_EPOCH + Duration::from_millis(millis);
        let current = self.entry.load_full();
        let remote = current.remote.as_deref();
        if remote.is_some_and(|r| r.fetch_time >= fetch_time) {
            return false; // Ours is as new or newer.
        }
        let same_config = remote.is_some_and(|r| {
            (!etag.is_empty() && r.etag.as_deref() == Some(etag)) || *r.json == *json
        });
        match remote {
            // Another process confirmed the same config: only the time moves on.
            Some(remote) if same_config => {
                let entry = ConfigEntry {
                    fetch_time,
                    ..remote.clone()
                };
                self.publish(Some(Arc::new(entry)), false);
            }
            _ => match ConfigEntry::deserialize(text) {
                Ok(entry) => self.publish(Some(Arc::new(entry)), true),
                Err(error) => {
                    self.cache_read_failed(&error);
                    return false;
                }
            },
        }
        // A config is there now: requests waiting for one can be answered.
        self.evaluator.do_send(FetchFinished);
        true
    }

    fn cache_read_failed(&self, error: &dyn std::fmt::Display) {
        self.sink.log(
            LogLevel::Error,
            event::CACHE_READ_FAILED,
            format_args!("Error occurred while reading the cache. ({error})"),
        );
    }

    fn announce(&mut self, config: Arc<Config>, fetch_time: Option<SystemTime>) {
        self.hooks.config_changed(&config, &*self.sink);
        let message = ConfigChanged { config, fetch_time };
        self.subscribers.retain(|subscriber| match subscriber.try_send(message.clone()) {
            Ok(()) => true,
            // A subscriber with a full mailbox misses this change rather than stall the cache;
            // it gets the next one.
            Err(SendError::Full(_)) => {
                self.sink.log(
                    LogLevel::Warn,
                    event::SUBSCRIBER_BUSY,
                    format_args!("A ConfigChanged subscriber's mailbox is full; it missed a config change."),
                );
                true
            }
            Err(SendError::Closed(_)) => false,
        });
    }

    fn state_now(&self) -> ClientCacheState {
        let current = self.entry.load();
        match (&current.remote, &current.config) {
            (Some(_), _) => ClientCacheState::HasCachedFlagDataOnly,
            (None, Some(_)) => ClientCacheState::HasLocalOverrideFlagDataOnly,
            (None, None) => ClientCacheState::NoFlagData,
        }
    }

    fn report_ready(&mut self, state: ClientCacheState) {
        if !self.ready_reported {
            self.ready_reported = true;
            self.hooks.ready(state, &*self.sink);
        }
    }

    fn check_override_file(&mut self) {
        let Some(reloaded) = self
            .overrides
            .as_ref()
            .and_then(FlagOverrides::reload_if_changed)
        else {
            return;
        };
        match reloaded {
            Ok(local) => {
                self.local = Some(Arc::new(local));
                let remote = self.entry.load().remote.clone();
                self.publish(remote, true);
            }
            Err(error) => self
                .sink
                .log(LogLevel::Error, error.event_id(), format_args!("{error}")),
        }
    }
}

impl Actor for Cache {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(external) = self.external.clone() {
            // Whatever another process left is usable at once, whatever the polling mode;
            // requests of a manual-polling client wait for this read (bounded).
            let read = external.get(&self.cache_key);
            ctx.wait(read.into_actor(self).map(|result, act, _| {
                match result {
                    Ok(Some(text)) => {
                        act.take_external(&text);
                    }
                    Ok(None) => {}
                    Err(error) => act.cache_read_failed(&error),
                }
                act.evaluator.do_send(CacheLoaded);
            }));
        }
        if self.overrides.as_ref().is_some_and(FlagOverrides::is_file) {
            ctx.run_interval(OVERRIDE_FILE_CHECK, |act, _| act.check_override_file());
        }
        if self.local_only() {
            // Nothing will be fetched: the local data is all there is, and it is there now.
            let state = self.state_now();
            self.report_ready(state);
        }
    }
}

/// A fetch finished: store what it brought. Replies once the entry is published, so that the
/// poller can answer a `ForceRefresh` knowing that evaluations see the new config.
pub(crate) struct Store(pub FetchOutcome);

impl Message for Store {
    type Result = ();
}

impl Handler<Store> for Cache {
    type Result = ();

    fn handle(&mut self, Store(outcome): Store, ctx: &mut Context<Self>) {
        let succeeded = matches!(
            outcome,
            FetchOutcome::Fetched { .. } | FetchOutcome::NotModified
        );
        if let Some(entry) = self.apply(outcome) {
            self.write_external(&entry, ctx);
        }
        self.evaluator.do_send(FetchFinished);
        let has_remote = self.entry.load().remote.is_some();
        let state = match (succeeded && has_remote, self.state_now()) {
            (true, _) => ClientCacheState::HasUpToDateFlagData,
            (false, state) => state,
        };
        self.report_ready(state);
    }
}

/// Re-read the external cache and take its entry if it is newer (before a fetch decision).
/// `fresh_within` is the age under which the poller will not fetch, for the ready state.
pub(crate) struct SyncExternal(pub Option<Duration>);

impl Message for SyncExternal {
    type Result = ();
}

impl Handler<SyncExternal> for Cache {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(
        &mut self,
        SyncExternal(fresh_within): SyncExternal,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let Some(external) = self.external.clone() else {
            return Box::pin(actix::fut::ready(()));
        };
        let read = external.get(&self.cache_key);
        Box::pin(read.into_actor(self).map(move |result, act, _| {
            match result {
                Ok(Some(text)) => {
                    act.take_external(&text);
                }
                Ok(None) => {}
                Err(error) => act.cache_read_failed(&error),
            }
            // Fresh enough that the poller will not fetch: the client is ready with it.
            let current = act.entry.load_full();
            let fresh = match (fresh_within, current.remote.as_deref()) {
                (Some(max_age), Some(remote)) => remote.age() < max_age,
                _ => false,
            };
            if fresh {
                act.report_ready(ClientCacheState::HasUpToDateFlagData);
            }
        }))
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
        let state = self.state_now();
        self.report_ready(state);
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
