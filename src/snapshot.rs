//! The [`Snapshot`] users evaluate from synchronously, and the borrowed view every evaluation
//! path shares: [`View`] is the one implementation of the evaluation verbs, which the evaluator
//! actor's handlers, [`ConfigCatHandle`](crate::ConfigCatHandle), [`Snapshot`] and `web::Flags`
//! call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use smol_str::SmolStr;

use crate::eval::{self, EvaluationDetails, FlagValue};
use crate::hooks::Hooks;
use crate::log::{LogLevel, LogSink, event};
use crate::model::{Config, Value};
use crate::state::Current;
use crate::user::User;

/// An immutable view of the client's current config that evaluates synchronously, with no
/// mailbox in between: for hot loops. Cloning is a few reference-count increments.
///
/// Get one with the [`GetSnapshot`](crate::GetSnapshot) message (or
/// [`ConfigCatHandle::snapshot`](crate::ConfigCatHandle::snapshot)). It has the verbs of every
/// other way to evaluate, with the same names and answers (see [the crate's
/// overview](crate#evaluating-one-set-of-verbs-four-ways)); what is its own is that it is
/// frozen: it keeps the config and the default user it was taken with (even after
/// [`Close`](crate::Close)), so ask for a new one to see a newer config.
///
/// ```
/// use configcat_actix::{Config, Snapshot, User};
/// let config = Config::parse(r#"{"f":{"isAwesome":{"t":0,"v":{"b":true}}}}"#)?;
/// let snapshot = Snapshot::from_config(config);
/// assert!(snapshot.get_value("isAwesome", false, None));
/// assert_eq!(snapshot.get_all_keys(), vec!["isAwesome"]);
/// # Ok::<(), configcat_actix::ParseError>(())
/// ```
#[derive(Clone)]
pub struct Snapshot {
    fetch_time: Option<SystemTime>,
    /// The config, held directly: one pointer less to follow per evaluation.
    config: Option<Arc<Config>>,
    default_user: Option<User>,
    sink: Arc<dyn LogSink>,
    hooks: Arc<Hooks>,
    /// Whether evaluations must build details for `on_flag_evaluated` hooks.
    report_evaluations: bool,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("fetch_time", &self.fetch_time())
            .field("keys", &sorted_keys(self.config()).len())
            .finish()
    }
}

impl Snapshot {
    pub(crate) fn new(current: &Current, sink: Arc<dyn LogSink>, hooks: Arc<Hooks>) -> Snapshot {
        Snapshot {
            config: current.config.clone(),
            fetch_time: current.fetch_time(),
            default_user: current.default_user.clone(),
            sink,
            report_evaluations: hooks.wants_flag_evaluated(),
            hooks,
        }
    }

    /// A snapshot of a config on its own, with no logging: for tests and tools.
    pub fn from_config(config: Config) -> Snapshot {
        let current = Current {
            config: Some(Arc::new(config)),
            ..Current::default()
        };
        Snapshot::new(
            &current,
            Arc::new(crate::log::NoLog),
            Arc::new(Hooks::default()),
        )
    }

    /// The config, if one was available when the snapshot was taken.
    pub fn config(&self) -> Option<&Config> {
        self.config.as_deref()
    }

    /// When the config was fetched.
    pub fn fetch_time(&self) -> Option<SystemTime> {
        self.fetch_time
    }

