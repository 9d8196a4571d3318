//! Logging: levels, the standard ConfigCat event ids, and where log events go.
//!
//! Evaluation reports through the [`LogSink`] trait so that the pure evaluator needs no logger
//! of its own; [`SlogSink`] sends events to a [`slog::Logger`] (the default, printing through
//! slog-term), `LogCrateSink` to the [`log`](https://docs.rs/log) facade (cargo feature `log`),
//! `TracingSink` to [`tracing`](https://docs.rs/tracing) (cargo feature `tracing`), and
//! [`MemoryLog`] keeps them for tests. Messages are passed as [`std::fmt::Arguments`] and built
//! only by a sink whose level lets them through.
//!
//! Every sink gives the event id once, as a structured `event_id` field (slog key, `log`
//! key-value, `tracing` field), not inside the message; the `log` and `tracing` sinks use the
//! target `configcat`.
//!
//! A client hands its sink only what passed one wrapper: the level asked of the sink at that
//! event, the message capped at [`MAX_MESSAGE_BYTES`], the SDK key masked
//! ([`mask_sdk_key`]), and the builder's
//! [`log_filter`](crate::ConfigCatBuilder::log_filter) applied.

use std::fmt;
use std::sync::Mutex;

/// The ConfigCat log levels, from the quietest to the most talkative.
///
/// ```
/// use configcat_actix::LogLevel;
/// assert!(LogLevel::Info > LogLevel::Warn);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Failures: the default value was returned, a fetch failed.
    Error,
    /// Suspicious input: a missing user attribute, a client created twice.
    Warn,
    /// What happened and why, including the evaluation log (event 5000).
    Info,
    /// Each download, 304, failed download, external cache read and write, and readiness
    /// (events 9100–9105).
    Debug,
}

impl LogLevel {
    /// The level as the expected logs of the official test suites write it.
    pub fn label(self) -> &'static str {
        match self {
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARNING",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
        }
    }
}

/// Standard ConfigCat log event ids (spec §6.7), shared by every official SDK.
pub mod event {
    /// No config JSON is available.
    pub const CONFIG_JSON_NOT_AVAILABLE: u32 = 1000;
    /// The requested setting key is not in the config.
    pub const SETTING_KEY_MISSING: u32 = 1001;
    /// Evaluation failed; the default value was returned.
    pub const EVALUATION_FAILED: u32 = 1002;
    /// The setting's type does not match the type of the default value.
    pub const SETTING_TYPE_MISMATCH: u32 = 2002;
    /// No setting has the requested variation id.
    pub const VARIATION_ID_NOT_FOUND: u32 = 2011;
    /// A condition or percentage option needs a user, and none was given.
    pub const USER_OBJECT_MISSING: u32 = 3001;
    /// A condition or percentage option needs a user attribute that is not set.
    pub const USER_ATTRIBUTE_MISSING: u32 = 3003;
    /// A user attribute cannot be read by its comparator.
    pub const USER_ATTRIBUTE_INVALID: u32 = 3004;
    /// A non-text user attribute was converted to text for a text comparator.
    pub const USER_ATTRIBUTE_CONVERTED: u32 = 3005;
    /// The evaluation log.
    pub const EVALUATION_LOG: u32 = 5000;
    /// The CDN answered 403 or 404: the SDK key is wrong.
    pub const FETCH_INVALID_SDK_KEY: u32 = 1100;
    /// The CDN answered a status other than 200, 304, 403 and 404.
    pub const FETCH_UNEXPECTED_STATUS: u32 = 1101;
    /// The request for the config timed out.
    pub const FETCH_TIMED_OUT: u32 = 1102;
    /// Unexpected error while fetching the config.
    pub const FETCH_FAILED: u32 = 1103;
    /// The CDN redirected three times in one refresh.
    pub const FETCH_REDIRECT_LOOP: u32 = 1104;
    /// A 200 response whose body is not a valid config (or is over the size limit).
    pub const FETCH_INVALID_BODY: u32 = 1105;
    /// The CDN answered 304 while nothing is cached.
    pub const FETCH_NOT_MODIFIED_WITHOUT_CONFIG: u32 = 1106;
    /// The flag override file does not exist.
    pub const OVERRIDE_FILE_NOT_FOUND: u32 = 1300;
    /// The flag override file could not be read or is not a valid override file.
    pub const OVERRIDE_FILE_INVALID: u32 = 1302;
    /// The data governance option does not match the dashboard's: the CDN redirected (mode 1).
    pub const DATA_GOVERNANCE_OUT_OF_SYNC: u32 = 3002;
    /// The external cache could not be read.
    pub const CACHE_READ_FAILED: u32 = 2200;
    /// The external cache could not be written.
    pub const CACHE_WRITE_FAILED: u32 = 2201;
    /// The method has no effect under the `LocalOnly` flag override behaviour.
    pub const LOCAL_ONLY_NO_EFFECT: u32 = 3202;
    /// A force refresh failed.
    pub const FORCE_REFRESH_FAILED: u32 = 1003;
    /// A client for this SDK key exists already; the new options are ignored.
    pub const CLIENT_ALREADY_CREATED: u32 = 3000;
    /// WARNING: the client is closed; the call has no effect.
    pub const CLIENT_DISPOSED: u32 = 3201;
    /// WARNING: the client did not become ready within `wait_for_ready`'s timeout.
    pub const CLIENT_INIT_TIMED_OUT: u32 = 4200;
    /// Offline: no HTTP request is made.
    pub const OFFLINE_NO_HTTP: u32 = 3200;
    /// Switched between online and offline mode.
    pub const MODE_SWITCHED: u32 = 5200;
    /// A `ConfigChanged` subscriber could not take a message; this id is specific to this crate.
    pub const SUBSCRIBER_BUSY: u32 = 9001;
    /// A user hook panicked; this id is specific to this crate, not a ConfigCat standard one.
    pub const HOOK_PANICKED: u32 = 9000;
    /// The poller panicked; it restarts after a wait (this crate's own id).
    pub const POLLER_PANICKED: u32 = 9002;
    /// A proxy environment variable (`HTTPS_PROXY`, `NO_PROXY`...) could not be read and is
    /// ignored (this crate's own id).
    pub const PROXY_ENV_INVALID: u32 = 9003;

