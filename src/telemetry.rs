//! Flag evaluations, fetches and cache failures recorded through OpenTelemetry (cargo feature
//! `opentelemetry`).
//!
//! Build a [`Telemetry`] from the application's meter provider (and, for evaluation events,
//! its logger provider), and hand it to
//! [`ConfigCatBuilder::opentelemetry`](crate::ConfigCatBuilder::opentelemetry). The client then
//! records:
//!
//! * each evaluation, as a `feature_flag.evaluation` event (an OpenTelemetry log record with
//!   that event name) with the attributes of the OpenFeature observability appendix and the
//!   OpenTelemetry feature-flag conventions: `feature_flag.key`,
//!   `feature_flag.provider.name` (`ConfigCat`), `feature_flag.result.variant` (the variation
//!   id), `feature_flag.result.reason`, `feature_flag.context.id` (the user's identifier),
//!   and on errors `error.type` and `error.message`;
//! * metrics: [`EVALUATIONS`] per flag, variation and reason; [`FETCHES`] by status (`200`,
//!   `304`, `error`) and trigger; [`FETCH_DURATION`]; [`CONFIG_AGE`]; [`CACHE_ERRORS`] by
//!   operation (`read`, `write`).
//!
//! The reason is one of the OpenFeature reasons, written in lower case as the conventions (and
//! the OpenFeature SDKs' telemetry) write them: `targeting_match` (a targeting rule decided),
//! `split` (a percentage option decided), `default` (the flag has rules or percentage options
//! but none decided: its default value), `static` (the flag has neither), `error` (the
//! caller's default was returned; `error.type` is the OpenFeature error code:
//! `flag_not_found`, `type_mismatch`, `provider_not_ready`, `general`).
//!
//! # Why the OpenTelemetry API, not `tracing`
//!
//! The records go straight through the `opentelemetry` API crate rather than as `tracing`
//! events for an OpenTelemetry layer to export. The metrics need the OpenTelemetry metrics API
//! in any case (`tracing` has no instruments), so one dependency and one pipeline serve both;
//! an application that exports with the OpenTelemetry SDK needs no `tracing` subscriber and no
//! bridge for them; and the event is emitted as the conventions ask (a log record named
//! `feature_flag.evaluation`), not in whatever shape a bridge gives a `tracing` event. A
//! record emitted while an OpenTelemetry span is current carries its trace context (the SDK
//! takes it from [`opentelemetry::Context::current`]). An application that traces with
//! `tracing` can still get span events of its own from an
//! [`on_flag_evaluated`](crate::ConfigCatBuilder::on_flag_evaluated) hook.
//!
//! # Where it is recorded, and what it costs
//!
//! [`opentelemetry`](crate::ConfigCatBuilder::opentelemetry) registers ordinary client hooks:
//! `on_flag_evaluated`, which every evaluation surface calls (the actor's messages, the
//! handle, a snapshot, `Flags`, the OpenFeature provider), `on_config_fetched`, and the
//! ERROR-event hook for cache failures. Nothing is registered without that call, and without
//! the feature the module does not exist: an evaluation then allocates nothing, as before. With
//! it, each evaluation builds its details and a few attributes (small allocations) and updates
//! one counter; the event is built only when the logger wants it.
//!
//! Cache failures are counted as the client logs them (events 2200 and 2201 at ERROR): a
//! streak of failures is logged at its start and then at most once a minute, so the counter
//! counts failure reports, not every failed operation.
//!
//! ```
//! use configcat_actix::telemetry::Telemetry;
//! use configcat_actix::{ConfigCat, FlagOverrides, GetValue, OverrideBehaviour};
//! use opentelemetry_sdk::metrics::SdkMeterProvider;
//!
//! #[actix::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // The application's provider, with its exporters (OTLP, Prometheus...).
//!     let meters = SdkMeterProvider::builder().build();
//!     let flags = FlagOverrides::from_map([("isAwesome", true)], OverrideBehaviour::LocalOnly);
//!     let client = ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYYYYY")
//!         .flag_overrides(flags)
//!         .opentelemetry(Telemetry::new(&meters))
//!         .start()?;
//!     assert!(client.send(GetValue::new("isAwesome", false)).await?);
//!     Ok(())
//! }
//! ```

