//! Options of a client, with the defaults users of the official SDKs know (spec §6.1).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use actix::prelude::*;

use super::{ConfigCat, PollingMode, Registered, RegistryKey, registry};
use crate::cache::{Cache, CacheParts, ConfigCache};
use crate::error::{Error, validate_sdk_key};
use crate::eval::EvaluationDetails;
use crate::evaluator::{Evaluator, Shared, SharedParts};
use crate::fetch::{DataGovernance, FetchOptions, Fetcher, Proxy};
use crate::hooks::{ClientCacheState, HookedSink, Hooks};
use crate::log::{LogLevel, LogSink, SlogSink, event};
use crate::model::{Config, Value};
use crate::overrides::{FlagOverrides, OverrideBehaviour};
use crate::poller::{Poller, PollerParts};
use crate::snapshot::{Current, SharedEntry};
use crate::user::User;

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
    sdk_key: String,
    polling_mode: PollingMode,
    fetch: FetchOptions,
    logger: Option<slog::Logger>,
    log_level: LogLevel,
    sink: Option<Box<dyn LogSink>>,
    default_user: Option<User>,
    offline: bool,
    hooks: Hooks,
    cache: Option<Arc<dyn ConfigCache>>,
    overrides: Option<FlagOverrides>,
}

impl ConfigCatBuilder {
    pub(crate) fn new(sdk_key: String) -> ConfigCatBuilder {
        ConfigCatBuilder {
            sdk_key,
            polling_mode: PollingMode::default(),
            fetch: FetchOptions::default(),
            logger: None,
            log_level: LogLevel::Warn,
            sink: None,
            default_user: None,
            offline: false,
            hooks: Hooks::default(),
            cache: None,
            overrides: None,
        }
    }

    /// Keeps downloads in an external cache shared with other processes and the official
    /// SDKs (a [`FileCache`](crate::cache::FileCache), a Redis cache, your own). Without one,
    /// the config lives in this process's memory only.
    #[must_use]
    pub fn cache(mut self, cache: impl ConfigCache) -> Self {
        self.cache = Some(Arc::new(cache));
        self
    }

    /// Serves local flag values, alone or merged with the downloaded ones.
    #[must_use]
    pub fn flag_overrides(mut self, overrides: FlagOverrides) -> Self {
        self.overrides = Some(overrides);
        self
    }

    fn local_only(&self) -> bool {
        self.overrides
            .as_ref()
            .is_some_and(|o| o.behaviour() == OverrideBehaviour::LocalOnly)
    }

    /// When to fetch (default: auto poll every 60 s, waiting at most 5 s for the first config).
    #[must_use]
    pub fn polling_mode(mut self, mode: PollingMode) -> Self {
        self.polling_mode = mode;
        self
    }

    /// Which CDN region to ask (default Global).
    #[must_use]
    pub fn data_governance(mut self, data_governance: DataGovernance) -> Self {
        self.fetch.data_governance = data_governance;
        self
    }

