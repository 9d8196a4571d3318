//! Polling modes as the poller's supervisor policies.
//!
//! A user picks a [`PollingMode`]; inside, each mode is a type ([`AutoPoll`], [`LazyLoad`],
//! [`ManualPoll`]) implementing [`Policy`], the one place that answers what the actors ask about
//! timing: the poller (what to do when it starts or its supervisor restarts it, whether a tick
//! is due), the evaluator (whether an access must refresh, how long the first requests wait)
//! and the cache actor (when the client is ready, and how fresh its config is). Changing how a
//! mode behaves means editing its `impl` here, nothing else.
//!
//! Every duration is clamped by the constructors, the only way to make a mode: no value can make
//! the poller spin.

use std::time::{Duration, SystemTime};

use crate::hooks::ClientCacheState;

/// The shortest poll interval or TTL: anything shorter is raised to it, so that no setting makes
/// the poller spin.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// The default longest wait for the first config (see `PollingMode::max_init_wait`): 5 s.
pub const DEFAULT_MAX_INIT_WAIT: Duration = Duration::from_secs(5);

/// A tick counts the config as due a little before a whole interval has passed, so that a timer
/// firing early does not skip a fetch (the JavaScript SDK's tolerance).
const TICK_TOLERANCE: Duration = Duration::from_millis(500);

/// When the client fetches the config (spec §5.1), made with one of the constructors.
///
/// ```
/// use std::time::Duration;
/// use configcat_actix::PollingMode;
/// let auto = PollingMode::auto_poll(Duration::from_secs(60));
/// assert_eq!(auto, PollingMode::default());
/// let patient = PollingMode::auto_poll(Duration::from_secs(30)).max_init_wait(Duration::from_secs(10));
/// let lazy = PollingMode::lazy_load(Duration::from_secs(300)).wait_for_refresh(true);
/// let manual = PollingMode::manual_poll();
/// assert_ne!(patient, auto);
/// # let _ = (lazy, manual);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollingMode(Mode);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Auto(AutoPoll),
    Lazy(LazyLoad),
    Manual(ManualPoll),
}

impl Default for PollingMode {
    /// Auto poll every 60 s, waiting at most 5 s for the first config.
    fn default() -> Self {
        PollingMode::auto_poll(Duration::from_secs(60))
    }
}

impl PollingMode {
    /// Fetch at start and then every `poll_interval` (at least 10 ms); requests made before the
    /// first fetch finishes wait for it, at most 5 s (see [`max_init_wait`](Self::max_init_wait)).
    pub fn auto_poll(poll_interval: Duration) -> PollingMode {
        PollingMode(Mode::Auto(AutoPoll {
            interval: poll_interval.max(MIN_INTERVAL),
            max_init_wait: DEFAULT_MAX_INIT_WAIT,
        }))
    }

    /// Fetch when a request finds the config older than `cache_ttl` (at least 10 ms); the
    /// official SDKs' usual TTL is 60 s. By default the expired config is served while the new
    /// one downloads; see [`wait_for_refresh`](Self::wait_for_refresh).
    pub fn lazy_load(cache_ttl: Duration) -> PollingMode {
        PollingMode(Mode::Lazy(LazyLoad {
            ttl: cache_ttl.max(MIN_INTERVAL),
            wait_for_refresh: false,
            max_init_wait: DEFAULT_MAX_INIT_WAIT,
        }))
    }

    /// Fetch only on [`ForceRefresh`](crate::ForceRefresh).
    pub fn manual_poll() -> PollingMode {
        PollingMode(Mode::Manual(ManualPoll {
            max_init_wait: DEFAULT_MAX_INIT_WAIT,
        }))
    }

    /// The longest time the first requests wait for a config (default 5 s): in auto poll for the
    /// first fetch, in lazy load for the first download, in manual poll for the first read of
    /// the external cache. Then they are answered with whatever is there.
    #[must_use]
    pub fn max_init_wait(self, wait: Duration) -> PollingMode {
        PollingMode(match self.0 {
            Mode::Auto(auto) => Mode::Auto(AutoPoll {
                max_init_wait: wait,
                ..auto
            }),
            Mode::Lazy(lazy) => Mode::Lazy(LazyLoad {
                max_init_wait: wait,
                ..lazy
            }),
            Mode::Manual(_) => Mode::Manual(ManualPoll {
                max_init_wait: wait,
            }),
        })
    }

    /// Lazy load only: whether a request that finds the config expired waits for the refresh
    /// (at most the read timeout), as the official SDKs do, instead of being answered at once
    /// from the expired config (the default). Other modes are unchanged.
    #[must_use]
    pub fn wait_for_refresh(self, wait: bool) -> PollingMode {
        match self.0 {
            Mode::Lazy(lazy) => PollingMode(Mode::Lazy(LazyLoad {
                wait_for_refresh: wait,
                ..lazy
            })),
            _ => self,
        }
    }

    /// What an access does (see [`Policy::on_access`]), dispatched statically: it is asked at
    /// every evaluation, and a virtual call there costs as much as the rest of the check.
    #[inline]
    pub(crate) fn on_access(
        &self,
        fetch_time: Option<SystemTime>,
        read_timeout: Duration,
    ) -> Access {
        match &self.0 {
            Mode::Auto(policy) => policy.on_access(fetch_time, read_timeout),
            Mode::Lazy(policy) => policy.on_access(fetch_time, read_timeout),
            Mode::Manual(policy) => policy.on_access(fetch_time, read_timeout),
        }
    }