use std::sync::{Arc, OnceLock, Weak};
use std::time::SystemTime;

use opentelemetry::logs::{LogRecord, Logger, LoggerProvider, Severity};
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider};
use opentelemetry::{InstrumentationScope, KeyValue};

use crate::error::FetchError;
use crate::eval::{EvaluationDetails, EvaluationError, Reason};
use crate::hooks::{ConfigFetched, FetchResult, FetchTrigger};
use crate::log::event;
use crate::model::{Config, Value};
use crate::state::Published;

/// The instrumentation scope's name: the crate's.
pub const SCOPE_NAME: &str = "configcat-actix";
/// `feature_flag.provider.name` of every event.
pub const PROVIDER_NAME: &str = "ConfigCat";
/// The event name of an evaluation's log record.
pub const EVALUATION_EVENT: &str = "feature_flag.evaluation";
/// Counter of evaluations, with `feature_flag.key`, `feature_flag.result.variant` (when the
/// value has one), `feature_flag.result.reason` and, on errors, `error.type`.
pub const EVALUATIONS: &str = "configcat.evaluations";
/// Counter of fetch attempts, with `configcat.fetch.status` (`200`, `304` or `error`),
/// `configcat.fetch.trigger` (`policy`, `force_refresh`, `webhook`, `change_stream`) and, on
/// errors, `error.type` (`invalid_sdk_key`, `unexpected_status`, `timeout`, `network`,
/// `redirect_loop`, `invalid_body`, `body_too_large`, `not_modified_without_config`).
pub const FETCHES: &str = "configcat.fetches";
/// Histogram of fetch durations in seconds, with the attributes of [`FETCHES`].
pub const FETCH_DURATION: &str = "configcat.fetch.duration";
/// Observable gauge: the age in seconds of the config the client serves (since it was
/// downloaded, by this process or by another one sharing the external cache); nothing while
/// the client has no downloaded config.
pub const CONFIG_AGE: &str = "configcat.config.age";
/// Counter of logged cache failures, with `configcat.cache.operation` (`read` or `write`).
pub const CACHE_ERRORS: &str = "configcat.cache.errors";

/// Bucket boundaries of [`FETCH_DURATION`], in seconds: those the HTTP client conventions
/// recommend for request durations.
const DURATION_BOUNDARIES: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// What a client records through OpenTelemetry: give it to
/// [`ConfigCatBuilder::opentelemetry`](crate::ConfigCatBuilder::opentelemetry). See the
/// [module](self) for what is recorded.
///
/// ```
/// use configcat_actix::telemetry::Telemetry;
/// use opentelemetry_sdk::logs::SdkLoggerProvider;
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
///
/// let (meters, loggers) = (SdkMeterProvider::builder().build(), SdkLoggerProvider::builder().build());
/// // Metrics and evaluation events.
/// let telemetry = Telemetry::new(&meters).evaluation_events(&loggers);
/// # let _ = telemetry;
/// // Metrics only, through the global meter provider.
/// let telemetry = Telemetry::global();
/// # let _ = telemetry;
/// ```
pub struct Telemetry {
    meter: Meter,
    events: Option<Box<dyn EmitEvaluation>>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("evaluation_events", &self.events.is_some())
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Metrics through `provider`, under the scope [`SCOPE_NAME`] with the crate's version.
    pub fn new(provider: &impl MeterProvider) -> Telemetry {
        Telemetry {
            meter: provider.meter_with_scope(scope()),
            events: None,
        }
    }

    /// Metrics through the global meter provider (`opentelemetry::global`); set it before
    /// the client starts.
    pub fn global() -> Telemetry {
        Telemetry {
            meter: opentelemetry::global::meter_with_scope(scope()),
            events: None,
        }
    }

