//! actix-web integration (cargo feature `actix-web`): the [`Flags`] extractor, which gives a
//! handler the client's live handle and the request's user, and the [`readiness`] and
//! [`readiness_strict`] handlers.
//!
//! Register the client once per app with a [`FlagsConfig`] in its app data, optionally with a
//! function that builds the [`User`] from the request; every handler that takes a [`Flags`] then
//! evaluates for that user, on the worker's thread, with no mailbox (it wraps a
//! [`ConfigCatHandle`]):
//!
//! ```
//! use actix_web::{App, HttpRequest, HttpResponse, test, web};
//! use configcat_actix::web::{Flags, FlagsConfig};
//! use configcat_actix::{ConfigCat, FlagOverrides, GetHandle, OverrideBehaviour, User};
//!
//! async fn home(flags: Flags) -> HttpResponse {
//!     // The user the registered function built from this request (here: from a header).
//!     let awesome = flags.get_value("isAwesome", false);
//!     HttpResponse::Ok().body(if awesome { "awesome" } else { "classic" })
//! }
//!
//! fn user_of(req: &HttpRequest) -> Option<User> {
//!     let id = req.headers().get("x-user-id")?.to_str().ok()?;
//!     Some(User::new(id))
//! }
//!
//! #[actix::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Local flags so that this example needs no network; a real client takes only the key.
//!     let local = FlagOverrides::from_map([("isAwesome", true)], OverrideBehaviour::LocalOnly);
//!     let client = ConfigCat::builder("local").flag_overrides(local).start()?;
//!     let handle = client.send(GetHandle).await?;
//!     let app = test::init_service(
//!         App::new()
//!             .app_data(FlagsConfig::new(handle).user_from(user_of))
//!             .route("/", web::get().to(home)),
//!     )
//!     .await;
//!     let request = test::TestRequest::get().uri("/").insert_header(("x-user-id", "u-1"));
//!     let body = test::call_and_read_body(&app, request.to_request()).await;
//!     assert_eq!(body, "awesome");
//!     Ok(())
//! }
//! ```
//!
//! With a server, build the [`FlagsConfig`] once, before `HttpServer::new`, and clone it into
//! each worker's `App` (cloning costs two reference-count increments); every worker then reads
//! the one client. The guide [`actix_web`](crate::guide::actix_web) has the whole setup.

use std::collections::HashMap;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};

use crate::eval::{EvaluationDetails, FlagValue};
use crate::handle::ConfigCatHandle;
use crate::model::Value;
use crate::state::ClientCacheState;
use crate::user::User;
pub use crate::webhook::Webhook;

/// The function that builds a request's user.
type UserFn = dyn Fn(&HttpRequest) -> Option<User> + Send + Sync;

/// The client, registered in an app's data for the [`Flags`] extractor, with the function that
/// builds each request's user.
///
/// Register it with `App::new().app_data(FlagsConfig::new(handle))` (the handle from
/// `client.send(GetHandle).await?`), on the app or on a `web::scope`; wrapped in a
/// `web::Data` it is found as well. It is `Clone + Send + Sync`, so one value built before
/// `HttpServer::new` can be cloned into every worker's app.
///
/// Without [`user_from`](Self::user_from), every request's user is `None`: evaluations use the
/// client's default user, if it has one.
///
/// ```
/// use actix_web::HttpRequest;
/// use configcat_actix::web::FlagsConfig;
/// use configcat_actix::{ConfigCat, FlagOverrides, GetHandle, OverrideBehaviour, User};
///
/// #[actix::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let local = FlagOverrides::from_map([("isAwesome", true)], OverrideBehaviour::LocalOnly);
///     let client = ConfigCat::builder("local").flag_overrides(local).start()?;
///     let config = FlagsConfig::new(client.send(GetHandle).await?).user_from(|req: &HttpRequest| {
///         // A missing or unreadable header: no user, so the client's default user applies.
///         let email = req.headers().get("x-user-email")?.to_str().ok()?;
///         Some(User::new(email).email(email))
///     });
///     assert!(config.handle().get_value("isAwesome", false, None));
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct FlagsConfig {
    handle: ConfigCatHandle,
    user_from: Option<Arc<UserFn>>,
}

