//! [`RefreshError`]: why a refresh brought no config, and its flat [`RefreshErrorKind`].

use std::fmt;

use super::FetchError;

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
    /// The poller panicked while this refresh ran, or is waiting to restart after a panic
    /// (logged as 9002); a refresh after its restart runs normally.
    Interrupted,
    /// The download failed; the last good config is still served. Logged with its event id.
    Fetch(FetchError),
}

impl RefreshError {
    /// The id of the event logged for this failure, if one was.
    ///
    /// An interrupted refresh is reported to its caller as ERROR 1003, "error in force
    /// refresh" (spec §6.7): that is the event `ForceRefresh` logs for it. The poller's panic
    /// that caused it was logged on its own, as 9002, when it happened.
    ///
    /// ```
    /// use configcat_actix::RefreshError;
    /// assert_eq!(RefreshError::Interrupted.event_id(), Some(1003));
    /// ```
    pub fn event_id(&self) -> Option<u32> {
        match self {
            RefreshError::Offline => Some(crate::log::event::OFFLINE_NO_HTTP),
            RefreshError::Fetch(error) => Some(error.event_id()),
            RefreshError::Interrupted => Some(crate::log::event::FORCE_REFRESH_FAILED),
            RefreshError::LocalOnly | RefreshError::Closed | RefreshError::Timeout => None,
        }
    }

    /// What kind of failure this is, one flat enum for matching, metrics and HTTP statuses.
    ///
    /// ```
    /// use configcat_actix::{FetchError, RefreshError, RefreshErrorKind};
    /// let error = RefreshError::Fetch(FetchError::Network("connection refused".into()));
    /// assert_eq!(error.kind(), RefreshErrorKind::Network);
    /// assert_eq!(RefreshError::Offline.kind(), RefreshErrorKind::Offline);
    /// ```
    pub fn kind(&self) -> RefreshErrorKind {
        match self {
            RefreshError::Offline => RefreshErrorKind::Offline,
            RefreshError::LocalOnly => RefreshErrorKind::LocalOnly,
            RefreshError::Closed => RefreshErrorKind::Closed,
            RefreshError::Timeout => RefreshErrorKind::Timeout,
            RefreshError::Interrupted => RefreshErrorKind::Interrupted,
            RefreshError::Fetch(error) => match error {
                FetchError::InvalidSdkKey { .. } => RefreshErrorKind::InvalidSdkKey,
                FetchError::UnexpectedStatus { .. } => RefreshErrorKind::UnexpectedStatus,
                FetchError::Timeout { .. } => RefreshErrorKind::FetchTimeout,
                FetchError::Network(_) => RefreshErrorKind::Network,
                FetchError::InvalidBody(_) | FetchError::BodyTooLarge { .. } => {
                    RefreshErrorKind::InvalidBody
                }
                FetchError::RedirectLoop => RefreshErrorKind::RedirectLoop,
                FetchError::NotModifiedWithoutConfig => RefreshErrorKind::NotModifiedWithoutConfig,
            },
        }
    }
}