    /// The setting keys, sorted, borrowed from the snapshot.
    #[deprecated(
        since = "0.2.0",
        note = "use `get_all_keys`, the name every way to evaluate shares"
    )]
    pub fn keys(&self) -> Vec<&str> {
        sorted_keys(self.config())
    }

    /// The view every verb delegates to. A snapshot is never closed: it goes on answering
    /// from what it holds after the client is closed.
    #[inline]
    pub(crate) fn view(&self) -> View<'_> {
        View {
            config: self.config.as_deref(),
            fetch_time: self.fetch_time,
            default_user: self.default_user.as_ref(),
            sink: &*self.sink,
            hooks: &self.hooks,
            report_evaluations: self.report_evaluations,
            closed: false,
        }
    }

    /// The value of a flag for a user (or the default user), `default` on any error.
    #[inline]
    pub fn get_value<T: FlagValue>(&self, key: &str, default: T, user: Option<&User>) -> T {
        self.view().get_value(key, default, user)
    }

    /// The value of a flag with the details of how it was chosen.
    pub fn get_value_details<T: FlagValue>(
        &self,
        key: &str,
        default: T,
        user: Option<&User>,
    ) -> EvaluationDetails<T> {
        self.view().get_value_details(key, default, user)
    }

    /// The setting keys of the config, sorted (empty without a config).
    pub fn get_all_keys(&self) -> Vec<String> {
        self.view().get_all_keys()
    }

    /// Every flag's value for a user (or the default user); flags that fail to evaluate are
    /// left out.
    pub fn get_all_values(&self, user: Option<&User>) -> HashMap<String, Value> {
        self.view().get_all_values(user)
    }

    /// Every flag's evaluation details for a user (or the default user), sorted by key.
    pub fn get_all_value_details(&self, user: Option<&User>) -> Vec<EvaluationDetails<Value>> {
        self.view().get_all_value_details(user)
    }

    /// The key and value a variation id belongs to.
    pub fn get_key_and_value(&self, variation_id: &str) -> Option<(String, Value)> {
        self.view().get_key_and_value(variation_id)
    }
}

