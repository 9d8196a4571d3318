//! The ConfigCat Proxy change stream as a refresh trigger, against a local server that speaks
//! the Proxy's framing (`data: <json>\n\n`, the current values first) and a mock CDN. The
//! clients poll manually, so every fetch the CDN sees was started by the stream.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::Addr;
use configcat_actix::*;
use support::{MockCdn, MockProxyStream, sdk_key, simple_config, sleep, text};

type States = Arc<Mutex<Vec<StreamState>>>;

struct Setup {
    cdn: MockCdn,
    proxy: MockProxyStream,
    key: String,
    client: Addr<ConfigCat>,
    states: States,
    log: Arc<MemoryLog>,
    triggers: Arc<Mutex<Vec<FetchTrigger>>>,
}

fn setup(test: &str, proxy: MockProxyStream, stream: impl Fn(ProxyStream) -> ProxyStream) -> Setup {
    let cdn = MockCdn::start();
    let key = sdk_key(test);
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let states = States::default();
    let log = Arc::new(MemoryLog::new(LogLevel::Warn));
    let seen = states.clone();
    let triggers = Arc::new(Mutex::new(Vec::new()));
    let fetched = triggers.clone();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .on_config_fetched(move |f| fetched.lock().unwrap().push(f.trigger))
        .change_stream(stream(
            ProxyStream::new(proxy.base_url(), "my-sdk")
                .backoff(Duration::from_millis(20), Duration::from_millis(100)),
        ))
        .on_change_stream_state(move |state| seen.lock().unwrap().push(state))
        .request_header("Authorization", "Bearer gateway-token")
        .log_sink(log.clone())
        .start()
        .unwrap();
    Setup {
        cdn,
        proxy,
        key,
        client,
        states,
        log,
        triggers,
    }
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(10).await;
    }
}

fn stream_warnings(log: &MemoryLog) -> usize {
    log.take()
        .iter()
        .filter(|e| e.event_id == log::event::CHANGE_STREAM_FAILED)
        .count()
}