/// The kind of a [`RefreshError`] ([`RefreshError::kind`]), with the fetch failures spelled
/// out. Serialized in `snake_case` (`"network"`, `"invalid_sdk_key"`).
///
/// With the `actix-web` feature a `RefreshError` is an `actix_web::ResponseError`, answered
/// with the status of its kind:
///
/// | kind | status | why |
/// |---|---|---|
/// | `Offline`, `LocalOnly` | 409 Conflict | the client was set up not to download: retrying will not help |
/// | `Closed`, `Timeout`, `Interrupted` | 503 Service Unavailable | the client is stopping or busy; a later try may work |
/// | `Network`, `FetchTimeout`, `UnexpectedStatus` | 503 Service Unavailable | the CDN is unreachable or failing; a later try may work |
/// | `InvalidBody`, `RedirectLoop`, `NotModifiedWithoutConfig` | 502 Bad Gateway | the CDN answered something unusable |
/// | `InvalidSdkKey` | 500 Internal Server Error | the service's own configuration is wrong |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefreshErrorKind {
    /// [`RefreshError::Offline`].
    Offline,
    /// [`RefreshError::LocalOnly`].
    LocalOnly,
    /// [`RefreshError::Closed`].
    Closed,
    /// [`RefreshError::Timeout`]: the client did not answer in time.
    Timeout,
    /// [`RefreshError::Interrupted`].
    Interrupted,
    /// [`FetchError::InvalidSdkKey`]: the CDN answered 403/404.
    InvalidSdkKey,
    /// [`FetchError::UnexpectedStatus`].
    UnexpectedStatus,
    /// [`FetchError::Timeout`]: the download timed out.
    FetchTimeout,
    /// [`FetchError::Network`].
    Network,
    /// [`FetchError::InvalidBody`] or [`FetchError::BodyTooLarge`].
    InvalidBody,
    /// [`FetchError::RedirectLoop`].
    RedirectLoop,
    /// [`FetchError::NotModifiedWithoutConfig`].
    NotModifiedWithoutConfig,
}

/// Serialized as `{"kind": "network", "event_id": 1103, "message": "..."}` (`event_id` is
/// `null` when nothing was logged), the message being the `Display` text, as logged.
///
/// ```
/// use configcat_actix::{FetchError, RefreshError};
/// let error = RefreshError::Fetch(FetchError::Timeout { millis: 300 });
/// let json = serde_json::to_value(&error).unwrap();
/// assert_eq!(json["kind"], "fetch_timeout");
/// assert_eq!(json["event_id"], 1102);
/// assert_eq!(json["message"], error.to_string());
/// ```
impl serde::Serialize for RefreshError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("RefreshError", 3)?;
        state.serialize_field("kind", &self.kind())?;
        state.serialize_field("event_id", &self.event_id())?;
        state.serialize_field("message", &self.to_string())?;
        state.end()
    }
}

