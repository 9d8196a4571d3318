//! Closures called on client events: ready, config fetched, config changed, flag evaluated,
//! error.
//!
//! A hook that panics is caught and reported as an error; it never takes the client down.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use crate::error::FetchError;
use crate::eval::{EvaluationDetails, FlagValue};
use crate::log::{LogLevel, LogSink, MAX_MESSAGE_BYTES};
use crate::model::{Config, Value};
use crate::redact::{SecretMask, format_bounded};
use crate::state::ClientCacheState;

/// What started a fetch: the polling mode's own schedule, or a request from outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchTrigger {
    /// The polling mode: a tick, the first fetch, a lazy-load access to an expired config.
    Policy,
    /// A [`ForceRefresh`](crate::ForceRefresh).
    ForceRefresh,
    /// A verified ConfigCat webhook (the `web` module's receiver).
    Webhook,
    /// A message (or a reconnection) of a ConfigCat Proxy's change stream.
    ChangeStream,
}

/// The state of the change stream, as [`on_change_stream_state`] reports it.
///
/// [`on_change_stream_state`]: crate::ConfigCatBuilder::on_change_stream_state
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamState {
    /// Opening a connection.
    Connecting,
    /// Connected (the Proxy answered 200): changes reach the client as they happen.
    Connected,
    /// Waiting before the next attempt, after `failures` failed ones in a row (0 after a
    /// connection that worked and ended); polling alone keeps the config fresh meanwhile.
    BackingOff {
        /// Failed attempts in a row.
        failures: u32,
        /// How long until the next attempt.
        delay: Duration,
    },
    /// The client is offline: no connection until it is online again.
    Offline,
    /// The client was closed.
    Closed,
}

/// What a fetch attempt brought.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchResult {
    /// A 200 with a config other than the one served before: it is served now.
    Changed,
    /// A 200 with the same config as before (byte for byte).
    Unchanged,
    /// A 304: the config of our ETag is still current.
    NotModified,
    /// The fetch failed (already logged with its event id); the last good config stays.
    Failed(FetchError),
}

/// The argument of [`on_config_fetched`](crate::ConfigCatBuilder::on_config_fetched): one fetch
/// attempt, once its outcome is stored (evaluations see it).
///
/// As the official SDKs' `configFetched` event: the result, and whether the user asked for the
/// fetch ([`is_initiated_by_user`](Self::is_initiated_by_user)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigFetched {
    /// What the fetch brought.
    pub result: FetchResult,
    /// What started the refresh cycle that fetched. Requests that arrive while a cycle runs
    /// join it: a `ForceRefresh` served by a tick's fetch sees [`FetchTrigger::Policy`].
    pub trigger: FetchTrigger,
    /// How long the request took, from sending it to the parsed answer (redirects included;
    /// the external cache's sync before it excluded).
    pub duration: std::time::Duration,
}

impl ConfigFetched {
    /// Whether something other than the polling mode's schedule started the fetch: a
    /// `ForceRefresh`, a webhook, a change stream.
    pub fn is_initiated_by_user(&self) -> bool {
        self.trigger != FetchTrigger::Policy
    }
}

type ReadyHook = Box<dyn Fn(ClientCacheState) + Send + Sync>;
type FetchedHook = Box<dyn Fn(&ConfigFetched) + Send + Sync>;
type StreamStateHook = Box<dyn Fn(StreamState) + Send + Sync>;
type ChangedHook = Box<dyn Fn(&Config) + Send + Sync>;
type EvaluatedHook = Box<dyn Fn(&EvaluationDetails<Value>) + Send + Sync>;
/// Called with the event id and the message of each ERROR event (`on_error` takes the message).
type ErrorHook = Box<dyn Fn(u32, &str) + Send + Sync>;

/// The registered hooks.
#[derive(Default)]
pub struct Hooks {
    pub(crate) on_ready: Vec<ReadyHook>,
    pub(crate) on_config_fetched: Vec<FetchedHook>,
    pub(crate) on_change_stream_state: Vec<StreamStateHook>,
    pub(crate) on_config_changed: Vec<ChangedHook>,
    pub(crate) on_flag_evaluated: Vec<EvaluatedHook>,
    pub(crate) on_error: Vec<ErrorHook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("on_ready", &self.on_ready.len())
            .field("on_config_fetched", &self.on_config_fetched.len())
            .field("on_change_stream_state", &self.on_change_stream_state.len())
            .field("on_config_changed", &self.on_config_changed.len())
            .field("on_flag_evaluated", &self.on_flag_evaluated.len())
            .field("on_error", &self.on_error.len())
            .finish()
    }
}

