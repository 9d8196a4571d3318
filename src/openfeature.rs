//! An [OpenFeature](https://openfeature.dev) provider backed by a ConfigCat client (cargo
//! feature `openfeature`).
//!
//! [`ConfigCatProvider`] wraps the [`Addr`] of a started [`ConfigCat`] client. Registering it
//! (`set_provider`) runs its `initialize`, which fetches the client's [`ConfigCatHandle`] once
//! and waits until the client is ready (its first config downloaded or read from the cache), at
//! most [`max_init_wait`](ConfigCatProvider::max_init_wait). Resolutions then evaluate through
//! the handle, on the caller's task with no mailbox round trip, from the client's newest config.
//! The evaluation context becomes a [`User`] ([`user_from_context`]), the ConfigCat
//! [`EvaluationDetails`] become OpenFeature resolution details: the variation id is the
//! variant, the reason says whether a targeting rule, a percentage option or the plain setting
//! value decided, and errors map to OpenFeature error codes. [`FeatureProvider::status`] tells
//! how much flag data the client has. See docs/openfeature.md.
//!
//! ```no_run
//! use configcat_actix::ConfigCat;
//! use configcat_actix::openfeature::ConfigCatProvider;
//! use open_feature::{EvaluationContext, OpenFeature};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let client = ConfigCat::builder("#YOUR-SDK-KEY#").start()?;
//! let mut api = OpenFeature::singleton_mut().await;
//! // Returns once the first config is there, or after 5 s.
//! api.set_provider(ConfigCatProvider::new(client)).await;
//! let of_client = api.create_client();
//! drop(api);
//!
//! let context = EvaluationContext::default()
//!     .with_targeting_key("user-42")
//!     .with_custom_field("Email", "a@example.com");
//! let on = of_client
//!     .get_bool_value("isAwesomeFeatureEnabled", Some(&context), None)
//!     .await
//!     .unwrap_or(false);
//! # let _ = on;
//! # Ok(()) }
//! ```
//!
//! `initialize` (and the first resolution, when the provider is used without being
//! initialized) must be polled on a Tokio runtime, since it talks to the client's actor and
//! waits on a timer (an actix System is one); the provider itself can be shared between
//! threads.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::Addr;
use open_feature::provider::{
    FeatureProvider, ProviderMetadata, ProviderStatus, ResolutionDetails,
};
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue, EvaluationError as OfError,
    EvaluationErrorCode, EvaluationReason, EvaluationResult, FlagMetadata, StructValue,
    Value as OfValue, async_trait,
};

use crate::eval::{EvaluationDetails, EvaluationError, FlagValue, Reason};
use crate::evaluator::ConfigCat;
use crate::handle::ConfigCatHandle;
use crate::messages::GetHandle;
use crate::state::ClientCacheState;
use crate::user::{User, UserValue};

/// The provider's name in its [`ProviderMetadata`].
pub const PROVIDER_NAME: &str = "ConfigCat";

/// How long [`FeatureProvider::initialize`] waits for the client's first config by default:
/// the client's own default, the one constant.
pub use crate::policy::DEFAULT_MAX_INIT_WAIT;

/// An OpenFeature [`FeatureProvider`] that evaluates flags with a ConfigCat client.
///
/// Cloning is cheap: clones share the client and its handle, so a clone kept before
/// `set_provider` (which takes the provider by value) reports the registered provider's
/// [`status`](FeatureProvider::status).
///
/// ```
/// use std::time::Duration;
/// use configcat_actix::openfeature::ConfigCatProvider;
/// use configcat_actix::{ConfigCat, FlagOverrides, NoLog, OverrideBehaviour};
/// use open_feature::EvaluationContext;
/// use open_feature::provider::{FeatureProvider, ProviderStatus};
///
/// #[actix::main]
/// async fn main() {
///     let flags = FlagOverrides::from_map([("isAwesome", true)], OverrideBehaviour::LocalOnly);
///     let client = ConfigCat::builder("local").flag_overrides(flags).log_sink(NoLog).start().unwrap();
///     let mut provider = ConfigCatProvider::new(client).max_init_wait(Duration::from_secs(2));
///     // Not initialized yet: the provider has not looked at the client.
///     assert_eq!(provider.status(), ProviderStatus::NotReady);
///     // What `set_provider` does.
///     provider.initialize(&EvaluationContext::default()).await;
///     assert_eq!(provider.status(), ProviderStatus::Ready);
///     let details = provider
///         .resolve_bool_value("isAwesome", &EvaluationContext::default())
///         .await
///         .unwrap();
///     assert!(details.value);
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ConfigCatProvider {
    client: Addr<ConfigCat>,
    max_init_wait: Duration,
    state: Arc<State>,
    metadata: ProviderMetadata,
}

