//! The published state: what the client serves, which every reader loads without a lock, and
//! the client's switches.
//!
//! [`Published`] holds one [`Current`]: the last download, the config evaluations use, the
//! default user, and whether the client is ready. The config store writes the config and
//! readiness, the evaluator the default user; each writes with [`Published::update`], so that
//! neither undoes the other's change. The evaluator, handles, snapshots and the poller read it
//! with one lock-free load. Readiness is a field of the published state, so there is one source
//! of truth for it; [`Published::ready`] waits for it to be set.
//!
//! Beside it, each fact every actor needs is kept once: whether the client is offline, whether
//! its flag overrides are local-only (fixed at start), and whether it is closed.
//!
//! Handles read it through [`Published::read`], which keeps, per thread, the state that thread
//! last read: checking that it is still the newest is one relaxed load, where taking an
//! arc-swap guard costs two atomic read-modify-writes on the thread's debt slot.

use std::cell::RefCell;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::{ArcSwap, Cache, Guard};
use tokio::sync::Notify;

use crate::cache::ConfigEntry;
use crate::model::Config;
use crate::user::User;

/// How much flag data the client had when it became ready.
///
/// It serializes as its name, for a readiness endpoint:
///
/// ```
/// use configcat_actix::ClientCacheState;
/// let json = serde_json::to_string(&ClientCacheState::HasUpToDateFlagData)?;
/// assert_eq!(json, r#""HasUpToDateFlagData""#);
/// assert_eq!(serde_json::from_str::<ClientCacheState>(&json)?, ClientCacheState::HasUpToDateFlagData);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ClientCacheState {
    /// No config at all: evaluations return their defaults.
    NoFlagData,
    /// Only local flag overrides.
    HasLocalOverrideFlagDataOnly,
    /// A config that may be stale (expired, or manual polling).
    HasCachedFlagDataOnly,
    /// A config fresh by the polling mode's standard.
    HasUpToDateFlagData,
}

/// What the client serves right now.
#[derive(Debug, Clone, Default)]
pub(crate) struct Current {
    /// The last download (or external cache entry): what the poller refreshes.
    pub(crate) remote: Option<Arc<ConfigEntry>>,
    /// What evaluations use: the remote config, merged with flag overrides if there are any.
    pub(crate) config: Option<Arc<Config>>,
    /// The user evaluations without one are for. It lives here, not beside, so that an
    /// evaluation gets everything it reads with the one load of the published state. The
    /// evaluator writes it at once (never through the config store, which may be busy with the
    /// external cache for up to the cache timeout).
    pub(crate) default_user: Option<User>,
    /// How much flag data the client had when it became ready; `None` until then.
    pub(crate) ready: Option<ClientCacheState>,
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

/// The one published [`Current`], a wake-up for those waiting on it to change, and the
/// client's switches (each kept here only).
#[derive(Debug, Default)]
pub(crate) struct Published {
    current: ArcSwap<Current>,
    changed: Notify,
    /// Local-only flag overrides: nothing is fetched and the client never goes online. Derived
    /// from the overrides once, at start.
    local_only: bool,
    /// `SetOffline`/`SetOnline` (and the builder's `offline`): written by the evaluator only.
    offline: AtomicBool,
    /// Set once, when `Close` begins: nothing is fetched any more and handles answer with
    /// defaults.
    closed: AtomicBool,
}

impl Published {
    pub(crate) fn new(current: Current, local_only: bool, offline: bool) -> Published {
        Published {
            current: ArcSwap::from_pointee(current),
            changed: Notify::new(),
            local_only,
            offline: AtomicBool::new(offline),
            closed: AtomicBool::new(false),
        }
    }

    /// Whether the flag overrides are local-only.
    #[inline]
    pub(crate) fn local_only(&self) -> bool {
        self.local_only
    }

    /// Whether the client is offline.
    #[inline]
    pub(crate) fn offline(&self) -> bool {
        self.offline.load(Ordering::Relaxed)
    }

