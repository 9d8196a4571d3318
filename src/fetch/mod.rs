//! Downloading `config_v6.json` from the ConfigCat CDN (spec §4).
//!
//! A [`Fetcher`] performs one *refresh* per [`Fetcher::fetch`] call: a conditional GET
//! (`If-None-Match`) of `<base URL>/configuration-files/<SDK key>/config_v6.json`, followed by
//! up to two more requests when the downloaded config's preferences redirect it to another
//! base URL (data governance), never from https to plain http. Every failure is logged once,
//! with its standard event id, through the [`LogSink`] the fetcher was built with, and returned
//! as a [`FetchOutcome::Failed`]; error texts never carry the SDK key (the URL holds it).
//!
//! Connections go through awc over rustls (ring provider, webpki roots plus any
//! [extra roots](FetchOptions::extra_root_certificates)), optionally tunnelled through an HTTP
//! [`Proxy`] with `CONNECT`, either the one of the options or, with
//! [`proxy_from_env`](FetchOptions::proxy_from_env), the one the environment names for each
//! target URL, as curl chooses it.
//!
//! The module is private: users reach [`DataGovernance`], [`Proxy`], [`FetchError`] and
//! [`Error`] at the crate root; the fetcher itself is driven by the poller.

mod connector;
mod env_proxy;
mod headers;
mod proxy;
pub(crate) mod tls;

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use awc::error::{ConnectError, PayloadError, SendRequestError};
use awc::http::header;

pub(crate) use headers::RequestHeaders;
pub use proxy::Proxy;

use crate::error::{Error, FetchError};
use crate::log::{LogLevel, LogSink, event};
use crate::model::{Config, RedirectMode};
use crate::redact::{MAX_ERROR_TEXT, SecretMask, bounded, mask_sdk_key};

/// The text of the WARNING [`DATA_GOVERNANCE_OUT_OF_SYNC`](event::DATA_GOVERNANCE_OUT_OF_SYNC)
/// (3002).
const DATA_GOVERNANCE_OUT_OF_SYNC_MESSAGE: &str = "The `dataGovernance` parameter \
    specified at the client initialization is not in sync with the preferences on the ConfigCat \
    Dashboard. Read more: https://configcat.com/docs/advanced/data-governance/";

/// The CDN base URL of [`DataGovernance::Global`].
const GLOBAL_BASE_URL: &str = "https://cdn-global.configcat.com";
/// The CDN base URL of [`DataGovernance::EuOnly`].
const EU_ONLY_BASE_URL: &str = "https://cdn-eu.configcat.com";

/// Where the config is downloaded from when no custom base URL is set; this must match the
/// data governance setting of the product on the ConfigCat Dashboard (otherwise the CDN
/// redirects, and WARNING 3002 is logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DataGovernance {
    /// All ConfigCat CDN locations (`https://cdn-global.configcat.com`).
    #[default]
    Global,
    /// Only the CDN locations in the European Union (`https://cdn-eu.configcat.com`).
    EuOnly,
}

impl DataGovernance {
    /// The CDN base URL of this setting.
    ///
    /// ```
    /// use configcat_actix::DataGovernance;
    /// assert_eq!(DataGovernance::EuOnly.base_url(), "https://cdn-eu.configcat.com");
    /// ```
    pub fn base_url(self) -> &'static str {
        match self {
            DataGovernance::Global => GLOBAL_BASE_URL,
            DataGovernance::EuOnly => EU_ONLY_BASE_URL,
        }
    }
}