/// What the clones of a provider share.
#[derive(Debug, Default)]
struct State {
    /// Fetched once, by `initialize` or the first resolution: `new` cannot await the client.
    handle: OnceLock<ConfigCatHandle>,
    /// The fetch time of the config the client was ready with (`None`: no download), taken
    /// when the provider first sees the client ready with only cached data: a newer one means
    /// a download made since, which turns `STALE` into `READY`.
    ready_fetch_time: OnceLock<Option<SystemTime>>,
}

impl ConfigCatProvider {
    /// A provider that evaluates with `client`, waiting at most [`DEFAULT_MAX_INIT_WAIT`] for
    /// its first config when initialized.
    pub fn new(client: Addr<ConfigCat>) -> ConfigCatProvider {
        ConfigCatProvider {
            client,
            max_init_wait: DEFAULT_MAX_INIT_WAIT,
            state: Arc::default(),
            metadata: ProviderMetadata::new(PROVIDER_NAME),
        }
    }

    /// How long [`initialize`](FeatureProvider::initialize) (so `set_provider`) waits for the
    /// client's first config; then it returns with the provider `NOT_READY` and resolutions
    /// fail with `PROVIDER_NOT_READY` until the config arrives. The provider cannot read the
    /// client's own `PollingMode::max_init_wait`, so pass the same value here if you changed it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use configcat_actix::openfeature::{ConfigCatProvider, DEFAULT_MAX_INIT_WAIT};
    /// use configcat_actix::{ConfigCat, PollingMode};
    ///
    /// # #[actix::main]
    /// # async fn main() {
    /// // The client waits up to 10 s for its first config: so does the provider.
    /// let mode = PollingMode::default().max_init_wait(Duration::from_secs(10));
    /// let client = ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXX")
    ///     .polling_mode(mode)
    ///     .offline(true)
    ///     .start()
    ///     .unwrap();
    /// let provider = ConfigCatProvider::new(client).max_init_wait(Duration::from_secs(10));
    /// assert_eq!(provider.init_wait(), Duration::from_secs(10));
    /// assert_eq!(DEFAULT_MAX_INIT_WAIT, Duration::from_secs(5));
    /// # }
    /// ```
    #[must_use]
    pub fn max_init_wait(mut self, wait: Duration) -> ConfigCatProvider {
        self.max_init_wait = wait;
        self
    }

    /// The bound [`initialize`](FeatureProvider::initialize) waits for the first config.
    pub fn init_wait(&self) -> Duration {
        self.max_init_wait
    }

    /// The ConfigCat client the provider evaluates with.
    pub fn client(&self) -> &Addr<ConfigCat> {
        &self.client
    }

    /// The client's handle, fetched on first use; `None` when the client is gone.
    async fn handle(&self) -> Option<&ConfigCatHandle> {
        if let Some(handle) = self.state.handle.get() {
            return Some(handle);
        }
        // Two first uses at once both ask; they get handles on the same client, so whichever
        // is kept is as good.
        let handle = self.client.send(GetHandle).await.ok()?;
        Some(self.state.handle.get_or_init(|| handle))
    }

    async fn details<T>(
        &self,
        key: &str,
        default: T,
        context: &EvaluationContext,
    ) -> EvaluationResult<(T, ResolutionDetails<()>)>
    where
        T: FlagValue + Send + 'static,
    {
        let Some(handle) = self.handle().await else {
            return Err(error(
                EvaluationErrorCode::ProviderNotReady,
                "The ConfigCat client is closed.",
            ));
        };
        let user = user_from_context(context);
        // The handle never waits: before the first config it answers with
        // `ConfigJsonNotAvailable`, i.e. PROVIDER_NOT_READY, as OpenFeature asks of a provider
        // that is not ready; `initialize` is where the waiting happens.
        let (details, reason) = handle.get_value_details_and_reason(key, default, user.as_ref());
        into_resolution(details, reason)
    }

