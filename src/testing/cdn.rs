//! [`FakeCdn`]: the ConfigCat CDN's one endpoint on 127.0.0.1, served by actix-web, with
//! failures on demand and a record of the requests.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use sha1::{Digest, Sha1};

use super::{TestConfig, hex};
use crate::builder::ConfigCatBuilder;
use crate::evaluator::ConfigCat;
use crate::log::NoLog;

/// A failure the [`FakeCdn`] answers with instead of the config.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// This HTTP status with an empty body (`403`/`404`: a wrong SDK key, logged 1100 by the
    /// client; `500`, `503`…: logged 1101). A code outside 100–999 answers 500.
    Status(u16),
    /// Waits this long, then answers as usual: longer than the client's read timeout, a hung
    /// CDN (logged 1102).
    Delay(Duration),
    /// `200 OK` with a body that is not JSON (logged 1105).
    InvalidBody,
}

/// One request the [`FakeCdn`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CdnRequest {
    /// The SDK key of the path.
    pub sdk_key: String,
    /// The `If-None-Match` header: the ETag of the config the client has.
    pub if_none_match: Option<String>,
    /// The `X-ConfigCat-UserAgent` header (`ConfigCat-Rust-Actix/<a|l|m>-<version>`).
    pub user_agent: Option<String>,
    /// The status answered (`200`, `304`, `404`, or the injected failure's).
    pub status: u16,
}

/// A fake ConfigCat CDN on 127.0.0.1, for tests of polling, refreshes, failures and fleets.
///
/// It serves `GET /configuration-files/<SDK key>/config_v6.json` as the CDN does (see the
/// guide [Polling modes](crate::guide::polling_modes#the-cdns-url-layout)): `200` with the
/// config set for that key and an `ETag`, `304 Not Modified` when `If-None-Match` carries that
/// ETag, `404` for a key it has no config for. [`fail`](Self::fail) and
/// [`fail_next`](Self::fail_next) inject [`Failure`]s, [`refuse_connections`](Self::refuse_connections)
/// closes its port; [`requests`](Self::requests) lists what it answered. It runs on its own
/// thread (its own actix System, one worker) and stops when dropped.
///
/// ```
/// use std::time::Duration;
/// use configcat_actix::testing::{FakeCdn, Failure, TestConfig, sdk_key};
/// use configcat_actix::{ForceRefresh, GetValue, PollingMode, RefreshError, FetchError};
///
/// #[actix::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let cdn = FakeCdn::start()?;
///     let key = sdk_key();
///     cdn.set_flags(&key, &TestConfig::new().flag("isAwesome", true));
///     let client = cdn.client_builder(&key).polling_mode(PollingMode::manual_poll()).start()?;
///     client.send(ForceRefresh).await??;
///     assert!(client.send(GetValue::new("isAwesome", false)).await?);
///
///     cdn.set_flags(&key, &TestConfig::new().flag("isAwesome", false));
///     cdn.fail_next(Failure::Status(503));
///     let failed = client.send(ForceRefresh).await?;
///     assert!(matches!(failed, Err(RefreshError::Fetch(FetchError::UnexpectedStatus { status: 503, .. }))));
///     assert!(client.send(GetValue::new("isAwesome", false)).await?, "the last good config");
///
///     client.send(ForceRefresh).await??;
///     assert!(!client.send(GetValue::new("isAwesome", true)).await?);
///     client.send(ForceRefresh).await??;
///     let statuses: Vec<u16> = cdn.requests().iter().map(|r| r.status).collect();
///     assert_eq!(statuses, [200, 503, 200, 304]);
///     Ok(())
/// }
/// ```
pub struct FakeCdn {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    server: Mutex<Option<Server>>,
}

#[derive(Default)]
struct State {
    configs: HashMap<String, Served>,
    failure: Option<Failure>,
    next_failures: VecDeque<Failure>,
    /// The latest [`MAX_RECORDED`] requests.
    requests: VecDeque<CdnRequest>,
    answered: usize,
}