impl Hooks {
    pub(crate) fn wants_flag_evaluated(&self) -> bool {
        !self.on_flag_evaluated.is_empty()
    }

    pub(crate) fn ready(&self, state: ClientCacheState, sink: &dyn LogSink) {
        for hook in &self.on_ready {
            guarded(sink, "on_ready", || hook(state));
        }
    }

    pub(crate) fn config_fetched(&self, fetched: &ConfigFetched, sink: &dyn LogSink) {
        for hook in &self.on_config_fetched {
            guarded(sink, "on_config_fetched", || hook(fetched));
        }
    }

    pub(crate) fn change_stream_state(&self, state: StreamState, sink: &dyn LogSink) {
        for hook in &self.on_change_stream_state {
            guarded(sink, "on_change_stream_state", || hook(state));
        }
    }

    pub(crate) fn config_changed(&self, config: &Config, sink: &dyn LogSink) {
        for hook in &self.on_config_changed {
            guarded(sink, "on_config_changed", || hook(config));
        }
    }

    pub(crate) fn flag_evaluated<T: FlagValue>(
        &self,
        details: &EvaluationDetails<T>,
        sink: &dyn LogSink,
    ) {
        if self.on_flag_evaluated.is_empty() {
            return;
        }
        let untyped = EvaluationDetails {
            key: details.key.clone(),
            value: details.value.clone().into(),
            variation_id: details.variation_id.clone(),
            is_default_value: details.is_default_value,
            error: details.error.clone(),
            matched_targeting_rule: details.matched_targeting_rule.clone(),
            matched_percentage_option: details.matched_percentage_option.clone(),
            fetch_time: details.fetch_time,
            user: details.user.clone(),
        };
        for hook in &self.on_flag_evaluated {
            guarded(sink, "on_flag_evaluated", || hook(&untyped));
        }
    }

    pub(crate) fn error(&self, event_id: u32, message: &str) {
        for hook in &self.on_error {
            // An error hook that panics cannot be reported through itself.
            let _ = catch_unwind(AssertUnwindSafe(|| hook(event_id, message)));
        }
    }
}

fn guarded(sink: &dyn LogSink, name: &str, hook: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(hook)).is_err() {
        sink.log(
            LogLevel::Error,
            crate::log::event::HOOK_PANICKED,
            format_args!("The `{name}` hook panicked; the panic was caught and ignored."),
        );
    }
}

/// A log filter: whether an event (level, event id, message) reaches the sink.
pub(crate) type LogFilter = Arc<dyn Fn(LogLevel, u32, &str) -> bool + Send + Sync>;

/// The client's log sink, the one place every event of a client passes through: it asks the
/// user's sink for the level at each event (so a logger or subscriber installed or reloaded
/// later is followed), formats the message once, at most [`MAX_MESSAGE_BYTES`], masks the SDK
/// key in it, applies the log filter, and passes every ERROR event to the `on_error` hooks.
pub(crate) struct HookedSink {
    inner: Box<dyn LogSink>,
    hooks: Arc<Hooks>,
    filter: Option<LogFilter>,
    mask: SecretMask,
}

impl HookedSink {
    pub(crate) fn new(inner: Box<dyn LogSink>, hooks: Arc<Hooks>) -> HookedSink {
        HookedSink {
            inner,
            hooks,
            filter: None,
            mask: SecretMask::default(),
        }
    }

    /// Masks `sdk_key` (and its secret parts) in every message.
    pub(crate) fn masking(mut self, sdk_key: &str) -> HookedSink {
        self.mask = SecretMask::for_sdk_key(sdk_key);
        self
    }

    /// Lets only the events `filter` accepts reach the sink (the `on_error` hooks see every
    /// ERROR event all the same).
    pub(crate) fn filtered(mut self, filter: Option<LogFilter>) -> HookedSink {
        self.filter = filter;
        self
    }

    /// Whether the user's sink wants `level`; a sink whose `enabled` panics wants nothing (it
    /// is asked from the actors, which must not die of it).
    #[inline]
    fn sink_enabled(&self, level: LogLevel) -> bool {
        catch_unwind(AssertUnwindSafe(|| self.inner.enabled(level))).unwrap_or(false)
    }

    /// Whether the filter lets the event through; a filter that panics lets it through, so
    /// that a bug in it loses no event.
    fn accepts(&self, level: LogLevel, event_id: u32, text: &str) -> bool {
        self.filter.as_ref().is_none_or(|filter| {
            catch_unwind(AssertUnwindSafe(|| filter(level, event_id, text))).unwrap_or(true)
        })
    }
}