    /// The status once the client is ready with `ready`.
    fn ready_status(&self, handle: &ConfigCatHandle, ready: ClientCacheState) -> ProviderStatus {
        match ready {
            ClientCacheState::HasUpToDateFlagData
            | ClientCacheState::HasLocalOverrideFlagDataOnly => ProviderStatus::Ready,
            // The ready state is fixed when the client becomes ready; the current config tells
            // whether a download has come since. (`snapshot` is an access: in lazy load an
            // expired config starts a background refresh, as an evaluation would.)
            ClientCacheState::NoFlagData => match handle.snapshot().config() {
                Some(_) => ProviderStatus::Ready,
                None => ProviderStatus::Error,
            },
            ClientCacheState::HasCachedFlagDataOnly => {
                let now = handle.snapshot().fetch_time();
                let at_ready = *self.state.ready_fetch_time.get_or_init(|| now);
                if now > at_ready {
                    ProviderStatus::Ready
                } else {
                    ProviderStatus::STALE
                }
            }
        }
    }
}

impl From<Addr<ConfigCat>> for ConfigCatProvider {
    fn from(client: Addr<ConfigCat>) -> ConfigCatProvider {
        ConfigCatProvider::new(client)
    }
}

#[async_trait]
impl FeatureProvider for ConfigCatProvider {
    /// Fetches the client's handle and waits until the client is ready, at most
    /// [`max_init_wait`](ConfigCatProvider::max_init_wait) (on timeout the client logs WARNING
    /// 4200). The global context needs no handling here: the OpenFeature client merges it into
    /// every evaluation's context, which becomes the ConfigCat user.
    async fn initialize(&mut self, _context: &EvaluationContext) {
        // A closed client has no handle; `status` then says ERROR.
        let Some(handle) = self.handle().await else {
            return;
        };
        handle.wait_for_ready(self.max_init_wait).await;
        if handle.ready_state() == Some(ClientCacheState::HasCachedFlagDataOnly) {
            // The baseline for telling a later download from the cached config.
            let _ = self
                .state
                .ready_fetch_time
                .get_or_init(|| handle.snapshot().fetch_time());
        }
    }

    /// `NOT_READY` before `initialize` (or a first resolution) and while the client waits for
    /// its first config; `READY` once it has flag data (up to date, local overrides, or a
    /// download made after becoming ready with less); `STALE` when it became ready with only
    /// a cached config and has downloaded none since; `ERROR` when it became ready with no flag
    /// data at all (resolutions fail with `PROVIDER_NOT_READY`) or is closed.
    fn status(&self) -> ProviderStatus {
        // `Close` stops the client's actor: no evaluation will see a config again.
        if !self.client.connected() {
            return ProviderStatus::Error;
        }
        let Some(handle) = self.state.handle.get() else {
            return ProviderStatus::NotReady;
        };
        match handle.ready_state() {
            None => ProviderStatus::NotReady,
            Some(ready) => self.ready_status(handle, ready),
        }
    }

    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn resolve_bool_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        let (value, details) = self.details(flag_key, false, evaluation_context).await?;
        Ok(with_value(details, value))
    }

    async fn resolve_int_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        let (value, details) = self.details(flag_key, 0_i64, evaluation_context).await?;
        Ok(with_value(details, value))
    }

    async fn resolve_float_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        let (value, details) = self.details(flag_key, 0.0_f64, evaluation_context).await?;
        Ok(with_value(details, value))
    }

    async fn resolve_string_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        let (value, details) = self
            .details(flag_key, String::new(), evaluation_context)
            .await?;
        Ok(with_value(details, value))
    }

    /// Evaluates a text setting and parses its value as a JSON object.
    async fn resolve_struct_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        let (text, details) = self
            .details(flag_key, String::new(), evaluation_context)
            .await?;
        let value = struct_from_json(&text)?;
        Ok(with_value(details, value))
    }
}

/// The ConfigCat user for an OpenFeature evaluation context.
///
/// The targeting key is the identifier (`""` when missing); the `Email` and `Country` fields
/// (text) are the well-known attributes; every other field is a custom attribute: text as text,
/// integers and floats as numbers, booleans as the text `true`/`false`, date-times as points in
/// time, and a struct field holding a `Vec<String>`, `Vec<&str>` or `String` as a text list or
/// text. Other struct fields are skipped.
///
/// An empty context (no targeting key, no fields) gives `None`, so the client's default user,
/// if any, applies.
pub fn user_from_context(context: &EvaluationContext) -> Option<User> {
    if context.targeting_key.is_none() && context.custom_fields.is_empty() {
        return None;
    }
    let mut user = User::new(context.targeting_key.clone().unwrap_or_default());
    // Sorted so that the user (and its JSON in the logs) does not depend on hash order.
    let mut fields: Vec<_> = context.custom_fields.iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (name, value) in fields {
        let Some(value) = user_value(value) else {
            continue;
        };
        user = match (name.as_str(), value) {
            ("Email", UserValue::String(email)) => user.email(email),
            ("Country", UserValue::String(country)) => user.country(country),
            (_, value) => user.custom(name.clone(), value),
        };
    }
    Some(user)
}