impl fmt::Debug for FlagsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlagsConfig")
            .field("handle", &self.handle)
            .field(
                "user_from",
                &self.user_from.as_ref().map(|_| "Fn(&HttpRequest)"),
            )
            .finish()
    }
}

impl FlagsConfig {
    /// The client behind `handle`, with no user function: requests have no user of their own.
    pub fn new(handle: ConfigCatHandle) -> FlagsConfig {
        FlagsConfig {
            handle,
            user_from: None,
        }
    }

    /// Builds each request's user with `user_from`, called once per extraction of [`Flags`]
    /// (so once per request for a handler that takes one `Flags`). When it returns `None`, the
    /// client's default user applies. It runs on the worker's thread before the handler, so it
    /// should be cheap (read headers, a cookie, or what a middleware put in the request's
    /// extensions); a panic in it unwinds as one in a handler would.
    pub fn user_from<F>(mut self, user_from: F) -> FlagsConfig
    where
        F: Fn(&HttpRequest) -> Option<User> + Send + Sync + 'static,
    {
        self.user_from = Some(Arc::new(user_from));
        self
    }

    /// The client's live handle.
    pub fn handle(&self) -> &ConfigCatHandle {
        &self.handle
    }

    /// The registered config of `req`'s app (or scope), plain or in a `web::Data`.
    fn of(req: &HttpRequest) -> Result<&FlagsConfig, MissingFlagsConfig> {
        req.app_data::<FlagsConfig>()
            .or_else(|| {
                req.app_data::<actix_web::web::Data<FlagsConfig>>()
                    .map(|data| data.get_ref())
            })
            .ok_or(MissingFlagsConfig)
    }
}

/// An extractor: the client's live handle and the request's user, for evaluating flags in a
/// handler.
///
/// The user is the one the registered [`FlagsConfig::user_from`] function built for this
/// request; `None` (no function, or it returned `None`) means the client's default user. Its
/// verbs are those of every other way to evaluate (see [the crate's
/// overview](crate#evaluating-one-set-of-verbs-four-ways)), without the user argument: each is
/// a [`ConfigCatHandle`] read for the request's user, on the worker's thread, from the client's
/// newest config, with no mailbox and no await. Extraction fails with [`MissingFlagsConfig`] (a 500) when the
/// app has no [`FlagsConfig`].
///
/// ```
/// use actix_web::{App, HttpResponse, test, web};
/// use configcat_actix::web::{Flags, FlagsConfig};
/// use configcat_actix::{ConfigCat, FlagOverrides, GetHandle, OverrideBehaviour};
///
/// async fn limits(flags: Flags) -> HttpResponse {
///     let limit = flags.get_value("rateLimit", 10_i64);
///     let details = flags.get_value_details("rateLimit", 10_i64);
///     assert!(flags.user().is_none()); // no user function registered
///     HttpResponse::Ok().body(format!("{limit} (default used: {})", details.is_default_value))
/// }
///
/// #[actix::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let local = FlagOverrides::from_map([("rateLimit", 100)], OverrideBehaviour::LocalOnly);
///     let client = ConfigCat::builder("local").flag_overrides(local).start()?;
///     let handle = client.send(GetHandle).await?;
///     let app = test::init_service(
///         App::new().app_data(FlagsConfig::new(handle)).route("/", web::get().to(limits)),
///     )
///     .await;
///     let body = test::call_and_read_body(&app, test::TestRequest::get().to_request()).await;
///     assert_eq!(body, "100 (default used: false)");
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Flags {
    handle: ConfigCatHandle,
    user: Option<User>,
}

