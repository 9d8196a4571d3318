//! Errors of starting and addressing a client, and of a refresh.

use std::fmt;

use crate::fetch::FetchError;

/// Why a client could not be started, or a request to it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The SDK key is empty or malformed (spec §6.3).
    InvalidSdkKey(String),
    /// `start()` was called outside a running actix `System`.
    NoRunningSystem,
    /// An option has an invalid value (a proxy URL, a certificate).
    InvalidOption(String),
    /// The client was closed; it answers no more requests.
    Closed,
    /// The client did not answer in time (a `send(…).timeout(…)` that expired): it is still
    /// running.
    Timeout,
    /// A custom request header ([`request_header`](crate::ConfigCatBuilder::request_header))
    /// cannot be sent: its name or value is not valid HTTP, or it names one of the SDK's own
    /// headers. The value is never part of the error (it may be a token).
    InvalidRequestHeader {
        /// The header's name, as given.
        name: String,
        /// Why it was refused.
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidSdkKey(key) if key.is_empty() => f.write_str("SDK Key cannot be empty."),
            Error::InvalidSdkKey(key) => write!(
                f,
                "SDK Key '{key}' is invalid. A valid key is 'configcat-sdk-1/<22 characters>/<22 characters>' \
                 (or a legacy '<22 characters>/<22 characters>'), or, with a custom base URL, \
                 'configcat-proxy/<anything>'."
            ),
            Error::NoRunningSystem => f.write_str(
                "a ConfigCat client must be started inside a running actix System (for example under #[actix::main])",
            ),
            Error::InvalidOption(why) => write!(f, "invalid option: {why}"),
            Error::Closed => f.write_str("the ConfigCat client is closed"),
            Error::Timeout => f.write_str("the ConfigCat client did not answer in time"),
            Error::InvalidRequestHeader { name, reason } => {
                write!(f, "invalid request header `{name}`: {reason}")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<actix::MailboxError> for Error {
    fn from(error: actix::MailboxError) -> Error {
        match error {
            actix::MailboxError::Closed => Error::Closed,
            actix::MailboxError::Timeout => Error::Timeout,
        }
    }
}

/// Why a [`ForceRefresh`](crate::ForceRefresh) did not bring a config.
///
/// ```
/// use configcat_actix::{FetchError, RefreshError};
/// let error = RefreshError::Fetch(FetchError::Timeout { millis: 300 });
/// assert_eq!(error.event_id(), Some(1102));
/// assert_eq!(RefreshError::Offline.event_id(), Some(3200));
/// assert!(error.to_string().contains("timed out"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshError {
    /// The client is offline: it makes no HTTP request (warning 3200 was logged).
    Offline,
    /// The client serves local-only flag overrides: it never downloads.
    LocalOnly,
    /// The client is closed.
    Closed,
    /// The client did not answer in time (a `send(ForceRefresh).timeout(…)` that expired).
    Timeout,
    /// The poller was restarted by its supervisor while this refresh ran (after a bug, logged
    /// as 9002); the next refresh runs normally.
    Interrupted,
    /// The download failed; the last good config is still served. Logged with its event id.
    Fetch(FetchError),
}

impl RefreshError {
    /// The id of the event logged for this failure, if one was.
    pub fn event_id(&self) -> Option<u32> {
        match self {
            RefreshError::Offline => Some(crate::log::event::OFFLINE_NO_HTTP),
            RefreshError::Fetch(error) => Some(error.event_id()),
            RefreshError::Interrupted => Some(crate::log::event::POLLER_PANICKED),
            RefreshError::LocalOnly | RefreshError::Closed | RefreshError::Timeout => None,
        }
    }
}

impl fmt::Display for RefreshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefreshError::Offline => {
                f.write_str("Client is in offline mode, it cannot initiate HTTP calls.")
            }
            RefreshError::LocalOnly => f.write_str(
                "The client uses the `LocalOnly` flag override behaviour, it makes no HTTP calls.",
            ),
            RefreshError::Closed => f.write_str("the ConfigCat client is closed"),
            RefreshError::Timeout => f.write_str("the ConfigCat client did not answer in time"),
            RefreshError::Interrupted => {
                f.write_str("the refresh was interrupted: the poller was restarted")
            }
            RefreshError::Fetch(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for RefreshError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RefreshError::Fetch(error) => Some(error),
            _ => None,
        }
    }
}

impl From<actix::MailboxError> for RefreshError {
    fn from(error: actix::MailboxError) -> RefreshError {
        match error {
            actix::MailboxError::Closed => RefreshError::Closed,
            actix::MailboxError::Timeout => RefreshError::Timeout,
        }
    }
}

/// Checks an SDK key as spec §6.3 says: `<22>/<22>`, `configcat-sdk-1/<22>/<22>`, or, with a
/// custom base URL, `configcat-proxy/<anything>`.
pub(crate) fn validate_sdk_key(key: &str, custom_base_url: bool) -> Result<(), Error> {
    let part = |p: &str| p.chars().count() == 22;
    let parts: Vec<&str> = key.split('/').collect();
    let valid = match parts.as_slice() {
        [a, b] if part(a) && part(b) => true,
        ["configcat-sdk-1", a, b] if part(a) && part(b) => true,
        _ => {
            custom_base_url
                && key
                    .strip_prefix("configcat-proxy/")
                    .is_some_and(|rest| !rest.is_empty())
        }
    };
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidSdkKey(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::validate_sdk_key;

    #[test]
    fn sdk_keys_are_validated_as_the_official_sdks_do() {
        let valid = [
            ("sdk-key-90123456789012/1234567890123456789012", false),
            (
                "configcat-sdk-1/sdk-key-90123456789012/1234567890123456789012",
                false,
            ),
            ("configcat-proxy/sdk-key-90123456789012", true),
            ("configcat-proxy/x", true),
        ];
        for (key, custom) in valid {
            assert!(
                validate_sdk_key(key, custom).is_ok(),
                "{key} custom={custom}"
            );
        }
        let invalid = [
            ("", false),
            ("", true),
            ("sdk-key-9012345678901/1234567890123456789012", false),
            ("sdk-key-901234567890123/1234567890123456789012", false),
            ("sdk-key-90123456789012/123456789012345678901", false),
            ("sdk-key-90123456789012/12345678901234567890123", false),
            (
                "configcat-sdk-1/sdk-key-9012345678901/1234567890123456789012",
                false,
            ),
            (
                "configcat-sdk-2/sdk-key-90123456789012/1234567890123456789012",
                false,
            ),
            ("configcat-proxy/", true),
            ("configcat-proxy/sdk-key-90123456789012", false),
            ("sdk-key-90123456789012/1234567890123456789012/extra", false),
        ];
        for (key, custom) in invalid {
            assert!(
                validate_sdk_key(key, custom).is_err(),
                "{key} custom={custom}"
            );
        }
    }
}
