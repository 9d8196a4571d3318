//! The builder: fills the client's [`Options`], then starts and wires its three actors.
//!
//! Only here do the actors meet: the builder starts the config store, the poller (which restarts
//! itself after a panic) and the evaluator, and hands each the others as `Recipient`s.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use actix::prelude::*;

use crate::cache::ConfigCache;
use crate::error::{Error, validate_sdk_key};
use crate::eval::EvaluationDetails;
use crate::evaluator::{ConfigCat, Peers};
use crate::fetch::{DataGovernance, Fetcher, Proxy};
use crate::handle::{AccessSync, Shared};
use crate::hooks::{HookedSink, Hooks, LogFilter, StreamState};
use crate::log::{LogLevel, LogSink, SlogSink, event};
use crate::messages::ConfigChanged;
use crate::model::{Config, Value};
use crate::options::Options;
use crate::overrides::FlagOverrides;
use crate::policy::PollingMode;
use crate::poller::{Fetch, LeaseParts, Poller, PollerParts};
use crate::state::ClientCacheState;
use crate::state::{Published, SyncThrottle};
use crate::store::{ConfigStore, StoreParts};
use crate::stream::{ChangeStream, ProxyStream, StreamParts};
use crate::user::User;

impl ConfigCat {
    /// Starts configuring a client for an SDK key.
    ///
    /// Written here rather than beside the actor so that the actor's module never names the
    /// builder: the builder knows the actor, not the other way round.
    pub fn builder(sdk_key: impl Into<String>) -> ConfigCatBuilder {
        ConfigCatBuilder::new(sdk_key.into())
    }
}

/// Configures and starts a [`ConfigCat`] client.
///
/// ```no_run
/// use std::time::Duration;
/// use configcat_actix::{ConfigCat, DataGovernance, LogLevel, PollingMode, User};
///
/// #[actix::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let client = ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYYYYY")
///         .polling_mode(PollingMode::auto_poll(Duration::from_secs(60)))
///         .data_governance(DataGovernance::EuOnly)
///         .log_level(LogLevel::Info)
///         .default_user(User::new("anonymous"))
///         .on_config_changed(|config| println!("{} settings", config.settings().len()))
///         .start()?;
///     # let _ = client;
///     Ok(())
/// }
/// ```
pub struct ConfigCatBuilder {
    options: Options,
    logger: Option<slog::Logger>,
    sink: Option<Box<dyn LogSink>>,
    log_filter: Option<LogFilter>,
    hooks: Hooks,
    cache: Option<Arc<dyn ConfigCache>>,
    subscribers: Vec<Recipient<ConfigChanged>>,
    /// The OpenTelemetry recorders, connected to the client's state when it starts.
    #[cfg(feature = "opentelemetry")]
    telemetry: Vec<Arc<crate::telemetry::Recorder>>,
}

impl ConfigCatBuilder {
    pub(crate) fn new(sdk_key: String) -> ConfigCatBuilder {
        ConfigCatBuilder {
            options: Options::new(sdk_key),
            logger: None,
            sink: None,
            log_filter: None,
            hooks: Hooks::default(),
            cache: None,
            subscribers: Vec::new(),
            #[cfg(feature = "opentelemetry")]
            telemetry: Vec::new(),
        }
    }

    /// Registers an actor to receive [`ConfigChanged`] from the first config on, as
    /// [`Subscribe`](crate::Subscribe) does once the client runs.
    #[must_use]
    pub fn subscribe(mut self, subscriber: Recipient<ConfigChanged>) -> Self {
        if !self.subscribers.contains(&subscriber) {
            self.subscribers.push(subscriber);
        }
        self
    }