/// The ConfigCat user of an OpenFeature evaluation context, as [`user_from_context`] reads it;
/// an empty context gives a user with an empty identifier.
///
/// ```
/// use configcat_actix::User;
/// use open_feature::EvaluationContext;
/// let context = EvaluationContext::default()
///     .with_targeting_key("user-42")
///     .with_custom_field("Email", "a@example.com")
///     .with_custom_field("Seats", 25);
/// let user = User::from(&context);
/// assert_eq!(user.identifier(), "user-42");
/// assert_eq!(user.get_email(), Some("a@example.com"));
/// assert_eq!(user.get_custom("Seats"), Some(&25.into()));
/// ```
impl From<&EvaluationContext> for User {
    fn from(context: &EvaluationContext) -> User {
        user_from_context(context).unwrap_or_else(|| User::new(""))
    }
}

/// The OpenFeature evaluation context of a ConfigCat user, so that a handler that already
/// built the [`User`] (for example with the actix-web `Flags` extractor) passes the same one
/// to OpenFeature: the identifier is the targeting key, `Email`, `Country` and every custom
/// attribute are fields (text, integers, floats and date-times as such; a text list as a
/// `Vec<String>` struct field; a version as its text). [`user_from_context`] reads it back
/// into an equal user.
///
/// ```
/// use configcat_actix::User;
/// use configcat_actix::openfeature::user_from_context;
/// use open_feature::EvaluationContext;
/// let user = User::new("user-42").email("a@example.com").custom("Roles", vec!["admin"]);
/// let context = EvaluationContext::from(&user);
/// assert_eq!(context.targeting_key.as_deref(), Some("user-42"));
/// assert_eq!(context.custom_fields["Email"].as_str(), Some("a@example.com"));
/// assert_eq!(user_from_context(&context), Some(user));
/// ```
impl From<&User> for EvaluationContext {
    fn from(user: &User) -> EvaluationContext {
        let mut context = EvaluationContext::default().with_targeting_key(user.identifier());
        let mut field = |name: &str, value: EvaluationContextFieldValue| {
            context.custom_fields.insert(name.to_owned(), value);
        };
        if let Some(email) = user.get_email() {
            field(
                "Email",
                EvaluationContextFieldValue::String(email.to_owned()),
            );
        }
        if let Some(country) = user.get_country() {
            field(
                "Country",
                EvaluationContextFieldValue::String(country.to_owned()),
            );
        }
        for (name, value) in user.custom_attributes() {
            field(name, context_value(value));
        }
        context
    }
}

/// The inverse of [`user_value`], for the types it reads back.
fn context_value(value: &UserValue) -> EvaluationContextFieldValue {
    match value {
        UserValue::String(text) => EvaluationContextFieldValue::String(text.clone()),
        UserValue::Int(i) => EvaluationContextFieldValue::Int(*i),
        UserValue::Float(f) => EvaluationContextFieldValue::Float(*f),
        UserValue::DateTime(time) => EvaluationContextFieldValue::DateTime((*time).into()),
        UserValue::StringList(items) => EvaluationContextFieldValue::new_struct(items.clone()),
        UserValue::SemVer(version) => EvaluationContextFieldValue::String(version.to_string()),
    }
}

fn user_value(value: &EvaluationContextFieldValue) -> Option<UserValue> {
    Some(match value {
        EvaluationContextFieldValue::Bool(b) => UserValue::String(b.to_string()),
        EvaluationContextFieldValue::Int(i) => UserValue::Int(*i),
        EvaluationContextFieldValue::Float(f) => UserValue::Float(*f),
        EvaluationContextFieldValue::String(s) => UserValue::String(s.clone()),
        EvaluationContextFieldValue::DateTime(t) => UserValue::DateTime(SystemTime::from(*t)),
        EvaluationContextFieldValue::Struct(any) => struct_user_value(any.as_ref())?,
    })
}

