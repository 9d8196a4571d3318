//! The runtime's errors, one type for each job: [`Error`] for starting and addressing a
//! client, [`RefreshError`] for a refresh that brought no config, [`FetchError`] for a
//! download that failed. The pure core has its own ([`ParseError`](crate::ParseError),
//! [`EvaluationError`](crate::EvaluationError)), as do the plug-ins
//! ([`CacheError`](crate::cache::CacheError), [`OverrideError`](crate::overrides::OverrideError)).

mod fetch;
mod refresh;

use std::fmt;

pub use fetch::FetchError;
pub(crate) use fetch::reason_phrase;
pub use refresh::{RefreshError, RefreshErrorKind};

/// Why a client could not be started, or a request to it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The SDK key is empty or malformed (spec §6.3). It holds the key masked as the logs
    /// show it ([`mask_sdk_key`](crate::log::mask_sdk_key): all but `/` and the last six
    /// characters replaced by `*`), at most 256 characters of it: a malformed key may still be
    /// a real one with a typo.
    InvalidSdkKey(String),
    /// `start()` was called outside a running actix `System`.
    NoRunningSystem,
    /// The proxy URL is not `http://[user:password@]host[:port]` ([`Proxy::new`](crate::Proxy::new)).
    InvalidProxy(String),
    /// The base URL, the change stream's URL, or the config URL built from the base URL and
    /// the SDK key, is not a valid `http://` or `https://` URL.
    InvalidUrl(String),
    /// One of the extra root certificates is not a DER-encoded X.509 certificate.
    InvalidCertificate(String),
    /// The TLS configuration could not be built.
    Tls(String),
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
            Error::InvalidProxy(why) => write!(f, "invalid proxy: {why}"),
            Error::InvalidUrl(why) => write!(f, "invalid URL: {why}"),
            Error::InvalidCertificate(why) => write!(f, "invalid extra root certificate: {why}"),
            Error::Tls(why) => write!(f, "TLS configuration failed: {why}"),
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

/// The longest (masked) SDK key an error quotes.
const MAX_QUOTED_KEY: usize = 256;

/// `key` masked, and cut when it is longer than any key.
fn masked_key(key: &str) -> String {
    crate::redact::bounded(crate::redact::mask_sdk_key(key), MAX_QUOTED_KEY)
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
        Err(Error::InvalidSdkKey(masked_key(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::{Error, validate_sdk_key};

    #[test]
    fn an_invalid_sdk_key_is_quoted_masked_and_bounded() {
        let key = "configcat-sdk-1/PKDVCLf-Hq-h-kCzMp-L7Q/y_ZB7o-Xb0Swxth-ZlMSeAx";
        let error = validate_sdk_key(key, false).unwrap_err();
        let masked = "***************/**********************/*****************lMSeAx";
        assert_eq!(error, Error::InvalidSdkKey(masked.to_owned()));
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains("PKDVCLf-Hq-h-kCzMp-L7Q"), "{text}");
            assert!(!text.contains("y_ZB7o-Xb0Swxth"), "{text}");
        }
        assert!(
            error
                .to_string()
                .starts_with(&format!("SDK Key '{masked}' is invalid."))
        );
        let huge = "k".repeat(1_000_000);
        let text = validate_sdk_key(&huge, false).unwrap_err().to_string();
        assert!(text.len() < 1_000, "{} bytes", text.len());
    }

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