    /// Keeps downloads in an external cache shared with other processes and the official
    /// SDKs (a [`FileCache`](crate::cache::FileCache), a Redis cache, your own). Without one,
    /// the config lives in this process's memory only. A cache chosen at run time can be given
    /// boxed or shared:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use configcat_actix::ConfigCat;
    /// use configcat_actix::cache::{ConfigCache, FileCache, InMemoryCache};
    ///
    /// fn chosen(shared_dir: Option<&str>) -> Box<dyn ConfigCache> {
    ///     match shared_dir {
    ///         Some(dir) => Box::new(FileCache::new(dir)),
    ///         None => Box::new(InMemoryCache::new()),
    ///     }
    /// }
    /// let builder = ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYYYYY")
    ///     .cache(chosen(None));
    /// let shared: Arc<dyn ConfigCache> = Arc::new(InMemoryCache::new());
    /// let other = ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/ZZZZZZZZZZZZZZZZZZZZZZ")
    ///     .cache(shared.clone());
    /// # let _ = (builder, other);
    /// ```
    #[must_use]
    pub fn cache(mut self, cache: impl ConfigCache) -> Self {
        self.cache = Some(Arc::new(cache));
        self.options.has_external_cache = true;
        self
    }

    /// The longest a read or a write of the external cache may take (default 2 s): a cache that
    /// is down costs a download at most this much, and is then logged (2200/2201) and skipped.
    #[must_use]
    pub fn cache_timeout(mut self, timeout: Duration) -> Self {
        self.options.cache_timeout = timeout;
        self
    }

    /// The shortest time between two re-reads of the external cache that evaluations cause
    /// (default 100 ms): a client follows another process's download within this much plus one
    /// read. Raised to at least 1 ms.
    #[must_use]
    pub fn cache_sync_interval(mut self, interval: Duration) -> Self {
        self.options.cache_sync_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long the download lease in a shared cache lasts (default 2 s; zero: no leases).
    ///
    /// Before downloading, a client takes a lease in the external cache (where the cache
    /// supports it: `RedisCache` (feature `redis`), [`FileCache`](crate::cache::FileCache),
    /// [`InMemoryCache`](crate::cache::InMemoryCache)); the clients that find it taken wait, at
    /// most this long, for the leaseholder's entry instead of downloading too, so a fleet makes
    /// one download per interval. A leaseholder that dies costs the others at most this much.
    /// `ForceRefresh` takes the lease when it is free but never waits for it. Evaluations never
    /// wait on a lease; see `docs/fleets.md`.
    #[must_use]
    pub fn cache_lease(mut self, ttl: Duration) -> Self {
        self.options.cache_lease = ttl;
        self
    }

    /// Serves local flag values, alone or merged with the downloaded ones.
    #[must_use]
    pub fn flag_overrides(mut self, overrides: FlagOverrides) -> Self {
        self.options.overrides = Some(overrides);
        self
    }

    /// When to fetch (default: auto poll every 60 s, waiting at most 5 s for the first config).
    #[must_use]
    pub fn polling_mode(mut self, mode: PollingMode) -> Self {
        self.options.polling_mode = mode;
        self
    }

    /// Which CDN region to ask (default Global).
    #[must_use]
    pub fn data_governance(mut self, data_governance: DataGovernance) -> Self {
        self.options.data_governance = data_governance;
        self
    }

    /// Fetches from this base URL instead of the ConfigCat CDN (e.g. a ConfigCat Proxy).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.options.base_url = Some(url.into());
        self
    }

