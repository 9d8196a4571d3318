//! Polling modes as the policies that supervise the poller: when it fetches, when the client
//! is ready, and how long a poller that panicked waits before it restarts.
//!
//! A user picks a [`PollingMode`]; inside, each mode is a type ([`AutoPoll`], [`LazyLoad`],
//! [`ManualPoll`]) implementing [`Policy`]: what the actors ask about timing, answered per mode:
//! the poller (what to do when it starts or restarts, whether a tick is due), the evaluator
//! (whether an access must refresh, how long the first requests wait) and the config store (when
//! the client is ready, and how fresh its config is). Changing how a mode behaves means editing
//! its `impl` here, nothing else.
//!
//! The actors ask [`PollingMode`], never a mode's type: its methods hand each question to the
//! mode's `impl` (through `with_policy!`, the one `match` that does), and answer themselves the
//! rules every mode shares: whether a refresh may run at all (closed, local-only, offline),
//! which refresh requests a cycle serves, when a client is ready at once, and how long a poller
//! that panicked waits before it restarts. The modes stay types behind a trait rather than one
//! enum with a method per question: each mode's answers read together in its `impl`, and a new
//! question must be answered by every mode (the trait requires it).
//!
//! Every duration is clamped by the constructors, the only way to make a mode: no value can make
//! the poller spin.

use std::time::{Duration, SystemTime};

use crate::error::RefreshError;
use crate::protocol::Need;
use crate::state::{ClientCacheState, Current};

/// The shortest poll interval or TTL: anything shorter is raised to it, so that no setting makes
/// the poller spin.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// The default longest wait for the first config (see `PollingMode::max_init_wait`): 5 s.
pub const DEFAULT_MAX_INIT_WAIT: Duration = Duration::from_secs(5);

/// A tick counts the config as due a little before a whole interval has passed, so that a timer
/// firing early does not skip a fetch (the JavaScript SDK's tolerance).
const TICK_TOLERANCE: Duration = Duration::from_millis(500);

/// The first wait of a poller that restarts after a panic: 1 s.
const DEFAULT_RESTART_FIRST: Duration = Duration::from_secs(1);

/// The longest wait of a poller that restarts after panics in a row: 60 s.
const DEFAULT_RESTART_MAX: Duration = Duration::from_secs(60);

/// When the client fetches the config (spec §5.1), made with one of the constructors.
///
/// Whatever the mode, a poller that panics (a bug, in this crate or in a crate it calls, during
/// a fetch, a parse or a handler) is restarted after a wait: 1 s, doubled after each panic in a
/// row, at most 60 s; a refresh cycle that completes (whatever its outcome) resets it to 1 s.
/// So a download whose every fetch or parse panics costs one attempt per wait, never a loop.
/// Refresh requests made during the wait are answered [`RefreshError::Interrupted`] at once.
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
pub struct PollingMode {
    mode: Mode,
    /// How a poller that panicked restarts: the same rule for every mode.
    restart: Backoff,
}

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
        PollingMode::of(Mode::Auto(AutoPoll {
            interval: poll_interval.max(MIN_INTERVAL),
            max_init_wait: DEFAULT_MAX_INIT_WAIT,
        }))
    }

    /// Fetch when a request finds the config older than `cache_ttl` (at least 10 ms); the
    /// official SDKs' usual TTL is 60 s. By default the expired config is served while the new
    /// one downloads; see [`wait_for_refresh`](Self::wait_for_refresh).
    pub fn lazy_load(cache_ttl: Duration) -> PollingMode {
        PollingMode::of(Mode::Lazy(LazyLoad {
            ttl: cache_ttl.max(MIN_INTERVAL),
            wait_for_refresh: false,
            max_init_wait: DEFAULT_MAX_INIT_WAIT,
        }))
    }

    /// Fetch only on [`ForceRefresh`](crate::ForceRefresh).
    pub fn manual_poll() -> PollingMode {
        PollingMode::of(Mode::Manual(ManualPoll {
            max_init_wait: DEFAULT_MAX_INIT_WAIT,
        }))
    }

    fn of(mode: Mode) -> PollingMode {
        PollingMode {
            mode,
            restart: Backoff {
                first: DEFAULT_RESTART_FIRST,
                max: DEFAULT_RESTART_MAX,
            },
        }
    }

    /// The longest time the first requests wait for a config (default 5 s): in auto poll for the
    /// first fetch, in lazy load for the first download, in manual poll for the first read of
    /// the external cache. Then they are answered with whatever is there.
    #[must_use]
    pub fn max_init_wait(self, wait: Duration) -> PollingMode {
        let mode = match self.mode {
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
        };
        PollingMode { mode, ..self }
    }

    /// Lazy load only: whether a request that finds the config expired waits for the refresh
    /// (at most the read timeout), as the official SDKs do, instead of being answered at once
    /// from the expired config (the default). Other modes are unchanged.
    #[must_use]
    pub fn wait_for_refresh(self, wait: bool) -> PollingMode {
        match self.mode {
            Mode::Lazy(lazy) => PollingMode {
                mode: Mode::Lazy(LazyLoad {
                    wait_for_refresh: wait,
                    ..lazy
                }),
                ..self
            },
            _ => self,
        }
    }

    /// Restarts after a panic wait `first`, doubled per panic in a row, at most `max` (tests
    /// only: users get the defaults above).
    #[cfg(test)]
    #[must_use]
    pub(crate) fn restart_backoff(self, first: Duration, max: Duration) -> PollingMode {
        PollingMode {
            restart: Backoff { first, max },
            ..self
        }
    }
}

