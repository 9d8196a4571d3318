//! The config store: the actor that is the only writer of the published state.
//!
//! It applies every fetch outcome the poller hands it ([`Store`]), merges flag overrides in,
//! keeps the external cache in step (written before a download is served, a 304 as the new
//! time only; re-read when asked, [`SyncExternal`], by its head while it holds our config, and
//! taken when another process wrote something else), takes and gives back the download lease
//! for the poller ([`TakeLease`], [`ReleaseLease`]), watches an override
//! file, decides when the client is ready (as the polling mode's policy says), and tells hooks
//! and subscribers of real changes (never of a 304).
//!
//! Work on the external cache is ordered: a store is handled as a whole (its write included)
//! before the next message, so an earlier entry never overwrites a later one, and `Shutdown`
//! comes after every write already asked for. A read runs beside other work; its result is
//! dropped if the config was replaced meanwhile.

mod guarded;
mod quiet;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::cache::{self as entry, CacheError, ConfigCache, ConfigEntry, cache_key};
use crate::error::FetchError;
use crate::fetch::FetchOutcome;
use crate::hooks::Hooks;
use crate::log::{LogLevel, LogSink, event};
use crate::messages::{ConfigChanged, Subscribe, Unsubscribe};
use crate::model::Config;
use crate::overrides::{self, FlagOverrides, OverrideBehaviour};
use crate::policy::PollingMode;
use crate::protocol::{ReleaseLease, Shutdown, Store, SyncExternal, TakeLease};
use crate::state::ClientCacheState;
use crate::state::{Current, Published, SyncThrottle};
use crate::user::User;
use guarded::PanicGuard;
use quiet::{Report, Streak, unlogged_note};

/// How often an override file is checked for changes.
const OVERRIDE_FILE_CHECK: Duration = Duration::from_millis(500);

/// The external cache and what the actor knows of it.
struct External {
    cache: Arc<dyn ConfigCache>,
    key: String,
    /// Bound of every read and write.
    timeout: Duration,
    /// Reads asked for within the sync interval of the last one are not made again (the
    /// throttle the accesses share).
    throttle: Arc<SyncThrottle>,
    /// A running read, and who waits for it.
    reading: Option<Vec<oneshot::Sender<()>>>,
    /// A digest of the text last read: a text is parsed (and a corrupt one logged) once.
    last_text: Option<u64>,
    /// The last operation failed: downloads are then served before their write is done, so a
    /// dead cache does not delay them (the write still happens, in order). A read that found
    /// an entry it cannot use (`CacheError::is_invalid_entry`) is no failure: the cache works.
    failing: bool,
    /// Failed reads and writes since the last success of each: logged quietly.
    read_failures: Streak,
    write_failures: Streak,
    /// The ETag line, as the cache holds it, of the entry whose config the client serves:
    /// a re-read whose head shows this line finds the same config and reads no further.
    held_etag: Option<String>,
    /// This client's name as a download leaseholder: unique to it.
    holder: String,
    /// How long a download lease lasts.
    lease_ttl: Duration,
    /// Whether this client may hold the lease now (taken and not given back yet).
    leased: bool,
}

/// What a re-read of the external cache found.
enum Read {
    /// No entry.
    Absent,
    /// The whole entry.
    Whole(String),
    /// An entry whose head shows the ETag line held, with this fetch time (ms).
    SameConfig(u64),
}

/// Owns what the client serves.
pub(crate) struct ConfigStore {
    published: Arc<Published>,
    /// Bumped at every publish: a read that started before one is stale.
    generation: u64,
    mode: PollingMode,
    started: Instant,
    init_timer: Option<SpawnHandle>,
    subscribers: Vec<Recipient<ConfigChanged>>,
    hooks: Arc<Hooks>,
    sink: Arc<dyn LogSink>,
    external: Option<External>,
    /// Shared with the check of the override file, which runs on tokio's blocking pool.
    overrides: Option<Arc<FlagOverrides>>,
    /// A check of the override file is running: the next waits for it to end.
    checking_overrides: bool,
    local: Option<Arc<Config>>,
}

