//! Logging: levels, the standard ConfigCat event ids, and where log events go.
//!
//! Evaluation reports through the [`LogSink`] trait so that the pure evaluator needs no logger
//! of its own; [`SlogSink`] sends events to a [`slog::Logger`], [`MemoryLog`] keeps them for
//! tests. Messages are passed as [`std::fmt::Arguments`] and built only by a sink whose level
//! lets them through.

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
    /// Everything else.
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
    /// Offline: no HTTP request is made.
    pub const OFFLINE_NO_HTTP: u32 = 3200;
    /// Switched between online and offline mode.
    pub const MODE_SWITCHED: u32 = 5200;
    /// A `ConfigChanged` subscriber could not take a message; this id is specific to this crate.
    pub const SUBSCRIBER_BUSY: u32 = 9001;
    /// A user hook panicked; this id is specific to this crate, not a ConfigCat standard one.
    pub const HOOK_PANICKED: u32 = 9000;
    /// The poller panicked; its supervisor restarts it (this crate's own id).
    pub const POLLER_PANICKED: u32 = 9002;
    /// A proxy environment variable (`HTTPS_PROXY`, `NO_PROXY`...) could not be read and is
    /// ignored (this crate's own id).
    pub const PROXY_ENV_INVALID: u32 = 9003;
}

/// Where log events go.
pub trait LogSink: Send + Sync {
    /// Whether events of this level are wanted; nothing is formatted for a level that is not.
    /// The answer must not change over the sink's life: a client asks once, when it starts.
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

/// Sends events to a [`slog::Logger`] at or above a minimum level, as `[<event id>] <message>`
/// with the id also in the `event_id` key.
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

    /// A sink that prints to standard output through slog-term.
    pub fn stdout(level: LogLevel) -> SlogSink {
        use slog::Drain;
        let decorator = slog_term::PlainSyncDecorator::new(std::io::stdout());
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
            LogLevel::Error => {
                slog::error!(logger, "[{}] {}", event_id, message; "event_id" => event_id)
            }
            LogLevel::Warn => {
                slog::warn!(logger, "[{}] {}", event_id, message; "event_id" => event_id)
            }
            LogLevel::Info => {
                slog::info!(logger, "[{}] {}", event_id, message; "event_id" => event_id)
            }
            LogLevel::Debug => {
                slog::debug!(logger, "[{}] {}", event_id, message; "event_id" => event_id)
            }
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