    /// Sends requests through an HTTP proxy.
    #[must_use]
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.options.proxy = Some(proxy);
        self
    }

    /// Without an explicit [`proxy`](Self::proxy), takes the proxy from the environment as curl
    /// does: `https_proxy`/`HTTPS_PROXY` for https URLs, `http_proxy` (lower case only) for
    /// http ones, `all_proxy`/`ALL_PROXY` otherwise, and no proxy for the hosts that
    /// `no_proxy`/`NO_PROXY` lists (domains, with or without a leading dot, IP addresses,
    /// `host:port`, `*` for all). Read once at start; a variable that cannot be used is logged
    /// (ERROR 9003) and ignored. Off by default.
    ///
    /// ```no_run
    /// # fn start() -> Result<(), configcat_actix::Error> {
    /// let client = configcat_actix::ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYYYYY")
    ///     .proxy_from_env()
    ///     .start()?;
    /// # let _ = client; Ok(()) }
    /// ```
    #[must_use]
    pub fn proxy_from_env(mut self) -> Self {
        self.options.proxy_from_env = true;
        self
    }

    /// Longest time to establish a connection (default 10 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// Longest time for a whole response (default 30 s).
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.options.read_timeout = timeout;
        self
    }

    /// The largest config body accepted (default 16 MiB): a larger response is refused, without
    /// being buffered whole, and the last good config stays in use.
    #[must_use]
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.options.max_body_bytes = bytes;
        self
    }

    /// Trusts this DER-encoded certificate for TLS, besides the usual roots.
    #[must_use]
    pub fn root_certificate(mut self, der: Vec<u8>) -> Self {
        self.options.root_certificates.push(der);
        self
    }

    /// Sends this header with every config request, e.g. the credentials of a gateway in front
    /// of a ConfigCat Proxy. Several calls add several headers (the same name twice sends it
    /// twice). Checked by [`start`](Self::start): a name or value that is not valid HTTP, or a
    /// header the SDK sets itself (`X-ConfigCat-UserAgent`, `User-Agent`, `If-None-Match`,
    /// `Host`, and the framing headers `Content-Length`, `Transfer-Encoding`, `Connection`...),
    /// is [`Error::InvalidRequestHeader`]. Values are never logged nor put in an error: they may
    /// be tokens.
    ///
    /// ```
    /// use configcat_actix::{ConfigCat, Error};
    ///
    /// #[actix::main]
    /// async fn main() {
    ///     let error = ConfigCat::builder("configcat-proxy/my-sdk")
    ///         .base_url("http://configcat-proxy.internal:8050")
    ///         .request_header("Authorization", "Bearer my-gateway-token")
    ///         .request_header("User-Agent", "not-allowed")
    ///         .start()
    ///         .unwrap_err();
    ///     assert!(matches!(error, Error::InvalidRequestHeader { ref name, .. } if name == "User-Agent"));
    ///     assert!(!error.to_string().contains("my-gateway-token"));
    /// }
    /// ```
    #[must_use]
    pub fn request_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.request_headers.push(name.into(), value.into());
        self
    }

    /// Fetches as soon as a ConfigCat Proxy reports a change, through its change stream
    /// (server-sent events), besides the polling mode, which stays the backstop at its own
    /// interval. Each change costs one conditional GET, coalesced with any fetch in flight; see
    /// [`ProxyStream`]. Not used with local-only flag overrides nor while offline. A base URL
    /// that does not make a valid URL is [`Error::InvalidUrl`] from [`start`](Self::start).
    #[must_use]
    pub fn change_stream(mut self, stream: ProxyStream) -> Self {
        self.options.change_stream = Some(stream);
        self
    }

    /// Called with each state of the [change stream](Self::change_stream): connecting,
    /// connected, backing off (with the failures in a row and the delay), offline, closed. Runs
    /// on the client's thread: keep it short (store the state, count, alert).
    #[must_use]
    pub fn on_change_stream_state(
        mut self,
        hook: impl Fn(StreamState) + Send + Sync + 'static,
    ) -> Self {
        self.hooks.on_change_stream_state.push(Box::new(hook));
        self
    }

    /// Logs to this slog logger (default: standard output through slog-term).
    #[must_use]
    pub fn logger(mut self, logger: slog::Logger) -> Self {
        self.logger = Some(logger);
        self
    }

    /// The most detailed level logged (default Warn; Info adds the evaluation log).
    #[must_use]
    pub fn log_level(mut self, level: LogLevel) -> Self {
        self.options.log_level = level;
        self
    }

    /// Sends log events to this sink instead of slog (e.g. a [`MemoryLog`](crate::MemoryLog)).
    #[must_use]
    pub fn log_sink(mut self, sink: impl LogSink + 'static) -> Self {
        self.sink = Some(Box::new(sink));
        self
    }

    /// Logs only the events `filter` accepts: it gets each event's level, event id and
    /// message (formatted, at most [`MAX_MESSAGE_BYTES`](crate::log::MAX_MESSAGE_BYTES), the
    /// SDK key masked) after the level check and before the sink, as the JavaScript and .NET
    /// SDKs' log filter. The `on_error` hooks still see every ERROR event. A filter that panics
    /// lets the event through.
    ///
    /// ```no_run
    /// use configcat_actix::{ConfigCat, LogLevel};
    /// # fn start() -> Result<(), configcat_actix::Error> {
    /// // Drop the warnings about missing user attributes (3003), keep everything else.
    /// let client = ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYYYYY")
    ///     .log_level(LogLevel::Info)
    ///     .log_filter(|_level, event_id, _message| event_id != 3003)
    ///     .start()?;
    /// # let _ = client; Ok(()) }
    /// ```
    #[must_use]
    pub fn log_filter(
        mut self,
        filter: impl Fn(LogLevel, u32, &str) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.log_filter = Some(Arc::new(filter));
        self
    }

    /// The user evaluations use when none is given.
    #[must_use]
    pub fn default_user(mut self, user: User) -> Self {
        self.options.default_user = Some(user);
        self
    }

    /// Starts offline: no HTTP request until [`SetOnline`](crate::SetOnline).
    #[must_use]
    pub fn offline(mut self, offline: bool) -> Self {
        self.options.offline = offline;
        self
    }

    /// Called once when the client is ready: the first fetch finished or the wait for it ended.
    #[must_use]
    pub fn on_ready(mut self, hook: impl Fn(ClientCacheState) + Send + Sync + 'static) -> Self {
        self.hooks.on_ready.push(Box::new(hook));
        self
    }

    /// Called after every fetch attempt, once its outcome is stored, with what it brought
    /// (a changed or unchanged config, a 304, an error) and what started it (the polling mode,
    /// a `ForceRefresh`, a webhook, a change stream). As the official SDKs' `configFetched`.
    /// Runs on the poller's thread: keep it short.
    ///
    /// ```
    /// use configcat_actix::{ConfigCat, FetchResult};
    ///
    /// let builder = ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYYYYY")
    ///     .on_config_fetched(|fetched| {
    ///         if let FetchResult::Failed(error) = &fetched.result {
    ///             eprintln!("fetch failed (asked by the user: {}): {error}", fetched.is_initiated_by_user());
    ///         }
    ///     });
    /// # let _ = builder;
    /// ```
    #[must_use]
    pub fn on_config_fetched(
        mut self,
        hook: impl Fn(&crate::hooks::ConfigFetched) + Send + Sync + 'static,
    ) -> Self {
        self.hooks.on_config_fetched.push(Box::new(hook));
        self
    }

    /// Called with each new config (not on a 304).
    #[must_use]
    pub fn on_config_changed(mut self, hook: impl Fn(&Config) + Send + Sync + 'static) -> Self {
        self.hooks.on_config_changed.push(Box::new(hook));
        self
    }

    /// Called after every evaluation.
    #[must_use]
    pub fn on_flag_evaluated(
        mut self,
        hook: impl Fn(&EvaluationDetails<Value>) + Send + Sync + 'static,
    ) -> Self {
        self.hooks.on_flag_evaluated.push(Box::new(hook));
        self
    }

    /// Called with the message of every ERROR-level log event.
    #[must_use]
    pub fn on_error(mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.hooks
            .on_error
            .push(Box::new(move |_, message| hook(message)));
        self
    }

    /// Records evaluations, fetches and cache failures through OpenTelemetry (cargo feature
    /// `opentelemetry`): evaluation events and metrics, as the
    /// [`telemetry`](crate::telemetry) module describes. It registers `on_flag_evaluated`,
    /// `on_config_fetched` and ERROR-event hooks beside any others.
    ///
    /// ```
    /// use configcat_actix::ConfigCat;
    /// use configcat_actix::telemetry::Telemetry;
    ///
    /// let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    /// let builder = ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYYYYY")
    ///     .opentelemetry(Telemetry::new(&meters));
    /// # let _ = builder;
    /// ```
    #[cfg(feature = "opentelemetry")]
    #[must_use]
    pub fn opentelemetry(mut self, telemetry: crate::telemetry::Telemetry) -> Self {
        let recorder = telemetry.into_recorder();
        let (evaluated, fetched, errors) = (recorder.clone(), recorder.clone(), recorder.clone());
        self.hooks
            .on_flag_evaluated
            .push(Box::new(move |details| evaluated.evaluated(details)));
        self.hooks
            .on_config_fetched
            .push(Box::new(move |result| fetched.fetched(result)));
        self.hooks
            .on_error
            .push(Box::new(move |event_id, _| errors.error_logged(event_id)));
        self.telemetry.push(recorder);
        self
    }

    /// Starts the client's actors in the current actix System and returns its address.
    ///
    /// # Errors
    /// [`Error::NoRunningSystem`] outside a running actix System, [`Error::InvalidSdkKey`] for
    /// a malformed key, [`Error::InvalidProxy`], [`Error::InvalidUrl`], [`Error::InvalidCertificate`] or
    /// [`Error::Tls`] for an unusable proxy, URL or certificate,
    /// [`Error::InvalidRequestHeader`] for a custom header that cannot be sent.
    pub fn start(self) -> Result<Addr<ConfigCat>, Error> {
        if actix_rt::System::try_current().is_none() || actix_rt::Arbiter::try_current().is_none() {
            return Err(Error::NoRunningSystem);
        }
        if let Err((name, why)) = self.options.request_headers.parse() {
            return Err(Error::InvalidRequestHeader {
                name,
                reason: why.to_string(),
            });
        }
        if let Some(stream) = &self.options.change_stream {
            stream.validate().map_err(Error::InvalidUrl)?;
        }
        // Local-only overrides never talk to ConfigCat: any key will do.
        if !self.options.local_only() {
            validate_sdk_key(&self.options.sdk_key, self.options.base_url.is_some())?;
        }
        let key = RegistryKey {
            system: actix_rt::System::current().id(),
            sdk_key: self.options.sdk_key.clone(),
        };
        let mut clients = registry().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = clients.get(&key).filter(|c| c.addr.connected()) {
            if existing.options != self.options {
                self.warn_already_created();
            }
            return Ok(existing.addr.clone());
        }
        let options = self.options.clone();
        let addr = self.launch(key.clone())?;
        clients.insert(
            key,
            Registered {
                addr: addr.clone(),
                options,
            },
        );
        Ok(addr)
    }

    fn warn_already_created(mut self) {
        // Through the same wrapper as the client's own events: masked, bounded, filtered.
        let sink = self.client_sink(Arc::default());
        sink.log(
            LogLevel::Warn,
            event::CLIENT_ALREADY_CREATED,
            format_args!(
                "There is an existing client instance for the specified SDK Key. No new client instance will be created and the specified options are ignored. Returning the existing client instance. SDK Key: '{}'.",
                crate::log::mask_sdk_key(&self.options.sdk_key)
            ),
        );
    }

    /// The sink every event of the client goes through: the user's (or the default) wrapped
    /// in the hooks, the SDK key mask and the log filter.
    fn client_sink(&mut self, hooks: Arc<Hooks>) -> HookedSink {
        let inner = match self.sink.take() {
            Some(sink) => sink,
            None => self.default_sink(),
        };
        HookedSink::new(inner, hooks)
            .masking(&self.options.sdk_key)
            .filtered(self.log_filter.take())
    }

    fn default_sink(&self) -> Box<dyn LogSink> {
        let level = self.options.log_level;
        Box::new(SlogSink::new(
            self.logger
                .clone()
                .unwrap_or_else(|| SlogSink::stdout(level).logger().clone()),
            level,
        ))
    }

    fn launch(mut self, registry_key: RegistryKey) -> Result<Addr<ConfigCat>, Error> {
        let hooks = Arc::new(std::mem::take(&mut self.hooks));
        let sink: Arc<dyn LogSink> = Arc::new(self.client_sink(hooks.clone()));
        let options = self.options;
        let local_only = options.local_only();
        let fetch_options = options.fetch_options();
        // Building the HTTP client once here surfaces a bad proxy or certificate as an error
        // from `start()` instead of a log line later. The poller uses this one first: building
        // another would read (and log, 9003) the proxy variables a second time.
        let first_fetcher = if local_only {
            None
        } else {
            let fetcher = Fetcher::new(fetch_options.clone(), sink.clone())?;
            Some(fetcher)
        };
        let first_fetcher = std::cell::Cell::new(first_fetcher);

        // Local overrides are loaded before any actor runs, so that the very first evaluation
        // sees them.
        let overrides = options.overrides.clone().map(|overrides| {
            let local = match overrides.load() {
                Ok(config) => Some(Arc::new(config)),
                Err(error) => {
                    sink.log(LogLevel::Error, error.event_id(), format_args!("{error}"));
                    None
                }
            };
            (overrides, local)
        });
        let initial = ConfigStore::initial(
            overrides.as_ref().map(|(o, local)| (o, local.as_ref())),
            options.default_user.clone(),
        );
        let published = Arc::new(Published::new(initial, local_only, options.offline));
        #[cfg(feature = "opentelemetry")]
        for recorder in &self.telemetry {
            recorder.attach(&published);
        }
        let mode = options.polling_mode;

        let has_external = self.cache.is_some();
        let sync_throttle = Arc::new(SyncThrottle::new(options.cache_sync_interval));
        let cache = ConfigStore::new(StoreParts {
            published: published.clone(),
            mode,
            hooks: hooks.clone(),
            sink: sink.clone(),
            external: self.cache.take(),
            sdk_key: options.sdk_key.clone(),
            cache_timeout: options.cache_timeout,
            sync_throttle: sync_throttle.clone(),
            cache_lease: options.cache_lease,
            overrides,
            subscribers: std::mem::take(&mut self.subscribers),
        })
        .start();
        let fetcher_sink = sink.clone();
        let poller_parts = PollerParts {
            mode,
            make_fetcher: Box::new(move || {
                let fetcher = match first_fetcher.take() {
                    Some(built) => built,
                    None => Fetcher::new(fetch_options.clone(), fetcher_sink.clone())?,
                };
                Ok(Rc::new(fetcher) as Rc<dyn Fetch>)
            }),
            published: published.clone(),
            store: cache.clone().recipient(),
            sync: has_external.then(|| cache.clone().recipient()),
            lease: (has_external && !options.cache_lease.is_zero()).then(|| LeaseParts {
                take: cache.clone().recipient(),
                release: cache.clone().recipient(),
                wait: options.cache_lease,
                step: options.cache_sync_interval,
            }),
            sink: sink.clone(),
            hooks: hooks.clone(),
        };
        let stream_fetch_options = options.fetch_options();
        let poller = Poller::new(poller_parts).start();
        let change_stream = options
            .change_stream
            .clone()
            .filter(|_| !local_only)
            .map(|stream| {
                ChangeStream::new(StreamParts {
                    stream,
                    fetch_options: stream_fetch_options,
                    refresh: poller.clone().recipient(),
                    published: published.clone(),
                    sink: sink.clone(),
                    hooks: hooks.clone(),
                })
                .start()
            });
        let access_sync = has_external.then(|| AccessSync {
            recipient: cache.clone().recipient(),
            throttle: sync_throttle,
        });
        let shared = Arc::new(Shared {
            published,
            mode,
            read_timeout: options.read_timeout,
            sink,
            report_evaluations: hooks.wants_flag_evaluated(),
            hooks,
            refresh: poller.clone().recipient(),
            access_sync,
        });
        let peers = Peers {
            refresh: poller.clone().recipient(),
            offline_changed: poller.clone().recipient(),
            subscribe: cache.clone().recipient(),
            unsubscribe: cache.clone().recipient(),
            poller_shutdown: poller.clone().recipient(),
            cache_shutdown: cache.recipient(),
            #[cfg(test)]
            sabotage: poller.recipient(),
        };
        let on_stop = Box::new(move || {
            if let Some(change_stream) = change_stream {
                change_stream.do_send(crate::protocol::Shutdown);
            }
            registry()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&registry_key);
        });
        Ok(ConfigCat::new(shared, peers, on_stop).start())
    }
}

/// Clients are unique per SDK key within an actix System (a client's actors live and die with
/// their System, so a client of another System is no use).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RegistryKey {
    system: usize,
    sdk_key: String,
}

struct Registered {
    addr: Addr<ConfigCat>,
    /// The options it was started with, to tell whether a second start asks for the same.
    options: Options,
}

fn registry() -> &'static Mutex<HashMap<RegistryKey, Registered>> {
    static CLIENTS: OnceLock<Mutex<HashMap<RegistryKey, Registered>>> = OnceLock::new();
    CLIENTS.get_or_init(Mutex::default)
}