    /// Switches offline or online; tells whether that changed anything.
    pub(crate) fn set_offline(&self, offline: bool) -> bool {
        self.offline.swap(offline, Ordering::Relaxed) != offline
    }

    /// Whether the client is closed (or closing).
    #[inline]
    pub(crate) fn closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// The current state, borrowed without touching a reference count (the evaluation path).
    #[inline]
    pub(crate) fn load(&self) -> Guard<Arc<Current>> {
        self.current.load()
    }

    pub(crate) fn load_full(&self) -> Arc<Current> {
        self.current.load_full()
    }

    /// Runs `f` on the newest state from this thread's copy of it (see the module docs).
    ///
    /// A thread keeps the states of the first [`READ_CACHE_SLOTS`] clients it reads (while
    /// anyone else holds them), so a state replaced since is freed when the thread next reads
    /// that client. Other clients, and a read made while this thread is inside another (a hook
    /// that reads a flag), load as usual: a thread that reads many clients in turn never has
    /// them evict each other.
    #[inline]
    pub(crate) fn read<R>(self: &Arc<Self>, f: impl FnOnce(&Current) -> R) -> R {
        let mut f = Some(f);
        let cached = READ_CACHE.try_with(|cache| {
            let mut slots = cache.try_borrow_mut().ok()?;
            let current = slots.current_of(self)?;
            let f = f.take()?;
            Some(f(current))
        });
        match (cached, f) {
            (Ok(Some(result)), _) => result,
            (_, Some(f)) => f(&self.load()),
            (_, None) => unreachable!("`f` is taken only when it runs"),
        }
    }

