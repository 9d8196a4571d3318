//! [`FetchError`]: why a download failed, with the standard ConfigCat messages and event ids
//! (spec §4, §6.7).

use std::fmt;

use crate::log::{LogLevel, LogSink, event};

/// Why a fetch of `config_v6.json` failed.
///
/// `Display` renders the standard ConfigCat message of the event, and [`FetchError::event_id`]
/// gives its id; every fetch error is logged at ERROR level.
///
/// ```
/// use configcat_actix::FetchError;
/// let error = FetchError::Timeout { millis: 300 };
/// assert_eq!(error.event_id(), 1102);
/// assert_eq!(
///     error.to_string(),
///     "Request timed out while trying to fetch config JSON. Timeout value: 300ms"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchError {
    /// The CDN answered 403 or 404: the SDK key is wrong (1100, non-transient).
    InvalidSdkKey {
        /// The HTTP status, 403 or 404.
        status: u16,
    },
    /// The CDN answered a status other than 200, 304, 403 and 404 (1101).
    UnexpectedStatus {
        /// The HTTP status.
        status: u16,
        /// Its reason phrase (`Internal Server Error`), empty when the status has none.
        reason: String,
    },
    /// The request did not complete in time (1102).
    Timeout {
        /// The timeout that expired, in milliseconds.
        millis: u64,
    },
    /// The CDN (or the proxy) could not be reached, or the connection failed (1103).
    Network(String),
    /// A 200 response whose body is not a valid config_v6 document (1105).
    InvalidBody(String),
    /// A 200 response whose body is larger than the body size limit of the client's options
    /// (default 16 MiB) (1105).
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The CDN redirected three times in one refresh (1104).
    ///
    /// The client logs this event but still uses the last config it fetched, as the official
    /// SDKs do; the variant exists for callers that want the message.
    RedirectLoop,
    /// The CDN answered 304 while nothing is cached (1106).
    ///
    /// Only the cache knows that nothing is cached, so the download itself reports a 304 as
    /// success and the cache reports this error.
    NotModifiedWithoutConfig,
}

impl FetchError {
    /// The standard ConfigCat event id of this error.
    ///
    /// | error | id |
    /// |---|---|
    /// | [`InvalidSdkKey`](FetchError::InvalidSdkKey) | 1100 |
    /// | [`UnexpectedStatus`](FetchError::UnexpectedStatus) | 1101 |
    /// | [`Timeout`](FetchError::Timeout) | 1102 |
    /// | [`Network`](FetchError::Network) | 1103 |
    /// | [`RedirectLoop`](FetchError::RedirectLoop) | 1104 |
    /// | [`InvalidBody`](FetchError::InvalidBody), [`BodyTooLarge`](FetchError::BodyTooLarge) | 1105 |
    /// | [`NotModifiedWithoutConfig`](FetchError::NotModifiedWithoutConfig) | 1106 |
    pub fn event_id(&self) -> u32 {
        match self {
            FetchError::InvalidSdkKey { .. } => event::FETCH_INVALID_SDK_KEY,
            FetchError::UnexpectedStatus { .. } => event::FETCH_UNEXPECTED_STATUS,
            FetchError::Timeout { .. } => event::FETCH_TIMED_OUT,
            FetchError::Network(_) => event::FETCH_FAILED,
            FetchError::RedirectLoop => event::FETCH_REDIRECT_LOOP,
            FetchError::InvalidBody(_) | FetchError::BodyTooLarge { .. } => {
                event::FETCH_INVALID_BODY
            }
            FetchError::NotModifiedWithoutConfig => event::FETCH_NOT_MODIFIED_WITHOUT_CONFIG,
        }
    }

    /// Whether a later retry may succeed: false only for an invalid SDK key (403/404).
    pub fn is_transient(&self) -> bool {
        !matches!(self, FetchError::InvalidSdkKey { .. })
    }

    /// The level the error is logged at: always [`LogLevel::Error`].
    pub fn level(&self) -> LogLevel {
        LogLevel::Error
    }

    /// Logs this error through `sink` with its level and event id.
    pub fn log_to(&self, sink: &dyn LogSink) {
        if sink.enabled(self.level()) {
            sink.log(self.level(), self.event_id(), format_args!("{self}"));
        }
    }
}

/// The reason phrase of an HTTP status, empty when it has none.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    awc::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::InvalidSdkKey { status } => write!(
                f,
                "Your SDK Key seems to be wrong. You can find the valid SDK Key at \
                 https://app.configcat.com/sdkkey. Received unexpected response: {status} {}",
                reason_phrase(*status)
            ),
            FetchError::UnexpectedStatus { status, reason } => write!(
                f,
                "Unexpected HTTP response was received while trying to fetch config JSON: \
                 {status} {reason}"
            ),
            FetchError::Timeout { millis } => write!(
                f,
                "Request timed out while trying to fetch config JSON. Timeout value: {millis}ms"
            ),
            FetchError::Network(cause) => write!(
                f,
                "Unexpected error occurred while trying to fetch config JSON. It is most likely \
                 due to a local network issue. Please make sure your application can reach the \
                 ConfigCat CDN servers (or your proxy server) over HTTP. ({cause})"
            ),
            FetchError::InvalidBody(cause) => write!(
                f,
                "Fetching config JSON was successful but the HTTP response content was invalid. \
                 ({cause})"
            ),
            FetchError::BodyTooLarge { limit } => write!(
                f,
                "Fetching config JSON was successful but the HTTP response content was invalid. \
                 (the body is larger than the limit of {limit} bytes)"
            ),
            FetchError::RedirectLoop => f.write_str(
                "Redirection loop encountered while trying to fetch config JSON. Please contact \
                 us at https://configcat.com/support/",
            ),
            FetchError::NotModifiedWithoutConfig => f.write_str(
                "Unexpected HTTP response was received when no config JSON is cached locally: \
                 304 Not Modified",
            ),
        }
    }
}

impl std::error::Error for FetchError {}
