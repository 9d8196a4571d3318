//! Pure flag evaluation: no actors, no I/O, no clock.
//!
//! [`evaluate`] runs the config v6 algorithm over a [`Config`] for a key and an optional
//! [`User`], reporting warnings and the INFO evaluation log through a [`LogSink`]; it returns
//! the selected value borrowed from the config, so evaluating a flag without rules allocates
//! nothing. [`evaluate_details`] wraps that into owned [`EvaluationDetails`] for a typed
//! default value, sharing the config's key, variation id, rule and option rather than copying
//! them, so details of a `bool` flag allocate nothing either. Everything the actor layer answers
//! is built from these two functions.

mod convert;
mod log_builder;
mod rules;

use std::fmt;
use std::time::SystemTime;

use smol_str::SmolStr;

pub use log_builder::{LOG_TRUNCATED_NOTE, MAX_EVALUATION_LOG_BYTES};
pub use rules::{MAX_PREREQUISITE_DEPTH, MAX_REPLAYED_WARNINGS, Selection};

use crate::log::{LogLevel, LogSink, event};
use crate::model::{
    Config, PercentageOption, RuleOutcome, Setting, SettingType, Shared, TargetingRule, Value,
};
use crate::text::write_js_number;
use crate::user::User;
use rules::Evaluator;

/// A type that flag values can be read as: `bool`, `String`, `i64`, `f64`, or [`Value`] for any.
///
/// A default value of the wrong type for the setting is an error, as in the official SDKs:
/// `bool` reads on/off flags, `String` text settings, `i64` whole-number settings and `f64`
/// both kinds of number settings.
pub trait FlagValue: Sized + Clone + Into<Value> {
    /// Whether a setting of this type can be read as `Self`.
    fn accepts(setting_type: SettingType) -> bool;
    /// Reads a value of an accepted setting type.
    fn from_value(value: &Value) -> Option<Self>;
    /// Writes the value as the logs show it.
    fn fmt_log(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    /// The type's name in error messages.
    fn type_name() -> &'static str;
}

impl FlagValue for bool {
    fn accepts(t: SettingType) -> bool {
        t == SettingType::Bool
    }
    fn from_value(value: &Value) -> Option<Self> {
        value.as_bool()
    }
    fn fmt_log(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
    fn type_name() -> &'static str {
        "bool"
    }
}

impl FlagValue for String {
    fn accepts(t: SettingType) -> bool {
        t == SettingType::String
    }
    fn from_value(value: &Value) -> Option<Self> {
        value.as_str().map(str::to_owned)
    }
    fn fmt_log(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
    fn type_name() -> &'static str {
        "String"
    }
}

impl FlagValue for i64 {
    fn accepts(t: SettingType) -> bool {
        t == SettingType::Int
    }
    fn from_value(value: &Value) -> Option<Self> {
        value.as_int()
    }
    fn fmt_log(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
    fn type_name() -> &'static str {
        "i64"
    }
}

impl FlagValue for f64 {
    fn accepts(t: SettingType) -> bool {
        matches!(t, SettingType::Int | SettingType::Double)
    }
    fn from_value(value: &Value) -> Option<Self> {
        value.as_f64()
    }
    fn fmt_log(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_js_number(f, *self)
    }
    fn type_name() -> &'static str {
        "f64"
    }
}

impl FlagValue for Value {
    fn accepts(_: SettingType) -> bool {
        true
    }
    fn from_value(value: &Value) -> Option<Self> {
        Some(value.clone())
    }
    fn fmt_log(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
    fn type_name() -> &'static str {
        "Value"
    }
}

/// Why an evaluation returned the default value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvaluationError {
    /// No config is available yet (event 1000).
    ConfigJsonNotAvailable,
    /// The key is not in the config (event 1001).
    SettingKeyMissing {
        /// The requested key.
        key: String,
        /// The keys the config has, sorted.
        available_keys: Vec<String>,
    },
    /// The default value's type does not fit the setting (event 2002).
    SettingTypeMismatch {
        /// The setting's type.
        setting_type: String,
        /// The type that was asked for.
        requested_type: &'static str,
    },
    /// The config could not be evaluated for this flag (event 1002): a circular prerequisite,
    /// an invalid comparison value, percentages that do not add up to 100.
    InvalidConfig(String),
    /// The client was closed before it could answer.
    ClientClosed,
}