    // DEBUG events (this crate's own ids: the standard set has none for these).

    /// DEBUG: a config was downloaded (200).
    pub const CONFIG_DOWNLOADED: u32 = 9100;
    /// DEBUG: the CDN answered 304: the config is unchanged.
    pub const CONFIG_NOT_MODIFIED: u32 = 9101;
    /// DEBUG: a download failed (after its ERROR 1100–1105); the last good config stays.
    pub const DOWNLOAD_FAILED: u32 = 9102;
    /// DEBUG: the external cache was read.
    pub const CACHE_READ: u32 = 9103;
    /// DEBUG: the external cache was written.
    pub const CACHE_WRITTEN: u32 = 9104;
    /// DEBUG: the client is ready (with its `ClientCacheState`).
    pub const CLIENT_READY: u32 = 9105;

    /// WARNING: a config redirect from `https` to plain `http` was refused; the current URL
    /// stays (this crate's own id).
    pub const REDIRECT_DOWNGRADE_REFUSED: u32 = 9110;

    /// WARNING: a webhook request was refused (missing or malformed headers, a timestamp
    /// outside the replay window, a body over the limit, no valid signature); nothing was
    /// refreshed (this crate's own id).
    pub const WEBHOOK_REJECTED: u32 = 9120;
    /// The ConfigCat Proxy change stream could not connect or was lost: WARNING once per streak
    /// of failures, while the client backs off and reconnects (this crate's own id).
    pub const CHANGE_STREAM_FAILED: u32 = 9121;
    /// INFO: the ConfigCat Proxy change stream connected (again) (this crate's own id).
    pub const CHANGE_STREAM_CONNECTED: u32 = 9122;
}

/// The longest message a client hands its sink, in bytes: a longer one is cut (on a character
/// boundary) and ends with a note that it was cut.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The SDK key as the client writes it in logs and errors: every character but `/` and the last
/// six replaced by `*`, as the official SDKs mask it.
///
/// ```
/// use configcat_actix::log::mask_sdk_key;
/// assert_eq!(
///     mask_sdk_key("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYWXYZ"),
///     "***************/**********************/****************YYWXYZ"
/// );
/// ```
pub fn mask_sdk_key(sdk_key: &str) -> String {
    crate::redact::mask_sdk_key(sdk_key)
}