/// What a [`Fetcher`] needs: the SDK key, where to fetch from, and how.
///
/// `PartialEq` so that the client's options can be compared as a whole (warning 3000).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct FetchOptions {
    /// The SDK key, used verbatim in the URL path.
    pub(crate) sdk_key: String,
    /// A custom base URL (a trailing `/` is stripped); `None` uses the
    /// [data governance](FetchOptions::data_governance) URL. A custom URL is left only when the
    /// CDN forces a redirect (mode 2).
    pub(crate) base_url: Option<String>,
    /// The CDN to ask when no custom base URL is set. Default [`DataGovernance::Global`].
    pub(crate) data_governance: DataGovernance,
    /// The polling mode as sent in the user agent: `a` auto poll, `l` lazy load, `m` manual.
    pub(crate) mode_letter: char,
    /// The longest time to establish a connection, including the proxy tunnel and the TLS
    /// handshake. Default 10 s; timing out is ERROR 1102 with this value.
    pub(crate) connect_timeout: Duration,
    /// The longest time one request may take as a whole, from sending it (connection
    /// included) to the last byte of the body. Default 30 s; timing out is ERROR 1102 with this
    /// value.
    pub(crate) read_timeout: Duration,
    /// An HTTP proxy to tunnel every connection through.
    pub(crate) proxy: Option<Proxy>,
    /// Without an explicit [`proxy`](FetchOptions::proxy): choose the proxy of each target URL
    /// from `https_proxy`, `http_proxy`, `all_proxy` and `no_proxy` (either case, except
    /// `http_proxy`, lower case only, as curl), read once when the fetcher is built. A variable
    /// that cannot be read is logged (ERROR 9003) and ignored. Default false.
    pub(crate) proxy_from_env: bool,
    /// DER-encoded certificates trusted as roots in addition to the webpki roots (e.g. the CA
    /// of a TLS-intercepting proxy or of a self-hosted ConfigCat proxy).
    pub(crate) extra_root_certificates: Vec<Vec<u8>>,
    /// The largest body accepted, in bytes. Default 16 MiB. A larger `Content-Length` is
    /// refused before reading, and a body without one is read only up to the limit; both are
    /// ERROR 1105.
    pub(crate) max_body_bytes: usize,
    /// Custom headers sent with every config request (validated by the builder at start; one
    /// that does not parse is not sent).
    pub(crate) request_headers: RequestHeaders,
    /// Replaces the URL of the [data governance](FetchOptions::data_governance) setting.
    /// Unlike [`base_url`](FetchOptions::base_url) this URL is not custom: redirects are
    /// followed from it exactly as from the ConfigCat CDN, so that tests can exercise the
    /// redirect rules against a local server.
    #[cfg(test)]
    pub(crate) data_governance_url: Option<String>,
}

impl Default for FetchOptions {
    /// No SDK key, the Global CDN, auto poll (`a`), 10 s to connect, 30 s per request, no
    /// proxy (not even from the environment), no extra roots, bodies up to 16 MiB.
    fn default() -> FetchOptions {
        FetchOptions {
            sdk_key: String::new(),
            base_url: None,
            data_governance: DataGovernance::Global,
            mode_letter: 'a',
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            proxy: None,
            proxy_from_env: false,
            extra_root_certificates: Vec::new(),
            max_body_bytes: crate::defaults::DEFAULT_MAX_BODY_BYTES,
            request_headers: RequestHeaders::default(),
            #[cfg(test)]
            data_governance_url: None,
        }
    }
}

impl fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("FetchOptions");
        f.field("sdk_key", &mask_sdk_key(&self.sdk_key))
            .field("base_url", &self.base_url)
            .field("data_governance", &self.data_governance)
            .field("mode_letter", &self.mode_letter)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("proxy", &self.proxy)
            .field("proxy_from_env", &self.proxy_from_env)
            .field(
                "extra_root_certificates",
                &format_args!("[{} certificates]", self.extra_root_certificates.len()),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_headers", &self.request_headers);
        #[cfg(test)]
        f.field("data_governance_url", &self.data_governance_url);
        f.finish()
    }
}

/// The result of one refresh.
#[derive(Debug, Clone)]
pub(crate) enum FetchOutcome {
    /// The CDN answered 200 with a valid config.
    Fetched {
        /// The parsed config.
        config: Arc<Config>,
        /// The body exactly as received, for the cache.
        json: Arc<str>,
        /// The `ETag` response header, when there was one.
        etag: Option<String>,
    },
    /// The CDN answered 304: the config of the given ETag is still current.
    NotModified,
    /// The refresh failed; the error has been logged.
    Failed {
        /// Why.
        error: FetchError,
        /// Whether a later retry may succeed (false for 403/404: the SDK key is wrong).
        transient: bool,
    },
}