impl EvaluationError {
    /// The ConfigCat event id this error is logged with.
    pub fn event_id(&self) -> u32 {
        match self {
            EvaluationError::ConfigJsonNotAvailable => event::CONFIG_JSON_NOT_AVAILABLE,
            EvaluationError::SettingKeyMissing { .. } => event::SETTING_KEY_MISSING,
            EvaluationError::SettingTypeMismatch { .. } => event::SETTING_TYPE_MISMATCH,
            EvaluationError::InvalidConfig(_) | EvaluationError::ClientClosed => {
                event::EVALUATION_FAILED
            }
        }
    }
}

impl fmt::Display for EvaluationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvaluationError::ConfigJsonNotAvailable => f.write_str("Config JSON is not present."),
            EvaluationError::SettingKeyMissing { key, .. } => {
                write!(
                    f,
                    "Failed to evaluate setting '{key}' (the key was not found in config JSON)."
                )
            }
            EvaluationError::SettingTypeMismatch {
                setting_type,
                requested_type,
            } => write!(
                f,
                "The type of a setting must match the type of the specified default value. Setting's type was {setting_type} but the default value's type was {requested_type}."
            ),
            EvaluationError::InvalidConfig(reason) => f.write_str(reason),
            EvaluationError::ClientClosed => f.write_str("The client is closed."),
        }
    }
}

impl std::error::Error for EvaluationError {}

/// The result of an evaluation with everything that led to it.
///
/// Nothing in it is copied from the config: the key and the variation id are the config's own
/// [`SmolStr`]s (inline up to 23 bytes, reference-counted beyond), the rule and the option its
/// `Arc`s, the user an `Arc` inside; read the strings with `details.key.as_str()` and
/// `details.variation_id.as_deref()`.
#[derive(Debug, Clone)]
pub struct EvaluationDetails<T> {
    /// The setting's key: the config's key, or the requested one when the config has none.
    pub key: SmolStr,
    /// The value: evaluated, or the default when `error` is set.
    pub value: T,
    /// The variation id of the value, `None` when the default was returned.
    pub variation_id: Option<SmolStr>,
    /// Whether the default value was returned because of an error.
    pub is_default_value: bool,
    /// What went wrong, if anything.
    pub error: Option<EvaluationError>,
    /// The targeting rule that matched, if any.
    pub matched_targeting_rule: Option<Shared<TargetingRule>>,
    /// The percentage option that was selected, if any.
    pub matched_percentage_option: Option<Shared<PercentageOption>>,
    /// When the config used was downloaded; `None` for local-only data.
    pub fetch_time: Option<SystemTime>,
    /// The user the flag was evaluated for.
    pub user: Option<User>,
}

/// Why an evaluation served what it did, in OpenFeature's terms: the one answer the OpenFeature
/// provider and telemetry both give.
#[cfg(any(feature = "openfeature", feature = "opentelemetry"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The evaluation failed; the default value was served.
    Error,
    /// A targeting rule matched (also when it served one of its percentage options).
    TargetingMatch,
    /// A top-level percentage option was selected.
    Split,
    /// The flag has rules or percentage options, and none decided: its own value.
    Default,
    /// The flag has no rules and no percentage options: its own value.
    Static,
}

#[cfg(any(feature = "openfeature", feature = "opentelemetry"))]
impl Reason {
    /// The reason of `details`. `setting` is the evaluated setting as the served config holds
    /// it, which tells a flag without rules from one whose rules did not decide (the details
    /// do not say which); without it such a flag is `Default`.
    pub(crate) fn of<T>(details: &EvaluationDetails<T>, setting: Option<&Setting>) -> Reason {
        if details.error.is_some() {
            Reason::Error
        } else if details.matched_targeting_rule.is_some() {
            Reason::TargetingMatch
        } else if details.matched_percentage_option.is_some() {
            Reason::Split
        } else if setting
            .is_some_and(|s| s.targeting_rules.is_empty() && s.percentage_options.is_empty())
        {
            Reason::Static
        } else {
            Reason::Default
        }
    }
}

