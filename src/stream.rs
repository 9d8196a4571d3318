//! The ConfigCat Proxy change stream as a refresh trigger: an actor that holds a server-sent
//! events connection to a ConfigCat Proxy's all-flags endpoint and asks the poller for a fetch
//! whenever the Proxy says something changed.
//!
//! The Proxy sends the current values of all flags when a connection opens, then again after
//! each change of its config, each as one `data: <json>` event; it sends no heartbeat and keeps
//! no event ids. So this actor ignores the first message of a connection, treats every later
//! one as "the config may have changed", and asks for one fetch after each (re)connection (what
//! changed while it was away is not replayed). Each notice is a `Refresh(Need::Changed)`: one
//! conditional GET, after any fetch in flight, coalesced with the other notices meanwhile. The
//! message content is never kept: each line and message is only counted, up to a bound.
//!
//! A connection that fails before its first message (refused, a status other than 200, a
//! message over the bound, silence) counts as a failure: the actor backs off exponentially with
//! jitter and logs WARNING [`CHANGE_STREAM_FAILED`](event::CHANGE_STREAM_FAILED) once per streak
//! of failures. A connection that ends after its first message (the Proxy restarted, the idle
//! timeout) is reconnected after the shortest backoff. The polling mode goes on beside it as the
//! backstop. The actor holds the poller only as a `Recipient<Refresh>`, handed by the builder.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use awc::http::header;
use base64::Engine as _;
use futures_util::StreamExt as _;

use crate::fetch::{FetchOptions, http_client};
use crate::hooks::{FetchTrigger, Hooks, StreamState};
use crate::log::{LogLevel, LogSink, NoLog, event};
use crate::protocol::{Need, Refresh, Shutdown};
use crate::state::Published;

/// The default idle timeout: the Proxy sends nothing while nothing changes, so a connection
/// silent this long is reopened (it may be dead without either side knowing).
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The default shortest and longest waits between two connection attempts.
const DEFAULT_MIN_BACKOFF: Duration = Duration::from_secs(1);
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The default bound on one SSE message (and line): the Proxy's message is the values of all
/// flags, far smaller than the config.
const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// How often a quiet connection checks whether the client went offline or closed.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// A ConfigCat Proxy's change stream (server-sent events) as a trigger for fetching the config:
/// give it to [`ConfigCatBuilder::change_stream`](crate::ConfigCatBuilder::change_stream).
///
/// It connects to the Proxy's all-flags stream, `<proxy>/sse/<SDK id>/eval-all` (or, with
/// [`ProxyStream::with_sdk_key`], the SDK-key form of Proxy 3.0 and later,
/// `<proxy>/sse/eval-all/k/<data>`), and after each change the Proxy reports, fetches the config
/// once (a conditional GET). Point [`base_url`](crate::ConfigCatBuilder::base_url) at the same
/// Proxy so that the fetch gets what the stream announced. Custom
/// [request headers](crate::ConfigCatBuilder::request_header), the HTTP proxy and the extra root
/// certificates of the client apply to the stream too.
///
/// ```
/// use std::time::Duration;
/// use configcat_actix::{ConfigCat, PollingMode, ProxyStream};
///
/// let builder = ConfigCat::builder("configcat-proxy/my-sdk")
///     .base_url("http://configcat-proxy.internal:8050")
///     .change_stream(
///         ProxyStream::new("http://configcat-proxy.internal:8050", "my-sdk")
///             .idle_timeout(Duration::from_secs(120)),
///     )
///     // Still the backstop when the stream is down.
///     .polling_mode(PollingMode::auto_poll(Duration::from_secs(60)))
///     .on_change_stream_state(|state| println!("change stream: {state:?}"));
/// # let _ = builder;
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyStream {
    base_url: String,
    target: Target,
    idle_timeout: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    max_message_bytes: usize,
}

#[derive(Clone, PartialEq, Eq)]
enum Target {
    SdkId(String),
    SdkKey(String),
}

impl fmt::Debug for ProxyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Target::SdkId(id) => format!("SDK id {id}"),
            Target::SdkKey(_) => "SDK key <redacted>".to_owned(),
        };
        f.debug_struct("ProxyStream")
            .field("base_url", &self.base_url)
            .field("target", &target)
            .field("idle_timeout", &self.idle_timeout)
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_message_bytes", &self.max_message_bytes)
            .finish()
    }
}