impl FetchOutcome {
    fn failed(error: FetchError) -> FetchOutcome {
        FetchOutcome::Failed {
            transient: error.is_transient(),
            error,
        }
    }
}

/// The user agent sent as `X-ConfigCat-UserAgent` and `User-Agent`:
/// `ConfigCat-Rust-Actix/<mode>-<version>`.
pub(crate) fn user_agent(mode_letter: char) -> String {
    format!(
        "ConfigCat-Rust-Actix/{mode_letter}-{}",
        env!("CARGO_PKG_VERSION")
    )
}

/// Downloads `config_v6.json` (spec §4); cheap to clone, clones share the HTTP client, its
/// connection pool and the redirect state.
///
/// A fetcher is bound to the actix (tokio) thread it was created on: awc's client is not `Send`.
#[derive(Clone)]
pub(crate) struct Fetcher {
    inner: Rc<Inner>,
}

struct Inner {
    client: awc::Client,
    sdk_key: String,
    user_agent: String,
    /// Whether the base URL was given in the options (redirects then need mode 2).
    custom_base_url: bool,
    /// Where the next request goes: updated by redirects, kept across fetches.
    base_url: RefCell<String>,
    connect_timeout: Duration,
    read_timeout: Duration,
    max_body_bytes: usize,
    /// The custom headers, sent before the SDK's own (which they cannot replace).
    request_headers: Vec<(header::HeaderName, header::HeaderValue)>,
    sink: Arc<dyn LogSink>,
    /// Masks the SDK key in error texts: they may quote the URL, which contains it.
    mask: SecretMask,
    /// The last https→http redirect refused, so that it is logged once, not at every fetch.
    refused_downgrade: RefCell<Option<String>>,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("sdk_key", &mask_sdk_key(&self.inner.sdk_key))
            .field("base_url", &*self.inner.base_url.borrow())
            .field("custom_base_url", &self.inner.custom_base_url)
            .finish_non_exhaustive()
    }
}

/// What one HTTP request produced, before the redirect rules.
enum Response {
    Fetched {
        config: Arc<Config>,
        json: Arc<str>,
        etag: Option<String>,
    },
    NotModified,
}

impl Fetcher {
    /// Builds a fetcher; call it on an actix (or tokio) runtime thread, where its requests will
    /// run.
    ///
    /// # Errors
    /// [`Error`] when the base URL (or the config URL built with the SDK key) is not
    /// a valid `http`/`https` URL, or an extra root certificate cannot be read.
    pub fn new(options: FetchOptions, sink: Arc<dyn LogSink>) -> Result<Fetcher, Error> {
        Fetcher::with_env(options, sink, |name| std::env::var(name).ok())
    }