/// What the builder hands the config store.
pub(crate) struct StoreParts {
    pub(crate) published: Arc<Published>,
    pub(crate) mode: PollingMode,
    pub(crate) hooks: Arc<Hooks>,
    pub(crate) sink: Arc<dyn LogSink>,
    pub(crate) external: Option<Arc<dyn ConfigCache>>,
    pub(crate) sdk_key: String,
    pub(crate) cache_timeout: Duration,
    /// The throttle of re-reads, shared with the accesses.
    pub(crate) sync_throttle: Arc<SyncThrottle>,
    /// How long a download lease lasts (see [`TakeLease`]).
    pub(crate) cache_lease: Duration,
    /// Flag overrides and the local config loaded from them at start.
    pub(crate) overrides: Option<(FlagOverrides, Option<Arc<Config>>)>,
    /// Subscribers registered on the builder.
    pub(crate) subscribers: Vec<Recipient<ConfigChanged>>,
}

impl ConfigStore {
    pub(crate) fn new(parts: StoreParts) -> ConfigStore {
        let (overrides, local) = match parts.overrides {
            Some((overrides, local)) => (Some(Arc::new(overrides)), local),
            None => (None, None),
        };
        let external = parts.external.map(|cache| External {
            cache: PanicGuard::wrap(cache),
            key: cache_key(&parts.sdk_key),
            timeout: parts.cache_timeout,
            throttle: parts.sync_throttle,
            reading: None,
            last_text: None,
            failing: false,
            read_failures: Streak::default(),
            write_failures: Streak::default(),
            held_etag: None,
            holder: lease_holder(),
            lease_ttl: parts.cache_lease,
            leased: false,
        });
        ConfigStore {
            published: parts.published,
            generation: 0,
            mode: parts.mode,
            started: Instant::now(),
            init_timer: None,
            subscribers: parts.subscribers,
            hooks: parts.hooks,
            sink: parts.sink,
            external,
            overrides,
            checking_overrides: false,
            local,
        }
    }

    /// The state the client starts with: local overrides are served from the first request.
    pub(crate) fn initial(
        overrides: Option<(&FlagOverrides, Option<&Arc<Config>>)>,
        default_user: Option<User>,
    ) -> Current {
        Current {
            config: overrides.and_then(|(o, local)| effective(Some(o), local, None)),
            default_user,
            ..Current::default()
        }
    }

    /// Publishes a new remote entry; when the config changed, recomputes what evaluations use
    /// and announces it.
    fn publish(&mut self, remote: Option<Arc<ConfigEntry>>, config_changed: bool) {
        self.publish_as(remote, config_changed, |_| None);
    }

    /// Publishes a stored fetch outcome: the first one makes an auto-polling client ready, in
    /// the same store (readers never see the new config without the readiness it brings).
    fn publish_stored(
        &mut self,
        entry: Arc<ConfigEntry>,
        changed: bool,
        succeeded: bool,
        ctx: &mut Context<Self>,
    ) {
        let mode = self.mode;
        let ready = self.publish_as(Some(entry), changed, |next| {
            Some(stored_state(mode.state_of_current(next), succeeded))
        });
        if let Some(state) = ready {
            self.became_ready(state, ctx);
        }
    }

    /// [`publish`](Self::publish); if the client is not ready yet, `ready` may make it ready
    /// in the same store (it is given the state about to be published). Returns the state the
    /// client became ready with.
    fn publish_as(
        &mut self,
        remote: Option<Arc<ConfigEntry>>,
        config_changed: bool,
        ready: impl Fn(&Current) -> Option<ClientCacheState>,
    ) -> Option<ClientCacheState> {
        let current = self.published.load_full();
        let config = if config_changed {
            effective(
                self.overrides.as_deref(),
                self.local.as_ref(),
                remote.as_deref(),
            )
        } else {
            current.config.clone()
        };
        let fetch_time = remote.as_deref().map(|r| r.fetch_time);
        self.generation += 1;
        let mut became_ready = None;
        // The config store is the only writer of everything but the default user.
        self.published.update(|newest| {
            let mut next = Current {
                remote: remote.clone(),
                config: config.clone(),
                ..newest.clone()
            };
            if next.ready.is_none() {
                next.ready = ready(&next);
            }
            became_ready = next.ready.filter(|_| newest.ready.is_none());
            next
        });
        if let (true, Some(config)) = (config_changed, config) {
            let changed_keys = changed_keys(current.config.as_deref(), &config);
            if !changed_keys.is_empty() {
                self.announce(config, fetch_time, changed_keys);
            }
        }
        became_ready
    }