/// How many requests [`FakeCdn::requests`] keeps: a long test polling fast must not grow
/// without bound.
const MAX_RECORDED: usize = 10_000;

struct Served {
    body: String,
    etag: String,
}

impl State {
    /// Counts an answered request and keeps it, dropping the oldest beyond [`MAX_RECORDED`].
    fn record(&mut self, request: CdnRequest) {
        if self.requests.len() == MAX_RECORDED {
            self.requests.pop_front();
        }
        self.requests.push_back(request);
        self.answered += 1;
    }
}

/// The running server: its handle and the thread whose System runs it.
struct Server {
    handle: ServerHandle,
    thread: JoinHandle<()>,
}

impl FakeCdn {
    /// Starts a fake CDN on a free port of 127.0.0.1, with no configs.
    ///
    /// # Errors
    /// When no port can be bound or its thread cannot start.
    pub fn start() -> io::Result<FakeCdn> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let address = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let server = Server::start(listener, state.clone())?;
        Ok(FakeCdn {
            address,
            state,
            server: Mutex::new(Some(server)),
        })
    }

    /// The base URL to give the client: `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A client builder for `sdk_key` pointed at this CDN, logging nothing (add options, then
    /// `start()`). The key must be a valid one: [`sdk_key`](super::sdk_key) makes them.
    pub fn client_builder(&self, sdk_key: &str) -> ConfigCatBuilder {
        ConfigCat::builder(sdk_key)
            .base_url(self.url())
            .log_sink(NoLog)
    }

    /// Serves `json` (config_v6 text, served as it is: it may be invalid on purpose) for
    /// `sdk_key` from now on, with an ETag derived from it.
    pub fn set_config(&self, sdk_key: &str, json: impl Into<String>) {
        let body = json.into();
        let etag = format!("\"{}\"", hex(&Sha1::digest(body.as_bytes())));
        self.state()
            .configs
            .insert(sdk_key.to_owned(), Served { body, etag });
    }

    /// Serves `config` for `sdk_key` from now on.
    pub fn set_flags(&self, sdk_key: &str, config: &TestConfig) {
        self.set_config(sdk_key, config.to_json());
    }

    /// Forgets the config of `sdk_key`: its requests get `404` (logged 1100 by the client).
    pub fn remove_config(&self, sdk_key: &str) {
        self.state().configs.remove(sdk_key);
    }

    /// Answers every request with `failure` until [`recover`](Self::recover).
    pub fn fail(&self, failure: Failure) {
        self.state().failure = Some(failure);
    }

    /// Answers the next request with `failure`, once (queued after earlier `fail_next`s, and
    /// before a [`fail`](Self::fail)).
    pub fn fail_next(&self, failure: Failure) {
        self.state().next_failures.push_back(failure);
    }

    /// Clears every injected failure: requests are answered as usual again.
    pub fn recover(&self) {
        let mut state = self.state();
        state.failure = None;
        state.next_failures.clear();
    }

    /// Closes the port: connections are refused (logged 1103 by the client) until
    /// [`accept_connections`](Self::accept_connections). Open connections are closed too.
    pub fn refuse_connections(&self) {
        if let Some(server) = self.server().take() {
            server.stop();
        }
    }

    /// Opens the port again after [`refuse_connections`](Self::refuse_connections); does nothing
    /// if it is open.
    ///
    /// # Errors
    /// When the port cannot be bound again (another process took it meanwhile).
    pub fn accept_connections(&self) -> io::Result<()> {
        let mut server = self.server();
        if server.is_none() {
            let listener = TcpListener::bind(self.address)?;
            *server = Some(Server::start(listener, self.state.clone())?);
        }
        Ok(())
    }

    /// How many requests were answered (injected failures included, refused connections not).
    pub fn request_count(&self) -> usize {
        self.state().answered
    }

    /// The requests answered so far, oldest first (the latest 10,000).
    pub fn requests(&self) -> Vec<CdnRequest> {
        self.state().requests.iter().cloned().collect()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn server(&self) -> MutexGuard<'_, Option<Server>> {
        self.server.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for FakeCdn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCdn")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl Drop for FakeCdn {
    fn drop(&mut self) {
        self.refuse_connections();
    }
}