/// Where log events go.
pub trait LogSink: Send + Sync {
    /// Whether events of this level are wanted; nothing is formatted for a level that is not.
    /// It is asked before each event, so the answer may change at run time (a `RUST_LOG`
    /// filter reloaded, a level raised for an investigation); keep it cheap.
    fn enabled(&self, level: LogLevel) -> bool;

    /// Records one event.
    fn log(&self, level: LogLevel, event_id: u32, message: fmt::Arguments<'_>);
}

/// A shared sink, so that a caller can keep a handle on a sink it gives away (e.g. a
/// [`MemoryLog`] it reads in tests).
impl<T: LogSink + ?Sized> LogSink for std::sync::Arc<T> {
    fn enabled(&self, level: LogLevel) -> bool {
        (**self).enabled(level)
    }

    fn log(&self, level: LogLevel, event_id: u32, message: fmt::Arguments<'_>) {
        (**self).log(level, event_id, message);
    }
}

/// Sends events to a [`slog::Logger`] at or above a minimum level, the message as the record's
/// message and the event id in the `event_id` key (slog-term prints it once, after the message).
///
/// ```
/// use configcat_actix::{LogLevel, LogSink, SlogSink};
/// let sink = SlogSink::new(slog::Logger::root(slog::Discard, slog::o!()), LogLevel::Warn);
/// assert!(sink.enabled(LogLevel::Error));
/// assert!(!sink.enabled(LogLevel::Info));
/// ```
#[derive(Clone)]
pub struct SlogSink {
    logger: slog::Logger,
    level: LogLevel,
}

impl SlogSink {
    /// Logs to `logger` the events at `level` or more severe.
    pub fn new(logger: slog::Logger, level: LogLevel) -> SlogSink {
        SlogSink { logger, level }
    }

    /// A sink that prints to standard output through slog-term:
    /// `Dec 01 14:35:27.123 WARN <message>, event_id: 3001`.
    pub fn stdout(level: LogLevel) -> SlogSink {
        SlogSink::plain(std::io::stdout(), level)
    }

    /// The slog-term layout of [`SlogSink::stdout`], written to `writer`.
    fn plain<W: std::io::Write + Send + 'static>(writer: W, level: LogLevel) -> SlogSink {
        use slog::Drain;
        let decorator = slog_term::PlainSyncDecorator::new(writer);
        let drain = slog_term::FullFormat::new(decorator).build().fuse();
        SlogSink::new(slog::Logger::root(drain, slog::o!()), level)
    }

    /// The slog logger events go to.
    pub fn logger(&self) -> &slog::Logger {
        &self.logger
    }
}

impl fmt::Debug for SlogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlogSink")
            .field("level", &self.level)
            .finish()
    }
}

impl LogSink for SlogSink {
    fn enabled(&self, level: LogLevel) -> bool {
        level <= self.level
    }

    fn log(&self, level: LogLevel, event_id: u32, message: fmt::Arguments<'_>) {
        if !self.enabled(level) {
            return;
        }
        let logger = &self.logger;
        match level {
            LogLevel::Error => slog::error!(logger, "{}", message; "event_id" => event_id),
            LogLevel::Warn => slog::warn!(logger, "{}", message; "event_id" => event_id),
            LogLevel::Info => slog::info!(logger, "{}", message; "event_id" => event_id),
            LogLevel::Debug => slog::debug!(logger, "{}", message; "event_id" => event_id),
        }
    }
}

/// The target of the events of `LogCrateSink` (feature `log`) and `TracingSink` (feature
/// `tracing`), for filters such as `RUST_LOG=configcat=info`. (Not links: either feature may
/// be off.)
#[cfg(any(feature = "log", feature = "tracing"))]
pub const TARGET: &str = "configcat";