    /// The entry a fetch outcome leaves, and whether its config is new.
    fn next_entry(&self, outcome: FetchOutcome) -> Option<(Arc<ConfigEntry>, bool)> {
        let current = self.published.load_full();
        let remote = current.remote.as_deref();
        let now = SystemTime::now();
        match outcome {
            FetchOutcome::Fetched { config, json, etag } => {
                let unchanged =
                    remote.is_some_and(|r| (etag.is_some() && r.etag == etag) || *r.json == *json);
                let entry = ConfigEntry {
                    config,
                    json,
                    etag,
                    fetch_time: now,
                };
                Some((Arc::new(entry), !unchanged))
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
                let entry = ConfigEntry {
                    fetch_time: now,
                    ..remote.clone()
                };
                Some((Arc::new(entry), false))
            }
            FetchOutcome::Failed { .. } => None,
        }
    }

    /// Takes an entry read from the external cache when it holds news (spec §5): another
    /// config replaces ours whatever its fetch time; the same config only moves the time on.
    fn take_external(&mut self, text: &str) {
        let digest = digest(text);
        let Some(external) = self.external.as_mut() else {
            return;
        };
        if external.last_text.replace(digest) == Some(digest) {
            return; // Seen already: taken then, or corrupt.
        }
        let (millis, etag, json) = match entry::split_entry(text) {
            Ok(parts) => parts,
            Err(error) => return self.cache_read_failed(&error),
        };
        // The line as written (a derived ETag included), which later heads are compared with.
        let etag_line = entry::split_head(text).map(|(_, line)| line.to_owned());
        let fetch_time = UNIX_EPOCH
            .checked_add(Duration::from_millis(millis))
            .unwrap_or(UNIX_EPOCH);
        let current = self.published.load_full();
        let remote = current.remote.as_deref();
        let same_config = remote.is_some_and(|r| match r.etag.as_deref() {
            Some(ours) if !etag.is_empty() => ours == etag,
            _ => *r.json == *json,
        });
        match remote {
            Some(_) if same_config => self.follow_time(fetch_time),
            _ => match ConfigEntry::deserialize(text) {
                Ok(entry) => self.publish(Some(Arc::new(entry)), true),
                Err(error) => return self.cache_read_failed(&error),
            },
        }
        if let Some(external) = self.external.as_mut() {
            external.held_etag = etag_line;
        }
    }

    /// The entry in the cache holds our config with this fetch time: a later time is taken
    /// (another process confirmed the config), nothing else changes.
    fn follow_time(&mut self, fetch_time: SystemTime) {
        let current = self.published.load_full();
        let Some(remote) = current.remote.as_deref() else {
            return;
        };
        if remote.fetch_time < fetch_time {
            let entry = ConfigEntry {
                fetch_time,
                ..remote.clone()
            };
            self.publish(Some(Arc::new(entry)), false);
        }
    }

    fn cache_read_failed(&self, error: &dyn std::fmt::Display) {
        self.sink.log(
            LogLevel::Error,
            event::CACHE_READ_FAILED,
            format_args!("Error occurred while reading the cache. ({error})"),
        );
    }

    /// Notes how a write went. A failed one is logged if it is the first of a streak or the
    /// first for a minute; the first success after a logged failure is logged (INFO, 2201).
    fn note_write(&mut self, result: Result<(), CacheError>) {
        let Some(external) = self.external.as_mut() else {
            return;
        };
        external.failing = result.is_err();
        match result {
            Ok(()) => {
                self.sink.log(
                    LogLevel::Debug,
                    event::CACHE_WRITTEN,
                    format_args!("Wrote the config to the external cache."),
                );
                if let Some(failures) = external.write_failures.succeeded() {
                    self.sink.log(
                        LogLevel::Info,
                        event::CACHE_WRITE_FAILED,
                        format_args!(
                            "The cache can be written again, after {failures} failed writes."
                        ),
                    );
                }
            }
            Err(error) => {
                if let Report::Log { unlogged } = external.write_failures.failed(Instant::now()) {
                    self.sink.log(
                        LogLevel::Error,
                        event::CACHE_WRITE_FAILED,
                        format_args!(
                            "Error occurred while writing the cache. ({error}){}",
                            unlogged_note(unlogged)
                        ),
                    );
                }
            }
        }
    }

