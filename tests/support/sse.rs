//! `MockProxyStream`: a ConfigCat Proxy's change stream (server-sent events) on 127.0.0.1,
//! framed as the Proxy frames it: a 200 with `text/event-stream`, chunked, then `data: <json>\n\n`
//! for the current values at once and again after each change; no heartbeat, no event ids.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::http::{RecordedRequest, read_request, reason};
use super::server::ServerThread;

/// What the stream does to each open connection.
enum Command {
    Send(Vec<u8>),
    Close,
}

struct StreamState {
    status: u16,
    /// Whether a new connection gets the current values at once (the Proxy always does; a
    /// silent connection does not).
    initial_message: bool,
    requests: Vec<RecordedRequest>,
    open: Vec<mpsc::UnboundedSender<Command>>,
}

/// A ConfigCat Proxy's `/sse/...` endpoint. Stops when dropped.
pub struct MockProxyStream {
    server: ServerThread,
    state: Arc<Mutex<StreamState>>,
}

impl MockProxyStream {
    /// Starts a stream that answers 200 and sends the current values at once.
    pub fn start() -> MockProxyStream {
        let state = Arc::new(Mutex::new(StreamState {
            status: 200,
            initial_message: true,
            requests: Vec::new(),
            open: Vec::new(),
        }));
        let shared = state.clone();
        let server = ServerThread::spawn("mock-proxy-stream", move |stream, _peer| {
            let state = shared.clone();
            async move { serve(stream, state).await }
        });
        MockProxyStream { server, state }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.addr().port())
    }

    /// Answers new connections with `status` (and no stream) from now on.
    pub fn set_status(&self, status: u16) {
        self.state().status = status;
    }

    /// Whether new connections get the current values at once (default true).
    pub fn set_initial_message(&self, send: bool) {
        self.state().initial_message = send;
    }

    /// Sends one event with `json` as its data to every open connection; returns how many.
    pub fn send(&self, json: &str) -> usize {
        self.send_raw(format!("data: {json}\n\n").into_bytes())
    }

    /// Sends raw bytes to every open connection; returns how many.
    pub fn send_raw(&self, bytes: Vec<u8>) -> usize {
        let mut state = self.state();
        state
            .open
            .retain(|open| open.send(Command::Send(bytes.clone())).is_ok());
        state.open.len()
    }

    /// Drops every open connection (as a restarting Proxy would).
    pub fn close_all(&self) {
        for open in self.state().open.drain(..) {
            let _ = open.send(Command::Close);
        }
    }

    /// The requests received so far (one per connection).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// The number of connections open and streaming now.
    pub fn open_connections(&self) -> usize {
        let mut state = self.state();
        state.open.retain(|open| !open.is_closed());
        state.open.len()
    }

    /// Waits until at least `n` requests were received, at most `timeout`.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.state().requests.len() < n {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Waits until at least `n` connections are open and streaming, at most `timeout`.
    pub async fn wait_for_open(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.open_connections() < n {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    fn state(&self) -> MutexGuard<'_, StreamState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn chunk(bytes: &[u8]) -> Vec<u8> {
    let mut framed = format!("{:x}\r\n", bytes.len()).into_bytes();
    framed.extend_from_slice(bytes);
    framed.extend_from_slice(b"\r\n");
    framed
}

async fn serve(stream: tokio::net::TcpStream, state: Arc<Mutex<StreamState>>) {
    let (reader, mut writer) = tokio::io::split(stream);
    let mut reader = BufReader::new(reader);
    let Ok(Some(request)) = read_request(&mut reader).await else {
        return;
    };
    let (status, initial, mut commands) = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        state.requests.push(request);
        let (sender, receiver) = mpsc::unbounded_channel();
        if state.status == 200 {
            state.open.push(sender);
        }
        (state.status, state.initial_message, receiver)
    };
    if status != 200 {
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            reason(status)
        );
        let _ = writer.write_all(head.as_bytes()).await;
        return;
    }
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
                Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n";
    if writer.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    if initial {
        let first = chunk(br#"data: {"isAwesome":{"v":true,"i":"v1"}}"#.as_slice());
        let end = chunk(b"\n\n");
        if writer.write_all(&first).await.is_err() || writer.write_all(&end).await.is_err() {
            return;
        }
    }
    let mut scratch = [0u8; 256];
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Send(bytes)) => {
                    if writer.write_all(&chunk(&bytes)).await.is_err() {
                        return;
                    }
                }
                // Dropping the writer and reader cuts the connection without a final chunk.
                Some(Command::Close) | None => return,
            },
            // The client hung up (or sent something, which a stream client does not).
            read = reader.read(&mut scratch) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return;
                }
            }
        }
    }
}