impl Flags {
    /// The value of a flag for the request's user (or the default user), `default` on any
    /// error.
    pub fn get_value<T: FlagValue>(&self, key: &str, default: T) -> T {
        self.handle.get_value(key, default, self.user.as_ref())
    }

    /// The value of a flag for the request's user, with the details of how it was chosen.
    pub fn get_value_details<T: FlagValue>(&self, key: &str, default: T) -> EvaluationDetails<T> {
        self.handle
            .get_value_details(key, default, self.user.as_ref())
    }

    /// Every flag's value for the request's user; flags that fail are left out.
    pub fn get_all_values(&self) -> HashMap<String, Value> {
        self.handle.get_all_values(self.user.as_ref())
    }

    /// Every flag's evaluation details for the request's user, sorted by key.
    pub fn get_all_value_details(&self) -> Vec<EvaluationDetails<Value>> {
        self.handle.get_all_value_details(self.user.as_ref())
    }

    /// The setting keys of the current config, sorted (empty without a config).
    pub fn get_all_keys(&self) -> Vec<String> {
        self.handle.get_all_keys()
    }

    /// The key and value a variation id belongs to.
    pub fn get_key_and_value(&self, variation_id: &str) -> Option<(String, Value)> {
        self.handle.get_key_and_value(variation_id)
    }

    /// The user built for this request; `None` when the client's default user applies.
    pub fn user(&self) -> Option<&User> {
        self.user.as_ref()
    }

    /// The client's live handle, for another user, readiness or a snapshot.
    pub fn handle(&self) -> &ConfigCatHandle {
        &self.handle
    }
}

impl FromRequest for Flags {
    type Error = MissingFlagsConfig;
    type Future = Ready<Result<Flags, MissingFlagsConfig>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(FlagsConfig::of(req).map(|config| {
            Flags {
                handle: config.handle.clone(),
                user: config
                    .user_from
                    .as_ref()
                    .and_then(|user_from| user_from(req)),
            }
        }))
    }
}

/// The error of the [`Flags`] extractor (and of [`readiness`]) when the app has no
/// [`FlagsConfig`] in its data: a 500 whose body says what to register.
///
/// It is a programming error, not a condition of the request, so it is not logged here (the
/// app's logger middleware sees the 500 as it sees any other).
///
/// ```
/// use actix_web::ResponseError;
/// use actix_web::http::StatusCode;
/// use configcat_actix::web::MissingFlagsConfig;
///
/// assert_eq!(MissingFlagsConfig.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
/// assert!(MissingFlagsConfig.to_string().contains("App::new().app_data("));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MissingFlagsConfig;

impl fmt::Display for MissingFlagsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "configcat_actix::web::Flags: the app has no FlagsConfig in its data; register the \
             client once with `App::new().app_data(configcat_actix::web::FlagsConfig::new(handle))` \
             (the handle from `client.send(configcat_actix::GetHandle).await?`)",
        )
    }
}

impl std::error::Error for MissingFlagsConfig {}