    /// Notes how a read went, as [`note_write`](ConfigStore::note_write) does for writes. An
    /// invalid entry is a cache that answered: logged once per distinct error, as a corrupt
    /// text is once per text.
    fn note_read(&mut self, result: Result<(), &CacheError>) {
        let Some(external) = self.external.as_mut() else {
            return;
        };
        let error = match result {
            Err(error) if !error.is_invalid_entry() => error,
            answered => {
                if let Some(failures) = external.read_failures.succeeded() {
                    self.sink.log(
                        LogLevel::Info,
                        event::CACHE_READ_FAILED,
                        format_args!("The cache can be read again, after {failures} failed reads."),
                    );
                }
                if let Err(invalid) = answered {
                    let digest = digest(&invalid.to_string());
                    if external.last_text.replace(digest) != Some(digest) {
                        self.cache_read_failed(invalid);
                    }
                }
                return;
            }
        };
        if let Report::Log { unlogged } = external.read_failures.failed(Instant::now()) {
            self.sink.log(
                LogLevel::Error,
                event::CACHE_READ_FAILED,
                format_args!(
                    "Error occurred while reading the cache. ({error}){}",
                    unlogged_note(unlogged)
                ),
            );
        }
    }

    /// Starts a read of the external cache unless one is running or the throttle grants none;
    /// `done` is told when the read (or the one it joined) is over.
    fn sync(&mut self, done: Option<oneshot::Sender<()>>, ctx: &mut Context<Self>) {
        self.read(done, false, ctx);
    }

    /// [`sync`](Self::sync), or with `now` a read whatever the throttle says (one an access
    /// claimed from it already, or one a lease needs).
    fn read(&mut self, done: Option<oneshot::Sender<()>>, now: bool, ctx: &mut Context<Self>) {
        let Some(external) = self.external.as_mut() else {
            return drop(done);
        };
        if let Some(waiting) = external.reading.as_mut() {
            waiting.extend(done);
            return;
        }
        if !now && !external.throttle.claim() {
            return drop(done);
        }
        external.reading = Some(done.into_iter().collect());
        let read = read_entry(
            external.cache.clone(),
            external.key.clone(),
            external.held_etag.clone(),
            external.timeout,
        );
        let generation = self.generation;
        ctx.spawn(read.into_actor(self).map(move |result, act, ctx| {
            let waiting = act.external.as_mut().map(|external| {
                external.throttle.restart();
                external.failing = result.as_ref().is_err_and(|e| !e.is_invalid_entry());
                external.reading.take().unwrap_or_default()
            });
            if let Ok(read) = &result {
                log_cache_read(&*act.sink, read);
            }
            act.note_read(result.as_ref().map(drop));
            match result {
                // A store since the read began is newer than what the read saw.
                Ok(Read::Whole(text)) if act.generation == generation => act.take_external(&text),
                Ok(Read::SameConfig(millis)) if act.generation == generation => {
                    act.follow_time(entry::fetch_time(millis).unwrap_or(UNIX_EPOCH));
                }
                _ => {}
            }
            act.synced(ctx);
            for waiter in waiting.into_iter().flatten() {
                let _ = waiter.send(());
            }
        }));
    }

    /// After a read of the external cache: the first one may make the client ready.
    fn synced(&mut self, ctx: &mut Context<Self>) {
        if self.published.load().ready.is_some() {
            return;
        }
        let state = self.state_now();
        if self.mode.ready_after_sync(self.published.offline(), state) {
            self.ready(state, ctx);
        }
    }

    fn state_now(&self) -> ClientCacheState {
        self.mode.state_of_current(&self.published.load())
    }

    /// Publishes readiness (once) and fires the ready hook.
    fn ready(&mut self, state: ClientCacheState, ctx: &mut Context<Self>) {
        if self.published.load().ready.is_some() {
            return;
        }
        self.published.update(|newest| Current {
            ready: Some(state),
            ..newest.clone()
        });
        self.became_ready(state, ctx);
    }

