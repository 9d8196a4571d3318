//! `ForwardProxy`: a CONNECT-tunnelling HTTP proxy on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::http::{Framing, RecordedRequest, read_request, write_response};
use super::server::ServerThread;

/// A forward proxy that only tunnels (`CONNECT host:port`), optionally requiring Basic
/// credentials (407 otherwise). Any other method gets 405; an unreachable target 502.
///
/// Runs on its own thread and runtime; stops when dropped.
pub struct ForwardProxy {
    server: ServerThread,
    state: Arc<Mutex<ProxyState>>,
}

#[derive(Default)]
struct ProxyState {
    established: usize,
    rejected: usize,
    requests: Vec<RecordedRequest>,
}

impl ForwardProxy {
    /// A proxy that tunnels for anyone.
    pub fn start() -> ForwardProxy {
        ForwardProxy::start_with(None)
    }

    /// A proxy that requires `Proxy-Authorization: Basic base64(user:password)`.
    pub fn start_with_credentials(user: &str, password: &str) -> ForwardProxy {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        ForwardProxy::start_with(Some(format!("Basic {token}")))
    }

    fn start_with(authorization: Option<String>) -> ForwardProxy {
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let shared = state.clone();
        let server = ServerThread::spawn("forward-proxy", move |stream, _peer| {
            let state = shared.clone();
            let authorization = authorization.clone();
            async move { tunnel(stream, state, authorization).await }
        });
        ForwardProxy { server, state }
    }

    /// `http://127.0.0.1:PORT`, for `Proxy::new`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.addr().port())
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Tunnels opened (answered 200).
    pub fn tunnels_established(&self) -> usize {
        self.state().established
    }

    /// Tunnels refused for missing or wrong credentials (answered 407).
    pub fn tunnels_rejected(&self) -> usize {
        self.state().rejected
    }

    /// Every request received (CONNECT and others), with its headers.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// The `host:port` targets of the CONNECT requests, in order.
    pub fn connect_targets(&self) -> Vec<String> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.method == "CONNECT")
            .map(|r| r.path.clone())
            .collect()
    }

    fn state(&self) -> MutexGuard<'_, ProxyState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn tunnel(stream: TcpStream, state: Arc<Mutex<ProxyState>>, authorization: Option<String>) {
    let mut reader = BufReader::new(stream);
    let Ok(Some(request)) = read_request(&mut reader).await else {
        return;
    };
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    lock().requests.push(request.clone());
    // Anything the client sent after the head (it should have waited) goes to the target.
    let early = reader.buffer().to_vec();
    let mut client = reader.into_inner();

    if request.method != "CONNECT" {
        let _ = write_response(&mut client, 405, &[], b"", Framing::Length).await;
        return;
    }
    if let Some(expected) = &authorization
        && request.header("proxy-authorization") != Some(expected.as_str())
    {
        lock().rejected += 1;
        let headers = [("Proxy-Authenticate", "Basic realm=\"test\"".to_owned())];
        let _ = write_response(&mut client, 407, &headers, b"", Framing::Length).await;
        return;
    }
    let mut upstream = match TcpStream::connect(request.path.as_str()).await {
        Ok(upstream) => upstream,
        Err(_) => {
            let _ = write_response(&mut client, 502, &[], b"", Framing::Length).await;
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    lock().established += 1;
    if !early.is_empty() && upstream.write_all(&early).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
