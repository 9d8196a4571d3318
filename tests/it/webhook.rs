//! The ConfigCat webhook receiver through `actix_web::test`, against a real client and a mock
//! CDN. Signatures are computed here with `hmac` and `sha2` directly, as ConfigCat documents
//! them: base64(HMAC-SHA256(signing key, webhook id + timestamp + body)).

use crate::support;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::Addr;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, test};
use base64::Engine as _;
use configcat_actix::web::Webhook;
use configcat_actix::*;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use support::{MockCdn, sdk_key, simple_config, sleep, text};

const KEY: &str = "configcat_whsk_test-signing-key";
const PATH: &str = "/hooks/configcat";

fn sign(key: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(id.as_bytes());
    mac.update(timestamp.as_bytes());
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn now() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}

struct Setup {
    cdn: MockCdn,
    key: String,
    client: Addr<ConfigCat>,
    log: Arc<MemoryLog>,
    webhook: Webhook,
    triggers: Arc<std::sync::Mutex<Vec<FetchTrigger>>>,
}

/// A manual-polling client with its first config, the CDN's requests forgotten.
async fn setup(test: &str) -> Setup {
    let cdn = MockCdn::start();
    let key = sdk_key(test);
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let log = Arc::new(MemoryLog::new(LogLevel::Warn));
    let triggers = Arc::new(std::sync::Mutex::new(Vec::new()));
    let fetched = triggers.clone();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .on_config_fetched(move |f| fetched.lock().unwrap().push(f.trigger))
        .log_sink(log.clone())
        .start()
        .unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    cdn.reset_requests();
    let webhook = Webhook::new(client.send(GetHandle).await.unwrap(), KEY);
    Setup {
        cdn,
        key,
        client,
        log,
        webhook,
        triggers,
    }
}

/// A request to the webhook with these headers (`None`: left out) and body.
fn request(
    post: bool,
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &'static [u8],
) -> test::TestRequest {
    let mut request = if post {
        test::TestRequest::post()
    } else {
        test::TestRequest::get()
    }
    .uri(PATH);
    for (name, value) in [
        ("X-ConfigCat-Webhook-ID", id),
        ("X-ConfigCat-Webhook-Timestamp", timestamp),
        ("X-ConfigCat-Webhook-Signature-V1", signature),
    ] {
        if let Some(value) = value {
            request = request.insert_header((name, value));
        }
    }
    request.set_payload(body)
}

async fn call(webhook: &Webhook, request: test::TestRequest) -> ServiceResponse {
    let app = test::init_service(App::new().service(webhook.resource(PATH))).await;
    app.call(request.to_request()).await.unwrap()
}

/// The WARNING 9120 lines logged since the last call.
fn rejections(log: &MemoryLog) -> Vec<String> {
    log.take()
        .into_iter()
        .filter(|e| e.event_id == log::event::WEBHOOK_REJECTED)
        .map(|e| e.message)
        .collect()
}

/// No request reaches the CDN within a generous while (a refresh is sent at once).
async fn assert_nothing_fetched(cdn: &MockCdn) {
    sleep(300).await;
    assert_eq!(cdn.request_count(), 0, "nothing was refreshed");
}