impl ProxyStream {
    /// The stream of the SDK the Proxy knows as `sdk_id` (its `sdks:` key), at
    /// `proxy_base_url` (e.g. `http://configcat-proxy:8050`).
    pub fn new(proxy_base_url: impl Into<String>, sdk_id: impl Into<String>) -> ProxyStream {
        ProxyStream::with_target(proxy_base_url.into(), Target::SdkId(sdk_id.into()))
    }

    /// The stream of the SDK with this SDK key (Proxy 3.0 and later). The key travels in the
    /// URL, base64-encoded, as the Proxy asks; it is never logged.
    pub fn with_sdk_key(
        proxy_base_url: impl Into<String>,
        sdk_key: impl Into<String>,
    ) -> ProxyStream {
        ProxyStream::with_target(proxy_base_url.into(), Target::SdkKey(sdk_key.into()))
    }

    fn with_target(base_url: String, target: Target) -> ProxyStream {
        ProxyStream {
            base_url: base_url.trim().trim_end_matches('/').to_owned(),
            target,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            min_backoff: DEFAULT_MIN_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    /// Reopens a connection that received nothing for this long (default 5 minutes; at least
    /// 10 ms).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> ProxyStream {
        self.idle_timeout = timeout.max(Duration::from_millis(10));
        self
    }

    /// The waits between connection attempts after failures: `min` after the first, doubling up
    /// to `max`, each drawn between its half and itself (jitter). Default 1 s to 60 s; `min` is
    /// at least 1 ms and `max` at least `min`.
    #[must_use]
    pub fn backoff(mut self, min: Duration, max: Duration) -> ProxyStream {
        self.min_backoff = min.max(Duration::from_millis(1));
        self.max_backoff = max.max(self.min_backoff);
        self
    }

    /// The largest line or message accepted (default 4 MiB); a larger one drops the connection
    /// (a failure, so it backs off).
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> ProxyStream {
        self.max_message_bytes = bytes.max(1);
        self
    }

    /// The stream's URL.
    fn url(&self) -> String {
        match &self.target {
            Target::SdkId(id) => format!("{}/sse/{id}/eval-all", self.base_url),
            Target::SdkKey(key) => {
                let data = serde_json::json!({ "sdkKey": key }).to_string();
                let data = base64::engine::general_purpose::URL_SAFE.encode(data);
                format!("{}/sse/eval-all/k/{data}", self.base_url)
            }
        }
    }

    /// Whether the stream's URL is a valid `http`/`https` URL (checked by the builder at start;
    /// the error names the base URL only).
    pub(crate) fn validate(&self) -> Result<(), String> {
        let uri: awc::http::Uri = self.url().parse().map_err(|_| {
            format!(
                "change stream: `{}` and the SDK id do not make a valid URL",
                self.base_url
            )
        })?;
        match (uri.scheme_str(), uri.host()) {
            (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(()),
            _ => Err(format!(
                "change stream: `{}` is not an http or https URL",
                self.base_url
            )),
        }
    }
}

/// What the builder hands the change stream actor.
pub(crate) struct StreamParts {
    pub(crate) stream: ProxyStream,
    pub(crate) fetch_options: FetchOptions,
    pub(crate) refresh: Recipient<Refresh>,
    /// Whether the client is offline (`Published::offline`).
    pub(crate) published: Arc<Published>,
    pub(crate) sink: Arc<dyn LogSink>,
    pub(crate) hooks: Arc<Hooks>,
}

/// The change stream actor: runs the connection loop; stops on `Shutdown`.
pub(crate) struct ChangeStream {
    parts: Option<StreamParts>,
    hooks: Arc<Hooks>,
    sink: Arc<dyn LogSink>,
}

impl ChangeStream {
    pub(crate) fn new(parts: StreamParts) -> ChangeStream {
        ChangeStream {
            hooks: parts.hooks.clone(),
            sink: parts.sink.clone(),
            parts: Some(parts),
        }
    }
}

impl Actor for ChangeStream {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let Some(parts) = self.parts.take() else {
            return;
        };
        // The awc client is not `Send`: it is made here, on the actor's thread. The proxy
        // variables it reads were read and their errors logged (9003) by the fetcher already:
        // once per start.
        let client = match http_client(&parts.fetch_options, &NoLog, |name| {
            std::env::var(name).ok()
        }) {
            Ok(client) => client,
            Err(error) => {
                parts.sink.log(
                    LogLevel::Error,
                    event::CHANGE_STREAM_FAILED,
                    format_args!("The ConfigCat Proxy change stream cannot start: {error}. Polling alone keeps the config fresh."),
                );
                return ctx.stop();
            }
        };
        let connection = Connection::new(parts, client);
        ctx.spawn(connection.run().into_actor(self));
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.hooks
            .change_stream_state(StreamState::Closed, &*self.sink);
    }
}

impl Handler<Shutdown> for ChangeStream {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        // Cancels the connection loop with the context's futures.
        ctx.stop();
    }
}