    /// Also records each evaluation as a [`EVALUATION_EVENT`] log record through `provider`.
    #[must_use]
    pub fn evaluation_events<P>(mut self, provider: &P) -> Telemetry
    where
        P: LoggerProvider,
        P::Logger: Send + Sync + 'static,
    {
        self.events = Some(Box::new(provider.logger_with_scope(scope())));
        self
    }

    /// The instruments, ready to be called from the client's hooks.
    pub(crate) fn into_recorder(self) -> Arc<Recorder> {
        let meter = self.meter;
        Arc::new(Recorder {
            evaluations: meter
                .u64_counter(EVALUATIONS)
                .with_unit("{evaluation}")
                .with_description("Feature flag evaluations")
                .build(),
            fetches: meter
                .u64_counter(FETCHES)
                .with_unit("{fetch}")
                .with_description("Config fetch attempts")
                .build(),
            fetch_duration: meter
                .f64_histogram(FETCH_DURATION)
                .with_unit("s")
                .with_description("Duration of config fetches")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            cache_errors: meter
                .u64_counter(CACHE_ERRORS)
                .with_unit("{error}")
                .with_description("External cache failures, as logged")
                .build(),
            events: self.events,
            published: OnceLock::new(),
            meter,
        })
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// Emits an evaluation event: the logger, its record type erased.
trait EmitEvaluation: Send + Sync {
    fn emit(&self, details: &EvaluationDetails<Value>, reason: &'static str);
}

impl<L: Logger + Send + Sync> EmitEvaluation for L {
    fn emit(&self, details: &EvaluationDetails<Value>, reason: &'static str) {
        if !self.event_enabled(Severity::Info, SCOPE_NAME, Some(EVALUATION_EVENT)) {
            return;
        }
        let mut record = self.create_log_record();
        record.set_event_name(EVALUATION_EVENT);
        record.set_timestamp(SystemTime::now());
        record.set_severity_number(Severity::Info);
        record.set_severity_text("INFO");
        record.add_attribute("feature_flag.key", details.key.to_string());
        record.add_attribute("feature_flag.provider.name", PROVIDER_NAME);
        record.add_attribute("feature_flag.result.reason", reason);
        if let Some(variant) = &details.variation_id {
            record.add_attribute("feature_flag.result.variant", variant.to_string());
        }
        if let Some(user) = &details.user {
            record.add_attribute("feature_flag.context.id", user.identifier().to_owned());
        }
        if let Some(error) = &details.error {
            record.add_attribute("error.type", error_type(error));
            record.add_attribute("error.message", error.to_string());
        }
        self.emit(record);
    }
}

/// The instruments one client records with, shared by its hooks.
pub(crate) struct Recorder {
    evaluations: Counter<u64>,
    fetches: Counter<u64>,
    fetch_duration: Histogram<f64>,
    cache_errors: Counter<u64>,
    events: Option<Box<dyn EmitEvaluation>>,
    /// The client's published state, set when it starts: the served config's rules (for the
    /// reason) and its fetch time (for the age gauge). Weak: the meter provider keeps the
    /// gauge's callback after the client is gone.
    published: OnceLock<Weak<Published>>,
    meter: Meter,
}

impl Recorder {
    /// Connects the recorder to the started client's state and registers the age gauge.
    pub(crate) fn attach(&self, published: &Arc<Published>) {
        let weak = Arc::downgrade(published);
        if self.published.set(weak.clone()).is_err() {
            return;
        }
        self.meter
            .f64_observable_gauge(CONFIG_AGE)
            .with_unit("s")
            .with_description("Age of the served config")
            .with_callback(move |observer| {
                let age = weak.upgrade().and_then(|p| p.load().age());
                if let Some(age) = age {
                    observer.observe(age.as_secs_f64(), &[]);
                }
            })
            .build();
    }

    /// The `on_flag_evaluated` hook.
    pub(crate) fn evaluated(&self, details: &EvaluationDetails<Value>) {
        let reason = match self.published.get().and_then(Weak::upgrade) {
            Some(published) => reason(details, published.load().config.as_deref()),
            None => reason(details, None),
        };
        let mut attributes = Vec::with_capacity(4);
        attributes.push(KeyValue::new("feature_flag.key", details.key.to_string()));
        attributes.push(KeyValue::new("feature_flag.result.reason", reason));
        if let Some(variant) = &details.variation_id {
            attributes.push(KeyValue::new(
                "feature_flag.result.variant",
                variant.to_string(),
            ));
        }
        if let Some(error) = &details.error {
            attributes.push(KeyValue::new("error.type", error_type(error)));
        }
        self.evaluations.add(1, &attributes);
        if let Some(events) = &self.events {
            events.emit(details, reason);
        }
    }

    /// The `on_config_fetched` hook.
    pub(crate) fn fetched(&self, fetched: &ConfigFetched) {
        let status = match &fetched.result {
            FetchResult::Changed | FetchResult::Unchanged => "200",
            FetchResult::NotModified => "304",
            FetchResult::Failed(_) => "error",
        };
        let mut attributes = vec![
            KeyValue::new("configcat.fetch.status", status),
            KeyValue::new("configcat.fetch.trigger", trigger_name(fetched.trigger)),
        ];
        if let FetchResult::Failed(error) = &fetched.result {
            attributes.push(KeyValue::new("error.type", fetch_error_type(error)));
        }
        self.fetches.add(1, &attributes);
        self.fetch_duration
            .record(fetched.duration.as_secs_f64(), &attributes);
    }

    /// The ERROR-event hook: counts cache failures.
    pub(crate) fn error_logged(&self, event_id: u32) {
        let operation = match event_id {
            event::CACHE_READ_FAILED => "read",
            event::CACHE_WRITE_FAILED => "write",
            _ => return,
        };
        self.cache_errors
            .add(1, &[KeyValue::new("configcat.cache.operation", operation)]);
    }
}

/// The OpenFeature reason of an evaluation, in the conventions' lower case. `config` is the
/// served config (see [`Reason::of`]); a snapshot of an older config is judged by the newest
/// one's rules.
fn reason(details: &EvaluationDetails<Value>, config: Option<&Config>) -> &'static str {
    let setting = config.and_then(|c| c.settings().get(&details.key));
    match Reason::of(details, setting) {
        Reason::Error => "error",
        Reason::TargetingMatch => "targeting_match",
        Reason::Split => "split",
        Reason::Default => "default",
        Reason::Static => "static",
    }
}

/// The OpenFeature error code of an evaluation error, in lower case.
fn error_type(error: &EvaluationError) -> &'static str {
    match error {
        EvaluationError::SettingKeyMissing { .. } => "flag_not_found",
        EvaluationError::SettingTypeMismatch { .. } => "type_mismatch",
        EvaluationError::ConfigJsonNotAvailable | EvaluationError::ClientClosed => {
            "provider_not_ready"
        }
        EvaluationError::InvalidConfig(_) => "general",
    }
}

fn fetch_error_type(error: &FetchError) -> &'static str {
    match error {
        FetchError::InvalidSdkKey { .. } => "invalid_sdk_key",
        FetchError::UnexpectedStatus { .. } => "unexpected_status",
        FetchError::Timeout { .. } => "timeout",
        FetchError::Network(_) => "network",
        FetchError::InvalidBody(_) => "invalid_body",
        FetchError::BodyTooLarge { .. } => "body_too_large",
        FetchError::RedirectLoop => "redirect_loop",
        FetchError::NotModifiedWithoutConfig => "not_modified_without_config",
    }
}

fn trigger_name(trigger: FetchTrigger) -> &'static str {
    match trigger {
        FetchTrigger::Policy => "policy",
        FetchTrigger::ForceRefresh => "force_refresh",
        FetchTrigger::Webhook => "webhook",
        FetchTrigger::ChangeStream => "change_stream",
    }
}