impl LogSink for HookedSink {
    /// Asked of the user's sink each time (one virtual call): the `log` and `tracing` sinks ask
    /// the application's logger, whose level may change at any moment.
    #[inline]
    fn enabled(&self, level: LogLevel) -> bool {
        self.sink_enabled(level) || (level == LogLevel::Error && !self.hooks.on_error.is_empty())
    }

    fn log(&self, level: LogLevel, event_id: u32, message: std::fmt::Arguments<'_>) {
        if !self.enabled(level) {
            return;
        }
        with_buffer(|text| {
            format_bounded(text, message, MAX_MESSAGE_BYTES);
            self.mask.apply(text);
            // The sink is user code: a panic in it loses the line, never the actor that
            // logged (a panicking sink cannot be told about its own panic).
            if self.sink_enabled(level) && self.accepts(level, event_id, text) {
                let _ = catch_unwind(AssertUnwindSafe(|| {
                    self.inner.log(level, event_id, format_args!("{text}"))
                }));
            }
            if level == LogLevel::Error {
                self.hooks.error(event_id, text);
            }
        });
    }
}

/// Runs `f` with this thread's message buffer (a fresh one if it is in use: a sink that logs
/// again from inside `log`), so that logging allocates only while messages grow.
fn with_buffer<R>(f: impl FnOnce(&mut String) -> R) -> R {
    /// A buffer grown by a long message is given back rather than kept.
    const KEPT_CAPACITY: usize = 16 * 1024;
    thread_local! {
        static BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
    }
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut text) => {
            let result = f(&mut text);
            if text.capacity() > KEPT_CAPACITY {
                *text = String::new();
            }
            result
        }
        Err(_) => f(&mut String::new()),
    })
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::log::MemoryLog;

    /// Wants DEBUG only while `on` is set; panics in `enabled` when `panics` is.
    struct Switch {
        on: AtomicBool,
        panics: AtomicBool,
        log: MemoryLog,
    }

    impl LogSink for Switch {
        fn enabled(&self, level: LogLevel) -> bool {
            assert!(!self.panics.load(Ordering::SeqCst), "a bug in the sink");
            self.on.load(Ordering::SeqCst) && self.log.enabled(level)
        }
        fn log(&self, level: LogLevel, event_id: u32, message: fmt::Arguments<'_>) {
            self.log.log(level, event_id, message);
        }
    }

    #[test]
    fn the_level_is_asked_at_each_event_and_a_panicking_sink_or_filter_costs_nothing_else() {
        let switch = Arc::new(Switch {
            on: AtomicBool::new(false),
            panics: AtomicBool::new(false),
            log: MemoryLog::new(LogLevel::Debug),
        });
        let filter: LogFilter = Arc::new(|_, event_id, _| {
            assert!(event_id != 2, "a bug in the filter");
            event_id != 3
        });
        let sink = HookedSink::new(Box::new(switch.clone()), Arc::default())
            .masking("configcat-sdk-1/PKDVCLf-Hq-h-kCzMp-L7Q/y_ZB7o-Xb0Swxth-ZlMSeA")
            .filtered(Some(filter));
        assert!(!sink.enabled(LogLevel::Error));
        sink.log(LogLevel::Debug, 1, format_args!("off"));
        switch.on.store(true, Ordering::SeqCst);
        assert!(
            sink.enabled(LogLevel::Debug),
            "a level raised later is followed"
        );
        sink.log(LogLevel::Debug, 1, format_args!("on"));
        sink.log(
            LogLevel::Debug,
            2,
            format_args!("the filter panicked: kept"),
        );
        sink.log(LogLevel::Debug, 3, format_args!("filtered out"));
        sink.log(
            LogLevel::Debug,
            4,
            format_args!("key PKDVCLf-Hq-h-kCzMp-L7Q/y_ZB7o-Xb0Swxth-ZlMSeA"),
        );
        switch.panics.store(true, Ordering::SeqCst);
        assert!(
            !sink.enabled(LogLevel::Error),
            "a panicking `enabled` wants nothing"
        );
        sink.log(LogLevel::Error, 5, format_args!("lost"));
        let events: Vec<String> = switch
            .log
            .take()
            .iter()
            .map(|e| e.message.clone())
            .collect();
        assert_eq!(
            events,
            [
                "on",
                "the filter panicked: kept",
                "key **********************/****************ZlMSeA"
            ]
        );
    }
}