/// An admin endpoint can return a `RefreshError`: `client.send(ForceRefresh).await??` (the
/// first `?` turns a mailbox error into [`RefreshError::Closed`] or [`RefreshError::Timeout`]).
/// The status is the kind's (see [`RefreshErrorKind`]); the body is the error as JSON.
///
/// ```
/// use actix_web::{App, HttpResponse, http::StatusCode, test, web};
/// use configcat_actix::{ConfigCat, FlagOverrides, ForceRefresh, OverrideBehaviour, RefreshError};
///
/// async fn refresh(client: web::Data<actix::Addr<ConfigCat>>) -> Result<HttpResponse, RefreshError> {
///     client.send(ForceRefresh).await??;
///     Ok(HttpResponse::NoContent().finish())
/// }
///
/// #[actix::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let local = FlagOverrides::from_map([("isAwesome", true)], OverrideBehaviour::LocalOnly);
///     let client = ConfigCat::builder("local").flag_overrides(local).start()?;
///     let app = test::init_service(
///         App::new().app_data(web::Data::new(client)).route("/admin/refresh", web::post().to(refresh)),
///     )
///     .await;
///     let request = test::TestRequest::post().uri("/admin/refresh").to_request();
///     let response = test::call_service(&app, request).await;
///     assert_eq!(response.status(), StatusCode::CONFLICT); // local-only flags never download
///     let body: serde_json::Value = test::read_body_json(response).await;
///     assert_eq!(body["kind"], "local_only");
///     Ok(())
/// }
/// ```
#[cfg(feature = "actix-web")]
impl actix_web::ResponseError for RefreshError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        use actix_web::http::StatusCode;
        match self.kind() {
            RefreshErrorKind::Offline | RefreshErrorKind::LocalOnly => StatusCode::CONFLICT,
            RefreshErrorKind::Closed
            | RefreshErrorKind::Timeout
            | RefreshErrorKind::Interrupted
            | RefreshErrorKind::Network
            | RefreshErrorKind::FetchTimeout
            | RefreshErrorKind::UnexpectedStatus => StatusCode::SERVICE_UNAVAILABLE,
            RefreshErrorKind::InvalidBody
            | RefreshErrorKind::RedirectLoop
            | RefreshErrorKind::NotModifiedWithoutConfig => StatusCode::BAD_GATEWAY,
            RefreshErrorKind::InvalidSdkKey => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        actix_web::HttpResponse::build(self.status_code()).json(self)
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

#[cfg(test)]
mod refresh_error_tests {
    use super::{FetchError, RefreshError, RefreshErrorKind};
    use crate::log::event;

    /// Every variant, with its kind and the status an admin endpoint answers.
    fn every_error() -> Vec<(RefreshError, RefreshErrorKind, u16)> {
        use RefreshErrorKind as K;
        let fetch = RefreshError::Fetch;
        vec![
            (RefreshError::Offline, K::Offline, 409),
            (RefreshError::LocalOnly, K::LocalOnly, 409),
            (RefreshError::Closed, K::Closed, 503),
            (RefreshError::Timeout, K::Timeout, 503),
            (RefreshError::Interrupted, K::Interrupted, 503),
            (
                fetch(FetchError::InvalidSdkKey { status: 403 }),
                K::InvalidSdkKey,
                500,
            ),
            (
                fetch(FetchError::UnexpectedStatus {
                    status: 502,
                    reason: "Bad Gateway".into(),
                }),
                K::UnexpectedStatus,
                503,
            ),
            (
                fetch(FetchError::Timeout { millis: 5 }),
                K::FetchTimeout,
                503,
            ),
            (
                fetch(FetchError::Network("refused".into())),
                K::Network,
                503,
            ),
            (
                fetch(FetchError::InvalidBody("x".into())),
                K::InvalidBody,
                502,
            ),
            (
                fetch(FetchError::BodyTooLarge { limit: 1 }),
                K::InvalidBody,
                502,
            ),
            (fetch(FetchError::RedirectLoop), K::RedirectLoop, 502),
            (
                fetch(FetchError::NotModifiedWithoutConfig),
                K::NotModifiedWithoutConfig,
                502,
            ),
        ]
    }

    #[test]
    fn an_interrupted_refresh_names_the_event_force_refresh_logs() {
        // `ForceRefresh` logs an interrupted refresh as 1003 (spec §6.7: error in force refresh).
        assert_eq!(
            RefreshError::Interrupted.event_id(),
            Some(event::FORCE_REFRESH_FAILED)
        );
    }

    #[test]
    fn every_error_has_its_kind_and_serializes_with_it() {
        for (error, kind, _) in every_error() {
            assert_eq!(error.kind(), kind, "{error:?}");
            let json = serde_json::to_value(&error).unwrap();
            assert_eq!(
                json["kind"],
                serde_json::to_value(kind).unwrap(),
                "{error:?}"
            );
            assert_eq!(json["message"], error.to_string());
            assert_eq!(json["event_id"].as_u64(), error.event_id().map(u64::from));
        }
        assert_eq!(
            serde_json::to_value(RefreshErrorKind::NotModifiedWithoutConfig).unwrap(),
            "not_modified_without_config"
        );
    }

    #[cfg(feature = "actix-web")]
    #[test]
    fn every_error_answers_its_kinds_status_with_a_json_body() {
        use actix_web::ResponseError;
        use actix_web::body::MessageBody;
        for (error, _, status) in every_error() {
            assert_eq!(error.status_code().as_u16(), status, "{error:?}");
            let response = error.error_response();
            assert_eq!(response.status().as_u16(), status);
            let body = response.into_body().try_into_bytes().unwrap();
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json, serde_json::to_value(&error).unwrap());
        }
    }
}
