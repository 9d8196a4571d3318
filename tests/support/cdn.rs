//! `MockCdn`: a ConfigCat CDN on 127.0.0.1, over HTTP or HTTPS, that fails on demand.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, BufReader};

use super::http::{Framing, RecordedRequest, read_request, write_response};
use super::server::ServerThread;
use super::tls::TestCertificates;

const PATH_PREFIX: &str = "/configuration-files/";
const PATH_SUFFIX: &str = "/config_v6.json";

/// A mock ConfigCat CDN serving `/configuration-files/<key>/config_v6.json`.
///
/// * Answers 200 with the body set by [`MockCdn::set_config`] and an ETag derived from it
///   ([`etag_for`]), or 304 when `If-None-Match` matches; 404 for keys it does not know.
/// * Records every request ([`MockCdn::requests`]) and counts TCP connections.
/// * Fails on demand: [`set_status`](MockCdn::set_status) (every request),
///   [`push_status`](MockCdn::push_status) (the next requests, once each),
///   [`set_delay`](MockCdn::set_delay), [`set_body_override`](MockCdn::set_body_override),
///   [`set_chunked`](MockCdn::set_chunked), [`set_cut_body_after`](MockCdn::set_cut_body_after),
///   [`set_trickle`](MockCdn::set_trickle), [`set_send_etag`](MockCdn::set_send_etag).
/// * [`MockCdn::start_tls`] serves HTTPS with a certificate for `127.0.0.1` and `localhost`
///   signed by a fresh CA whose DER is [`MockCdn::certificate_der`];
///   [`MockCdn::start_h2`] also offers HTTP/2 (ALPN `h2`), as the real CDNs do.
///
/// Runs on its own thread and runtime; stops when dropped.
pub struct MockCdn {
    server: ServerThread,
    state: Arc<Mutex<CdnState>>,
    certificates: Option<TestCertificates>,
}

struct CdnState {
    configs: HashMap<String, Vec<u8>>,
    status: Option<u16>,
    queued_statuses: VecDeque<u16>,
    delay: Option<Duration>,
    body_override: Option<Vec<u8>>,
    framing: Framing,
    send_etag: bool,
    requests: Vec<RecordedRequest>,
    http2_requests: usize,
}

/// What to answer to one request.
struct Answer {
    delay: Option<Duration>,
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    framing: Framing,
}

impl MockCdn {
    /// Starts a plain HTTP CDN with no configs.
    pub fn start() -> MockCdn {
        MockCdn::start_with(None, &[])
    }

    /// Starts an HTTPS CDN with a freshly generated certificate.
    pub fn start_tls() -> MockCdn {
        MockCdn::start_with(Some(TestCertificates::generate()), &[b"http/1.1"])
    }

    /// Starts an HTTPS CDN that offers HTTP/2 before HTTP/1.1. Answers are the same over both
    /// (delays and failures of the body framing apply to HTTP/1.1 only).
    pub fn start_h2() -> MockCdn {
        MockCdn::start_with(Some(TestCertificates::generate()), &[b"h2", b"http/1.1"])
    }