    /// [`Fetcher::new`] with the environment read through `env` (tests give a fake one: the
    /// process environment is shared by every thread, so mutating it is racy).
    pub(crate) fn with_env(
        options: FetchOptions,
        sink: Arc<dyn LogSink>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Fetcher, Error> {
        let custom_base_url = options.base_url.is_some();
        let base_url = match &options.base_url {
            Some(url) => normalize_base_url(url),
            None => governance_url(&options),
        };
        let mask = SecretMask::for_sdk_key(&options.sdk_key);
        validate_url(&base_url)?;
        validate_url(&config_url(&base_url, &options.sdk_key)).map_err(|error| match error {
            Error::InvalidUrl(why) => Error::InvalidUrl(mask.masked(&why)),
            other => other,
        })?;

        let client = http_client(&options, &*sink, env)?;

        Ok(Fetcher {
            inner: Rc::new(Inner {
                client,
                sdk_key: options.sdk_key,
                user_agent: user_agent(options.mode_letter),
                custom_base_url,
                base_url: RefCell::new(base_url),
                connect_timeout: options.connect_timeout,
                read_timeout: options.read_timeout,
                max_body_bytes: options.max_body_bytes,
                request_headers: options.request_headers.parse().unwrap_or_default(),
                sink,
                mask,
                refused_downgrade: RefCell::new(None),
            }),
        })
    }

    /// The base URL the next fetch goes to: the option's, or the one a redirect set (redirect
    /// state persists across fetches).
    #[cfg(test)]
    pub(crate) fn current_base_url(&self) -> String {
        self.inner.base_url.borrow().clone()
    }

    /// The URL the next fetch downloads:
    /// `<base URL>/configuration-files/<SDK key>/config_v6.json`.
    #[cfg(test)]
    pub(crate) fn config_url(&self) -> String {
        config_url(&self.inner.base_url.borrow(), &self.inner.sdk_key)
    }

    /// One refresh (spec §4): up to 3 requests, following the redirect rules of the
    /// downloaded config's preferences.
    ///
    /// * `etag` (when non-empty) is sent as `If-None-Match`; a 304 is
    ///   [`FetchOutcome::NotModified`].
    /// * A 200 whose preferences name another base URL switches the fetcher to it: with
    ///   redirect mode 0 for the next fetch (this config is returned), with modes 1 and 2 (and
    ///   no mode) by fetching again at once, mode 1 logging WARNING 3002. A custom base URL is
    ///   left only for mode 2. After the third request ERROR 1104 is logged and the last config
    ///   fetched is returned.
    /// * A redirect from an `https` URL to anything else (plain `http`) is refused: the SDK key
    ///   would travel in clear. WARNING 9110 is logged once per target, the config that asked
    ///   for it is returned, and the current URL stays.
    /// * Each request is logged at DEBUG: 9100 (200), 9101 (304), 9102 (failed).
    /// * Every failure is logged once at ERROR with its event id (1100–1105) and returned as
    ///   [`FetchOutcome::Failed`]; only 403 and 404 are not transient.
    pub fn fetch(&self, etag: Option<String>) -> impl Future<Output = FetchOutcome> + 'static {
        let inner = self.inner.clone();
        async move {
            inner
                .refresh(etag.as_deref().filter(|e| !e.is_empty()))
                .await
        }
    }
}

impl Inner {
    async fn refresh(&self, etag: Option<&str>) -> FetchOutcome {
        const MAX_REQUESTS: usize = 3;
        let mut attempt = 0;
        loop {
            let base_url = self.base_url.borrow().clone();
            let started = std::time::Instant::now();
            let response = self.request(&base_url, etag).await;
            let millis = millis(started.elapsed());
            let (config, json, response_etag) = match response {
                Ok(Response::Fetched { config, json, etag }) => {
                    self.log(
                        LogLevel::Debug,
                        event::CONFIG_DOWNLOADED,
                        format_args!(
                            "Downloaded the config JSON from {base_url} (200, {} bytes, {millis} ms).",
                            json.len()
                        ),
                    );
                    (config, json, etag)
                }
                Ok(Response::NotModified) => {
                    self.log(
                        LogLevel::Debug,
                        event::CONFIG_NOT_MODIFIED,
                        format_args!(
                            "The config JSON at {base_url} is unchanged (304 Not Modified, {millis} ms)."
                        ),
                    );
                    return FetchOutcome::NotModified;
                }
                Err(error) => {
                    error.log_to(&*self.sink);
                    self.log(
                        LogLevel::Debug,
                        event::DOWNLOAD_FAILED,
                        format_args!(
                            "Downloading the config JSON from {base_url} failed after {millis} ms \
                             (event {}); the last good config stays in use.",
                            error.event_id()
                        ),
                    );
                    return FetchOutcome::failed(error);
                }
            };
            let prefs = config.preferences();
            let target = prefs
                .base_url
                .as_deref()
                .map(normalize_base_url)
                .filter(|u| !u.is_empty() && *u != base_url);
            let mode = prefs.redirect_mode;
            let fetched = FetchOutcome::Fetched {
                config,
                json,
                etag: response_etag,
            };
            let Some(target) = target else {
                return fetched;
            };
            if self.custom_base_url && mode != Some(RedirectMode::Force) {
                return fetched;
            }
            if is_downgrade(&base_url, &target) {
                self.refuse_downgrade(&base_url, target);
                return fetched;
            }
            *self.base_url.borrow_mut() = target;
            match mode {
                Some(RedirectMode::No) => return fetched,
                Some(RedirectMode::Should) => self.log(
                    LogLevel::Warn,
                    event::DATA_GOVERNANCE_OUT_OF_SYNC,
                    format_args!("{DATA_GOVERNANCE_OUT_OF_SYNC_MESSAGE}"),
                ),
                // Force, and (as in the official SDKs) a redirect without a mode.
                Some(RedirectMode::Force) | None => {}
            }
            attempt += 1;
            if attempt >= MAX_REQUESTS {
                FetchError::RedirectLoop.log_to(&*self.sink);
                return fetched;
            }
        }
    }