#[actix_rt::test]
async fn a_signed_get_refreshes_the_client() {
    let s = setup("webhook-get").await;
    s.cdn
        .set_config(&s.key, simple_config("greeting", "changed"));
    let timestamp = now();
    let signature = sign(KEY, "whk-1", &timestamp, b"");
    let response = call(
        &s.webhook,
        request(
            false,
            Some("whk-1"),
            Some(&timestamp),
            Some(&signature),
            b"",
        ),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(s.cdn.wait_for_requests(1, Duration::from_secs(10)).await);
    // The fetch is conditional (the client's ETag).
    assert!(s.cdn.last_request().unwrap().if_none_match().is_some());
    for _ in 0..200 {
        if text(&s.client, "greeting").await == "changed" {
            break;
        }
        sleep(10).await;
    }
    assert_eq!(text(&s.client, "greeting").await, "changed");
    assert!(rejections(&s.log).is_empty());
    // The setup's ForceRefresh, then the webhook's fetch (its hook runs just after the store).
    for _ in 0..500 {
        if s.triggers.lock().unwrap().len() >= 2 {
            break;
        }
        sleep(10).await;
    }
    assert_eq!(
        *s.triggers.lock().unwrap(),
        vec![FetchTrigger::ForceRefresh, FetchTrigger::Webhook]
    );
    s.client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_signed_post_with_a_body_refreshes_the_client() {
    let s = setup("webhook-post").await;
    let body: &'static [u8] = br#"{"product":"p","config":"c","environment":"prod"}"#;
    let timestamp = now();
    let signature = sign(KEY, "whk-2", &timestamp, body);
    let response = call(
        &s.webhook,
        request(
            true,
            Some("whk-2"),
            Some(&timestamp),
            Some(&signature),
            body,
        ),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(s.cdn.wait_for_requests(1, Duration::from_secs(10)).await);
    s.client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn the_second_of_two_signatures_is_enough_during_a_key_rotation() {
    let s = setup("webhook-rotated").await;
    let timestamp = now();
    let old = sign("configcat_whsk_the-old-key", "whk-3", &timestamp, b"{}");
    let new = sign(KEY, "whk-3", &timestamp, b"{}");
    let both = format!("{old},{new}");
    let response = call(
        &s.webhook,
        request(true, Some("whk-3"), Some(&timestamp), Some(&both), b"{}"),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(s.cdn.wait_for_requests(1, Duration::from_secs(10)).await);
    s.client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_wrong_signature_is_401_and_refreshes_nothing() {
    let s = setup("webhook-bad-signature").await;
    let timestamp = now();
    let wrong_key = sign("configcat_whsk_another-key", "whk-4", &timestamp, b"");
    for signature in [
        wrong_key.as_str(),
        "bm90LWEtc2lnbmF0dXJl",
        "not base64 at all",
    ] {
        let response = call(
            &s.webhook,
            request(false, Some("whk-4"), Some(&timestamp), Some(signature), b""),
        )
        .await;
        assert_eq!(response.status(), 401, "{signature}");
        let logged = rejections(&s.log);
        assert_eq!(logged.len(), 1, "logged once: {logged:?}");
        assert!(logged[0].contains("signature"), "{logged:?}");
    }
    assert_nothing_fetched(&s.cdn).await;
    s.client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_tampered_body_is_401() {
    let s = setup("webhook-tampered").await;
    let timestamp = now();
    let signature = sign(KEY, "whk-5", &timestamp, br#"{"amount":1}"#);
    let response = call(
        &s.webhook,
        request(
            true,
            Some("whk-5"),
            Some(&timestamp),
            Some(&signature),
            br#"{"amount":9}"#,
        ),
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(rejections(&s.log).len(), 1);
    assert_nothing_fetched(&s.cdn).await;
    s.client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn missing_headers_are_400() {
    let s = setup("webhook-missing-headers").await;
    let timestamp = now();
    let signature = sign(KEY, "whk-6", &timestamp, b"");
    let cases = [
        (
            None,
            Some(timestamp.as_str()),
            Some(signature.as_str()),
            "ID",
        ),
        (Some("whk-6"), None, Some(signature.as_str()), "Timestamp"),
        (Some("whk-6"), Some(timestamp.as_str()), None, "Signature"),
        (
            Some("whk-6"),
            Some("yesterday"),
            Some(signature.as_str()),
            "Timestamp",
        ),
    ];
    for (id, ts, sig, named) in cases {
        let response = call(&s.webhook, request(false, id, ts, sig, b"")).await;
        assert_eq!(response.status(), 400, "{named}");
        let logged = rejections(&s.log);
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert!(logged[0].contains(named), "{logged:?}");
    }
    assert_nothing_fetched(&s.cdn).await;
    s.client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_stale_timestamp_is_401_even_when_signed() {
    let s = setup("webhook-stale").await;
    let stale = (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 301)
        .to_string();
    let signature = sign(KEY, "whk-7", &stale, b"");
    let response = call(
        &s.webhook,
        request(false, Some("whk-7"), Some(&stale), Some(&signature), b""),
    )
    .await;
    assert_eq!(response.status(), 401);
    assert!(rejections(&s.log)[0].contains("replay window"));
    // A wider window accepts the same call.
    let wide = s.webhook.clone().replay_window(Duration::from_secs(600));
    let response = call(
        &wide,
        request(false, Some("whk-7"), Some(&stale), Some(&signature), b""),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(s.cdn.wait_for_requests(1, Duration::from_secs(10)).await);
    s.client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_body_over_the_limit_is_413() {
    let s = setup("webhook-large-body").await;
    let body: &'static [u8] = &[b'x'; 2048];
    let timestamp = now();
    let signature = sign(KEY, "whk-8", &timestamp, body);
    let small = s.webhook.clone().max_body_size(1024);
    let response = call(
        &small,
        request(
            true,
            Some("whk-8"),
            Some(&timestamp),
            Some(&signature),
            body,
        ),
    )
    .await;
    assert_eq!(response.status(), 413);
    assert_eq!(rejections(&s.log).len(), 1);
    assert_nothing_fetched(&s.cdn).await;
    s.client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn webhooks_during_a_fetch_coalesce_into_one_more_fetch() {
    let s = setup("webhook-coalesced").await;
    // Long enough for the four calls to land during the first fetch on a loaded machine.
    s.cdn.set_delay(Duration::from_millis(2000));
    let app = test::init_service(App::new().service(s.webhook.resource(PATH))).await;
    for i in 0..4 {
        let id = format!("whk-c{i}");
        let timestamp = now();
        let signature = sign(KEY, &id, &timestamp, b"");
        let request = request(false, None, Some(&timestamp), Some(&signature), b"")
            .insert_header(("X-ConfigCat-Webhook-ID", id.as_str()));
        let response = app.call(request.to_request()).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    // The first call starts a fetch; the three during it share one fetch after it.
    assert!(s.cdn.wait_for_requests(2, Duration::from_secs(10)).await);
    sleep(500).await;
    assert_eq!(s.cdn.request_count(), 2);
    s.client.send(Close).await.unwrap();
}
