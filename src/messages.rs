//! The messages a [`ConfigCat`](crate::ConfigCat) client answers, and the one it sends to
//! subscribers ([`ConfigChanged`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use actix::{Message, Recipient};

use crate::eval::{EvaluationDetails, FlagValue};
use crate::model::{Config, Value};
use crate::snapshot::Snapshot;
use crate::user::User;

/// Evaluates a flag; replies its value, or `default` on any error.
///
/// ```no_run
/// # use configcat_actix::{ConfigCat, GetValue, User};
/// # async fn example(client: actix::Addr<ConfigCat>) -> Result<(), actix::MailboxError> {
/// let user = User::new("user-42").email("a@example.com");
/// let on: bool = client.send(GetValue::new("isAwesomeFeatureEnabled", false).user(user)).await?;
/// # Ok(()) }
/// ```
///
/// The key is a `Cow<'static, str>`: a literal (`"myFlag"`) is borrowed, so sending the message
/// allocates nothing for it; a `String` is moved in. A borrowed `&str` that is not `'static`
/// needs `.to_owned()`, as actix messages cannot borrow.
#[derive(Debug, Clone)]
pub struct GetValue<T> {
    pub(crate) key: Cow<'static, str>,
    pub(crate) default: T,
    pub(crate) user: Option<User>,
}

impl<T: FlagValue> GetValue<T> {
    /// Asks for `key`, falling back to `default`.
    pub fn new(key: impl Into<Cow<'static, str>>, default: T) -> Self {
        GetValue {
            key: key.into(),
            default,
            user: None,
        }
    }

    /// Evaluates for this user instead of the default user.
    #[must_use]
    pub fn user(mut self, user: User) -> Self {
        self.user = Some(user);
        self
    }
}

impl<T: FlagValue + Send + 'static> Message for GetValue<T> {
    type Result = T;
}

/// Evaluates a flag; replies the value with the details of how it was chosen.
#[derive(Debug, Clone)]
pub struct GetValueDetails<T>(pub(crate) GetValue<T>);

impl<T: FlagValue> GetValueDetails<T> {
    /// Asks for `key`, falling back to `default` (the key as in [`GetValue::new`]).
    pub fn new(key: impl Into<Cow<'static, str>>, default: T) -> Self {
        GetValueDetails(GetValue::new(key, default))
    }

    /// Evaluates for this user instead of the default user.
    #[must_use]
    pub fn user(self, user: User) -> Self {
        GetValueDetails(self.0.user(user))
    }
}

impl<T: FlagValue + Send + 'static> Message for GetValueDetails<T> {
    type Result = EvaluationDetails<T>;
}

/// Replies the setting keys of the current config, sorted (empty without a config).
#[derive(Debug, Clone, Copy, Default)]
pub struct GetAllKeys;

impl Message for GetAllKeys {
    type Result = Vec<String>;
}

/// Replies every flag's value for a user (or the default user); failed flags are left out.
#[derive(Debug, Clone, Default)]
pub struct GetAllValues(pub Option<User>);

impl Message for GetAllValues {
    type Result = HashMap<String, Value>;
}

/// Replies every flag's evaluation details for a user (or the default user), sorted by key.
#[derive(Debug, Clone, Default)]
pub struct GetAllValueDetails(pub Option<User>);

impl Message for GetAllValueDetails {
    type Result = Vec<EvaluationDetails<Value>>;
}

/// Replies the key and value a variation id belongs to.
#[derive(Debug, Clone)]
pub struct GetKeyAndValue(pub String);

impl Message for GetKeyAndValue {
    type Result = Option<(String, Value)>;
}

/// Fetches the config now, whatever the polling mode; replies how it went.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForceRefresh;

impl Message for ForceRefresh {
    type Result = RefreshResult;
}

/// The outcome of a [`ForceRefresh`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshResult {
    /// Whether a config was downloaded or confirmed unchanged.
    pub is_success: bool,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

impl RefreshResult {
    pub(crate) fn success() -> RefreshResult {
        RefreshResult {
            is_success: true,
            error: None,
        }
    }

    pub(crate) fn failure(error: impl Into<String>) -> RefreshResult {
        RefreshResult {
            is_success: false,
            error: Some(error.into()),
        }
    }
}

/// Stops all HTTP traffic; evaluation goes on from the config at hand.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetOffline;

impl Message for SetOffline {
    type Result = ();
}

/// Resumes HTTP traffic; an auto-polling client fetches at once if its config is stale.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetOnline;

impl Message for SetOnline {
    type Result = ();
}

/// Replies whether the client is offline.
#[derive(Debug, Clone, Copy, Default)]
pub struct IsOffline;

impl Message for IsOffline {
    type Result = bool;
}

/// Sets the user evaluations use when none is given.
#[derive(Debug, Clone)]
pub struct SetDefaultUser(pub User);

impl Message for SetDefaultUser {
    type Result = ();
}

/// Removes the default user.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClearDefaultUser;

impl Message for ClearDefaultUser {
    type Result = ();
}

/// Sent to subscribers when a new config is stored (not on a 304).
#[derive(Debug, Clone)]
pub struct ConfigChanged {
    /// The new config.
    pub config: Arc<Config>,
    /// When it was downloaded; `None` for local flag overrides only.
    pub fetch_time: Option<SystemTime>,
}

impl Message for ConfigChanged {
    type Result = ();
}

/// Registers an actor to receive [`ConfigChanged`].
#[derive(Debug, Clone)]
pub struct Subscribe(pub Recipient<ConfigChanged>);

impl Message for Subscribe {
    type Result = ();
}

/// Unregisters a subscriber.
#[derive(Debug, Clone)]
pub struct Unsubscribe(pub Recipient<ConfigChanged>);

impl Message for Unsubscribe {
    type Result = ();
}

/// Replies an immutable [`Snapshot`] of the current config that evaluates synchronously.
#[derive(Debug, Clone, Copy, Default)]
pub struct GetSnapshot;

impl Message for GetSnapshot {
    type Result = Snapshot;
}

/// Stops polling and in-flight fetches and shuts the client's actors down; later messages fail
/// with [`actix::MailboxError::Closed`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Close;

impl Message for Close {
    type Result = ();
}