    fn log(&self, level: LogLevel, event_id: u32, message: fmt::Arguments<'_>) {
        if self.sink.enabled(level) {
            self.sink.log(level, event_id, message);
        }
    }

    /// Logs (once per target) that a redirect to `target` would leave https: the SDK key would
    /// then travel in clear. The current URL stays.
    fn refuse_downgrade(&self, base_url: &str, target: String) {
        let mut refused = self.refused_downgrade.borrow_mut();
        if refused.as_deref() == Some(target.as_str()) {
            return;
        }
        // The target comes from the downloaded config: bounded before it is quoted.
        let shown = bounded(target.clone(), MAX_SHOWN_URL);
        self.log(
            LogLevel::Warn,
            event::REDIRECT_DOWNGRADE_REFUSED,
            format_args!(
                "The config JSON redirects from {base_url} to `{shown}`, which is not https: \
                 the redirect is refused (the SDK Key would travel in clear) and {base_url} \
                 stays in use."
            ),
        );
        *refused = Some(target);
    }

    /// A failure's text, with the SDK key masked (the URL carries it) and bounded.
    fn error_text(&self, text: String) -> String {
        self.mask.masked(&bounded(text, MAX_ERROR_TEXT))
    }

    /// One GET of the config, bounded as a whole by the read timeout.
    async fn request(&self, base_url: &str, etag: Option<&str>) -> Result<Response, FetchError> {
        let url = config_url(base_url, &self.sdk_key);
        let mut request = self.client.get(url);
        for (name, value) in &self.request_headers {
            request = request.append_header((name.clone(), value.clone()));
        }
        let mut request = request
            .insert_header((header::USER_AGENT, self.user_agent.as_str()))
            .insert_header(("X-ConfigCat-UserAgent", self.user_agent.as_str()));
        if let Some(etag) = etag {
            request = request.insert_header((header::IF_NONE_MATCH, etag));
        }
        let exchange = async {
            // `send()` would frame the GET with `content-length: 0`; a body of no size sends no
            // framing header at all (RFC 9110 §8.6: a request without content carries none).
            // Over HTTP/2 (TLS servers that offer it, as the CDNs do) the request carries no
            // other header either. Over HTTP/1.1 a `date` header stays: actix-http's HTTP/1
            // encoder writes one into every message that has none (h1/encoder.rs,
            // `encode_headers`), requests included, and awc 3.11 has no switch for it
            // (`ClientBuilder::no_default_headers` sets a flag nothing reads).
            let mut response = request
                .send_body(awc::body::None::new())
                .await
                .map_err(|e| self.send_error(e))?;
            let status = response.status().as_u16();
            match status {
                200 => {}
                304 => return Ok(Response::NotModified),
                403 | 404 => return Err(FetchError::InvalidSdkKey { status }),
                _ => {
                    return Err(FetchError::UnexpectedStatus {
                        status,
                        reason: crate::error::reason_phrase(status).to_owned(),
                    });
                }
            }
            let etag = response
                .headers()
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned);
            let declared = response
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if declared.is_some_and(|n| n > self.max_body_bytes as u64) {
                return Err(FetchError::BodyTooLarge {
                    limit: self.max_body_bytes,
                });
            }
            let body = response
                .body()
                .limit(self.max_body_bytes)
                .await
                .map_err(|e| self.payload_error(e))?;
            // awc ends a body at end of stream even when `Content-Length` promised more: a
            // cut connection must not pass for a complete (if truncated) config.
            let encoded = response
                .headers()
                .get(header::CONTENT_ENCODING)
                .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
            if let Some(declared) = declared.filter(|n| !encoded && *n != body.len() as u64) {
                return Err(FetchError::Network(format!(
                    "the connection ended after {} of the {declared} bytes of the body",
                    body.len()
                )));
            }
            let json = std::str::from_utf8(&body)
                .map_err(|e| FetchError::InvalidBody(format!("the body is not UTF-8: {e}")))?;
            let config = Config::parse(json)
                .map_err(|e| FetchError::InvalidBody(self.error_text(e.to_string())))?;
            Ok(Response::Fetched {
                config: Arc::new(config),
                json: Arc::from(json),
                etag,
            })
        };
        match tokio::time::timeout(self.read_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                millis: millis(self.read_timeout),
            }),
        }
    }

    fn send_error(&self, error: SendRequestError) -> FetchError {
        match error {
            SendRequestError::Connect(ConnectError::Timeout) => FetchError::Timeout {
                millis: millis(self.connect_timeout),
            },
            SendRequestError::Timeout => FetchError::Timeout {
                millis: millis(self.read_timeout),
            },
            other => FetchError::Network(self.error_text(other.to_string())),
        }
    }

    fn payload_error(&self, error: PayloadError) -> FetchError {
        match error {
            PayloadError::Overflow => FetchError::BodyTooLarge {
                limit: self.max_body_bytes,
            },
            other => FetchError::Network(
                self.error_text(format!("reading the response body failed: {other}")),
            ),
        }
    }
}

