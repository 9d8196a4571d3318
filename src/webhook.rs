//! The ConfigCat webhook receiver (cargo feature `actix-web`), re-exported as
//! [`web::Webhook`](crate::web::Webhook).
//!
//! ConfigCat calls a webhook when a config changes; a verified call makes the client fetch at
//! once instead of at its next poll. Verification is ConfigCat's, as its Proxy does it: the
//! `X-ConfigCat-Webhook-Signature-V1` header carries one or more comma-separated base64
//! HMAC-SHA256 signatures (several while a signing key is being rotated), made with the
//! webhook's signing key over the concatenation of `X-ConfigCat-Webhook-ID`,
//! `X-ConfigCat-Webhook-Timestamp` (Unix seconds) and the request body. Signatures are compared
//! in constant time, and a timestamp outside the replay window (5 minutes by default, either
//! way) is refused.
//!
//! Any failure is answered 400 (missing or malformed headers, an unreadable body), 401 (no
//! valid signature, a stale timestamp) or 413 (a body over the limit), logged once as WARNING
//! [`WEBHOOK_REJECTED`](crate::log::event::WEBHOOK_REJECTED) (9120) with the reason, and refreshes
//! nothing. A verified call is answered 200 at once; its fetch runs in the background, after any
//! fetch in flight (which may predate the change), and coalesces with the other change notices
//! that arrive meanwhile.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::Recipient;
use actix_web::{HttpRequest, HttpResponse, Resource, web};
use base64::Engine as _;
use futures_util::StreamExt as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::handle::ConfigCatHandle;
use crate::hooks::FetchTrigger;
use crate::log::{LogLevel, LogSink, event};
use crate::protocol::{Need, Refresh};

const ID_HEADER: &str = "X-ConfigCat-Webhook-ID";
const TIMESTAMP_HEADER: &str = "X-ConfigCat-Webhook-Timestamp";
const SIGNATURE_HEADER: &str = "X-ConfigCat-Webhook-Signature-V1";

/// The default replay window: ConfigCat's and its Proxy's.
const DEFAULT_REPLAY_WINDOW: Duration = Duration::from_secs(300);
/// The default largest body accepted.
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// The most signatures of one header that are checked (ConfigCat sends two while rotating).
const MAX_SIGNATURES: usize = 8;

/// A ConfigCat webhook receiver for an actix-web app: mount it at the path the webhook's URL
/// names, for GET and POST, with [`Webhook::resource`].
///
/// In the ConfigCat Dashboard (Webhooks): the URL is your app's public URL of that path, the
/// HTTP method GET or POST (with any body), and the signing key is the one given here.
///
/// ```
/// use actix_web::{App, test};
/// use configcat_actix::web::Webhook;
/// use configcat_actix::{ConfigCat, FlagOverrides, GetHandle, OverrideBehaviour};
///
/// #[actix::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let local = FlagOverrides::from_map([("isAwesome", true)], OverrideBehaviour::LocalOnly);
///     let client = ConfigCat::builder("local").flag_overrides(local).start()?;
///     let webhook = Webhook::new(client.send(GetHandle).await?, "configcat_whsk_XXXX");
///     let app = test::init_service(App::new().service(webhook.resource("/hooks/configcat"))).await;
///     // An unsigned call is refused: 400, and nothing is refreshed.
///     let request = test::TestRequest::post().uri("/hooks/configcat").to_request();
///     assert_eq!(test::call_service(&app, request).await.status(), 400);
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct Webhook {
    verifier: Verifier,
    refresh: Recipient<Refresh>,
    sink: Arc<dyn LogSink>,
}

/// The checks of a call.
#[derive(Clone)]
struct Verifier {
    signing_key: Vec<u8>,
    replay_window: Duration,
    max_body_bytes: usize,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("signing_key", &"<redacted>")
            .field("replay_window", &self.verifier.replay_window)
            .field("max_body_bytes", &self.verifier.max_body_bytes)
            .finish()
    }
}

/// Why a webhook call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    MissingHeader(&'static str),
    InvalidTimestamp,
    OutsideReplayWindow,
    BodyTooLarge(usize),
    UnreadableBody,
    NoValidSignature,
}