impl Server {
    fn start(listener: TcpListener, state: Arc<Mutex<State>>) -> io::Result<Server> {
        let (started, handle) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("configcat-fake-cdn".to_owned())
            .spawn(move || {
                actix_rt::System::new().block_on(async move {
                    let data = web::Data::from(state);
                    let server = HttpServer::new(move || {
                        App::new().app_data(data.clone()).service(
                            web::resource("/configuration-files/{key:.+}/config_v6.json")
                                .route(web::get().to(answer)),
                        )
                    })
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(0)
                    .listen(listener)
                    .map(|server| server.run());
                    match server {
                        Ok(server) => {
                            let _ = started.send(Ok(server.handle()));
                            let _ = server.await;
                        }
                        Err(error) => {
                            let _ = started.send(Err(error));
                        }
                    }
                });
            })?;
        let handle = handle
            .recv()
            .map_err(|_| io::Error::other("the fake CDN's thread ended before serving"))??;
        Ok(Server { handle, thread })
    }

    fn stop(self) {
        // The command is sent at once; the thread ends when the server has stopped, so joining
        // it waits for that without needing the caller's runtime.
        drop(self.handle.stop(false));
        let _ = self.thread.join();
    }
}

/// What to answer, decided under the lock; a delay is slept after it is released.
async fn answer(req: HttpRequest, state: web::Data<Mutex<State>>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let request = CdnRequest {
        sdk_key: req.match_info().get("key").unwrap_or_default().to_owned(),
        if_none_match: header("if-none-match"),
        user_agent: header("x-configcat-useragent"),
        status: 0,
    };
    let (delay, response) = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        let failure = state
            .next_failures
            .pop_front()
            .or_else(|| state.failure.clone());
        let (delay, response) = match failure {
            Some(Failure::Status(code)) => (None, status(code)),
            Some(Failure::InvalidBody) => (None, HttpResponse::Ok().body("{ not json")),
            Some(Failure::Delay(delay)) => (Some(delay), served(&state, &request)),
            None => (None, served(&state, &request)),
        };
        state.record(CdnRequest {
            status: response.status().as_u16(),
            ..request
        });
        (delay, response)
    };
    if let Some(delay) = delay {
        actix_rt::time::sleep(delay).await;
    }
    response
}

fn served(state: &State, request: &CdnRequest) -> HttpResponse {
    match state.configs.get(&request.sdk_key) {
        None => HttpResponse::NotFound().finish(),
        Some(served) if request.if_none_match.as_deref() == Some(served.etag.as_str()) => {
            HttpResponse::NotModified()
                .insert_header((header::ETAG, served.etag.clone()))
                .finish()
        }
        Some(served) => HttpResponse::Ok()
            .insert_header((header::ETAG, served.etag.clone()))
            .content_type("application/json")
            .body(served.body.clone()),
    }
}

fn status(code: u16) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(code)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).finish()
}

#[cfg(test)]
mod tests {
    use super::{CdnRequest, MAX_RECORDED, State};

    #[test]
    fn the_request_record_keeps_the_latest_and_counts_all() {
        let mut state = State::default();
        for status in 0..=MAX_RECORDED as u16 {
            state.record(CdnRequest {
                sdk_key: String::new(),
                if_none_match: None,
                user_agent: None,
                status,
            });
        }
        assert_eq!(state.answered, MAX_RECORDED + 1);
        assert_eq!(state.requests.len(), MAX_RECORDED);
        assert_eq!(state.requests.front().map(|r| r.status), Some(1));
    }
}