    fn start_with(certificates: Option<TestCertificates>, alpn: &[&[u8]]) -> MockCdn {
        let state = Arc::new(Mutex::new(CdnState {
            configs: HashMap::new(),
            status: None,
            queued_statuses: VecDeque::new(),
            delay: None,
            body_override: None,
            framing: Framing::Length,
            send_etag: true,
            requests: Vec::new(),
            http2_requests: 0,
        }));
        let shared = state.clone();
        let acceptor = certificates
            .as_ref()
            .map(|certificates| certificates.acceptor_offering(alpn));
        let server = ServerThread::spawn("mock-cdn", move |stream, _peer| {
            let state = shared.clone();
            let acceptor = acceptor.clone();
            async move {
                match acceptor {
                    None => serve(stream, state).await,
                    Some(acceptor) => {
                        // An untrusting client aborts the handshake: nothing to serve then.
                        if let Ok(tls) = acceptor.accept(stream).await {
                            if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                                serve_h2(tls, state).await;
                            } else {
                                serve(tls, state).await;
                            }
                        }
                    }
                }
            }
        });
        MockCdn {
            server,
            state,
            certificates,
        }
    }

    /// `http://127.0.0.1:PORT`, or `https://127.0.0.1:PORT` for a TLS CDN.
    pub fn base_url(&self) -> String {
        format!(
            "{}://127.0.0.1:{}",
            self.scheme(),
            self.server.addr().port()
        )
    }

    /// The same with the host name `localhost` (the certificate names both).
    pub fn localhost_base_url(&self) -> String {
        format!(
            "{}://localhost:{}",
            self.scheme(),
            self.server.addr().port()
        )
    }

    fn scheme(&self) -> &'static str {
        if self.certificates.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The DER of the CA that signed the TLS certificate: pass it in
    /// `FetchOptions::extra_root_certificates`. Panics for a plain HTTP CDN.
    pub fn certificate_der(&self) -> Vec<u8> {
        self.certificates
            .as_ref()
            .expect("certificate_der: this MockCdn was not started with start_tls")
            .ca_der
            .clone()
    }

    /// The path of the config of `sdk_key`.
    pub fn config_path(sdk_key: &str) -> String {
        format!("{PATH_PREFIX}{sdk_key}{PATH_SUFFIX}")
    }

    /// The full URL of the config of `sdk_key` on this CDN.
    pub fn config_url(&self, sdk_key: &str) -> String {
        format!("{}{}", self.base_url(), MockCdn::config_path(sdk_key))
    }

    /// Serves `json` for `sdk_key` from now on.
    pub fn set_config(&self, sdk_key: &str, json: impl Into<String>) {
        self.set_config_bytes(sdk_key, json.into().into_bytes());
    }

    /// Serves raw bytes for `sdk_key` from now on.
    pub fn set_config_bytes(&self, sdk_key: &str, body: Vec<u8>) {
        self.state().configs.insert(sdk_key.to_owned(), body);
    }

    /// Serves the local copy of the official test config of `sdk_key`
    /// (`tests/data/configs/by-sdk-key/`).
    pub fn serve_test_data(&self, sdk_key: &str) {
        self.set_config(sdk_key, test_data_config(sdk_key));
    }

    /// Forgets the config of `sdk_key` (requests for it get 404).
    pub fn remove_config(&self, sdk_key: &str) {
        self.state().configs.remove(sdk_key);
    }

    /// The JSON currently served for `sdk_key`.
    pub fn config_json(&self, sdk_key: &str) -> Option<String> {
        self.state()
            .configs
            .get(sdk_key)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// The ETag currently served for `sdk_key` (body override included), when ETags are sent.
    pub fn etag_of(&self, sdk_key: &str) -> Option<String> {
        let state = self.state();
        if !state.send_etag {
            return None;
        }
        state
            .body_override
            .as_ref()
            .or_else(|| state.configs.get(sdk_key))
            .map(|b| etag_for(b))
    }

    /// Makes the config of `sdk_key` redirect to `target_base_url` with redirect mode `mode`
    /// (sets its `p.u` and `p.r`). Panics when no config is set for the key.
    pub fn set_redirect(&self, sdk_key: &str, target_base_url: &str, mode: u8) {
        let json = self
            .config_json(sdk_key)
            .unwrap_or_else(|| panic!("set_redirect: no config set for {sdk_key}"));
        self.set_config(sdk_key, with_redirect(&json, target_base_url, mode));
    }

    /// Removes `p.u` and `p.r` from the config of `sdk_key`.
    pub fn clear_redirect(&self, sdk_key: &str) {
        let Some(json) = self.config_json(sdk_key) else {
            return;
        };
        let mut value: serde_json::Value = serde_json::from_str(&json).expect("config JSON");
        if let Some(p) = value.get_mut("p").and_then(|p| p.as_object_mut()) {
            p.remove("u");
            p.remove("r");
        }
        self.set_config(sdk_key, value.to_string());
    }

    /// Answers every request with `status` and an empty body until [`MockCdn::clear_status`].
    pub fn set_status(&self, status: u16) {
        self.state().status = Some(status);
    }

    /// Back to normal answers.
    pub fn clear_status(&self) {
        self.state().status = None;
    }

    /// Answers the next request with `status` (empty body), once; several calls queue up.
    /// Queued statuses go before [`MockCdn::set_status`].
    pub fn push_status(&self, status: u16) {
        self.state().queued_statuses.push_back(status);
    }

    /// Waits `delay` before answering each request (a long delay is a hung server).
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = Some(delay);
    }

    /// Answers at once again.
    pub fn clear_delay(&self) {
        self.state().delay = None;
    }

    /// Serves these bytes as the body of every config request (any key, with status 200 and
    /// an ETag of the bytes): invalid JSON, truncated JSON, oversized bodies.
    pub fn set_body_override(&self, body: impl Into<Vec<u8>>) {
        self.state().body_override = Some(body.into());
    }

    /// Serves the configs again.
    pub fn clear_body_override(&self) {
        self.state().body_override = None;
    }

    /// Sends 200 bodies with `Transfer-Encoding: chunked` (no `Content-Length`).
    pub fn set_chunked(&self, chunked: bool) {
        self.state().framing = if chunked {
            Framing::Chunked
        } else {
            Framing::Length
        };
    }

    /// Declares the whole body in `Content-Length` but closes the connection after `n` bytes
    /// (`None`: send whole bodies).
    pub fn set_cut_body_after(&self, n: Option<usize>) {
        self.state().framing = match n {
            Some(n) => Framing::CutAfter(n),
            None => Framing::Length,
        };
    }

    /// Sends the head of 200 answers at once, then their body `step` bytes at a time with
    /// `pause` before each piece (`None`: send whole bodies). The body is complete in the end:
    /// only a deadline on the whole response notices, not one on each read.
    pub fn set_trickle(&self, trickle: Option<(usize, Duration)>) {
        self.state().framing = match trickle {
            Some((step, pause)) => Framing::Trickle { step, pause },
            None => Framing::Length,
        };
    }

    /// Whether 200 and 304 answers carry an `ETag` (default true).
    pub fn set_send_etag(&self, send: bool) {
        self.state().send_etag = send;
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// The last request received.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.state().requests.last().cloned()
    }

    /// How many of the requests came over HTTP/2.
    pub fn http2_request_count(&self) -> usize {
        self.state().http2_requests
    }

    /// The number of requests received.
    pub fn request_count(&self) -> usize {
        self.state().requests.len()
    }

    /// The number of requests for `path`.
    pub fn requests_to(&self, path: &str) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// The number of requests for the config of `sdk_key`.
    pub fn config_request_count(&self, sdk_key: &str) -> usize {
        self.requests_to(&MockCdn::config_path(sdk_key))
    }

    /// Forgets the requests recorded so far.
    pub fn reset_requests(&self) {
        self.state().requests.clear();
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.server.connections()
    }

    /// Waits (without blocking the calling runtime) until at least `n` requests were received,
    /// at most `timeout`; returns whether they were.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.request_count() >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn state(&self) -> MutexGuard<'_, CdnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CdnState {
    fn answer(&mut self, request: &RecordedRequest) -> Answer {
        let mut answer = Answer {
            delay: self.delay,
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
            framing: Framing::Length,
        };
        if request.method != "GET" {
            answer.status = 405;
            return answer;
        }
        if let Some(status) = self.queued_statuses.pop_front().or(self.status) {
            answer.status = status;
            return answer;
        }
        let key = request
            .path
            .strip_prefix(PATH_PREFIX)
            .and_then(|rest| rest.strip_suffix(PATH_SUFFIX));
        let body = match (&self.body_override, key) {
            (Some(body), Some(_)) => body.clone(),
            (None, Some(key)) => match self.configs.get(key) {
                Some(body) => body.clone(),
                None => {
                    answer.status = 404;
                    return answer;
                }
            },
            (_, None) => {
                answer.status = 404;
                return answer;
            }
        };
        if self.send_etag {
            let etag = etag_for(&body);
            if request.if_none_match() == Some(etag.as_str()) {
                answer.status = 304;
                answer.headers.push(("ETag", etag));
                return answer;
            }
            answer.headers.push(("ETag", etag));
        }
        answer
            .headers
            .push(("Content-Type", "application/json".to_owned()));
        answer.body = body;
        answer.framing = self.framing;
        answer
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: S, state: Arc<Mutex<CdnState>>) {
    let (reader, mut writer) = tokio::io::split(stream);
    let mut reader = BufReader::new(reader);
    while let Ok(Some(request)) = read_request(&mut reader).await {
        let close = request.wants_close();
        let answer = {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            state.requests.push(request.clone());
            state.answer(&request)
        };
        if let Some(delay) = answer.delay {
            tokio::time::sleep(delay).await;
        }
        let written = write_response(
            &mut writer,
            answer.status,
            &answer.headers,
            &answer.body,
            answer.framing,
        )
        .await;
        if written.is_err() || close {
            break;
        }
    }
}