impl Rejection {
    fn response(self) -> HttpResponse {
        match self {
            Rejection::MissingHeader(_)
            | Rejection::InvalidTimestamp
            | Rejection::UnreadableBody => HttpResponse::BadRequest().finish(),
            Rejection::OutsideReplayWindow | Rejection::NoValidSignature => {
                HttpResponse::Unauthorized().finish()
            }
            Rejection::BodyTooLarge(_) => HttpResponse::PayloadTooLarge().finish(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::MissingHeader(name) => write!(f, "the `{name}` header is missing or empty"),
            Rejection::InvalidTimestamp => {
                write!(f, "the `{TIMESTAMP_HEADER}` header is not a Unix time in seconds")
            }
            Rejection::OutsideReplayWindow => {
                f.write_str("its timestamp is outside the replay window (a replayed or delayed call, or a clock out of sync)")
            }
            Rejection::BodyTooLarge(limit) => write!(f, "its body is over the limit of {limit} bytes"),
            Rejection::UnreadableBody => f.write_str("its body could not be read"),
            Rejection::NoValidSignature => {
                f.write_str("no signature matches the signing key (a wrong or rotated key, or a changed body)")
            }
        }
    }
}

impl Webhook {
    /// A receiver that refreshes the client of `handle` on calls signed with `signing_key`
    /// (the Dashboard's webhook signing key).
    pub fn new(handle: ConfigCatHandle, signing_key: impl Into<String>) -> Webhook {
        let shared = handle.shared();
        Webhook {
            verifier: Verifier::new(signing_key.into()),
            refresh: shared.refresh.clone(),
            sink: shared.sink.clone(),
        }
    }

    /// How far a call's timestamp may be from this server's clock, either way (default 5
    /// minutes, as ConfigCat's Proxy).
    #[must_use]
    pub fn replay_window(mut self, window: Duration) -> Webhook {
        self.verifier.replay_window = window;
        self
    }

    /// The largest body accepted (default 64 KiB); a larger one is refused (413) unread.
    #[must_use]
    pub fn max_body_size(mut self, bytes: usize) -> Webhook {
        self.verifier.max_body_bytes = bytes;
        self
    }

