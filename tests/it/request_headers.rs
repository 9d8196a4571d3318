//! Custom request headers on the config request: sent as given beside the SDK's own, checked at
//! start (invalid or reserved names are a typed error), and their values never logged.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use configcat_actix::*;
use support::{MockCdn, sdk_key, simple_config};

#[actix_rt::test]
async fn custom_headers_reach_the_cdn_beside_the_sdks_own() {
    let cdn = MockCdn::start();
    let key = sdk_key("custom-headers-sent");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .request_header("Authorization", "Bearer gateway-token")
        .request_header("X-Tenant", "blue")
        .log_sink(NoLog)
        .start()
        .unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    // A second request carries them too, with the SDK's ETag.
    client.send(ForceRefresh).await.unwrap().unwrap();
    let requests = cdn.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some("Bearer gateway-token")
        );
        assert_eq!(request.header("x-tenant"), Some("blue"));
        let agent = request.user_agent().expect("the SDK's user agent");
        assert!(agent.starts_with("ConfigCat-Rust-Actix/m-"), "{agent}");
    }
    assert!(requests[1].if_none_match().is_some());
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn the_sdks_own_headers_cannot_be_replaced() {
    for name in [
        "X-ConfigCat-UserAgent",
        "user-agent",
        "If-None-Match",
        "Host",
        "Content-Length",
    ] {
        let error = ConfigCat::builder(sdk_key("custom-headers-reserved"))
            .request_header(name, "mine")
            .log_sink(NoLog)
            .start()
            .unwrap_err();
        match error {
            Error::InvalidRequestHeader { name: refused, .. } => assert_eq!(refused, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[actix_rt::test]
async fn invalid_headers_are_refused_at_start_without_their_value() {
    let bad_value = ConfigCat::builder(sdk_key("custom-headers-invalid"))
        .request_header("X-Token", "s3cr3t\r\nX-Injected: 1")
        .log_sink(NoLog)
        .start()
        .unwrap_err();
    assert!(
        matches!(&bad_value, Error::InvalidRequestHeader { name, .. } if name == "X-Token"),
        "{bad_value:?}"
    );
    assert!(!bad_value.to_string().contains("s3cr3t"), "{bad_value}");
    assert!(!format!("{bad_value:?}").contains("s3cr3t"));
    let bad_name = ConfigCat::builder(sdk_key("custom-headers-invalid"))
        .request_header("X Token", "v")
        .log_sink(NoLog)
        .start()
        .unwrap_err();
    assert!(matches!(bad_name, Error::InvalidRequestHeader { .. }));
}

#[actix_rt::test]
async fn header_values_are_not_logged_when_fetches_fail() {
    let cdn = MockCdn::start();
    let key = sdk_key("custom-headers-unlogged");
    cdn.set_status(500);
    let log = Arc::new(MemoryLog::new(LogLevel::Debug));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .request_header("Authorization", "Bearer t0p-s3cr3t")
        .log_sink(log.clone())
        .read_timeout(Duration::from_secs(5))
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_err());
    assert_eq!(
        cdn.last_request().unwrap().header("authorization"),
        Some("Bearer t0p-s3cr3t")
    );
    let events = log.take();
    assert!(!events.is_empty());
    for event in events {
        assert!(!event.message.contains("t0p-s3cr3t"), "{event}");
    }
    client.send(Close).await.unwrap();
}
