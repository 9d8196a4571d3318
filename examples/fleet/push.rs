//! The fleet benchmark's pushes (`--push webhook|stream`): what the parent does right after each
//! change at the CDN, and what the children run to hear it.
//!
//! * `webhook`: the receiving children mount `configcat_actix::web::Webhook` in an actix-web
//!   app on an ephemeral port of 127.0.0.1 and print its URL; the parent signs each call as
//!   ConfigCat does (base64 HMAC-SHA256 of the webhook id, the timestamp and the body, with the
//!   signing key it made up for the run and gave the children) and posts it.
//! * `stream`: the parent's stand-in also speaks the ConfigCat Proxy's all-flags stream
//!   (`/sse/<SDK id>/eval-all`: a 200 with `text/event-stream`, the current values at once,
//!   then `data: <json>\n\n` after each change; no heartbeat, no event ids), and every child
//!   connects to it with `ProxyStream`.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::web::{self, Bytes};
use actix_web::{App, HttpResponse, HttpServer};
use base64::Engine as _;
use configcat_actix::ConfigCatHandle;
use configcat_actix::web::Webhook;
use futures_util::StreamExt as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use tokio::sync::broadcast;

/// Where the receiving children mount the webhook receiver.
pub const WEBHOOK_PATH: &str = "/hooks/configcat";

/// What follows each change at the CDN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Nothing: the children learn of it at their next poll (or through Redis).
    None,
    /// A signed webhook call.
    Webhook,
    /// A message on the Proxy's stream.
    Stream,
}

impl FromStr for Push {
    type Err = String;

    fn from_str(value: &str) -> Result<Push, String> {
        match value {
            "none" => Ok(Push::None),
            "webhook" => Ok(Push::Webhook),
            "stream" => Ok(Push::Stream),
            _ => Err(format!(
                "--push takes webhook, stream or none, not {value:?}"
            )),
        }
    }
}

impl fmt::Display for Push {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Push::None => "none",
            Push::Webhook => "webhook",
            Push::Stream => "stream",
        })
    }
}

/// Which children receive the webhook calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookChildren {
    /// Child 0 alone, as one pod behind a load balancer receives each call; the others follow
    /// through Redis.
    One,
    /// Every child runs a receiver, and each call goes to every one of them.
    All,
}

impl FromStr for WebhookChildren {
    type Err = String;

    fn from_str(value: &str) -> Result<WebhookChildren, String> {
        match value {
            "one" => Ok(WebhookChildren::One),
            "all" => Ok(WebhookChildren::All),
            _ => Err(format!(
                "--webhook-children takes one or all, not {value:?}"
            )),
        }
    }
}

impl WebhookChildren {
    /// Whether child `index` runs a receiver.
    pub fn receives(self, index: usize) -> bool {
        self == WebhookChildren::All || index == 0
    }
}

// ---------------------------------------------------------------------------------------------
// Webhooks

/// ConfigCat's `X-ConfigCat-Webhook-Signature-V1`: base64(HMAC-SHA256(signing key, webhook id +
/// timestamp + body)).
pub fn sign(key: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(id.as_bytes());
    mac.update(timestamp.as_bytes());
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A signing key no other run uses.
pub fn run_signing_key() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("configcat_whsk_fleet-{}-{nanos}", std::process::id())
}

/// In a child: serves the webhook receiver for the client of `handle` on an ephemeral port of
/// 127.0.0.1, in the running actix system; returns its URL.
pub fn serve_webhook(handle: ConfigCatHandle, signing_key: &str) -> Result<String, String> {
    let webhook = Webhook::new(handle, signing_key);
    let server = HttpServer::new(move || App::new().service(webhook.resource(WEBHOOK_PATH)))
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .map_err(|e| format!("binding the webhook receiver: {e}"))?;
    let address = server
        .addrs()
        .first()
        .copied()
        .ok_or("the webhook receiver has no address")?;
    actix::spawn(server.run());
    Ok(format!("http://{address}{WEBHOOK_PATH}"))
}

/// The outcomes of the parent's webhook calls.
#[derive(Debug, Default)]
pub struct WebhookCalls {
    accepted: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    /// Changes made before any receiver had said where it listens.
    unsent: AtomicU64,
}

impl WebhookCalls {
    /// Accepted (2xx), refused (another status), failed (no answer), unsent.
    pub fn counts(&self) -> (u64, u64, u64, u64) {
        (
            self.accepted.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.unsent.load(Ordering::Relaxed),
        )
    }

    /// Calls every URL of `urls` at once, signed for change `generation`, on a thread of its
    /// own (the parent's loop does not wait for the answers).
    pub fn call(self: &Arc<Self>, urls: Vec<String>, signing_key: &str, generation: usize) {
        if urls.is_empty() {
            self.unsent.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let calls = self.clone();
        let key = signing_key.to_owned();
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let http = awc::Client::default();
                let sent = urls.iter().map(|url| call(&http, url, &key, generation));
                for outcome in futures_util::future::join_all(sent).await {
                    let counter = match outcome {
                        Ok(status) if status.is_success() => &calls.accepted,
                        Ok(status) => {
                            eprintln!("fleet: a webhook call was answered {status}");
                            &calls.refused
                        }
                        Err(error) => {
                            eprintln!("fleet: a webhook call failed: {error}");
                            &calls.failed
                        }
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
        });
    }
}

/// One signed POST, as ConfigCat makes it.
async fn call(
    http: &awc::Client,
    url: &str,
    signing_key: &str,
    generation: usize,
) -> Result<awc::http::StatusCode, String> {
    let id = format!("whk-fleet-{generation}");
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string();
    let body = format!(r#"{{"change":{generation}}}"#);
    let signature = sign(signing_key, &id, &timestamp, body.as_bytes());
    let response = http
        .post(url)
        .insert_header(("X-ConfigCat-Webhook-ID", id))
        .insert_header(("X-ConfigCat-Webhook-Timestamp", timestamp))
        .insert_header(("X-ConfigCat-Webhook-Signature-V1", signature))
        .content_type("application/json")
        .send_body(body)
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.status())
}

// ---------------------------------------------------------------------------------------------
// The Proxy's stream

/// The stand-in's all-flags stream: what it last said, who listens, and how many connections
/// it has had.
pub struct Announcer {
    changes: broadcast::Sender<Bytes>,
    current: RwLock<Bytes>,
    connections: AtomicU64,
}

impl Announcer {
    /// A stream whose first message (on every connection) is `values`, the JSON of the flags'
    /// values.
    pub fn new(values: &str) -> Announcer {
        Announcer {
            changes: broadcast::channel(1024).0,
            current: RwLock::new(event(values)),
            connections: AtomicU64::new(0),
        }
    }

