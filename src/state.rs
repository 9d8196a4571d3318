//! The published state: what the cache actor writes and every reader loads without a lock.
//!
//! [`Published`] holds one [`Current`]: the last download, the config evaluations use, and
//! whether the client is ready. The cache actor is its only writer; the evaluator, snapshots
//! and the poller read it with one lock-free load. Readiness is a field of the published state,
//! so there is one source of truth for it; [`Published::ready`] waits for it to be set.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::{ArcSwap, Guard};
use tokio::sync::Notify;

use crate::hooks::ClientCacheState;
use crate::model::Config;
use crate::policy::PollingMode;

/// A downloaded config with what the protocol needs to refresh it.
#[derive(Debug, Clone)]
pub struct ConfigEntry {
    /// The parsed config.
    pub config: Arc<Config>,
    /// The response body, byte for byte: what the shared cache stores.
    pub json: Arc<str>,
    /// The ETag the CDN sent with it.
    pub etag: Option<String>,
    /// When it was downloaded or last confirmed unchanged (a 304).
    pub fetch_time: SystemTime,
}

impl ConfigEntry {
    /// How long ago the entry was fetched; zero for an entry dated in the future.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::{Duration, SystemTime};
    /// use configcat_actix::{Config, ConfigEntry};
    /// let entry = ConfigEntry {
    ///     config: Arc::new(Config::default()),
    ///     json: Arc::from("{}"),
    ///     etag: None,
    ///     fetch_time: SystemTime::now() + Duration::from_secs(86_400),
    /// };
    /// assert_eq!(entry.age(), Duration::ZERO);
    /// ```
    pub fn age(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.fetch_time)
            .unwrap_or_default()
    }
}

/// What the client serves right now.
#[derive(Debug, Clone, Default)]
pub(crate) struct Current {
    /// The last download (or external cache entry): what the poller refreshes.
    pub remote: Option<Arc<ConfigEntry>>,
    /// What evaluations use: the remote config, merged with flag overrides if there are any.
    pub config: Option<Arc<Config>>,
    /// How much flag data the client had when it became ready; `None` until then.
    pub ready: Option<ClientCacheState>,
}

impl Current {
    pub(crate) fn fetch_time(&self) -> Option<SystemTime> {
        self.remote.as_deref().map(|e| e.fetch_time)
    }

    /// The age of the remote entry; `None` without one.
    pub(crate) fn age(&self) -> Option<Duration> {
        self.remote.as_deref().map(ConfigEntry::age)
    }
}

/// The one published [`Current`], and a wake-up for those waiting on it to change.
#[derive(Debug, Default)]
pub(crate) struct Published {
    current: ArcSwap<Current>,
    changed: Notify,
}

impl Published {
    pub(crate) fn new(current: Current) -> Published {
        Published {
            current: ArcSwap::from_pointee(current),
            changed: Notify::new(),
        }
    }

    /// The current state, borrowed without touching a reference count (the evaluation path).
    #[inline]
    pub(crate) fn load(&self) -> Guard<Arc<Current>> {
        self.current.load()
    }

    pub(crate) fn load_full(&self) -> Arc<Current> {
        self.current.load_full()
    }

    /// Replaces the state (the cache actor only) and wakes everyone waiting on a change.
    pub(crate) fn store(&self, current: Current) {
        self.current.store(Arc::new(current));
        self.changed.notify_waiters();
    }

    /// Waits until the client is ready; returns the state it became ready with.
    pub(crate) async fn ready(&self) -> ClientCacheState {
        loop {
            // Registered before the check, so that a store between the check and the await
            // still wakes this waiter.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(state) = self.load().ready {
                return state;
            }
            changed.await;
        }
    }
}

/// How much flag data `current` holds, as the polling mode judges a download's age.
pub(crate) fn state_of(current: &Current, mode: &PollingMode) -> ClientCacheState {
    match (current.remote.as_deref(), &current.config) {
        (Some(remote), _) => mode.policy().state_of(remote.age()),
        (None, Some(_)) => ClientCacheState::HasLocalOverrideFlagDataOnly,
        (None, None) => ClientCacheState::NoFlagData,
    }
}