    /// The policy the actors consult.
    pub(crate) fn policy(&self) -> &dyn Policy {
        match &self.0 {
            Mode::Auto(policy) => policy,
            Mode::Lazy(policy) => policy,
            Mode::Manual(policy) => policy,
        }
    }
}

/// What an access (an evaluation, a snapshot) must do about the config's age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Answer from the config at hand.
    Serve,
    /// Answer from the config at hand and have the poller refresh it meanwhile.
    RefreshInBackground,
    /// Have the poller refresh it and answer when it is done, waiting at most this long.
    RefreshAndWait(Duration),
}

/// What starting (or restarting) the poller does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// Refresh now, then tick every interval.
    RefreshAndTick(Duration),
    /// Nothing until asked.
    Idle,
}

/// When the client counts as ready (spec §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// After the first refresh cycle (a fetch, or a fresh enough external entry), or the max
    /// init wait, whichever is first.
    AfterFirstRefresh(Duration),
    /// Right after the first read of the external cache (at once without one).
    AfterCacheSync,
}

/// The questions the actors ask of a polling mode.
pub(crate) trait Policy: std::fmt::Debug + Send + Sync {
    /// The letter of the user-agent header: `a`, `l` or `m`.
    fn letter(&self) -> char;

    /// What the poller does when it starts, and again when its supervisor restarts it.
    fn on_start(&self) -> Start;

    /// Whether a cycle that may skip (a tick, a lazy-load access) fetches, for a config of this age (`None`: no config) whose last download
    /// took `last_download`.
    fn due(&self, age: Option<Duration>, last_download: Duration) -> bool;

    /// What an access does for a config fetched at this time (`None`: no config). It is given
    /// the time, not the age: reading the clock costs more than the rest of an evaluation of a
    /// simple flag, so only a policy that needs the age reads it.
    fn on_access(&self, fetch_time: Option<SystemTime>, read_timeout: Duration) -> Access;

    /// When the client counts as ready.
    fn readiness(&self) -> Readiness;

    /// The state the client reports for a downloaded config of this age.
    fn state_of(&self, age: Duration) -> ClientCacheState;

    /// The longest a request made before the client is ready waits (`max_init_wait`).
    fn max_init_wait(&self) -> Duration;
}

/// Fetch at start, then every interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AutoPoll {
    interval: Duration,
    max_init_wait: Duration,
}

impl Policy for AutoPoll {
    fn letter(&self) -> char {
        'a'
    }

    fn on_start(&self) -> Start {
        Start::RefreshAndTick(self.interval)
    }

    fn due(&self, age: Option<Duration>, last_download: Duration) -> bool {
        // The age of a config is counted from when its download finished: a tick must not find
        // our own last download "too young" because it took a while, or a slow CDN would make
        // every other tick skip. Another process's fresh download still saves a fetch.
        let slack = (self.interval / 2).min(TICK_TOLERANCE) + last_download;
        age.is_none_or(|age| age + slack >= self.interval)
    }

    fn on_access(&self, _: Option<SystemTime>, _: Duration) -> Access {
        Access::Serve
    }

    fn readiness(&self) -> Readiness {
        Readiness::AfterFirstRefresh(self.max_init_wait)
    }

    fn state_of(&self, age: Duration) -> ClientCacheState {
        fresh_or_cached(age < self.interval)
    }

    fn max_init_wait(&self) -> Duration {
        self.max_init_wait
    }
}

/// Fetch when an access finds the config expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LazyLoad {
    ttl: Duration,
    wait_for_refresh: bool,
    max_init_wait: Duration,
}

impl Policy for LazyLoad {
    fn letter(&self) -> char {
        'l'
    }

    fn on_start(&self) -> Start {
        Start::Idle
    }

    fn due(&self, age: Option<Duration>, _: Duration) -> bool {
        age.is_none_or(|age| age >= self.ttl)
    }

    fn on_access(&self, fetch_time: Option<SystemTime>, read_timeout: Duration) -> Access {
        let age = fetch_time.map(|time| SystemTime::now().duration_since(time).unwrap_or_default());
        match age {
            None => Access::RefreshAndWait(self.max_init_wait),
            Some(age) if age < self.ttl => Access::Serve,
            Some(_) if self.wait_for_refresh => Access::RefreshAndWait(read_timeout),
            Some(_) => Access::RefreshInBackground,
        }
    }

    fn readiness(&self) -> Readiness {
        Readiness::AfterCacheSync
    }

    fn state_of(&self, age: Duration) -> ClientCacheState {
        fresh_or_cached(age < self.ttl)
    }

    fn max_init_wait(&self) -> Duration {
        self.max_init_wait
    }
}

/// Fetch only when asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ManualPoll {
    max_init_wait: Duration,
}

impl Policy for ManualPoll {
    fn letter(&self) -> char {
        'm'
    }

    fn on_start(&self) -> Start {
        Start::Idle
    }

    fn due(&self, _: Option<Duration>, _: Duration) -> bool {
        false
    }

    fn on_access(&self, _: Option<SystemTime>, _: Duration) -> Access {
        Access::Serve
    }

    fn readiness(&self) -> Readiness {
        Readiness::AfterCacheSync
    }

    fn state_of(&self, _: Duration) -> ClientCacheState {
        ClientCacheState::HasCachedFlagDataOnly
    }

    fn max_init_wait(&self) -> Duration {
        self.max_init_wait
    }
}

fn fresh_or_cached(fresh: bool) -> ClientCacheState {
    if fresh {
        ClientCacheState::HasUpToDateFlagData
    } else {
        ClientCacheState::HasCachedFlagDataOnly
    }
}