impl<T> EvaluationDetails<T> {
    /// Details of an evaluation that returned `default` because of `error`.
    pub fn from_error(key: &str, default: T, error: EvaluationError, user: Option<&User>) -> Self {
        EvaluationDetails::failed(SmolStr::new(key), default, error, user)
    }

    /// [`EvaluationDetails::from_error`] with a key already held as a [`SmolStr`].
    pub(crate) fn failed(
        key: SmolStr,
        default: T,
        error: EvaluationError,
        user: Option<&User>,
    ) -> Self {
        EvaluationDetails {
            key,
            value: default,
            variation_id: None,
            is_default_value: true,
            error: Some(error),
            matched_targeting_rule: None,
            matched_percentage_option: None,
            fetch_time: None,
            user: user.cloned(),
        }
    }
}

/// Details serialise to a summary, not to the config model: the matched targeting rule as its
/// number of conditions, served value and variation id (`null` fields for a rule that serves
/// percentage options, which then has `percentage_options` set to their count); the matched
/// percentage option as its percentage, value and variation id; the error as its event id and
/// message; the fetch time as ISO-8601 text; the user as the log's user object. There is no
/// `Deserialize`: a summary cannot be turned back into the rule it describes.
///
/// ```
/// use configcat_actix::{Config, NoLog, User, eval};
/// let config = Config::parse(r#"{"f":{"f":{"t":0,"v":{"b":false},"i":"d",
///     "r":[{"c":[{"u":{"a":"Email","c":2,"l":["@example.com"]}}],"s":{"v":{"b":true},"i":"r1"}}]}}}"#)?;
/// let user = User::new("42").email("a@example.com");
/// let details = eval::evaluate_details(&config, "f", false, Some(&user), None, &NoLog);
/// let json: serde_json::Value = serde_json::to_value(&details)?;
/// assert_eq!(json["key"], "f");
/// assert_eq!(json["value"], true);
/// assert_eq!(json["variation_id"], "r1");
/// assert_eq!(json["matched_targeting_rule"]["conditions"], 1);
/// assert_eq!(json["matched_targeting_rule"]["served_value"], true);
/// assert_eq!(json["matched_percentage_option"], serde_json::Value::Null);
/// assert_eq!(json["user"]["Email"], "a@example.com");
/// let missing = eval::evaluate_details(&config, "nope", false, None, None, &NoLog);
/// assert_eq!(serde_json::to_value(&missing)?["error"]["event_id"], 1001);
/// assert!(serde_json::to_string(&missing)?.starts_with(r#"{"key":"nope","value":false,"variation_id":null,"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: serde::Serialize> serde::Serialize for EvaluationDetails<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("EvaluationDetails", 9)?;
        out.serialize_field("key", &self.key)?;
        out.serialize_field("value", &self.value)?;
        out.serialize_field("variation_id", &self.variation_id)?;
        out.serialize_field("is_default_value", &self.is_default_value)?;
        out.serialize_field("error", &self.error.as_ref().map(ErrorSummary))?;
        out.serialize_field(
            "matched_targeting_rule",
            &self.matched_targeting_rule.as_deref().map(RuleSummary),
        )?;
        out.serialize_field(
            "matched_percentage_option",
            &self.matched_percentage_option.as_deref().map(OptionSummary),
        )?;
        out.serialize_field(
            "fetch_time",
            &self
                .fetch_time
                .map(|t| crate::text::iso8601(crate::text::unix_seconds(t))),
        )?;
        out.serialize_field("user", &self.user)?;
        out.end()
    }
}

struct ErrorSummary<'a>(&'a EvaluationError);

impl serde::Serialize for ErrorSummary<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("EvaluationError", 2)?;
        out.serialize_field("event_id", &self.0.event_id())?;
        out.serialize_field("message", &self.0.to_string())?;
        out.end()
    }
}

struct RuleSummary<'a>(&'a TargetingRule);

impl serde::Serialize for RuleSummary<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let rule = self.0;
        let options = rule.percentage_options();
        let mut out = serializer.serialize_struct("TargetingRule", 4)?;
        out.serialize_field("conditions", &rule.conditions().len())?;
        out.serialize_field("served_value", &rule.served_value())?;
        out.serialize_field("variation_id", &rule.variation_id())?;
        out.serialize_field(
            "percentage_options",
            &(!options.is_empty()).then_some(options.len()),
        )?;
        out.end()
    }
}