    /// Replaces the state with `next` of the newest one, and wakes everyone waiting on a
    /// change. There are two writers (the config store, the evaluator for the default user):
    /// `next` is called again if the other wrote meanwhile, so that no change is lost.
    pub(crate) fn update(&self, mut next: impl FnMut(&Current) -> Current) {
        self.current.rcu(|current| next(current));
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

/// The one throttle of the external cache's re-reads: at most one per interval, whoever asks
/// (an access, the poller's cycle), counted from when the last one was claimed or ended.
///
/// The accesses claim a read before they ask the config store for it, so that a busy client
/// sends it one message per interval rather than one per evaluation; the config store claims one
/// for a request that was not claimed yet (the poller's), and restarts the interval when a read
/// ends.
#[derive(Debug)]
pub(crate) struct SyncThrottle {
    interval_ms: u64,
    epoch: Instant,
    /// When the last read was claimed or ended, in milliseconds since `epoch`, plus one (0:
    /// never).
    last: AtomicU64,
}

impl SyncThrottle {
    pub(crate) fn new(interval: Duration) -> SyncThrottle {
        SyncThrottle {
            interval_ms: interval.as_millis().try_into().unwrap_or(u64::MAX),
            epoch: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    /// Claims the next read: `true` for one caller when none was claimed (or ended) within the
    /// interval; the caller then makes it (or has the config store make it).
    #[inline]
    pub(crate) fn claim(&self) -> bool {
        let now = self.now();
        let last = self.last.load(Ordering::Relaxed);
        (last == 0 || now.saturating_sub(last) >= self.interval_ms)
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// A read ended: the next may begin an interval from now.
    pub(crate) fn restart(&self) {
        self.last.store(self.now(), Ordering::Relaxed);
    }
}

/// How many clients' states a thread keeps for [`Published::read`].
const READ_CACHE_SLOTS: usize = 4;

thread_local! {
    static READ_CACHE: RefCell<ReadCache> = const { RefCell::new(ReadCache(Vec::new())) };
}

/// What lets an arc-swap [`Cache`] follow the state inside a [`Published`].
struct PublishedState(Arc<Published>);

impl Deref for PublishedState {
    type Target = ArcSwap<Current>;

    fn deref(&self) -> &ArcSwap<Current> {
        &self.0.current
    }
}

/// One thread's copies of the published states it reads.
struct ReadCache(Vec<ReadSlot>);

struct ReadSlot {
    /// Which client's state this is (the cache below holds it strongly, so no other
    /// `Published` can have its address meanwhile), and whether anyone else still holds it.
    owner: Weak<Published>,
    cache: Cache<PublishedState, Arc<Current>>,
}

impl ReadCache {
    /// The newest state of `published`; `None` when it has no slot and none is free.
    #[inline]
    fn current_of(&mut self, published: &Arc<Published>) -> Option<&Current> {
        let index = match self
            .0
            .iter()
            .position(|slot| std::ptr::eq(slot.owner.as_ptr(), Arc::as_ptr(published)))
        {
            Some(index) => index,
            None => self.add(published)?,
        };
        Some(self.0[index].cache.load())
    }

    #[cold]
    fn add(&mut self, published: &Arc<Published>) -> Option<usize> {
        // The slots of clients nobody else holds any more are free again.
        self.0.retain(|slot| slot.owner.strong_count() > 1);
        if self.0.len() == READ_CACHE_SLOTS {
            return None;
        }
        self.0.push(ReadSlot {
            owner: Arc::downgrade(published),
            cache: Cache::new(PublishedState(published.clone())),
        });
        Some(self.0.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(tag: &str) -> Current {
        Current {
            default_user: Some(User::new(tag)),
            ..Current::default()
        }
    }

    fn published(tag: &str) -> Published {
        Published::new(state(tag), false, false)
    }

    fn tag(current: &Current) -> String {
        current
            .default_user
            .as_ref()
            .map(|u| u.identifier().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn a_read_sees_each_clients_newest_state_with_more_clients_than_slots() {
        let clients: Vec<Arc<Published>> = (0..READ_CACHE_SLOTS + 2)
            .map(|i| Arc::new(published(&format!("c{i}-v0"))))
            .collect();
        for round in 0..3 {
            for (i, client) in clients.iter().enumerate() {
                assert_eq!(client.read(tag), format!("c{i}-v{round}"));
                client.update(|_| state(&format!("c{i}-v{}", round + 1)));
                assert_eq!(client.read(tag), format!("c{i}-v{}", round + 1));
            }
        }
        // The first clients keep their slots: the others never evict them.
        READ_CACHE.with(|cache| {
            let owners: Vec<*const Published> = cache
                .borrow()
                .0
                .iter()
                .map(|slot| slot.owner.as_ptr())
                .collect();
            let first: Vec<*const Published> = clients[..READ_CACHE_SLOTS]
                .iter()
                .map(Arc::as_ptr)
                .collect();
            assert_eq!(owners, first);
        });
    }

    #[test]
    fn the_throttle_grants_one_read_per_interval_counted_from_the_last_one() {
        let throttle = SyncThrottle::new(Duration::from_millis(200));
        assert!(throttle.claim(), "the first read is due at once");
        assert!(!throttle.claim(), "one claim per interval");
        std::thread::sleep(Duration::from_millis(250));
        throttle.restart();
        assert!(
            !throttle.claim(),
            "an interval from the end of the last read"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert!(throttle.claim());
        let never = SyncThrottle::new(Duration::MAX);
        assert!(never.claim() && !never.claim());
    }

    #[test]
    fn a_read_inside_a_read_loads_as_usual() {
        let outer = Arc::new(published("outer"));
        let inner = Arc::new(published("inner"));
        let both = outer.read(|current| (tag(current), inner.read(tag), outer.read(tag)));
        assert_eq!(both, ("outer".into(), "inner".into(), "outer".into()));
    }

    #[test]
    fn the_state_of_a_client_nobody_holds_is_let_go() {
        let gone = Arc::new(published("gone"));
        assert_eq!(gone.read(tag), "gone");
        let weak = Arc::downgrade(&gone);
        drop(gone);
        assert!(
            weak.upgrade().is_some(),
            "this thread's copy still holds it"
        );
        let other = Arc::new(published("other"));
        assert_eq!(other.read(tag), "other");
        assert!(
            weak.upgrade().is_none(),
            "reading a new client lets the old one go"
        );
    }
}