    /// After readiness is published: the timer that would have forced it is not needed any
    /// more, and the ready hook fires.
    fn became_ready(&mut self, state: ClientCacheState, ctx: &mut Context<Self>) {
        if let Some(timer) = self.init_timer.take() {
            ctx.cancel_future(timer);
        }
        self.sink.log(
            LogLevel::Debug,
            event::CLIENT_READY,
            format_args!("The client is ready: {state:?}."),
        );
        self.hooks.ready(state, &*self.sink);
    }

    fn announce(
        &mut self,
        config: Arc<Config>,
        fetch_time: Option<SystemTime>,
        changed_keys: Arc<[String]>,
    ) {
        self.hooks.config_changed(&config, &*self.sink);
        let message = ConfigChanged {
            config,
            fetch_time,
            changed_keys,
        };
        let sink = self.sink.clone();
        self.subscribers
            .retain(|subscriber| deliver(subscriber, message.clone(), &*sink));
    }

    /// Looks at the override file off the arbiter: the file may be on a slow disk, and
    /// evaluations must not wait for it. A file that cannot be read (a FIFO or a device put
    /// in its place included, refused at once) is logged; the last good local values stay.
    fn check_override_file(&mut self, ctx: &mut Context<Self>) {
        let Some(overrides) = self.overrides.clone() else {
            return;
        };
        if std::mem::replace(&mut self.checking_overrides, true) {
            return;
        }
        let check = tokio::task::spawn_blocking(move || overrides.reload_if_changed());
        ctx.spawn(
            fut::wrap_future(check).map(|checked, act: &mut ConfigStore, _| {
                act.checking_overrides = false;
                match checked {
                    Ok(Some(Ok(local))) => {
                        act.local = Some(Arc::new(local));
                        let remote = act.published.load().remote.clone();
                        act.publish(remote, true);
                    }
                    Ok(Some(Err(error))) => {
                        act.sink
                            .log(LogLevel::Error, error.event_id(), format_args!("{error}"));
                    }
                    Ok(None) => {}
                    // Only a panic in the check itself; the next one tries again.
                    Err(error) => act.sink.log(
                        LogLevel::Error,
                        event::OVERRIDE_FILE_INVALID,
                        format_args!("Checking the flag override file failed: {error}"),
                    ),
                }
            }),
        );
    }

    /// After a fetch outcome that left nothing to publish: the first one makes an
    /// auto-polling client ready.
    fn stored(&mut self, succeeded: bool, ctx: &mut Context<Self>) {
        self.ready(stored_state(self.state_now(), succeeded), ctx);
    }
}

/// The state a client becomes ready with after a fetch outcome is stored, from the state its
/// data is in: a download that succeeded makes a stored config up to date.
fn stored_state(state: ClientCacheState, succeeded: bool) -> ClientCacheState {
    match state {
        ClientCacheState::HasCachedFlagDataOnly | ClientCacheState::HasUpToDateFlagData
            if succeeded =>
        {
            ClientCacheState::HasUpToDateFlagData
        }
        state => state,
    }
}

/// DEBUG: what a read of the external cache found (its content is never quoted: another
/// party may have written it).
fn log_cache_read(sink: &dyn LogSink, read: &Read) {
    match read {
        Read::Whole(text) => sink.log(
            LogLevel::Debug,
            event::CACHE_READ,
            format_args!("Read the external cache: an entry of {} bytes.", text.len()),
        ),
        Read::SameConfig(_) => sink.log(
            LogLevel::Debug,
            event::CACHE_READ,
            format_args!("Read the external cache's head: the same config."),
        ),
        Read::Absent => sink.log(
            LogLevel::Debug,
            event::CACHE_READ,
            format_args!("Read the external cache: no entry."),
        ),
    }
}

/// Sends a change to a subscriber; tells whether to keep it. A subscriber with a full mailbox
/// misses this change rather than stall the config store (logged 9001); it gets the next one.
fn deliver(
    subscriber: &Recipient<ConfigChanged>,
    message: ConfigChanged,
    sink: &dyn LogSink,
) -> bool {
    match subscriber.try_send(message) {
        Ok(()) => true,
        Err(SendError::Full(_)) => {
            sink.log(
                LogLevel::Warn,
                event::SUBSCRIBER_BUSY,
                format_args!(
                    "A ConfigChanged subscriber's mailbox is full; it missed a config change."
                ),
            );
            true
        }
        Err(SendError::Closed(_)) => false,
    }
}