/// Sends events to the [`log`](https://docs.rs/log) facade (cargo feature `log`): target
/// [`configcat`](TARGET), the event id as the key-value `event_id` (log's `kv` feature; loggers
/// print it when they support key-values, env_logger with its own `kv` feature).
///
/// The level is asked of the installed logger at each event (`log::log_enabled!`), so a
/// filter changed at run time applies at once. `Error`, `Warn`, `Info` and `Debug` map to the
/// `log` levels of the same names.
///
/// ```no_run
/// use configcat_actix::{ConfigCat, LogCrateSink};
/// # fn start() -> Result<(), configcat_actix::Error> {
/// // With a logger installed (env_logger, fern...): RUST_LOG=configcat=info
/// let client = ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYYYYY")
///     .log_sink(LogCrateSink)
///     .start()?;
/// # let _ = client; Ok(()) }
/// ```
///
/// Without a logger, `log` enables nothing:
///
/// ```
/// use configcat_actix::{LogCrateSink, LogLevel, LogSink};
/// assert!(!LogCrateSink.enabled(LogLevel::Error));
/// ```
#[cfg(feature = "log")]
#[derive(Debug, Clone, Copy, Default)]
pub struct LogCrateSink;

#[cfg(feature = "log")]
impl LogCrateSink {
    fn level(level: LogLevel) -> ::log::Level {
        match level {
            LogLevel::Error => ::log::Level::Error,
            LogLevel::Warn => ::log::Level::Warn,
            LogLevel::Info => ::log::Level::Info,
            LogLevel::Debug => ::log::Level::Debug,
        }
    }
}

#[cfg(feature = "log")]
impl LogSink for LogCrateSink {
    fn enabled(&self, level: LogLevel) -> bool {
        ::log::log_enabled!(target: TARGET, LogCrateSink::level(level))
    }

    fn log(&self, level: LogLevel, event_id: u32, message: fmt::Arguments<'_>) {
        ::log::log!(target: TARGET, LogCrateSink::level(level), event_id = event_id; "{message}");
    }
}

/// Sends events to [`tracing`](https://docs.rs/tracing) (cargo feature `tracing`): target
/// [`configcat`](TARGET), the event id as the field `event_id`, the text as the message.
///
/// Whether a level is wanted is asked of the current subscriber at each event
/// ([`tracing::enabled!`]), so an `EnvFilter` behind a reload handle applies at once. `Error`,
/// `Warn`, `Info` and `Debug` map to `ERROR`, `WARN`, `INFO` and `DEBUG`.
///
/// ```no_run
/// use configcat_actix::{ConfigCat, TracingSink};
/// # fn start() -> Result<(), configcat_actix::Error> {
/// // With a subscriber installed (tracing-subscriber's fmt with an EnvFilter...)
/// let client = ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYYYYY")
///     .log_sink(TracingSink)
///     .start()?;
/// # let _ = client; Ok(()) }
/// ```
///
/// Without a subscriber, `tracing` enables nothing:
///
/// ```
/// use configcat_actix::{LogLevel, LogSink, TracingSink};
/// assert!(!TracingSink.enabled(LogLevel::Error));
/// ```
#[cfg(feature = "tracing")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingSink;

#[cfg(feature = "tracing")]
impl LogSink for TracingSink {
    fn enabled(&self, level: LogLevel) -> bool {
        // The macros need the level as a constant: one call site per level.
        match level {
            LogLevel::Error => ::tracing::enabled!(target: TARGET, ::tracing::Level::ERROR),
            LogLevel::Warn => ::tracing::enabled!(target: TARGET, ::tracing::Level::WARN),
            LogLevel::Info => ::tracing::enabled!(target: TARGET, ::tracing::Level::INFO),
            LogLevel::Debug => ::tracing::enabled!(target: TARGET, ::tracing::Level::DEBUG),
        }
    }

    fn log(&self, level: LogLevel, event_id: u32, message: fmt::Arguments<'_>) {
        match level {
            LogLevel::Error => ::tracing::error!(target: TARGET, event_id, "{message}"),
            LogLevel::Warn => ::tracing::warn!(target: TARGET, event_id, "{message}"),
            LogLevel::Info => ::tracing::info!(target: TARGET, event_id, "{message}"),
            LogLevel::Debug => ::tracing::debug!(target: TARGET, event_id, "{message}"),
        }
    }
}

/// One recorded log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Its level.
    pub level: LogLevel,
    /// Its ConfigCat event id.
    pub event_id: u32,
    /// The message text.
    pub message: String,
}

impl fmt::Display for LogEvent {
    /// `LEVEL [id] message`, the layout of the official suites' expected logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}] {}",
            self.level.label(),
            self.event_id,
            self.message
        )
    }
}