/// How one connection ended.
enum Ended {
    /// After its first message: the stream worked.
    AfterMessages(&'static str),
    /// Before any message.
    Failed(String),
    /// The client went offline.
    Offline,
}

/// The connection loop and what it needs.
struct Connection {
    parts: StreamParts,
    client: awc::Client,
    url: String,
    headers: Vec<(header::HeaderName, header::HeaderValue)>,
    jitter: std::collections::hash_map::RandomState,
}

impl Connection {
    fn new(parts: StreamParts, client: awc::Client) -> Connection {
        let url = parts.stream.url();
        let headers = parts
            .fetch_options
            .request_headers
            .parse()
            .unwrap_or_default();
        Connection {
            parts,
            client,
            url,
            headers,
            jitter: Default::default(),
        }
    }

    fn state(&self, state: StreamState) {
        self.parts
            .hooks
            .change_stream_state(state, &*self.parts.sink);
    }

    async fn run(self) {
        let mut failures: u32 = 0;
        loop {
            if self.parts.published.offline() {
                self.state(StreamState::Offline);
                while self.parts.published.offline() {
                    actix_rt::time::sleep(CHECK_EVERY).await;
                }
            }
            self.state(StreamState::Connecting);
            match self.connect().await {
                Ended::AfterMessages(why) => {
                    failures = 0;
                    if self.parts.sink.enabled(LogLevel::Info) {
                        self.parts.sink.log(
                            LogLevel::Info,
                            event::CHANGE_STREAM_CONNECTED,
                            format_args!("The ConfigCat Proxy change stream at {} ended ({why}); reconnecting.", self.parts.stream.base_url),
                        );
                    }
                }
                Ended::Failed(why) => {
                    failures = failures.saturating_add(1);
                    if failures == 1 {
                        self.parts.sink.log(
                            LogLevel::Warn,
                            event::CHANGE_STREAM_FAILED,
                            format_args!("The ConfigCat Proxy change stream at {} failed ({why}); it reconnects with backoff, and polling keeps the config fresh meanwhile.", self.parts.stream.base_url),
                        );
                    }
                }
                Ended::Offline => continue,
            }
            let delay = self.backoff(failures);
            self.state(StreamState::BackingOff { failures, delay });
            actix_rt::time::sleep(delay).await;
        }
    }

    /// The wait after `failures` failures in a row: the minimum doubled per failure after the
    /// first, capped, then drawn uniformly between its half and itself.
    fn backoff(&self, failures: u32) -> Duration {
        let stream = &self.parts.stream;
        let doublings = failures.saturating_sub(1).min(20);
        let ceiling = stream
            .min_backoff
            .saturating_mul(1 << doublings)
            .min(stream.max_backoff);
        let mut hasher = self.jitter.build_hasher();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        hasher.write_u128(now.as_nanos());
        hasher.write_u32(failures);
        let fraction = (hasher.finish() % 1_000_001) as f64 / 1_000_000.0;
        ceiling.mul_f64(0.5 + fraction / 2.0)
    }