/// Serves HTTP/2 streams one after the other with the same answers as HTTP/1.1. The recorded
/// headers are the regular ones (the pseudo-headers `:path` and friends are not headers).
async fn serve_h2<S: AsyncRead + AsyncWrite + Unpin>(stream: S, state: Arc<Mutex<CdnState>>) {
    let Ok(mut connection) = h2::server::handshake(stream).await else {
        return;
    };
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        let recorded = RecordedRequest {
            method: request.method().to_string(),
            path: request.uri().path().to_owned(),
            headers: request
                .headers()
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect(),
        };
        let answer = {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            state.requests.push(recorded.clone());
            state.http2_requests += 1;
            state.answer(&recorded)
        };
        let mut head = http::Response::builder().status(answer.status);
        for (name, value) in &answer.headers {
            head = head.header(*name, value.as_str());
        }
        let head = head.body(()).expect("a valid response head");
        let no_body = answer.body.is_empty();
        let Ok(mut body) = respond.send_response(head, no_body) else {
            continue;
        };
        if !no_body {
            let _ = body.send_data(bytes::Bytes::from(answer.body), true);
        }
    }
}

/// The ETag the mock CDN sends for a body: a quoted hash of it.
pub fn etag_for(body: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

/// The local copy of the official test config of `sdk_key`
/// (`tests/data/configs/by-sdk-key/<key with / as __>.json`).
pub fn test_data_config(sdk_key: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/configs/by-sdk-key")
        .join(format!("{}.json", sdk_key.replace('/', "__")));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `examples/data/config_v6.json`.
pub fn example_config() -> String {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/config_v6.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Two flags: `greeting` is "hi, colleague" for @example.com addresses, "hello" for anyone else;
/// `enabled` is on.
pub fn targeting_config() -> String {
    r#"{"p":{"s":"salt"},"f":{
        "greeting":{"t":1,"v":{"s":"hello"},"i":"v-hello",
            "r":[{"c":[{"u":{"a":"Email","c":2,"l":["@example.com"]}}],"s":{"v":{"s":"hi, colleague"},"i":"v-colleague"}}]},
        "enabled":{"t":0,"v":{"b":true},"i":"v-on"}}}"#
        .to_owned()
}

/// A config with one text setting `flag` = `value` and a salt, no redirect.
pub fn simple_config(flag: &str, value: &str) -> String {
    serde_json::json!({
        "p": {"s": "test-salt"},
        "f": {flag: {"t": 1, "v": {"s": value}}}
    })
    .to_string()
}

/// `json` with `p.u` = `target_base_url` and `p.r` = `mode`.
pub fn with_redirect(json: &str, target_base_url: &str, mode: u8) -> String {
    let mut value: serde_json::Value = serde_json::from_str(json).expect("config JSON");
    let root = value.as_object_mut().expect("a config is an object");
    let p = root
        .entry("p")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()
        .expect("p is an object");
    p.insert("u".to_owned(), target_base_url.into());
    p.insert("r".to_owned(), mode.into());
    value.to_string()
}