/// The longest redirect target quoted in a log line.
const MAX_SHOWN_URL: usize = 256;

/// Whether moving from `from` to `to` leaves https (for http, or anything else).
fn is_downgrade(from: &str, to: &str) -> bool {
    let https = |url: &str| {
        url.get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    };
    https(from) && !https(to)
}

/// The awc client the options describe: the TLS roots, the connect timeout, the proxy (given, or
/// chosen from the environment per target URL); no whole-request timeout (callers bound their
/// requests themselves) and no redirects. The fetcher and the change stream make theirs here.
pub(crate) fn http_client(
    options: &FetchOptions,
    sink: &dyn LogSink,
    env: impl Fn(&str) -> Option<String>,
) -> Result<awc::Client, Error> {
    let tls = tls::client_config(&options.extra_root_certificates)?;
    let connector = awc::Connector::new()
        .timeout(options.connect_timeout)
        .handshake_timeout(options.connect_timeout)
        .rustls_0_23(tls);
    // The whole-request deadline is applied around each request (see `request`), so awc's
    // own timeout is off. HTTP redirects are not followed: the CDN redirects through the
    // config's preferences, and following a 3xx could hand the SDK key to another host.
    let builder = awc::Client::builder().disable_timeout().disable_redirects();
    let route = match &options.proxy {
        Some(proxy) => Some(connector::Route::Always(proxy.clone())),
        None if options.proxy_from_env => {
            let (env, errors) = env_proxy::EnvProxy::read(env);
            for error in errors {
                if sink.enabled(LogLevel::Error) {
                    sink.log(
                        LogLevel::Error,
                        event::PROXY_ENV_INVALID,
                        format_args!("{error}; the variable is ignored"),
                    );
                }
            }
            Some(connector::Route::Env(env))
        }
        None => None,
    };
    let client = match route {
        Some(route) => builder
            .connector(connector.connector(connector::ProxyConnector::new(route)))
            .finish(),
        None => builder.connector(connector).finish(),
    };
    Ok(client)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The URL of the data governance setting (or its test replacement).
fn governance_url(options: &FetchOptions) -> String {
    #[cfg(test)]
    if let Some(url) = &options.data_governance_url {
        return normalize_base_url(url);
    }
    options.data_governance.base_url().to_owned()
}

/// Strips surrounding blanks and trailing `/`s.
fn normalize_base_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

fn config_url(base_url: &str, sdk_key: &str) -> String {
    format!("{base_url}/configuration-files/{sdk_key}/config_v6.json")
}

fn validate_url(url: &str) -> Result<(), Error> {
    let uri: awc::http::Uri = url
        .parse()
        .map_err(|e| Error::InvalidUrl(format!("`{url}`: {e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(Error::InvalidUrl(format!(
                "`{url}`: the scheme must be http or https"
            )));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(Error::InvalidUrl(format!("`{url}`: missing host")));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