fn sorted_keys(config: Option<&Config>) -> Vec<&str> {
    let mut keys: Vec<&str> = config
        .map(|c| c.settings().keys().map(SmolStr::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

/// A borrowed view of the client state an evaluation needs, and the one implementation of the
/// evaluation verbs. The evaluator actor and handles build one from the published state
/// without touching reference counts; a [`Snapshot`] owns what it borrows.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub(crate) config: Option<&'a Config>,
    pub(crate) fetch_time: Option<SystemTime>,
    pub(crate) default_user: Option<&'a User>,
    pub(crate) sink: &'a dyn LogSink,
    pub(crate) hooks: &'a Hooks,
    /// Whether evaluations must build details for `on_flag_evaluated` hooks.
    pub(crate) report_evaluations: bool,
    /// The client is closed: every verb says so (WARNING 3201) and answers as with no config,
    /// with [`EvaluationError::ClientClosed`](eval::EvaluationError::ClientClosed) in details.
    pub(crate) closed: bool,
}

impl<'a> View<'a> {
    #[inline]
    fn user(&self, user: Option<&'a User>) -> Option<&'a User> {
        user.or(self.default_user)
    }

    /// Whether the client is closed; if so, says so for `method` (the check of every verb).
    #[inline]
    fn refuses(&self, method: &str) -> bool {
        if self.closed {
            say_closed(self.sink, method);
        }
        self.closed
    }

    // Inlined into the handle's read, which builds the view: passed through memory instead, the
    // view's fields are stored in halves and loaded whole, and the load stalls (5 ns of 28).
    #[inline]
    pub(crate) fn get_value<T: FlagValue>(
        &self,
        key: &str,
        default: T,
        user: Option<&'a User>,
    ) -> T {
        if self.report_evaluations || self.closed {
            return self.details_for("get_value", key, default, user).value;
        }
        let Some(config) = self.config else {
            config_missing(self.sink, key, &default);
            return default;
        };
        eval::evaluate_value(config, key, default, self.user(user), self.sink)
    }

    pub(crate) fn get_value_details<T: FlagValue>(
        &self,
        key: &str,
        default: T,
        user: Option<&'a User>,
    ) -> EvaluationDetails<T> {
        self.details_for("get_value_details", key, default, user)
    }

    /// The details of one flag, for the verb `method`.
    fn details_for<T: FlagValue>(
        &self,
        method: &str,
        key: &str,
        default: T,
        user: Option<&'a User>,
    ) -> EvaluationDetails<T> {
        let user = self.user(user);
        if self.refuses(method) {
            let error = eval::EvaluationError::ClientClosed;
            return EvaluationDetails::from_error(key, default, error, user);
        }
        let details = match self.config {
            None => {
                config_missing(self.sink, key, &default);
                EvaluationDetails::from_error(
                    key,
                    default,
                    eval::EvaluationError::ConfigJsonNotAvailable,
                    user,
                )
            }
            Some(config) => {
                eval::evaluate_details(config, key, default, user, self.fetch_time, self.sink)
            }
        };
        self.report(&details);
        details
    }

    /// Hands `details` to the `on_flag_evaluated` hooks. Checked on the view's own flag first:
    /// the hooks live in an allocation of their own, one cache miss per evaluation to find none.
    #[inline]
    fn report<T: FlagValue>(&self, details: &EvaluationDetails<T>) {
        if self.report_evaluations {
            self.hooks.flag_evaluated(details, self.sink);
        }
    }

    pub(crate) fn get_all_keys(&self) -> Vec<String> {
        if self.refuses("get_all_keys") {
            return Vec::new();
        }
        sorted_keys(self.config)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    pub(crate) fn get_all_values(&self, user: Option<&'a User>) -> HashMap<String, Value> {
        if self.refuses("get_all_values") {
            return HashMap::new();
        }
        self.evaluate_all(user)
            .into_iter()
            .filter(|d| d.error.is_none())
            .map(|d| (d.key.into(), d.value))
            .collect()
    }

    pub(crate) fn get_all_value_details(
        &self,
        user: Option<&'a User>,
    ) -> Vec<EvaluationDetails<Value>> {
        if self.refuses("get_all_value_details") {
            return Vec::new();
        }
        self.evaluate_all(user)
    }

    /// Every flag's details, sorted by key (none without a config, logged).
    fn evaluate_all(&self, user: Option<&'a User>) -> Vec<EvaluationDetails<Value>> {
        let Some(config) = self.config else {
            self.sink.log(
                LogLevel::Error,
                event::CONFIG_JSON_NOT_AVAILABLE,
                format_args!("Config JSON is not present. Returning empty list."),
            );
            return Vec::new();
        };
        let user = self.user(user);
        let mut keys: Vec<&SmolStr> = config.settings().keys().collect();
        keys.sort_unstable();
        keys.into_iter()
            .map(|key| {
                let found = eval::evaluate_found::<Value>(config, key, None, user, self.sink);
                let details = match found {
                    Ok(found) => {
                        found.details(found.selection.value.clone(), user, self.fetch_time)
                    }
                    Err(error) => {
                        EvaluationDetails::failed(key.clone(), Value::Bool(false), error, user)
                    }
                };
                self.report(&details);
                details
            })
            .collect()
    }

    pub(crate) fn get_key_and_value(&self, variation_id: &str) -> Option<(String, Value)> {
        if self.refuses("get_key_and_value") {
            return None;
        }
        let Some(config) = self.config else {
            self.sink.log(
                LogLevel::Error,
                event::CONFIG_JSON_NOT_AVAILABLE,
                format_args!("Config JSON is not present. Returning None."),
            );
            return None;
        };
        eval::key_and_value(config, variation_id, self.sink).map(|(k, v)| (k.to_owned(), v.clone()))
    }
}

#[cold]
fn say_closed(sink: &dyn LogSink, method: &str) {
    sink.log(
        LogLevel::Warn,
        event::CLIENT_DISPOSED,
        format_args!("The client object is already disposed, thus `{method}()` has no effect."),
    );
}

fn config_missing<T: FlagValue>(sink: &dyn LogSink, key: &str, default: &T) {
    struct Show<'a, T>(&'a T);
    impl<T: FlagValue> std::fmt::Display for Show<'_, T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt_log(f)
        }
    }
    if sink.enabled(LogLevel::Error) {
        sink.log(
            LogLevel::Error,
            event::CONFIG_JSON_NOT_AVAILABLE,
            format_args!(
                "Config JSON is not present when evaluating setting '{key}'. Returning the `default_value` parameter that you specified in your application: '{}'.",
                Show(default)
            ),
        );
    }
}