    /// One connection, from the request to its end.
    async fn connect(&self) -> Ended {
        let mut request = self.client.get(&self.url);
        for (name, value) in &self.headers {
            request = request.append_header((name.clone(), value.clone()));
        }
        let request = request
            .insert_header((header::ACCEPT, "text/event-stream"))
            .insert_header((header::CACHE_CONTROL, "no-cache"));
        let stream = &self.parts.stream;
        let response =
            match actix_rt::time::timeout(self.parts.fetch_options.read_timeout, request.send())
                .await
            {
                Err(_) => return Ended::Failed("no answer in time".to_owned()),
                Ok(Err(error)) => return Ended::Failed(format!("the connection failed: {error}")),
                Ok(Ok(response)) => response,
            };
        let status = response.status();
        if status != awc::http::StatusCode::OK {
            return Ended::Failed(format!("the Proxy answered {status}"));
        }
        self.state(StreamState::Connected);
        if self.parts.sink.enabled(LogLevel::Info) {
            self.parts.sink.log(
                LogLevel::Info,
                event::CHANGE_STREAM_CONNECTED,
                format_args!(
                    "The ConfigCat Proxy change stream is connected to {}.",
                    stream.base_url
                ),
            );
        }
        // What changed while there was no connection is not replayed: fetch once.
        self.notify();
        self.read(response).await
    }

    /// Reads events until the connection ends, notifying the poller of each after the first.
    async fn read<S, B, E>(&self, mut body: S) -> Ended
    where
        S: futures_util::Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: fmt::Display,
    {
        let stream = &self.parts.stream;
        let mut parser = EventParser::new(stream.max_message_bytes);
        let mut messages: u64 = 0;
        let mut last_data = Instant::now();
        let ended = |messages: u64, why: String| {
            if messages > 0 {
                Ended::AfterMessages(if why.is_empty() { "closed" } else { "lost" })
            } else {
                Ended::Failed(if why.is_empty() {
                    "the connection ended before its first message".to_owned()
                } else {
                    why
                })
            }
        };
        loop {
            if self.parts.published.offline() {
                return Ended::Offline;
            }
            match actix_rt::time::timeout(CHECK_EVERY, body.next()).await {
                Err(_) => {
                    if last_data.elapsed() >= stream.idle_timeout {
                        return if messages > 0 {
                            Ended::AfterMessages("idle timeout")
                        } else {
                            Ended::Failed("nothing received within the idle timeout".to_owned())
                        };
                    }
                }
                Ok(None) => return ended(messages, String::new()),
                Ok(Some(Err(error))) => {
                    return ended(messages, format!("reading failed: {error}"));
                }
                Ok(Some(Ok(chunk))) => {
                    last_data = Instant::now();
                    match parser.feed(chunk.as_ref()) {
                        Ok(count) => {
                            for _ in 0..count {
                                messages += 1;
                                // The first message is the state at connection time.
                                if messages > 1 {
                                    self.notify();
                                }
                            }
                        }
                        Err(limit) => {
                            return Ended::Failed(format!(
                                "a message is over the limit of {limit} bytes"
                            ));
                        }
                    }
                }
            }
        }
    }

    /// Tells the poller the config may have changed. `do_send`: the poller coalesces notices,
    /// so a burst costs one fetch after the one in flight.
    fn notify(&self) {
        self.parts
            .refresh
            .do_send(Refresh(Need::Changed(FetchTrigger::ChangeStream)));
    }
}

/// Counts server-sent events in a byte stream without keeping them: per line, only whether it
/// is a `data` field; a message is dispatched at a blank line after at least one `data` line
/// (the HTML standard's rules, ids, event names and retries ignored). Lines end in `\n`, `\r\n`
/// or `\r`. Lines and messages are bounded.
struct EventParser {
    limit: usize,
    /// The first bytes of the current line, enough to recognise `data:`.
    prefix: [u8; 5],
    line_len: usize,
    message_len: usize,
    has_data: bool,
    after_cr: bool,
}

impl EventParser {
    pub(crate) fn new(limit: usize) -> EventParser {
        EventParser {
            limit,
            prefix: [0; 5],
            line_len: 0,
            message_len: 0,
            has_data: false,
            after_cr: false,
        }
    }