    /// Fetches from this base URL instead of the ConfigCat CDN (e.g. a ConfigCat Proxy).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.fetch.base_url = Some(url.into());
        self
    }

    /// Sends requests through an HTTP proxy.
    #[must_use]
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.fetch.proxy = Some(proxy);
        self
    }

    /// Longest time to establish a connection (default 10 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.fetch.connect_timeout = timeout;
        self
    }

    /// Longest time for a whole response (default 30 s).
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.fetch.read_timeout = timeout;
        self
    }

    /// The largest config body accepted (default 16 MiB): a larger response is refused, without
    /// being buffered whole, and the last good config stays in use.
    #[must_use]
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.fetch.max_body_bytes = bytes;
        self
    }

    /// Trusts this DER-encoded certificate for TLS, besides the usual roots.
    #[must_use]
    pub fn root_certificate(mut self, der: Vec<u8>) -> Self {
        self.fetch.extra_root_certificates.push(der);
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
        self.log_level = level;
        self
    }

    /// Sends log events to this sink instead of slog (e.g. a [`MemoryLog`](crate::MemoryLog)).
    #[must_use]
    pub fn log_sink(mut self, sink: impl LogSink + 'static) -> Self {
        self.sink = Some(Box::new(sink));
        self
    }

    /// The user evaluations use when none is given.
    #[must_use]
    pub fn default_user(mut self, user: User) -> Self {
        self.default_user = Some(user);
        self
    }

    /// Starts offline: no HTTP request until [`SetOnline`](crate::SetOnline).
    #[must_use]
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Called once when the client is ready: the first fetch finished or the wait for it ended.
    #[must_use]
    pub fn on_ready(mut self, hook: impl Fn(ClientCacheState) + Send + Sync + 'static) -> Self {
        self.hooks.on_ready.push(Box::new(hook));
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
        self.hooks.on_error.push(Box::new(hook));
        self
    }

    /// What makes two clients the same for the one-client-per-key rule (hooks and loggers
    /// cannot be compared and are left out).
    fn fingerprint(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{}",
            self.polling_mode,
            self.fetch.data_governance,
            self.fetch.base_url,
            self.fetch.proxy,
            self.fetch.connect_timeout,
            self.fetch.read_timeout,
            self.offline,
            self.default_user,
            self.log_level,
            self.overrides,
            self.cache.is_some(),
        )
    }

    /// Starts the client's actors in the current actix System and returns its address.
    ///
    /// # Errors
    /// [`Error::NoRunningSystem`] outside a running actix System, [`Error::InvalidSdkKey`] for
    /// a malformed key, [`Error::InvalidOption`] for an unusable proxy or certificate.
    pub fn start(self) -> Result<Addr<ConfigCat>, Error> {
        if actix_rt::System::try_current().is_none() || actix_rt::Arbiter::try_current().is_none() {
            return Err(Error::NoRunningSystem);
        }
        // Local-only overrides never talk to ConfigCat: any key will do.
        if !self.local_only() {
            validate_sdk_key(&self.sdk_key, self.fetch.base_url.is_some())?;
        }
        let key = RegistryKey {
            system: actix_rt::System::current().id(),
            sdk_key: self.sdk_key.clone(),
        };
        let fingerprint = self.fingerprint();
        let mut clients = registry().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = clients.get(&key).filter(|c| c.addr.connected()) {
            if existing.fingerprint != fingerprint {
                let default_sink;
                let sink: &dyn LogSink = match &self.sink {
                    Some(sink) => &**sink,
                    None => {
                        default_sink = self.default_sink();
                        &*default_sink
                    }
                };
                sink.log(
                    LogLevel::Warn,
                    event::CLIENT_ALREADY_CREATED,
                    format_args!(
                        "There is an existing client instance for the specified SDK Key. No new client instance will be created and the specified options are ignored. Returning the existing client instance. SDK Key: '{}'.",
                        self.sdk_key
                    ),
                );
            }
            return Ok(existing.addr.clone());
        }
        let addr = self.launch(key.clone())?;
        clients.insert(
            key,
            Registered {
                addr: addr.clone(),
                fingerprint,
            },
        );
        Ok(addr)
    }

    fn default_sink(&self) -> Box<dyn LogSink> {
        Box::new(SlogSink::new(
            self.logger
                .clone()
                .unwrap_or_else(|| SlogSink::stdout(self.log_level).logger().clone()),
            self.log_level,
        ))
    }

    fn launch(mut self, registry_key: RegistryKey) -> Result<Addr<ConfigCat>, Error> {
        let inner = match self.sink.take() {
            Some(sink) => sink,
            None => self.default_sink(),
        };
        let hooks = Arc::new(std::mem::take(&mut self.hooks));
        let sink: Arc<dyn LogSink> = Arc::new(HookedSink::new(inner, hooks.clone()));
        let local_only = self.local_only();
        let mut fetch = self.fetch;
        fetch.sdk_key = self.sdk_key.clone();
        fetch.mode_letter = self.polling_mode.letter();
        if !local_only {
            // Building the HTTP client once here surfaces a bad proxy or certificate as an
            // error from `start()` instead of a log line later.
            Fetcher::new(fetch.clone(), sink.clone())
                .map_err(|e| Error::InvalidOption(e.to_string()))?;
        }

        // Local overrides are loaded before any actor runs, so that the very first evaluation
        // sees them.
        let overrides = self.overrides.take().map(|overrides| {
            let local = match overrides.load() {
                Ok(config) => Some(Arc::new(config)),
                Err(error) => {
                    sink.log(LogLevel::Error, error.event_id(), format_args!("{error}"));
                    None
                }
            };
            (overrides, local)
        });
        let initial = Current {
            remote: None,
            config: overrides
                .as_ref()
                .and_then(|(o, local)| Cache::effective(Some(o), local.as_ref(), None)),
        };
        let entry: SharedEntry = Arc::new(arc_swap::ArcSwap::from_pointee(initial));
        let offline = Arc::new(AtomicBool::new(self.offline));
        let mode = self.polling_mode;

        // The evaluator and the cache address each other: create the evaluator's context first
        // to have its address, and run it once the others exist.
        let evaluator_context = Context::<Evaluator>::new();
        let has_external_cache = self.cache.is_some();
        let cache = Cache::new(CacheParts {
            entry: entry.clone(),
            evaluator: evaluator_context.address(),
            hooks: hooks.clone(),
            sink: sink.clone(),
            external: self.cache.take(),
            sdk_key: self.sdk_key.clone(),
            overrides,
        })
        .start();
        let poller_parts = PollerParts {
            options: fetch,
            mode,
            entry: entry.clone(),
            offline: offline.clone(),
            local_only,
            cache: cache.clone(),
            sink: sink.clone(),
        };
        let poller = Supervisor::start(move |_| Poller::new(poller_parts));
        let shared = Arc::new(Shared::new(SharedParts {
            entry,
            offline: offline.clone(),
            local_only,
            has_external_cache,
            default_user: self.default_user,
            sink: sink.clone(),
            hooks,
            mode,
            poller: poller.clone(),
        }));
        let evaluator = evaluator_context.run(Evaluator::new(shared.clone(), cache.clone()));
        Ok(ConfigCat {
            registry_key,
            local_only,
            poller,
            cache,
            evaluator,
            shared,
            offline,
            sink,
            evaluations_this_turn: 0,
        }
        .start())
    }
}