fn struct_user_value(any: &(dyn Any + Send + Sync)) -> Option<UserValue> {
    if let Some(list) = any.downcast_ref::<Vec<String>>() {
        Some(UserValue::StringList(list.clone()))
    } else if let Some(list) = any.downcast_ref::<Vec<&'static str>>() {
        Some(UserValue::from(list.clone()))
    } else if let Some(list) = any.downcast_ref::<&'static [&'static str]>() {
        Some(UserValue::from(*list))
    } else if let Some(text) = any.downcast_ref::<String>() {
        Some(UserValue::String(text.clone()))
    } else {
        any.downcast_ref::<&'static str>()
            .map(|text| UserValue::from(*text))
    }
}

fn error(code: EvaluationErrorCode, message: impl Into<String>) -> OfError {
    OfError {
        code,
        message: Some(message.into()),
    }
}

fn error_code(error: &EvaluationError) -> EvaluationErrorCode {
    match error {
        EvaluationError::SettingKeyMissing { .. } => EvaluationErrorCode::FlagNotFound,
        EvaluationError::SettingTypeMismatch { .. } => EvaluationErrorCode::TypeMismatch,
        EvaluationError::ConfigJsonNotAvailable | EvaluationError::ClientClosed => {
            EvaluationErrorCode::ProviderNotReady
        }
        // A config defect (circular prerequisite, invalid comparison value, ...), and whatever
        // `EvaluationError` may grow: the code's text is the message.
        other => EvaluationErrorCode::General(other.to_string()),
    }
}

/// Splits ConfigCat details into the value and value-less resolution details, or the error.
fn into_resolution<T>(
    details: EvaluationDetails<T>,
    reason: Reason,
) -> EvaluationResult<(T, ResolutionDetails<()>)> {
    if let Some(e) = &details.error {
        return Err(error(error_code(e), e.to_string()));
    }
    let reason = match reason {
        Reason::Error => EvaluationReason::Error,
        Reason::TargetingMatch => EvaluationReason::TargetingMatch,
        Reason::Split => EvaluationReason::Split,
        Reason::Default => EvaluationReason::Default,
        Reason::Static => EvaluationReason::Static,
    };
    let mut metadata = FlagMetadata::default();
    if details.matched_targeting_rule.is_some() {
        metadata.add_value("matched_targeting_rule", true);
    }
    if let Some(option) = &details.matched_percentage_option {
        metadata.add_value("matched_percentage_option", option.percentage());
    }
    if let Some(fetch_time) = details.fetch_time {
        let millis = fetch_time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        metadata.add_value("fetch_time", millis);
    }
    let resolution = ResolutionDetails {
        value: (),
        variant: details.variation_id.map(String::from),
        reason: Some(reason),
        flag_metadata: (!metadata.values.is_empty()).then_some(metadata),
    };
    Ok((details.value, resolution))
}

fn with_value<T>(details: ResolutionDetails<()>, value: T) -> ResolutionDetails<T> {
    ResolutionDetails {
        value,
        variant: details.variant,
        reason: details.reason,
        flag_metadata: details.flag_metadata,
    }
}

/// Parses a text setting value as a JSON object.
fn struct_from_json(text: &str) -> EvaluationResult<StructValue> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        error(
            EvaluationErrorCode::ParseError,
            format!("The flag's value is not valid JSON: {e}"),
        )
    })?;
    match json {
        serde_json::Value::Object(map) => Ok(struct_value(map)),
        other => Err(error(
            EvaluationErrorCode::TypeMismatch,
            format!("The flag's value is JSON but not an object: {other}"),
        )),
    }
}

fn struct_value(map: serde_json::Map<String, serde_json::Value>) -> StructValue {
    let fields: HashMap<String, OfValue> = map
        .into_iter()
        .filter_map(|(k, v)| Some((k, of_value(v)?)))
        .collect();
    StructValue { fields }
}

/// A JSON value as an OpenFeature value; `null` has none and is left out.
fn of_value(json: serde_json::Value) -> Option<OfValue> {
    Some(match json {
        serde_json::Value::Null => return None,
        serde_json::Value::Bool(b) => OfValue::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => OfValue::Int(i),
            None => OfValue::Float(n.as_f64()?),
        },
        serde_json::Value::String(s) => OfValue::String(s),
        serde_json::Value::Array(items) => {
            OfValue::Array(items.into_iter().filter_map(of_value).collect())
        }
        serde_json::Value::Object(map) => OfValue::Struct(struct_value(map)),
    })
}
