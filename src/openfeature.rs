//! An [OpenFeature](https://openfeature.dev) provider backed by a ConfigCat client (cargo
//! feature `openfeature`).
//!
//! [`ConfigCatProvider`] wraps the [`Addr`] of a started [`ConfigCat`] client and answers every
//! OpenFeature resolution with a [`GetValueDetails`] message, so it always evaluates the
//! client's current config. The evaluation context becomes a [`User`] ([`user_from_context`]),
//! the ConfigCat [`EvaluationDetails`] become OpenFeature resolution details: the variation id
//! is the variant, the reason says whether a targeting rule, a percentage option or the plain
//! setting value decided, and errors map to OpenFeature error codes. See docs/openfeature.md.
//!
//! ```no_run
//! use configcat_actix::ConfigCat;
//! use configcat_actix::openfeature::ConfigCatProvider;
//! use open_feature::{EvaluationContext, OpenFeature};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let client = ConfigCat::builder("#YOUR-SDK-KEY#").start()?;
//! let mut api = OpenFeature::singleton_mut().await;
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
//! The futures answer once the client's actor replies, so they must be polled on a Tokio
//! runtime (an actix System is one); the provider itself can be shared between threads.

use std::any::Any;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use actix::Addr;
use open_feature::provider::{FeatureProvider, ProviderMetadata, ResolutionDetails};
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue, EvaluationError as OfError,
    EvaluationErrorCode, EvaluationReason, EvaluationResult, FlagMetadata, StructValue,
    Value as OfValue, async_trait,
};

use crate::ConfigCat;
use crate::eval::{EvaluationDetails, EvaluationError, FlagValue};
use crate::messages::GetValueDetails;
use crate::user::{User, UserValue};

/// The provider's name in its [`ProviderMetadata`].
pub const PROVIDER_NAME: &str = "ConfigCat";

/// An OpenFeature [`FeatureProvider`] that evaluates flags with a ConfigCat client.
///
/// Cloning is cheap: clones share the client.
#[derive(Debug, Clone)]
pub struct ConfigCatProvider {
    client: Addr<ConfigCat>,
    metadata: ProviderMetadata,
}

impl ConfigCatProvider {
    /// A provider that evaluates with `client`.
    pub fn new(client: Addr<ConfigCat>) -> ConfigCatProvider {
        ConfigCatProvider {
            client,
            metadata: ProviderMetadata::new(PROVIDER_NAME),
        }
    }

    /// The ConfigCat client the provider evaluates with.
    pub fn client(&self) -> &Addr<ConfigCat> {
        &self.client
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
        let mut message = GetValueDetails::new(key, default);
        if let Some(user) = user_from_context(context) {
            message = message.user(user);
        }
        let details = self.client.send(message).await.map_err(|e| {
            error(
                EvaluationErrorCode::ProviderNotReady,
                format!("The ConfigCat client did not answer: {e}"),
            )
        })?;
        into_resolution(details)
    }
}

impl From<Addr<ConfigCat>> for ConfigCatProvider {
    fn from(client: Addr<ConfigCat>) -> ConfigCatProvider {
        ConfigCatProvider::new(client)
    }
}

#[async_trait]
impl FeatureProvider for ConfigCatProvider {
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
) -> EvaluationResult<(T, ResolutionDetails<()>)> {
    if let Some(e) = &details.error {
        return Err(error(error_code(e), e.to_string()));
    }
    let reason = if details.matched_targeting_rule.is_some() {
        EvaluationReason::TargetingMatch
    } else if details.matched_percentage_option.is_some() {
        EvaluationReason::Split
    } else if details.is_default_value {
        EvaluationReason::Default
    } else {
        EvaluationReason::Static
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
        variant: details.variation_id,
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

/// The examples of docs/openfeature.md, compiled as doctests.
#[doc = include_str!("../docs/openfeature.md")]
#[cfg(doctest)]
pub struct OpenFeatureDocDoctests;