    /// Feeds bytes; returns how many messages they completed, or the limit a line or message
    /// went over.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<usize, usize> {
        let mut dispatched = 0;
        for &byte in bytes {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    if self.end_line() {
                        dispatched += 1;
                    }
                }
                _ => {
                    if self.line_len < self.prefix.len() {
                        self.prefix[self.line_len] = byte;
                    }
                    self.line_len += 1;
                    self.message_len += 1;
                    if self.line_len > self.limit || self.message_len > self.limit {
                        return Err(self.limit);
                    }
                }
            }
        }
        Ok(dispatched)
    }

    /// Ends the current line; true when it ended a message.
    fn end_line(&mut self) -> bool {
        let line = &self.prefix[..self.line_len.min(self.prefix.len())];
        let dispatch = if self.line_len == 0 {
            let had = self.has_data;
            self.has_data = false;
            self.message_len = 0;
            had
        } else {
            if line == b"data:" || (self.line_len == 4 && line == b"data") {
                self.has_data = true;
            }
            false
        };
        self.line_len = 0;
        dispatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(limit: usize, chunks: &[&[u8]]) -> Result<usize, usize> {
        let mut parser = EventParser::new(limit);
        let mut total = 0;
        for chunk in chunks {
            total += parser.feed(chunk)?;
        }
        Ok(total)
    }

    #[test]
    fn the_proxys_framing_is_one_message_per_blank_line() {
        assert_eq!(count(1024, &[b"data: {\"a\":1}\n\n"]), Ok(1));
        assert_eq!(count(1024, &[b"data: {}\n\ndata: {}\n\n"]), Ok(2));
        // Split anywhere, across chunks.
        assert_eq!(
            count(1024, &[b"da", b"ta: {", b"}\n", b"\nda", b"ta:x\n\n"]),
            Ok(2)
        );
        // Other line endings, and a `data` line with no colon.
        assert_eq!(
            count(1024, &[b"data: 1\r\n\r\n", b"data: 2\r\r", b"data\n\n"]),
            Ok(3)
        );
        // A CRLF split between chunks is one line ending.
        assert_eq!(count(1024, &[b"data: 1\r", b"\n\r", b"\n"]), Ok(1));
    }

    #[test]
    fn comments_and_other_fields_alone_are_no_message() {
        assert_eq!(count(1024, &[b": keep-alive\n\n"]), Ok(0));
        assert_eq!(count(1024, &[b"event: x\nid: 1\nretry: 5\n\n"]), Ok(0));
        assert_eq!(count(1024, &[b"datum: x\n\n", b"\n\n\n"]), Ok(0));
        assert_eq!(count(1024, &[b"event: x\ndata: y\n\n"]), Ok(1));
    }

    #[test]
    fn lines_and_messages_are_bounded() {
        assert_eq!(count(16, &[b"data: 0123456789abcdef\n\n"]), Err(16));
        // Many short lines make a long message.
        assert_eq!(
            count(16, &[b"data: 0123\ndata: 4567\ndata: 89ab\n\n"]),
            Err(16)
        );
        // The bound is per message: many small ones pass.
        let many = b"data: 01234\n\n".repeat(100);
        assert_eq!(count(16, &[&many]), Ok(100));
    }

    #[test]
    fn urls_of_both_forms() {
        let by_id = ProxyStream::new("http://proxy:8050/", "my-sdk");
        assert_eq!(by_id.url(), "http://proxy:8050/sse/my-sdk/eval-all");
        let by_key = ProxyStream::with_sdk_key("http://proxy:8050", "configcat-sdk-1/abc/def");
        let url = by_key.url();
        let data = url
            .strip_prefix("http://proxy:8050/sse/eval-all/k/")
            .unwrap();
        let json = base64::engine::general_purpose::URL_SAFE
            .decode(data)
            .unwrap();
        assert_eq!(json, br#"{"sdkKey":"configcat-sdk-1/abc/def"}"#);
        assert!(!format!("{by_key:?}").contains("abc/def"));
        assert!(by_id.validate().is_ok());
        assert!(ProxyStream::new("ftp://proxy", "x").validate().is_err());
        assert!(ProxyStream::new("not a url", "x").validate().is_err());
    }
}