struct OptionSummary<'a>(&'a PercentageOption);

impl serde::Serialize for OptionSummary<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let option = self.0;
        let mut out = serializer.serialize_struct("PercentageOption", 3)?;
        out.serialize_field("percentage", &option.percentage())?;
        out.serialize_field("value", &option.value())?;
        out.serialize_field("variation_id", &option.variation_id())?;
        out.end()
    }
}

/// Shows an optional default value: `null` when there is none.
struct LogDefault<'a, T>(Option<&'a T>);

impl<T: FlagValue> fmt::Display for LogDefault<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => v.fmt_log(f),
            None => f.write_str("null"),
        }
    }
}

/// Evaluates the flag `key` for `user`, logging as the official SDKs do.
///
/// `default` is the value the caller will fall back to; it is only used to check the setting
/// type (`T`) and to show in logs. Errors 1001, 1002 and 2002 are logged here; the caller
/// decides what to return.
///
/// ```
/// use configcat_actix::{Config, MemoryLog, LogLevel, User, eval};
/// let config = Config::parse(r#"{"f":{"isAwesome":{"t":0,"v":{"b":false},
///     "r":[{"c":[{"u":{"a":"Email","c":2,"l":["@example.com"]}}],"s":{"v":{"b":true}}}]}}}"#)?;
/// let log = MemoryLog::new(LogLevel::Warn);
/// let user = User::new("42").email("a@example.com");
/// let selection = eval::evaluate(&config, "isAwesome", Some(&false), Some(&user), &log)?;
/// assert_eq!(selection.value.as_bool(), Some(true));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`EvaluationError`] when the key is missing, the default value's type does not fit, or the
/// config cannot be evaluated for this flag.
pub fn evaluate<'a, T: FlagValue>(
    config: &'a Config,
    key: &'a str,
    default: Option<&T>,
    user: Option<&'a User>,
    sink: &dyn LogSink,
) -> Result<Selection<'a>, EvaluationError> {
    evaluate_found(config, key, default, user, sink).map(|found| found.selection)
}

/// A setting that was found and evaluated: the config's key, the setting, and what it selected.
pub(crate) struct Found<'a> {
    pub(crate) key: &'a SmolStr,
    setting: &'a Setting,
    pub(crate) selection: Selection<'a>,
}

impl<'a> Found<'a> {
    /// The selected variation id as the config holds it, to share rather than copy: the
    /// percentage option's if one was selected, else the matched rule's, else the setting's,
    /// which is where the evaluator took `selection.variation_id` from.
    fn variation_id(&self) -> Option<&'a SmolStr> {
        let selection = &self.selection;
        let id = match (
            selection.matched_percentage_option,
            selection.matched_targeting_rule,
        ) {
            (Some(option), _) => option.variation_id.as_ref(),
            (None, Some(rule)) => match &rule.then {
                RuleOutcome::Served { variation_id, .. } => variation_id.as_ref(),
                _ => None,
            },
            (None, None) => self.setting.variation_id.as_ref(),
        };
        debug_assert_eq!(id.map(SmolStr::as_str), selection.variation_id);
        id
    }

    /// The matched rule, sharing the config's block of rules.
    fn matched_targeting_rule(&self) -> Option<Shared<TargetingRule>> {
        let rule = self.selection.matched_targeting_rule?;
        self.setting.targeting_rules.share(rule)
    }

    /// The selected percentage option, sharing the config's block of options: found in the
    /// matched rule's run if a rule served it, else in the setting's.
    fn matched_percentage_option(&self) -> Option<Shared<PercentageOption>> {
        let option = self.selection.matched_percentage_option?;
        let list = match self.selection.matched_targeting_rule.map(|rule| &rule.then) {
            Some(RuleOutcome::PercentageOptions(options)) => options,
            _ => &self.setting.percentage_options,
        };
        list.share(option)
    }

    /// The details of a successful evaluation that produced `value`.
    pub(crate) fn details<T>(
        &self,
        value: T,
        user: Option<&User>,
        fetch_time: Option<SystemTime>,
    ) -> EvaluationDetails<T> {
        EvaluationDetails {
            key: self.key.clone(),
            value,
            variation_id: self.variation_id().cloned(),
            is_default_value: false,
            error: None,
            matched_targeting_rule: self.matched_targeting_rule(),
            matched_percentage_option: self.matched_percentage_option(),
            fetch_time,
            user: user.cloned(),
        }
    }
}

