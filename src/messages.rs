//! The messages a [`ConfigCat`](crate::ConfigCat) client answers, and the one it sends to
//! subscribers ([`ConfigChanged`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use actix::{Message, Recipient};
use smol_str::SmolStr;

use crate::error::RefreshError;
use crate::eval::{EvaluationDetails, FlagValue};
use crate::handle::ConfigCatHandle;
use crate::model::{Config, Value};
use crate::snapshot::Snapshot;
use crate::state::ClientCacheState;
use crate::user::User;

/// Evaluates a flag; replies its value, or `default` on any error.
///
/// ```no_run
/// # use configcat_actix::{ConfigCat, GetValue, User};
/// # async fn example(client: actix::Addr<ConfigCat>, key_from_request: String) -> Result<(), actix::MailboxError> {
/// let user = User::new("user-42").email("a@example.com");
/// let on: bool = client.send(GetValue::new("isAwesomeFeatureEnabled", false).user(user)).await?;
/// let other: bool = client.send(GetValue::new(key_from_request.as_str(), false)).await?;
/// # Ok(()) }
/// ```
///
/// Which constructor: [`GetValue::new`] takes any key (`&str`, `String`, borrowed or not) and
/// copies it; a key of up to 23 bytes is copied inline, so the message allocates nothing for
/// it. [`GetValue::from_static`] takes a `&'static str` and never copies or allocates, whatever
/// its length: use it for long literal keys on hot paths.
#[derive(Debug, Clone)]
pub struct GetValue<T> {
    pub(crate) key: SmolStr,
    pub(crate) default: T,
    pub(crate) user: Option<User>,
}

impl<T: FlagValue> GetValue<T> {
    /// Asks for `key` (copied), falling back to `default`.
    pub fn new(key: impl AsRef<str>, default: T) -> Self {
        GetValue::with_key(SmolStr::new(key), default)
    }

    /// Asks for a literal `key`, never copied, falling back to `default`.
    pub fn from_static(key: &'static str, default: T) -> Self {
        GetValue::with_key(SmolStr::new_static(key), default)
    }

    fn with_key(key: SmolStr, default: T) -> Self {
        GetValue {
            key,
            default,
            user: None,
        }
    }

    /// Evaluates for this user instead of the default user (`None`: the default user).
    #[must_use]
    pub fn user(mut self, user: impl Into<Option<User>>) -> Self {
        self.user = user.into();
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
    /// Asks for `key` (copied, as in [`GetValue::new`]), falling back to `default`.
    pub fn new(key: impl AsRef<str>, default: T) -> Self {
        GetValueDetails(GetValue::new(key, default))
    }

    /// Asks for a literal `key`, never copied, falling back to `default`.
    pub fn from_static(key: &'static str, default: T) -> Self {
        GetValueDetails(GetValue::from_static(key, default))
    }

    /// Evaluates for this user instead of the default user (`None`: the default user).
    #[must_use]
    pub fn user(self, user: impl Into<Option<User>>) -> Self {
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

/// Fetches the config now, whatever the polling mode; replies once the new config is
/// stored (and written to the external cache), or why there is none.
///
/// ```no_run
/// # use configcat_actix::{ConfigCat, ForceRefresh, RefreshError};
/// # async fn example(client: actix::Addr<ConfigCat>) -> Result<(), actix::MailboxError> {
/// match client.send(ForceRefresh).await? {
///     Ok(()) => println!("up to date"),
///     Err(RefreshError::Offline) => println!("offline: nothing was asked"),
///     Err(error) => println!("refresh failed ({:?}): {error}", error.event_id()),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ForceRefresh;

impl Message for ForceRefresh {
    type Result = Result<(), RefreshError>;
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
///
/// Messages sent after it are answered with the new default user, whether or not its reply was
/// awaited; handles see it from the moment it is replied to, and snapshots taken after it.
/// The client publishes it itself, at once: it never waits for the external cache.
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

/// Sent to subscribers when a new config is stored (not on a 304), and once to a subscriber
/// that registers while a config is there (then every key counts as changed).
#[derive(Debug, Clone)]
pub struct ConfigChanged {
    /// The new config.
    pub config: Arc<Config>,
    /// When it was downloaded; `None` for local flag overrides only.
    pub fetch_time: Option<SystemTime>,
    /// The keys whose settings were added, removed or changed, sorted: computed once per change
    /// and shared by every subscriber.
    pub changed_keys: Arc<[String]>,
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

/// Replies a [`ConfigCatHandle`]: evaluates on the caller's thread from the newest config, with
/// no mailbox.
#[derive(Debug, Clone, Copy, Default)]
pub struct GetHandle;

impl Message for GetHandle {
    type Result = ConfigCatHandle;
}

/// Replies once the client is ready (spec §5.1), at most after the given time; on timeout logs
/// WARNING 4200 and replies how much flag data there is.
///
/// ```no_run
/// # use std::time::Duration;
/// # use configcat_actix::{ClientCacheState, ConfigCat, WaitForReady};
/// # async fn example(client: actix::Addr<ConfigCat>) -> Result<(), actix::MailboxError> {
/// let state = client.send(WaitForReady(Duration::from_secs(5))).await?;
/// if state == ClientCacheState::NoFlagData {
///     eprintln!("serving defaults");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WaitForReady(pub std::time::Duration);

impl Message for WaitForReady {
    type Result = ClientCacheState;
}

/// Stops polling and in-flight fetches and shuts the client's actors down; replies once a
/// download already made is written to the external cache (each write bounded by the cache
/// timeout). Later messages fail with [`actix::MailboxError::Closed`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Close;

impl Message for Close {
    type Result = ();
}