/// The one place the modes are told apart: `$body` with `$policy` bound to the mode's policy.
/// Dispatched statically: `on_access` is asked at every evaluation, and a virtual call there
/// costs as much as the rest of the check.
macro_rules! with_policy {
    ($mode:expr, $policy:ident => $body:expr) => {
        match &$mode.mode {
            Mode::Auto($policy) => $body,
            Mode::Lazy($policy) => $body,
            Mode::Manual($policy) => $body,
        }
    };
}

/// What the actors ask: each mode's answers (see [`Policy`]), then the rules every mode shares.
impl PollingMode {
    /// See [`Policy::letter`].
    pub(crate) fn letter(&self) -> char {
        with_policy!(self, policy => policy.letter())
    }

    /// See [`Policy::on_start`].
    pub(crate) fn on_start(&self) -> Start {
        with_policy!(self, policy => policy.on_start())
    }

    /// See [`Policy::on_access`].
    #[inline]
    pub(crate) fn on_access(
        &self,
        fetch_time: Option<SystemTime>,
        read_timeout: Duration,
    ) -> Access {
        with_policy!(self, policy => policy.on_access(fetch_time, read_timeout))
    }

    /// See [`Policy::init_wait`].
    pub(crate) fn init_wait(&self) -> Option<Duration> {
        with_policy!(self, policy => policy.init_wait())
    }

    /// See [`Policy::ready_after_sync`].
    pub(crate) fn ready_after_sync(&self, offline: bool, state: ClientCacheState) -> bool {
        with_policy!(self, policy => policy.ready_after_sync(offline, state))
    }

    /// See [`Policy::state_of`].
    fn state_of(&self, age: Duration) -> ClientCacheState {
        with_policy!(self, policy => policy.state_of(age))
    }

    /// How much flag data `current` holds, a download judged by its age.
    pub(crate) fn state_of_current(&self, current: &Current) -> ClientCacheState {
        match (current.remote.as_deref(), &current.config) {
            (Some(remote), _) => self.state_of(remote.age()),
            (None, Some(_)) => ClientCacheState::HasLocalOverrideFlagDataOnly,
            (None, None) => ClientCacheState::NoFlagData,
        }
    }

    /// The longest a request made before the client is ready waits (see
    /// [`Policy::max_init_wait`]).
    pub(crate) fn ready_wait(&self) -> Duration {
        with_policy!(self, policy => policy.max_init_wait())
    }

    /// Whether a cycle started for `need` fetches, for a config of this age (`None`: no
    /// config) whose last download took `last_download`: a forced refresh or a change notice
    /// always does; a tick or an access when the mode finds the config due
    /// ([`Policy::due`]).
    pub(crate) fn fetches(
        &self,
        need: Need,
        age: Option<Duration>,
        last_download: Duration,
    ) -> bool {
        match need {
            Need::Always | Need::Changed(_) => true,
            Need::IfDue => with_policy!(self, policy => policy.due(age, last_download)),
        }
    }

    /// Every mode: why no refresh may run now, if none may (a closed client, local-only
    /// overrides, offline, in this order).
    pub(crate) fn refusal(
        &self,
        closed: bool,
        local_only: bool,
        offline: bool,
    ) -> Option<RefreshError> {
        if closed {
            Some(RefreshError::Closed)
        } else if local_only {
            Some(RefreshError::LocalOnly)
        } else if offline {
            Some(RefreshError::Offline)
        } else {
            None
        }
    }

    /// Every mode: whether a request for `need` that arrives while a cycle runs waits for the
    /// next cycle instead of joining this one: a change notice does (the running fetch may
    /// predate the change).
    pub(crate) fn waits_for_next_cycle(&self, need: Need, cycle_running: bool) -> bool {
        cycle_running && matches!(need, Need::Changed(_))
    }