/// [`evaluate`], keeping what details need from the config.
///
/// Inlined into its callers: returned through memory, the `Found` is written field by field and
/// read back whole, and on the no-rule path that stall was a third of the time.
#[inline(always)]
pub(crate) fn evaluate_found<'a, T: FlagValue>(
    config: &'a Config,
    key: &str,
    default: Option<&T>,
    user: Option<&'a User>,
    sink: &dyn LogSink,
) -> Result<Found<'a>, EvaluationError> {
    let settings = config.settings();
    let Some((found_key, setting)) = settings.get_key_value(key) else {
        let mut available_keys: Vec<String> = settings.keys().map(|key| key.to_string()).collect();
        available_keys.sort_unstable();
        log_error(
            sink,
            event::SETTING_KEY_MISSING,
            format_args!(
                "Failed to evaluate setting '{key}' (the key was not found in config JSON). Returning the `default_value` parameter that you specified in your application: '{}'. Available keys: [{}].",
                LogDefault(default),
                QuotedList(&available_keys)
            ),
        );
        return Err(EvaluationError::SettingKeyMissing {
            key: key.to_owned(),
            available_keys,
        });
    };
    if default.is_some() {
        let fits = setting.setting_type.is_some_and(T::accepts);
        if !fits {
            let error = EvaluationError::SettingTypeMismatch {
                setting_type: setting.setting_type.map_or_else(
                    || format!("unknown ({})", setting.type_code),
                    |t| t.to_string(),
                ),
                requested_type: T::type_name(),
            };
            log_error(
                sink,
                error.event_id(),
                format_args!(
                    "Failed to evaluate setting '{key}' ({error}). Returning the `default_value` parameter that you specified in your application: '{}'.",
                    LogDefault(default)
                ),
            );
            return Err(error);
        }
    }

    let mut evaluator = Evaluator::new(settings, user, sink);
    if let Some(log) = evaluator.log.as_mut() {
        log.append(format_args!("Evaluating '{key}'"));
        if let Some(user) = user {
            // Streamed into the capped log: a user of many megabytes is never written whole.
            log.append(" for User '").append_json(user).append("'");
        }
        log.indent();
    }
    let result = evaluator.evaluate(found_key, setting);
    if let Some(log) = evaluator.log.as_mut() {
        match &result {
            Ok(selection) => log.line(format_args!("Returning '{}'.", selection.value)),
            Err(_) => log
                .reset_indent()
                .indent()
                .line(format_args!("Returning '{}'.", LogDefault(default))),
        };
        sink.log(
            LogLevel::Info,
            event::EVALUATION_LOG,
            format_args!("{}", log.finish()),
        );
    }
    let selection = result.map_err(|fatal| {
        log_error(
            sink,
            event::EVALUATION_FAILED,
            format_args!(
                "Failed to evaluate setting '{key}' ({}). Returning the `default_value` parameter that you specified in your application: '{}'.",
                fatal.0,
                LogDefault(default)
            ),
        );
        EvaluationError::InvalidConfig(fatal.0)
    })?;
    Ok(Found {
        key: found_key,
        setting,
        selection,
    })
}