/// The keys whose values may differ between two configs, sorted: settings added, removed or
/// changed, and the flags depending on them through prerequisites (`model::changed_keys`).
fn changed_keys(old: Option<&Config>, new: &Config) -> Arc<[String]> {
    crate::model::changed_keys(old, new).into()
}

/// The config evaluations use, for a remote entry and the current local overrides.
fn effective(
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

/// A digest of an entry's text (or of why it cannot be used): the same corrupt entry is logged
/// once.
fn digest(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// Re-reads the entry: only its head when the client holds an entry whose ETag line the head
/// can be compared with, and the whole entry when the head differs (another config, or an
/// entry without an ETag, whose JSON must be compared). Each read is bounded by `timeout`.
async fn read_entry(
    cache: Arc<dyn ConfigCache>,
    key: String,
    held_etag: Option<String>,
    timeout: Duration,
) -> Result<Read, CacheError> {
    let whole = |text: Option<String>| text.map_or(Read::Absent, Read::Whole);
    let Some(held_etag) = held_etag.filter(|etag| !etag.is_empty()) else {
        return bounded(timeout, cache.get(&key)).await.map(whole);
    };
    let max_bytes = entry::head_bytes(held_etag.len());
    let Some(head) = bounded(timeout, cache.get_head(&key, max_bytes)).await? else {
        return Ok(Read::Absent);
    };
    if head.len() > max_bytes {
        // A cache without heads answered with the whole entry.
        return Ok(Read::Whole(head));
    }
    match entry::split_head(&head) {
        Some((millis, etag)) if etag == held_etag => Ok(Read::SameConfig(millis)),
        _ => bounded(timeout, cache.get(&key)).await.map(whole),
    }
}

/// A leaseholder name unique to one client: the process, a number within it, and the time
/// (processes on other machines may share the process id).
fn lease_holder() -> String {
    static CLIENTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        CLIENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    )
}

/// An external cache operation that gives up after `timeout`.
async fn bounded<T>(
    timeout: Duration,
    operation: impl Future<Output = Result<T, CacheError>>,
) -> Result<T, CacheError> {
    tokio::time::timeout(timeout, operation)
        .await
        .unwrap_or_else(|_| {
            Err(CacheError::new(format!(
                "the cache did not answer within {} ms",
                timeout.as_millis()
            )))
        })
}

impl Actor for ConfigStore {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self
            .overrides
            .as_deref()
            .is_some_and(FlagOverrides::is_file)
        {
            ctx.run_interval(OVERRIDE_FILE_CHECK, |act, ctx| act.check_override_file(ctx));
        }
        if self.mode.ready_at_start(self.published.local_only()) {
            let state = self.state_now();
            return self.ready(state, ctx);
        }
        if let Some(max_init_wait) = self.mode.init_wait() {
            let wait = max_init_wait.saturating_sub(self.started.elapsed());
            self.init_timer = Some(ctx.run_later(wait, |act, ctx| {
                act.init_timer = None;
                let state = act.state_now();
                act.ready(state, ctx);
            }));
        }
        if self.external.is_some() {
            // Whatever another process left is usable at once; the poller's first cycle joins
            // this read instead of making its own.
            self.sync(None, ctx);
        } else {
            self.synced(ctx);
        }
    }
}

impl Handler<Store> for ConfigStore {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, Store(outcome): Store, ctx: &mut Context<Self>) -> Self::Result {
        let succeeded = matches!(
            outcome,
            FetchOutcome::Fetched { .. } | FetchOutcome::NotModified
        );
        // A 304 (or a wrong SDK key): the config held stays, only its time moves on.
        let confirmed = !matches!(outcome, FetchOutcome::Fetched { .. });
        let Some((entry, changed)) = self.next_entry(outcome) else {
            self.stored(succeeded, ctx);
            return AtomicResponse::new(Box::pin(fut::ready(())));
        };
        let Some(external) = self.external.as_ref() else {
            self.publish_stored(entry, changed, succeeded, ctx);
            return AtomicResponse::new(Box::pin(fut::ready(())));
        };
        // The entry in the cache already holds this config under this ETag line: moving its
        // time on in place (where the cache can) writes the same bytes as the whole entry.
        let touch = external
            .held_etag
            .clone()
            .filter(|etag| confirmed && !etag.is_empty());
        let etag_line = match &touch {
            Some(etag) => etag.clone(),
            None => entry.etag_line().into_owned(),
        };
        let write = write_entry(
            external.cache.clone(),
            external.key.clone(),
            entry.clone(),
            touch,
            external.timeout,
        );
        // Written before it is served, so that a process that exits once it has its answer
        // leaves the download behind; a cache that is failing is not waited for.
        let serve_first = external.failing;
        if serve_first {
            self.hold(etag_line.clone());
            self.publish_stored(entry.clone(), changed, succeeded, ctx);
        }
        AtomicResponse::new(Box::pin(write.into_actor(self).map(
            move |result, act, ctx| {
                act.note_write(result);
                if !serve_first {
                    act.hold(etag_line);
                    act.publish_stored(entry, changed, succeeded, ctx);
                }
            },
        )))
    }
}