#[actix_rt::test]
async fn each_message_after_the_first_triggers_one_conditional_get() {
    let s = setup("stream-message", MockProxyStream::start(), |p| p);
    assert!(s.proxy.wait_for_open(1, Duration::from_secs(10)).await);
    assert_eq!(s.proxy.requests()[0].path, "/sse/my-sdk/eval-all");
    // The custom headers reach the Proxy's gateway on the stream too.
    assert_eq!(
        s.proxy.requests()[0].header("authorization"),
        Some("Bearer gateway-token")
    );
    // One fetch after connecting; the first message (the values at connection time) costs none.
    eventually("the fetch after connecting", || s.cdn.request_count() == 1).await;
    eventually("the config", || {
        s.states.lock().unwrap().contains(&StreamState::Connected)
    })
    .await;
    sleep(200).await;
    assert_eq!(s.cdn.request_count(), 1);

    s.cdn
        .set_config(&s.key, simple_config("greeting", "changed"));
    assert_eq!(s.proxy.send(r#"{"greeting":{"v":"changed","i":"v2"}}"#), 1);
    eventually("the fetch of the change", || s.cdn.request_count() == 2).await;
    let request = s.cdn.last_request().unwrap();
    assert!(request.if_none_match().is_some(), "a conditional GET");
    let mut value = String::new();
    for _ in 0..500 {
        value = text(&s.client, "greeting").await;
        if value == "changed" {
            break;
        }
        sleep(10).await;
    }
    assert_eq!(value, "changed");
    sleep(300).await;
    assert_eq!(s.cdn.request_count(), 2, "one fetch per message");
    assert_eq!(
        *s.triggers.lock().unwrap(),
        vec![FetchTrigger::ChangeStream; 2],
        "on_config_fetched names the stream"
    );
    assert_eq!(stream_warnings(&s.log), 0);

    s.client.send(Close).await.unwrap();
    eventually("the stream to close", || s.proxy.open_connections() == 0).await;
    eventually("the closed state", || {
        s.states.lock().unwrap().last() == Some(&StreamState::Closed)
    })
    .await;
}

#[actix_rt::test]
async fn a_dropped_connection_reconnects_after_a_backoff_and_fetches_once() {
    let s = setup("stream-dropped", MockProxyStream::start(), |p| p);
    assert!(s.proxy.wait_for_open(1, Duration::from_secs(10)).await);
    eventually("the fetch after connecting", || s.cdn.request_count() == 1).await;
    s.proxy.close_all();
    assert!(s.proxy.wait_for_requests(2, Duration::from_secs(10)).await);
    assert!(s.proxy.wait_for_open(1, Duration::from_secs(10)).await);
    eventually("the fetch after reconnecting", || {
        s.cdn.request_count() == 2
    })
    .await;
    sleep(300).await;
    assert_eq!(s.cdn.request_count(), 2, "one fetch per connection");
    let states = s.states.lock().unwrap().clone();
    let backoff = states
        .iter()
        .position(|st| matches!(st, StreamState::BackingOff { .. }))
        .expect("a backoff between the connections");
    // A connection that had delivered its messages ended: no failure, the shortest wait.
    assert!(
        matches!(states[backoff], StreamState::BackingOff { failures: 0, delay } if delay <= Duration::from_millis(20)),
        "{states:?}"
    );
    assert_eq!(
        states[backoff + 1..backoff + 3],
        [StreamState::Connecting, StreamState::Connected]
    );
    assert_eq!(stream_warnings(&s.log), 0, "a normal end is no failure");
    s.client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_silent_connection_hits_the_idle_timeout_and_reconnects() {
    let proxy = MockProxyStream::start();
    proxy.set_initial_message(false);
    let s = setup("stream-silent", proxy, |p| {
        p.idle_timeout(Duration::from_millis(300))
    });
    assert!(s.proxy.wait_for_requests(3, Duration::from_secs(10)).await);
    let states = s.states.lock().unwrap().clone();
    assert!(
        states
            .iter()
            .any(|st| matches!(st, StreamState::BackingOff { failures: 2, .. })),
        "a connection that never speaks is a failure: {states:?}"
    );
    assert_eq!(stream_warnings(&s.log), 1, "logged once for the streak");
    s.client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_404_backs_off_exponentially_and_is_logged_once_per_streak() {
    let proxy = MockProxyStream::start();
    proxy.set_status(404);
    let s = setup("stream-404", proxy, |p| p);
    assert!(s.proxy.wait_for_requests(6, Duration::from_secs(10)).await);
    let delays: Vec<(u32, Duration)> = s
        .states
        .lock()
        .unwrap()
        .iter()
        .filter_map(|st| match st {
            StreamState::BackingOff { failures, delay } => Some((*failures, *delay)),
            _ => None,
        })
        .collect();
    assert!(delays.len() >= 5, "{delays:?}");
    for (i, (failures, delay)) in delays.iter().enumerate() {
        assert_eq!(*failures as usize, i + 1);
        // 20 ms doubled per failure, capped at 100 ms, drawn between half and whole.
        let ceiling = Duration::from_millis(20 * (1 << i.min(10))).min(Duration::from_millis(100));
        assert!(
            *delay >= ceiling / 2 && *delay <= ceiling,
            "{i}: {delay:?} outside {ceiling:?}"
        );
    }
    assert_eq!(s.cdn.request_count(), 0, "no connection, no fetch");
    assert_eq!(stream_warnings(&s.log), 1, "once for the streak");

    // Back to normal, then a second streak: logged once more.
    s.proxy.set_status(200);
    assert!(s.proxy.wait_for_open(1, Duration::from_secs(10)).await);
    eventually("the fetch after connecting", || s.cdn.request_count() == 1).await;
    s.proxy.set_status(404);
    s.proxy.close_all();
    let before = s.proxy.requests().len();
    assert!(
        s.proxy
            .wait_for_requests(before + 3, Duration::from_secs(10))
            .await
    );
    assert_eq!(stream_warnings(&s.log), 1, "once for the second streak");
    s.client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn an_invalid_proxy_url_is_refused_at_start() {
    let error = ConfigCat::builder(sdk_key("stream-invalid-url"))
        .change_stream(ProxyStream::new("ftp://proxy.internal", "my-sdk"))
        .log_sink(NoLog)
        .start()
        .unwrap_err();
    assert!(matches!(error, Error::InvalidUrl(_)), "{error:?}");
}

#[actix_rt::test]
async fn an_offline_client_holds_no_stream_open() {
    let proxy = MockProxyStream::start();
    let cdn = MockCdn::start();
    let key = sdk_key("stream-offline");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let states = States::default();
    let seen = states.clone();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .offline(true)
        .change_stream(ProxyStream::new(proxy.base_url(), "my-sdk"))
        .on_change_stream_state(move |state| seen.lock().unwrap().push(state))
        .log_sink(NoLog)
        .start()
        .unwrap();
    eventually("the offline state", || {
        states.lock().unwrap().contains(&StreamState::Offline)
    })
    .await;
    sleep(300).await;
    assert!(proxy.requests().is_empty(), "no connection while offline");

    client.send(SetOnline).await.unwrap();
    assert!(proxy.wait_for_open(1, Duration::from_secs(10)).await);
    eventually("the fetch after connecting", || cdn.request_count() == 1).await;

    client.send(SetOffline).await.unwrap();
    eventually("the stream to close", || proxy.open_connections() == 0).await;
    eventually("the offline state again", || {
        states.lock().unwrap().last() == Some(&StreamState::Offline)
    })
    .await;
    assert_eq!(proxy.requests().len(), 1);
    client.send(Close).await.unwrap();
}