/// Keeps events in memory: for tests, and for applications that show recent events.
///
/// ```
/// use configcat_actix::{LogLevel, LogSink, MemoryLog};
/// let log = MemoryLog::new(LogLevel::Info);
/// log.log(LogLevel::Warn, 3001, format_args!("no user"));
/// assert_eq!(log.take()[0].to_string(), "WARNING [3001] no user");
/// ```
#[derive(Debug)]
pub struct MemoryLog {
    level: LogLevel,
    events: Mutex<Vec<LogEvent>>,
}

impl MemoryLog {
    /// Records the events at `level` or more severe.
    pub fn new(level: LogLevel) -> MemoryLog {
        MemoryLog {
            level,
            events: Mutex::new(Vec::new()),
        }
    }

    /// Removes and returns the events recorded so far.
    pub fn take(&self) -> Vec<LogEvent> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl LogSink for MemoryLog {
    fn enabled(&self, level: LogLevel) -> bool {
        level <= self.level
    }

    fn log(&self, level: LogLevel, event_id: u32, message: fmt::Arguments<'_>) {
        if self.enabled(level) {
            let event = LogEvent {
                level,
                event_id,
                message: message.to_string(),
            };
            self.events
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(event);
        }
    }
}

/// Drops every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLog;

impl LogSink for NoLog {
    fn enabled(&self, _: LogLevel) -> bool {
        false
    }
    fn log(&self, _: LogLevel, _: u32, _: fmt::Arguments<'_>) {}
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer whose bytes a test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn the_default_slog_output_prints_the_event_id_once() {
        let buffer = Buffer::default();
        let sink = SlogSink::plain(buffer.clone(), LogLevel::Info);
        sink.log(LogLevel::Info, 5000, format_args!("Returning 'true'."));
        sink.log(LogLevel::Warn, 3001, format_args!("no user"));
        sink.log(LogLevel::Debug, 1, format_args!("filtered out"));

        let text = buffer.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].ends_with(" INFO Returning 'true'., event_id: 5000"),
            "{text}"
        );
        assert!(
            lines[1].ends_with(" WARN no user, event_id: 3001"),
            "{text}"
        );
        assert_eq!(text.matches("5000").count(), 1, "{text}");
        assert_eq!(text.matches("3001").count(), 1, "{text}");
    }

    #[cfg(feature = "log")]
    mod log_crate {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::{Mutex, OnceLock};

        use super::super::*;

        /// The one global logger of this test binary: keeps the records of target
        /// `configcat` and filters with a level a test changes at run time, as a reloadable
        /// filter would.
        /// Target, level, `event_id` key-value, message.
        type Record = (String, ::log::Level, Option<u64>, String);

        struct Capture {
            max: AtomicUsize,
            records: Mutex<Vec<Record>>,
        }

        impl ::log::Log for Capture {
            fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
                metadata.target() == TARGET
                    && metadata.level() as usize <= self.max.load(Ordering::SeqCst)
            }

            fn log(&self, record: &::log::Record<'_>) {
                if record.target() != TARGET || !self.enabled(record.metadata()) {
                    return;
                }
                let event_id = record
                    .key_values()
                    .get(::log::kv::Key::from_str("event_id"))
                    .and_then(|v| v.to_u64());
                self.records.lock().unwrap().push((
                    record.target().to_owned(),
                    record.level(),
                    event_id,
                    record.args().to_string(),
                ));
            }

            fn flush(&self) {}
        }