    /// Sends `values` to every open connection (and to later ones as their first message);
    /// returns how many connections it was sent to.
    pub fn announce(&self, values: &str) -> usize {
        let message = event(values);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = message.clone();
        self.changes.send(message).unwrap_or(0)
    }

    /// Connections opened so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

/// `data: <json>\n\n`, the Proxy's framing of one message.
fn event(values: &str) -> Bytes {
    Bytes::from(format!("data: {values}\n\n"))
}

/// The values of the Proxy's all-flags message, for one flag: `{"<key>":{"v":"<value>"}}`.
pub fn values_message(key: &str, value: &str) -> String {
    serde_json::json!({ key: { "v": value } }).to_string()
}

/// `GET /sse/<SDK id>/eval-all`: the current values at once, then a message per announcement.
pub async fn sse(announcer: web::Data<Announcer>) -> HttpResponse {
    announcer.connections.fetch_add(1, Ordering::Relaxed);
    // Subscribed before the current values are read: an announcement in between is sent twice
    // (harmless, a second fetch) rather than lost.
    let later = announcer.changes.subscribe();
    let first = announcer
        .current
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let first = futures_util::stream::once(async move { Ok::<_, Infallible>(first) });
    let changes = futures_util::stream::unfold(later, |mut later| async move {
        loop {
            match later.recv().await {
                Ok(message) => return Some((Ok(message), later)),
                // Behind by more than the channel holds: the next message says all anyway.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .streaming(first.chain(changes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of the crate's own receiver tests, computed outside Rust with Python's
    /// standard library: `base64.b64encode(hmac.new(b"test-signing-key", b"whk-1" +
    /// b"1700000000" + body, hashlib.sha256).digest())`.
    #[test]
    fn signatures_match_independently_computed_vectors() {
        assert_eq!(
            sign(
                "test-signing-key",
                "whk-1",
                "1700000000",
                br#"{"changed":true}"#
            ),
            "yiuZavnbgVF2/MjI+QW6DZAIUt2RNSeRHewmYUpH7OU="
        );
        assert_eq!(
            sign("test-signing-key", "whk-1", "1700000000", b""),
            "2uv/A6GhbhoyCgtrC+sfuiil/Ml06IaQ5x5viHawUhA="
        );
    }

    #[test]
    fn push_flags_parse_and_bad_ones_are_refused() {
        assert_eq!("webhook".parse(), Ok(Push::Webhook));
        assert_eq!("stream".parse(), Ok(Push::Stream));
        assert_eq!("none".parse(), Ok(Push::None));
        assert!("Webhook".parse::<Push>().is_err());
        assert_eq!("one".parse(), Ok(WebhookChildren::One));
        assert_eq!("all".parse(), Ok(WebhookChildren::All));
        assert!("two".parse::<WebhookChildren>().is_err());
        assert!(WebhookChildren::One.receives(0));
        assert!(!WebhookChildren::One.receives(1));
        assert!(WebhookChildren::All.receives(7));
    }

    /// The next chunk of a streaming body.
    async fn next_chunk(body: &mut std::pin::Pin<Box<actix_web::body::BoxBody>>) -> Bytes {
        use actix_web::body::MessageBody as _;
        let next = futures_util::future::poll_fn(|cx| body.as_mut().poll_next(cx));
        tokio::time::timeout(std::time::Duration::from_secs(10), next)
            .await
            .expect("a chunk in time")
            .expect("the stream goes on")
            .expect("no error")
    }

    #[actix_web::test]
    async fn the_stream_sends_the_current_values_then_each_announcement() {
        let announcer = web::Data::new(Announcer::new(&values_message("flag_0000", "gen-0")));
        let app = actix_web::test::init_service(
            App::new()
                .app_data(announcer.clone())
                .route("/sse/{sdk}/eval-all", web::get().to(sse)),
        )
        .await;
        let request = actix_web::test::TestRequest::get()
            .uri("/sse/fleet/eval-all")
            .to_request();
        let response = actix_web::test::call_service(&app, request).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            "text/event-stream"
        );
        let mut body = Box::pin(response.into_body());
        assert_eq!(
            next_chunk(&mut body).await,
            "data: {\"flag_0000\":{\"v\":\"gen-0\"}}\n\n"
        );
        assert_eq!(announcer.announce(&values_message("flag_0000", "gen-1")), 1);
        assert_eq!(
            next_chunk(&mut body).await,
            "data: {\"flag_0000\":{\"v\":\"gen-1\"}}\n\n"
        );
        assert_eq!(announcer.connections(), 1);
    }
}