    /// The receiver at `path`, for GET and POST (other methods get 405): register it with
    /// `App::new().service(webhook.resource("/hooks/configcat"))`, in each worker's app.
    pub fn resource(&self, path: &str) -> Resource {
        let shared = Arc::new(self.clone());
        let (get, post) = (shared.clone(), shared);
        web::resource(path)
            .route(
                web::get().to(move |req: HttpRequest, body: web::Payload| {
                    receive(get.clone(), req, body)
                }),
            )
            .route(
                web::post().to(move |req: HttpRequest, body: web::Payload| {
                    receive(post.clone(), req, body)
                }),
            )
    }
}

async fn receive(receiver: Arc<Webhook>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    match receiver.verifier.verify(&req, payload).await {
        Ok(()) => {
            // The poller coalesces change notices: this never starts more than one fetch after
            // the one in flight. `do_send`: only verified calls get here.
            receiver
                .refresh
                .do_send(Refresh(Need::Changed(FetchTrigger::Webhook)));
            HttpResponse::Ok().finish()
        }
        Err(rejection) => {
            receiver.sink.log(
                LogLevel::Warn,
                event::WEBHOOK_REJECTED,
                format_args!(
                    "A ConfigCat webhook call was refused, nothing was refreshed: {rejection}."
                ),
            );
            rejection.response()
        }
    }
}

impl Verifier {
    fn new(signing_key: String) -> Verifier {
        Verifier {
            signing_key: signing_key.into_bytes(),
            replay_window: DEFAULT_REPLAY_WINDOW,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    async fn verify(&self, req: &HttpRequest, payload: web::Payload) -> Result<(), Rejection> {
        let id = header(req, ID_HEADER)?;
        let timestamp = header(req, TIMESTAMP_HEADER)?;
        let signatures = header(req, SIGNATURE_HEADER)?;
        // The cheap checks first: a stale call is refused before its body is read.
        self.check_timestamp(timestamp, SystemTime::now())?;
        let body = read_body(payload, self.max_body_bytes).await?;
        self.check_signature(id, timestamp, &body, signatures)
    }

    fn check_timestamp(&self, timestamp: &str, now: SystemTime) -> Result<(), Rejection> {
        let seconds: u64 = timestamp
            .trim()
            .parse()
            .map_err(|_| Rejection::InvalidTimestamp)?;
        let sent = UNIX_EPOCH
            .checked_add(Duration::from_secs(seconds))
            .ok_or(Rejection::InvalidTimestamp)?;
        let skew = now
            .duration_since(sent)
            .or_else(|ahead| Ok::<_, Rejection>(ahead.duration()))?;
        if skew > self.replay_window {
            return Err(Rejection::OutsideReplayWindow);
        }
        Ok(())
    }

    fn check_signature(
        &self,
        id: &str,
        timestamp: &str,
        body: &[u8],
        signatures: &str,
    ) -> Result<(), Rejection> {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.signing_key) else {
            // HMAC takes keys of any length: this does not happen.
            return Err(Rejection::NoValidSignature);
        };
        mac.update(id.as_bytes());
        mac.update(timestamp.as_bytes());
        mac.update(body);
        let valid = signatures
            .split(',')
            .take(MAX_SIGNATURES)
            .filter_map(|s| {
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .ok()
            })
            // `verify_slice` compares in constant time.
            .any(|signature| mac.clone().verify_slice(&signature).is_ok());
        if valid {
            Ok(())
        } else {
            Err(Rejection::NoValidSignature)
        }
    }
}

/// A header's value: present, text, and not blank.
fn header<'a>(req: &'a HttpRequest, name: &'static str) -> Result<&'a str, Rejection> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .ok_or(Rejection::MissingHeader(name))
}

/// Reads the body, refusing it as soon as it is over `limit`.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, Rejection> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Rejection::UnreadableBody)?;
        if body.len() + chunk.len() > limit {
            return Err(Rejection::BodyTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receiver(key: &str) -> Verifier {
        Verifier::new(key.to_owned())
    }

    /// Fixed vectors, computed once outside this crate with Python's standard library:
    /// `base64.b64encode(hmac.new(b"test-signing-key", b"whk-1" + b"1700000000" + body,
    /// hashlib.sha256).digest())`, for the body `{"changed":true}` (POST) and no body (GET).
    const POST_SIGNATURE: &str = "yiuZavnbgVF2/MjI+QW6DZAIUt2RNSeRHewmYUpH7OU=";
    const GET_SIGNATURE: &str = "2uv/A6GhbhoyCgtrC+sfuiil/Ml06IaQ5x5viHawUhA=";

    #[test]
    fn known_vectors_verify() {
        let r = receiver("test-signing-key");
        let body = br#"{"changed":true}"#;
        assert_eq!(
            r.check_signature("whk-1", "1700000000", body, POST_SIGNATURE),
            Ok(())
        );
        assert_eq!(
            r.check_signature("whk-1", "1700000000", b"", GET_SIGNATURE),
            Ok(())
        );
        // Either of two signatures (a key rotation), with blanks around the comma.
        let rotated = format!("bm90LWEtc2lnbmF0dXJl , {POST_SIGNATURE}");
        assert_eq!(
            r.check_signature("whk-1", "1700000000", body, &rotated),
            Ok(())
        );
    }

    #[test]
    fn anything_changed_fails_verification() {
        let r = receiver("test-signing-key");
        let body = br#"{"changed":true}"#;
        let refused = Err(Rejection::NoValidSignature);
        assert_eq!(
            r.check_signature("whk-2", "1700000000", body, POST_SIGNATURE),
            refused
        );
        assert_eq!(
            r.check_signature("whk-1", "1700000001", body, POST_SIGNATURE),
            refused
        );
        assert_eq!(
            r.check_signature("whk-1", "1700000000", b"{}", POST_SIGNATURE),
            refused
        );
        assert_eq!(
            r.check_signature("whk-1", "1700000000", body, "not base64!"),
            refused
        );
        assert_eq!(r.check_signature("whk-1", "1700000000", body, ""), refused);
        let other = receiver("another-key");
        assert_eq!(
            other.check_signature("whk-1", "1700000000", body, POST_SIGNATURE),
            refused
        );
    }

    #[test]
    fn the_replay_window_holds_both_ways() {
        let r = receiver("k");
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        let now = at(1_700_000_000);
        assert_eq!(r.check_timestamp("1700000000", now), Ok(()));
        assert_eq!(r.check_timestamp("1699999700", now), Ok(()));
        assert_eq!(r.check_timestamp("1700000300", now), Ok(()));
        let stale = Err(Rejection::OutsideReplayWindow);
        assert_eq!(r.check_timestamp("1699999699", now), stale);
        assert_eq!(r.check_timestamp("1700000301", now), stale);
        for bad in ["", "-5", "12.5", "now", "99999999999999999999999"] {
            assert_eq!(
                r.check_timestamp(bad, now),
                Err(Rejection::InvalidTimestamp),
                "{bad}"
            );
        }
    }
}