/// Evaluates the flag `key` as a `T`, returning owned details that share the config's data.
///
/// On any error the details carry `default` and the error; nothing panics.
///
/// ```
/// use configcat_actix::{Config, NoLog, eval};
/// let config = Config::parse(r#"{"f":{"greeting":{"t":1,"v":{"s":"hello"},"i":"v1"}}}"#)?;
/// let details = eval::evaluate_details(&config, "greeting", String::new(), None, None, &NoLog);
/// assert_eq!(details.value, "hello");
/// assert_eq!(details.variation_id.as_deref(), Some("v1"));
/// let missing = eval::evaluate_details(&config, "nope", false, None, None, &NoLog);
/// assert!(missing.is_default_value);
/// # Ok::<(), configcat_actix::ParseError>(())
/// ```
pub fn evaluate_details<T: FlagValue>(
    config: &Config,
    key: &str,
    default: T,
    user: Option<&User>,
    fetch_time: Option<SystemTime>,
    sink: &dyn LogSink,
) -> EvaluationDetails<T> {
    let mut details = match evaluate_found(config, key, Some(&default), user, sink) {
        Ok(found) => match T::from_value(found.selection.value) {
            Some(value) => return found.details(value, user, fetch_time),
            // The type was checked before evaluation; a value of another type means a broken
            // config.
            None => EvaluationDetails::failed(
                found.key.clone(),
                default,
                EvaluationError::SettingTypeMismatch {
                    setting_type: found.selection.value.setting_type().to_string(),
                    requested_type: T::type_name(),
                },
                user,
            ),
        },
        Err(error) => EvaluationDetails::from_error(key, default, error, user),
    };
    details.fetch_time = fetch_time;
    details
}

/// Evaluates the flag `key` as a `T`, falling back to `default` on any error.
///
/// This is the allocation-free path: for a `bool` flag without rules nothing touches the heap.
///
/// ```
/// use configcat_actix::{Config, NoLog, eval};
/// let config = Config::parse(r#"{"f":{"isAwesome":{"t":0,"v":{"b":true}}}}"#)?;
/// assert!(eval::evaluate_value(&config, "isAwesome", false, None, &NoLog));
/// assert_eq!(eval::evaluate_value(&config, "isAwesome", 7_i64, None, &NoLog), 7);
/// # Ok::<(), configcat_actix::ParseError>(())
/// ```
pub fn evaluate_value<T: FlagValue>(
    config: &Config,
    key: &str,
    default: T,
    user: Option<&User>,
    sink: &dyn LogSink,
) -> T {
    match evaluate(config, key, Some(&default), user, sink) {
        Ok(selection) => T::from_value(selection.value).unwrap_or(default),
        Err(_) => default,
    }
}

/// Finds the setting key and value that a variation id belongs to (spec §6.5).
///
/// ```
/// use configcat_actix::{Config, NoLog, Value, eval};
/// let config = Config::parse(r#"{"f":{"greeting":{"t":1,"v":{"s":"hello"},"i":"v1"}}}"#)?;
/// let (key, value) = eval::key_and_value(&config, "v1", &NoLog).unwrap();
/// assert_eq!((key, value), ("greeting", &Value::from("hello")));
/// # Ok::<(), configcat_actix::ParseError>(())
/// ```
pub fn key_and_value<'a>(
    config: &'a Config,
    variation_id: &str,
    sink: &dyn LogSink,
) -> Option<(&'a str, &'a Value)> {
    let is = |id: &Option<SmolStr>| id.as_deref() == Some(variation_id);
    for (key, setting) in config.settings() {
        let found = if is(&setting.variation_id) {
            setting.value.as_ref()
        } else {
            setting
                .targeting_rules
                .iter()
                .find_map(|rule| match &rule.then {
                    RuleOutcome::Served {
                        value,
                        variation_id,
                    } if is(variation_id) => value.as_ref(),
                    RuleOutcome::PercentageOptions(options) => options
                        .iter()
                        .find(|o| is(&o.variation_id))
                        .and_then(|o| o.value.as_ref()),
                    _ => None,
                })
                .or_else(|| {
                    setting
                        .percentage_options
                        .iter()
                        .find(|o| is(&o.variation_id))
                        .and_then(|o| o.value.as_ref())
                })
        };
        if let Some(value) = found {
            return Some((key.as_str(), value));
        }
    }
    log_error(
        sink,
        event::VARIATION_ID_NOT_FOUND,
        format_args!(
            "Could not find the setting for the specified variation ID: '{variation_id}'."
        ),
    );
    None
}

fn log_error(sink: &dyn LogSink, event_id: u32, message: fmt::Arguments<'_>) {
    if sink.enabled(LogLevel::Error) {
        sink.log(LogLevel::Error, event_id, message);
    }
}

/// `'a', 'b'`: how key lists appear in messages.
struct QuotedList<'a>(&'a [String]);

impl fmt::Display for QuotedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "'{item}'")?;
        }
        Ok(())
    }
}