impl ResponseError for MissingFlagsConfig {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// A readiness probe (`/readyz`) for the registered client: `200 OK` once it is ready, with the
/// [`ClientCacheState`] as the body (`HasUpToDateFlagData`, ...), and
/// `503 Service Unavailable` with the body `NotReady` before. Fails with [`MissingFlagsConfig`]
/// when the app has no [`FlagsConfig`].
///
/// Ready means what [`ConfigCatHandle::ready_state`] means: the client has stopped waiting for
/// its first config, which includes `NoFlagData` (the first download failed after the maximum
/// init wait and there is no cache: flags return their defaults). A probe that should keep an
/// instance out of rotation in that case uses [`readiness_strict`].
///
/// ```
/// use actix_web::{App, http::StatusCode, test, web};
/// use configcat_actix::web::{FlagsConfig, readiness};
/// use configcat_actix::{ConfigCat, FlagOverrides, GetHandle, OverrideBehaviour};
///
/// #[actix::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let local = FlagOverrides::from_map([("isAwesome", true)], OverrideBehaviour::LocalOnly);
///     let client = ConfigCat::builder("local").flag_overrides(local).start()?;
///     let handle = client.send(GetHandle).await?;
///     handle.wait_for_ready(std::time::Duration::from_secs(5)).await;
///     let app = test::init_service(
///         App::new().app_data(FlagsConfig::new(handle)).route("/readyz", web::get().to(readiness)),
///     )
///     .await;
///     let response = test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
///     assert_eq!(response.status(), StatusCode::OK);
///     assert_eq!(test::read_body(response).await, "HasLocalOverrideFlagDataOnly");
///     Ok(())
/// }
/// ```
pub async fn readiness(req: HttpRequest) -> Result<HttpResponse, MissingFlagsConfig> {
    let config = FlagsConfig::of(&req)?;
    Ok(match config.handle.ready_state() {
        Some(state) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(state_name(state)),
        None => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("NotReady"),
    })
}

/// A strict readiness probe: like [`readiness`], but `503 Service Unavailable` also while the
/// client has no flag data, so that an instance stays out of rotation until it can serve real
/// values rather than defaults.
///
/// | client | status | body |
/// |---|---|---|
/// | not ready yet | 503 | `NotReady` |
/// | ready, no flag data (first download failed, no cache; or manual poll before its first refresh) | 503 | `NoFlagData` |
/// | ready with flag data | 200 | the [`ClientCacheState`] it became ready with (`HasUpToDateFlagData`, ...) |
/// | ready with `NoFlagData`, flag data arrived since | 200 | `HasFlagData` |
///
/// Whether there is flag data is read from the client's current config, as an evaluation
/// reads it (so it may start a lazy-load refresh or a shared-cache check, as a flag read
/// would). Fails with [`MissingFlagsConfig`] when the app has no [`FlagsConfig`].
///
/// ```
/// use actix_web::{App, http::StatusCode, test, web};
/// use configcat_actix::web::{FlagsConfig, readiness_strict};
/// use configcat_actix::{ConfigCat, GetHandle, PollingMode};
///
/// #[actix::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     // Manual poll, never refreshed: ready at once, with no flag data.
///     let client = ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYYYYY")
///         .polling_mode(PollingMode::manual_poll())
///         .log_sink(configcat_actix::NoLog)
///         .start()?;
///     let handle = client.send(GetHandle).await?;
///     handle.wait_for_ready(std::time::Duration::from_secs(5)).await;
///     let app = test::init_service(
///         App::new().app_data(FlagsConfig::new(handle)).route("/readyz", web::get().to(readiness_strict)),
///     )
///     .await;
///     let response = test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
///     assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
///     assert_eq!(test::read_body(response).await, "NoFlagData");
///     Ok(())
/// }
/// ```
pub async fn readiness_strict(req: HttpRequest) -> Result<HttpResponse, MissingFlagsConfig> {
    let handle = &FlagsConfig::of(&req)?.handle;
    let (ok, body) = match handle.ready_state() {
        None => (false, "NotReady"),
        Some(state) => match (handle.snapshot().config().is_some(), state) {
            (false, _) => (false, state_name(ClientCacheState::NoFlagData)),
            (true, ClientCacheState::NoFlagData) => (true, "HasFlagData"),
            (true, state) => (true, state_name(state)),
        },
    };
    let mut response = if ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    Ok(response
        .content_type("text/plain; charset=utf-8")
        .body(body))
}

/// The body of a ready probe: the state's name, spelled out so that the probe's output does not
/// follow `Debug` if that ever changes.
fn state_name(state: ClientCacheState) -> &'static str {
    match state {
        ClientCacheState::NoFlagData => "NoFlagData",
        ClientCacheState::HasLocalOverrideFlagDataOnly => "HasLocalOverrideFlagDataOnly",
        ClientCacheState::HasCachedFlagDataOnly => "HasCachedFlagDataOnly",
        ClientCacheState::HasUpToDateFlagData => "HasUpToDateFlagData",
    }
}