impl ConfigStore {
    /// Before a stored entry is published: its ETag line in the cache is `etag_line`.
    fn hold(&mut self, etag_line: String) {
        if let Some(external) = self.external.as_mut() {
            external.held_etag = Some(etag_line);
            // What is served no longer comes from the text read last: that text, seen again,
            // is news.
            external.last_text = None;
        }
    }
}

/// Writes an entry: with `touch` (the ETag line the cache holds for this same config), only
/// its time when the cache can do that in place; otherwise the whole entry.
///
/// A touch the cache refused at once (a Redis user without the right to run scripts, say) is
/// followed by the whole write; one that took half the timeout or more is not, so that a cache
/// that hangs costs a write one timeout, not two.
async fn write_entry(
    cache: Arc<dyn ConfigCache>,
    key: String,
    entry: Arc<ConfigEntry>,
    touch: Option<String>,
    timeout: Duration,
) -> Result<(), CacheError> {
    if let Some(etag) = touch {
        let started = Instant::now();
        match bounded(timeout, cache.touch(&key, &etag, &entry.time_line())).await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(error) if started.elapsed() >= timeout / 2 => return Err(error),
            Err(_) => {}
        }
    }
    bounded(timeout, cache.set(&key, entry.serialize())).await
}

/// Replies whether this client may download now: it took the download lease, or the cache
/// could not say (a failing cache, or a cache without leases, grants it). Refused, the poller
/// waits for the leaseholder's entry. Granted, the entry is read again before the reply: the
/// last holder may have written it since the cycle's read, and the poller then has no need
/// to download.
impl Handler<TakeLease> for ConfigStore {
    type Result = ResponseActFuture<Self, bool>;

    fn handle(&mut self, _: TakeLease, _: &mut Context<Self>) -> Self::Result {
        // A cache that is failing is not asked: it would cost the download a cache timeout.
        let Some(external) = self.external.as_ref().filter(|e| !e.failing) else {
            return Box::pin(fut::ready(true));
        };
        let lease = external
            .cache
            .try_lease(&external.key, &external.holder, external.lease_ttl);
        Box::pin(
            bounded(external.timeout, lease)
                .into_actor(self)
                .then(|result, act, ctx| {
                    // A lease that cannot be had says nothing of the entry's reads and writes:
                    // `failing` is left as they set it (write before serve holds).
                    let granted = result.as_ref().is_ok_and(|granted| *granted);
                    if let Some(external) = act.external.as_mut() {
                        external.leased |= granted;
                    }
                    let (done, read) = oneshot::channel();
                    if granted {
                        act.read(Some(done), true, ctx);
                    }
                    // A failing cache: download, as without one.
                    async move {
                        let _ = read.await;
                        result.unwrap_or(true)
                    }
                    .into_actor(act)
                }),
        )
    }
}

/// Gives the download lease back (once the download is stored, so that the others find the
/// entry when they stop waiting).
impl Handler<ReleaseLease> for ConfigStore {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: ReleaseLease, _: &mut Context<Self>) -> Self::Result {
        let release = self.release_lease();
        Box::pin(async move {
            if let Some(release) = release {
                let _ = release.await;
            }
        })
    }
}

impl ConfigStore {
    /// Gives the lease back if this client may hold it; bounded by the cache timeout.
    fn release_lease(&mut self) -> Option<impl Future<Output = Result<(), CacheError>> + use<>> {
        let external = self.external.as_mut().filter(|e| e.leased)?;
        external.leased = false;
        let release = external
            .cache
            .release_lease(&external.key, &external.holder);
        Some(bounded(external.timeout, release))
    }
}