        fn capture() -> &'static Capture {
            static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
            CAPTURE.get_or_init(|| {
                let capture = Box::leak(Box::new(Capture {
                    max: AtomicUsize::new(::log::Level::Warn as usize),
                    records: Mutex::new(Vec::new()),
                }));
                ::log::set_logger(capture).expect("the only logger of the test binary");
                ::log::set_max_level(::log::LevelFilter::Trace);
                capture
            })
        }

        #[test]
        fn events_carry_target_level_and_event_id_and_the_level_is_asked_each_time() {
            let capture = capture();
            let sink = LogCrateSink;
            assert!(sink.enabled(LogLevel::Error));
            assert!(sink.enabled(LogLevel::Warn));
            assert!(!sink.enabled(LogLevel::Info));
            sink.log(LogLevel::Error, 1100, format_args!("wrong key"));
            sink.log(LogLevel::Warn, 3001, format_args!("no user"));
            sink.log(LogLevel::Info, 5000, format_args!("not wanted yet"));

            // The filter changes while the sink lives.
            capture
                .max
                .store(::log::Level::Debug as usize, Ordering::SeqCst);
            assert!(sink.enabled(LogLevel::Info) && sink.enabled(LogLevel::Debug));
            sink.log(LogLevel::Info, 5000, format_args!("Returning 'true'."));
            sink.log(LogLevel::Debug, 9002, format_args!("details"));

            let records = std::mem::take(&mut *capture.records.lock().unwrap());
            let expected = [
                (::log::Level::Error, 1100, "wrong key"),
                (::log::Level::Warn, 3001, "no user"),
                (::log::Level::Info, 5000, "Returning 'true'."),
                (::log::Level::Debug, 9002, "details"),
            ];
            assert_eq!(records.len(), expected.len(), "{records:?}");
            for (record, (level, id, message)) in records.iter().zip(expected) {
                assert_eq!(
                    record,
                    &("configcat".to_owned(), level, Some(id), message.to_owned())
                );
            }
        }
    }

    #[cfg(feature = "tracing")]
    mod tracing_crate {
        use std::fmt::Write as _;
        use std::sync::{Arc, Mutex};

        use ::tracing::field::{Field, Visit};
        use ::tracing::level_filters::LevelFilter;
        use tracing_subscriber::layer::{Context, SubscriberExt as _};
        use tracing_subscriber::{Layer, reload};

        use super::super::*;

        type Captured = Arc<Mutex<Vec<(String, ::tracing::Level, Option<u64>, String)>>>;

        /// Keeps every event it sees.
        struct CaptureLayer(Captured);

        #[derive(Default)]
        struct Fields {
            event_id: Option<u64>,
            message: String,
        }

        impl Visit for Fields {
            fn record_u64(&mut self, field: &Field, value: u64) {
                if field.name() == "event_id" {
                    self.event_id = Some(value);
                }
            }
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    let _ = write!(self.message, "{value:?}");
                }
            }
        }

        impl<S: ::tracing::Subscriber> Layer<S> for CaptureLayer {
            fn on_event(&self, event: &::tracing::Event<'_>, _: Context<'_, S>) {
                let mut fields = Fields::default();
                event.record(&mut fields);
                let metadata = event.metadata();
                self.0.lock().unwrap().push((
                    metadata.target().to_owned(),
                    *metadata.level(),
                    fields.event_id,
                    fields.message,
                ));
            }
        }

        #[test]
        fn events_carry_target_level_and_event_id_and_a_reload_applies_at_once() {
            let captured = Captured::default();
            let (filter, handle) = reload::Layer::new(LevelFilter::WARN);
            let subscriber = tracing_subscriber::registry()
                .with(filter)
                .with(CaptureLayer(captured.clone()));
            ::tracing::subscriber::with_default(subscriber, || {
                let sink = TracingSink;
                assert!(sink.enabled(LogLevel::Error) && sink.enabled(LogLevel::Warn));
                assert!(!sink.enabled(LogLevel::Info));
                sink.log(LogLevel::Error, 1100, format_args!("wrong key"));
                sink.log(LogLevel::Warn, 3001, format_args!("no user"));
                sink.log(LogLevel::Info, 5000, format_args!("not wanted yet"));

                handle.reload(LevelFilter::DEBUG).unwrap();
                assert!(sink.enabled(LogLevel::Info) && sink.enabled(LogLevel::Debug));
                sink.log(LogLevel::Info, 5000, format_args!("Returning 'true'."));
                sink.log(LogLevel::Debug, 9002, format_args!("details"));

                handle.reload(LevelFilter::ERROR).unwrap();
                assert!(!sink.enabled(LogLevel::Warn));
                assert!(sink.enabled(LogLevel::Error));
            });

            let events = std::mem::take(&mut *captured.lock().unwrap());
            let expected = [
                (::tracing::Level::ERROR, 1100, "wrong key"),
                (::tracing::Level::WARN, 3001, "no user"),
                (::tracing::Level::INFO, 5000, "Returning 'true'."),
                (::tracing::Level::DEBUG, 9002, "details"),
            ];
            assert_eq!(events.len(), expected.len(), "{events:?}");
            for (event, (level, id, message)) in events.iter().zip(expected) {
                assert_eq!(
                    event,
                    &("configcat".to_owned(), level, Some(id), message.to_owned())
                );
            }
        }
    }
}