    /// Every mode: whether a cycle that found the config fresh (and fetched nothing) serves a
    /// request for `need`: only one that wanted it fresh; a `ForceRefresh` or a change notice
    /// waits for a cycle that fetches.
    pub(crate) fn served_without_fetch(&self, need: Need) -> bool {
        need == Need::IfDue
    }

    /// Every mode: the need of the cycle run for the requests a cycle left over (see
    /// [`served_without_fetch`](Self::served_without_fetch)), `first` being the oldest: it
    /// fetches.
    pub(crate) fn follow_up(&self, first: Need) -> Need {
        match first {
            Need::IfDue => Need::Always,
            need => need,
        }
    }

    /// Every mode: whether the client is ready as soon as it starts, before any read or
    /// fetch: with local-only overrides (nothing will be fetched, the local data is all there
    /// is).
    pub(crate) fn ready_at_start(&self, local_only: bool) -> bool {
        local_only
    }

    /// Every mode: how long a poller that panicked `failures` times in a row (at least once)
    /// waits before it restarts.
    pub(crate) fn restart_delay(&self, failures: u32) -> Duration {
        self.restart.delay(failures)
    }
}

/// The waits of a poller that restarts after panics in a row: `first`, doubled per panic after
/// the first, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff {
    first: Duration,
    max: Duration,
}

impl Backoff {
    fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first.saturating_mul(1 << doublings).min(self.max)
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

/// The questions whose answers differ between the polling modes; the actors ask them through
/// [`PollingMode`].
pub(crate) trait Policy {
    /// The letter of the user-agent header: `a`, `l` or `m`.
    fn letter(&self) -> char;

    /// What the poller does when it starts, and again when it restarts after a panic (once
    /// the restart's wait is over).
    fn on_start(&self) -> Start;

    /// Whether a cycle that may skip (a tick, a lazy-load access) fetches, for a config of this age (`None`: no config) whose last download
    /// took `last_download`.
    fn due(&self, age: Option<Duration>, last_download: Duration) -> bool;

    /// What an access does for a config fetched at this time (`None`: no config). It is given
    /// the time, not the age: reading the clock costs more than the rest of an evaluation of a
    /// simple flag, so only a policy that needs the age reads it.
    fn on_access(&self, fetch_time: Option<SystemTime>, read_timeout: Duration) -> Access;

    /// How long the config store waits, from start, before it makes a client that is not ready
    /// yet ready anyway (`None`: readiness never waits for a refresh, see
    /// [`ready_after_sync`](Self::ready_after_sync)).
    fn init_wait(&self) -> Option<Duration>;

    /// Whether a client that is not ready yet becomes ready after a read of the external cache
    /// (made at start, and at once without an external cache), with the client offline or not
    /// and its flag data in `state` (spec §5.1).
    fn ready_after_sync(&self, offline: bool, state: ClientCacheState) -> bool;

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

    /// Ready after the first refresh cycle (a store makes it so), or the max init wait,
    /// whichever is first.
    fn init_wait(&self) -> Option<Duration> {
        Some(self.max_init_wait)
    }

    /// Offline, nothing will be fetched before going online: what is there is all there is.
    /// Online, a fresh entry from another process makes it ready: the poller will not fetch.
    fn ready_after_sync(&self, offline: bool, state: ClientCacheState) -> bool {
        offline || state == ClientCacheState::HasUpToDateFlagData
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
struct LazyLoad {
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

    fn init_wait(&self) -> Option<Duration> {
        None
    }

    /// Ready right after the first read of the external cache (at once without one).
    fn ready_after_sync(&self, _: bool, _: ClientCacheState) -> bool {
        true
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
struct ManualPoll {
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

    fn init_wait(&self) -> Option<Duration> {
        None
    }

    /// Ready right after the first read of the external cache (at once without one).
    fn ready_after_sync(&self, _: bool, _: ClientCacheState) -> bool {
        true
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_waits_one_second_doubled_per_panic_in_a_row_at_most_a_minute() {
        for mode in [
            PollingMode::default(),
            PollingMode::lazy_load(Duration::from_secs(60)),
            PollingMode::manual_poll(),
        ] {
            let waits: Vec<u64> = (1..=9)
                .map(|failures| mode.restart_delay(failures).as_secs())
                .collect();
            assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60], "{mode:?}");
            assert_eq!(mode.restart_delay(u32::MAX), Duration::from_secs(60));
        }
    }

    #[test]
    fn a_restart_backoff_set_for_tests_grows_from_its_first_wait_to_its_cap() {
        let mode = PollingMode::manual_poll()
            .restart_backoff(Duration::from_millis(100), Duration::from_millis(350));
        let waits: Vec<u128> = (1..=5)
            .map(|failures| mode.restart_delay(failures).as_millis())
            .collect();
        assert_eq!(waits, [100, 200, 350, 350, 350]);
    }
}