impl Handler<SyncExternal> for ConfigStore {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, sync: SyncExternal, ctx: &mut Context<Self>) -> Self::Result {
        let (done, read) = oneshot::channel();
        self.read(Some(done), sync.claimed, ctx);
        Box::pin(async move {
            let _ = read.await;
        })
    }
}

impl Handler<Subscribe> for ConfigStore {
    type Result = ();

    /// A subscriber that comes after the first config gets it at once, so that it never has to
    /// ask what it missed.
    fn handle(&mut self, Subscribe(recipient): Subscribe, _: &mut Context<Self>) {
        if self.subscribers.contains(&recipient) {
            return;
        }
        let current = self.published.load_full();
        if let Some(config) = current.config.clone() {
            let message = ConfigChanged {
                changed_keys: changed_keys(None, &config),
                config,
                fetch_time: current.fetch_time(),
            };
            if !deliver(&recipient, message, &*self.sink) {
                return;
            }
        }
        self.subscribers.push(recipient);
    }
}

impl Handler<Unsubscribe> for ConfigStore {
    type Result = ();

    fn handle(&mut self, Unsubscribe(recipient): Unsubscribe, _: &mut Context<Self>) {
        self.subscribers.retain(|s| *s != recipient);
    }
}

impl Handler<Shutdown> for ConfigStore {
    type Result = ();

    /// Stores are handled whole, so every write asked for before this is done.
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        self.subscribers.clear();
        // A lease of a cycle the poller cancelled is given back rather than left to expire.
        if let Some(release) = self.release_lease() {
            actix_rt::spawn(release);
        }
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::cache::{CacheFuture, InMemoryCache};
    use crate::log::NoLog;

    /// Records what was written; the first write takes longer than the others.
    struct SlowFirstWrite {
        inner: InMemoryCache,
        writes: Mutex<u32>,
    }

    impl ConfigCache for SlowFirstWrite {
        fn get(&self, key: &str) -> CacheFuture<Option<String>> {
            self.inner.get(key)
        }

        fn set(&self, key: &str, value: String) -> CacheFuture<()> {
            let first = {
                let mut writes = self.writes.lock().unwrap();
                *writes += 1;
                *writes == 1
            };
            let write = self.inner.set(key, value);
            Box::pin(async move {
                if first {
                    actix_rt::time::sleep(Duration::from_millis(150)).await;
                }
                write.await
            })
        }
    }

    fn fetched(value: &str) -> FetchOutcome {
        let json = format!(r#"{{"f":{{"greeting":{{"t":1,"v":{{"s":"{value}"}}}}}}}}"#);
        FetchOutcome::Fetched {
            config: Arc::new(Config::parse(&json).unwrap()),
            json: Arc::from(json.as_str()),
            etag: Some(format!("\"{value}\"")),
        }
    }

    #[actix_rt::test]
    async fn a_slow_earlier_write_never_overwrites_a_later_one() {
        let memory = InMemoryCache::new();
        let published = Arc::new(Published::default());
        let cache = ConfigStore::new(StoreParts {
            published: published.clone(),
            mode: PollingMode::manual_poll(),
            hooks: Arc::default(),
            sink: Arc::new(NoLog),
            external: Some(Arc::new(SlowFirstWrite {
                inner: memory.clone(),
                writes: Mutex::new(0),
            })),
            sdk_key: "key".into(),
            cache_timeout: Duration::from_secs(5),
            sync_throttle: Arc::new(SyncThrottle::new(Duration::from_millis(100))),
            cache_lease: Duration::from_secs(2),
            overrides: None,
            subscribers: Vec::new(),
        })
        .start();
        let first = cache.send(Store(fetched("first")));
        let second = cache.send(Store(fetched("second")));
        let (first, second) = futures_util::join!(first, second);
        first.unwrap();
        second.unwrap();
        let stored = memory.get(&cache_key("key")).await.unwrap().unwrap();
        assert!(stored.ends_with(r#""second"}}}}"#), "{stored}");
        let served = published.load_full();
        assert_eq!(
            served.remote.as_deref().unwrap().etag.as_deref(),
            Some("\"second\"")
        );
    }
}
