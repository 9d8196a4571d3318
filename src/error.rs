//! Errors of starting and addressing a client.

use std::fmt;

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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidSdkKey(key) if key.is_empty() => f.write_str("SDK Key cannot be empty."),
            Error::InvalidSdkKey(key) => write!(f, "SDK Key '{key}' is invalid."),
            Error::NoRunningSystem => f.write_str(
                "a ConfigCat client must be started inside a running actix System (for example under #[actix::main])",
            ),
            Error::InvalidOption(why) => write!(f, "invalid option: {why}"),
            Error::Closed => f.write_str("the ConfigCat client is closed"),
        }
    }
}

impl std::error::Error for Error {}

impl From<actix::MailboxError> for Error {
    fn from(_: actix::MailboxError) -> Error {
        Error::Closed
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
