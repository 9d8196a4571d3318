//! The actor runtime against local servers: polling modes, the init wait, ETags, subscribers and
//! hooks, offline mode, close, the one-client-per-key rule, proxy and TLS.
//!
//! Timing tests use short intervals with generous margins: they assert lower and upper bounds
//! that hold on a loaded 2-core machine, never exact counts at exact times.

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use configcat_actix::log::event;
use configcat_actix::*;
use support::{ForwardProxy, MockCdn, memory_log, sdk_key, simple_config, sleep, text};

fn ids(log: &MemoryLog) -> Vec<u32> {
    log.take().into_iter().map(|e| e.event_id).collect()
}

#[actix_rt::test]
async fn auto_poll_fetches_at_start_and_then_every_interval() {
    let cdn = MockCdn::start();
    let key = sdk_key("auto-poll-interval");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let started = Instant::now();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::auto_poll(Duration::from_millis(300)))
        .log_sink(memory_log(LogLevel::Warn))
        .start()
        .unwrap();
    assert_eq!(text(&client, "greeting").await, "hello");
    assert!(
        cdn.wait_for_requests(4, Duration::from_secs(15)).await,
        "at least 4 fetches at a 300 ms interval"
    );
    let elapsed = started.elapsed();
    let count = cdn.config_request_count(&key);
    // One fetch at start plus one per interval elapsed, at most; never a burst.
    let ceiling = 2 + (elapsed.as_millis() / 300) as usize;
    assert!(count <= ceiling, "{count} fetches in {elapsed:?}");
    let agent = cdn.last_request().unwrap().user_agent().unwrap().to_owned();
    assert!(agent.contains("/a-"), "auto poll letter in {agent}");
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn requests_before_the_first_config_wait_for_it() {
    let cdn = MockCdn::start();
    let key = sdk_key("first-config-wait");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    cdn.set_delay(Duration::from_millis(300));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .log_sink(memory_log(LogLevel::Warn))
        .start()
        .unwrap();
    // Sent at once: answered with the downloaded value, not the default.
    assert_eq!(text(&client, "greeting").await, "hello");
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_hung_cdn_delays_evaluation_by_at_most_the_max_init_wait() {
    let cdn = MockCdn::start();
    let key = sdk_key("max-init-wait");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    cdn.set_delay(Duration::from_secs(30));
    let log = memory_log(LogLevel::Error);
    let ready = Arc::new(Mutex::new(Vec::new()));
    let seen = ready.clone();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(
            PollingMode::auto_poll(Duration::from_secs(60))
                .max_init_wait(Duration::from_millis(500)),
        )
        .on_ready(move |state| seen.lock().unwrap().push(state))
        .log_sink(log.clone())
        .start()
        .unwrap();
    let asked = Instant::now();
    assert_eq!(text(&client, "greeting").await, "default");
    let waited = asked.elapsed();
    assert!(waited >= Duration::from_millis(400), "waited {waited:?}");
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
    // Once the wait is over, requests are answered at once.
    let again = Instant::now();
    assert_eq!(text(&client, "greeting").await, "default");
    assert!(again.elapsed() < Duration::from_secs(2));
    assert_eq!(*ready.lock().unwrap(), vec![ClientCacheState::NoFlagData]);
    assert!(ids(&log).contains(&event::CONFIG_JSON_NOT_AVAILABLE));
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn lazy_load_fetches_on_demand_and_again_only_after_the_ttl() {
    let cdn = MockCdn::start();
    let key = sdk_key("lazy-load-ttl");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::lazy_load(Duration::from_secs(2)))
        .log_sink(memory_log(LogLevel::Warn))
        .start()
        .unwrap();
    sleep(300).await;
    assert_eq!(
        cdn.config_request_count(&key),
        0,
        "lazy load fetches nothing until asked"
    );
    assert_eq!(text(&client, "greeting").await, "hello");
    for _ in 0..20 {
        assert_eq!(text(&client, "greeting").await, "hello");
    }
    assert_eq!(
        cdn.config_request_count(&key),
        1,
        "within the TTL, no new fetch"
    );
    let agent = cdn.last_request().unwrap().user_agent().unwrap().to_owned();
    assert!(agent.contains("/l-"), "lazy load letter in {agent}");

    cdn.set_config(&key, simple_config("greeting", "hello again"));
    sleep(2300).await;
    // Expired: this request is served the cached value while the refresh runs.
    let served = text(&client, "greeting").await;
    assert!(served == "hello" || served == "hello again", "{served}");
    assert!(cdn.wait_for_requests(2, Duration::from_secs(10)).await);
    sleep(200).await;
    assert_eq!(text(&client, "greeting").await, "hello again");
    assert_eq!(cdn.config_request_count(&key), 2);
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn manual_poll_fetches_only_on_force_refresh() {
    let cdn = MockCdn::start();
    let key = sdk_key("manual-poll");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let log = memory_log(LogLevel::Error);
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(log.clone())
        .start()
        .unwrap();
    sleep(300).await;
    assert_eq!(text(&client, "greeting").await, "default");
    assert_eq!(cdn.config_request_count(&key), 0);
    assert_eq!(ids(&log), vec![event::CONFIG_JSON_NOT_AVAILABLE]);

    let refreshed = client.send(ForceRefresh).await.unwrap();
    assert!(refreshed.is_ok(), "{refreshed:?}");
    assert_eq!(cdn.config_request_count(&key), 1);
    assert_eq!(text(&client, "greeting").await, "hello");
    sleep(300).await;
    assert_eq!(cdn.config_request_count(&key), 1);
    let agent = cdn.last_request().unwrap().user_agent().unwrap().to_owned();
    assert!(agent.contains("/m-"), "manual poll letter in {agent}");
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_304_keeps_the_parsed_config_and_only_refreshes_its_time() {
    let cdn = MockCdn::start();
    let key = sdk_key("etag-304");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(memory_log(LogLevel::Warn))
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    let first = client.send(GetSnapshot).await.unwrap();
    sleep(20).await;
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    let second = client.send(GetSnapshot).await.unwrap();

    let request = cdn.last_request().unwrap();
    assert_eq!(request.if_none_match(), cdn.etag_of(&key).as_deref());
    let (a, b) = (first.config().unwrap(), second.config().unwrap());
    assert!(std::ptr::eq(a, b), "the 304 reused the parsed config");
    assert!(second.fetch_time().unwrap() > first.fetch_time().unwrap());
    client.send(Close).await.unwrap();
}

/// Collects the configs it is told about.
struct Recorder(Arc<Mutex<Vec<usize>>>);

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<ConfigChanged> for Recorder {
    type Result = ();
    fn handle(&mut self, changed: ConfigChanged, _: &mut Context<Self>) {
        self.0.lock().unwrap().push(changed.config.settings().len());
    }
}

#[actix_rt::test]
async fn subscribers_and_hooks_hear_of_changes_but_not_of_304s() {
    let cdn = MockCdn::start();
    let key = sdk_key("subscribers");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let changes = Arc::new(AtomicUsize::new(0));
    let counted = changes.clone();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .on_config_changed(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .log_sink(memory_log(LogLevel::Warn))
        .start()
        .unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder(received.clone()).start();
    client
        .send(Subscribe(recorder.clone().recipient()))
        .await
        .unwrap();

    client.send(ForceRefresh).await.unwrap().unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap(); // 304
    let two_flags = serde_json::json!({"p": {"s": "s"}, "f": {
        "greeting": {"t": 1, "v": {"s": "hi"}}, "other": {"t": 0, "v": {"b": true}}}});
    cdn.set_config(&key, two_flags.to_string());
    client.send(ForceRefresh).await.unwrap().unwrap();
    sleep(200).await;
    assert_eq!(*received.lock().unwrap(), vec![1, 2]);
    assert_eq!(changes.load(Ordering::SeqCst), 2);

    client
        .send(Unsubscribe(recorder.recipient()))
        .await
        .unwrap();
    cdn.set_config(&key, simple_config("greeting", "bye"));
    client.send(ForceRefresh).await.unwrap().unwrap();
    sleep(200).await;
    assert_eq!(received.lock().unwrap().len(), 2, "unsubscribed");
    assert_eq!(changes.load(Ordering::SeqCst), 3);
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn failures_keep_serving_the_last_good_config() {
    let cdn = MockCdn::start();
    let key = sdk_key("last-good-config");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let log = memory_log(LogLevel::Error);
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = errors.clone();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .on_error(move |message| seen.lock().unwrap().push(message.to_owned()))
        .log_sink(log.clone())
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    for (status, id) in [(500, 1101), (403, 1100), (404, 1100)] {
        cdn.set_status(status);
        let refreshed = client.send(ForceRefresh).await.unwrap();
        assert!(
            matches!(&refreshed, Err(RefreshError::Fetch(e)) if e.event_id() == id),
            "{status}: {refreshed:?}"
        );
        assert_eq!(text(&client, "greeting").await, "hello", "after {status}");
        assert_eq!(ids(&log), vec![id], "after {status}");
    }
    cdn.clear_status();
    cdn.set_body_override("{not json");
    assert!(client.send(ForceRefresh).await.unwrap().is_err());
    assert_eq!(text(&client, "greeting").await, "hello");
    assert_eq!(
        errors.lock().unwrap().len(),
        4,
        "each error reached the on_error hook"
    );
    cdn.clear_body_override();
    assert!(
        client.send(ForceRefresh).await.unwrap().is_ok(),
        "recovers when the CDN heals"
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn offline_mode_stops_http_and_online_resumes_it() {
    let cdn = MockCdn::start();
    let key = sdk_key("offline-online");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let log = memory_log(LogLevel::Info);
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::auto_poll(Duration::from_millis(200)))
        .offline(true)
        .log_sink(log.clone())
        .start()
        .unwrap();
    assert!(client.send(IsOffline).await.unwrap());
    // Offline from the start: nothing is fetched and nobody waits for a fetch.
    let asked = Instant::now();
    assert_eq!(text(&client, "greeting").await, "default");
    assert!(asked.elapsed() < Duration::from_secs(2));
    let refreshed = client.send(ForceRefresh).await.unwrap();
    assert!(refreshed.is_err());
    assert!(ids(&log).contains(&event::OFFLINE_NO_HTTP));
    sleep(500).await;
    assert_eq!(cdn.config_request_count(&key), 0);

    client.send(SetOnline).await.unwrap();
    assert!(!client.send(IsOffline).await.unwrap());
    assert!(cdn.wait_for_requests(1, Duration::from_secs(10)).await);
    sleep(100).await;
    assert_eq!(text(&client, "greeting").await, "hello");
    assert!(
        log.take()
            .iter()
            .any(|e| e.event_id == event::MODE_SWITCHED && e.message == "Switched to ONLINE mode.")
    );

    client.send(SetOffline).await.unwrap();
    sleep(100).await;
    let before = cdn.config_request_count(&key);
    sleep(800).await;
    assert_eq!(
        cdn.config_request_count(&key),
        before,
        "no polling while offline"
    );
    assert_eq!(
        text(&client, "greeting").await,
        "hello",
        "offline still evaluates"
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn close_stops_polling_and_later_messages_fail_clearly() {
    let cdn = MockCdn::start();
    let key = sdk_key("close");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::auto_poll(Duration::from_millis(200)))
        .log_sink(memory_log(LogLevel::Warn))
        .start()
        .unwrap();
    assert_eq!(text(&client, "greeting").await, "hello");
    client.send(Close).await.unwrap();
    sleep(100).await;
    let after_close = cdn.config_request_count(&key);
    sleep(800).await;
    assert_eq!(
        cdn.config_request_count(&key),
        after_close,
        "no polling after close"
    );
    let late = client.send(GetValue::new("greeting", String::new())).await;
    assert!(matches!(late, Err(MailboxError::Closed)), "{late:?}");
    // The key is free again: a new client can start.
    let again = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .log_sink(memory_log(LogLevel::Warn))
        .start()
        .unwrap();
    assert_eq!(text(&again, "greeting").await, "hello");
    again.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn one_client_per_sdk_key_with_warning_3000_for_other_options() {
    let cdn = MockCdn::start();
    let key = sdk_key("singleton");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let build = |log: Arc<MemoryLog>, mode: PollingMode| {
        ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(mode)
            .log_sink(log)
    };
    let first_log = memory_log(LogLevel::Warn);
    let first = build(first_log.clone(), PollingMode::manual_poll())
        .start()
        .unwrap();
    let same_log = memory_log(LogLevel::Warn);
    let same = build(same_log.clone(), PollingMode::manual_poll())
        .start()
        .unwrap();
    assert!(ids(&same_log).is_empty(), "same options: no warning");
    let other_log = memory_log(LogLevel::Warn);
    let other = build(
        other_log.clone(),
        PollingMode::lazy_load(Duration::from_secs(5)),
    )
    .start()
    .unwrap();
    let warnings = other_log.take();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].event_id, event::CLIENT_ALREADY_CREATED);
    // The key is quoted masked, as the official SDKs quote it.
    assert!(
        warnings[0]
            .message
            .contains(&configcat_actix::log::mask_sdk_key(&key))
    );
    assert!(!warnings[0].message.contains(&key));
    // All three are the one client: a refresh through one is seen through the others.
    assert!(same.send(ForceRefresh).await.unwrap().is_ok());
    assert_eq!(text(&first, "greeting").await, "hello");
    assert_eq!(text(&other, "greeting").await, "hello");
    assert_eq!(cdn.config_request_count(&key), 1);
    first.send(Close).await.unwrap();
}

#[test]
fn starting_outside_an_actix_system_is_an_error() {
    let result = ConfigCat::builder(sdk_key("no-system")).start();
    assert!(
        matches!(result, Err(Error::NoRunningSystem)),
        "{:?}",
        result.err()
    );
}

#[actix_rt::test]
async fn invalid_sdk_keys_are_refused_at_start() {
    for key in [
        "",
        "short/key",
        "configcat-sdk-2/sdk-key-90123456789012/1234567890123456789012",
    ] {
        let result = ConfigCat::builder(key).start();
        assert!(
            matches!(result, Err(Error::InvalidSdkKey(_))),
            "{key}: {:?}",
            result.err()
        );
    }
    let proxy_key = ConfigCat::builder("configcat-proxy/my-key")
        .base_url("http://127.0.0.1:9")
        .polling_mode(PollingMode::manual_poll())
        .log_sink(NoLog)
        .start();
    assert!(
        proxy_key.is_ok(),
        "a proxy key with a custom base URL is valid"
    );
    proxy_key.unwrap().send(Close).await.unwrap();
}

#[actix_rt::test]
async fn the_evaluation_messages_and_the_snapshot_agree() {
    let cdn = MockCdn::start();
    let key = sdk_key("messages");
    cdn.set_config(&key, support::example_config());
    let evaluated = Arc::new(Mutex::new(Vec::new()));
    let seen = evaluated.clone();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .on_flag_evaluated(move |details| seen.lock().unwrap().push(details.key.clone()))
        .log_sink(memory_log(LogLevel::Warn))
        .start()
        .unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    let staff = User::new("staff-1")
        .email("ada@example.com")
        .country("Hungary")
        .custom("OrderCount", 4);

    let keys = client.send(GetAllKeys).await.unwrap();
    assert_eq!(
        keys,
        [
            "betaBanner",
            "discountPercent",
            "isAwesomeFeatureEnabled",
            "premiumSupport"
        ]
    );
    let details = client
        .send(GetValueDetails::new("discountPercent", 0_i64).user(staff.clone()))
        .await
        .unwrap();
    assert_eq!(details.value, 15);
    assert_eq!(details.variation_id.as_deref(), Some("discount-15"));
    assert!(details.fetch_time.is_some());
    let values = client
        .send(GetAllValues(Some(staff.clone())))
        .await
        .unwrap();
    assert_eq!(values.len(), 4);
    assert_eq!(values["discountPercent"], Value::Int(15));
    let all_details = client
        .send(GetAllValueDetails(Some(staff.clone())))
        .await
        .unwrap();
    assert_eq!(all_details.len(), 4);
    assert_eq!(
        client
            .send(GetKeyAndValue("banner-beta".into()))
            .await
            .unwrap(),
        Some((
            "betaBanner".to_owned(),
            Value::from("Welcome, beta tester!")
        ))
    );
    assert_eq!(
        client.send(GetKeyAndValue("nope".into())).await.unwrap(),
        None
    );

    // The default user applies when none is given, until cleared.
    client.send(SetDefaultUser(staff.clone())).await.unwrap();
    assert_eq!(
        client
            .send(GetValue::new("discountPercent", 0_i64))
            .await
            .unwrap(),
        15
    );
    let snapshot = client.send(GetSnapshot).await.unwrap();
    assert_eq!(snapshot.get_value("discountPercent", 0_i64, None), 15);
    client.send(ClearDefaultUser).await.unwrap();
    assert_eq!(
        client
            .send(GetValue::new("discountPercent", 0_i64))
            .await
            .unwrap(),
        0
    );

    // A snapshot is immutable and evaluates without the actors.
    for user in [
        staff.clone(),
        User::new("x").country("Austria").custom("OrderCount", 9),
    ] {
        for key in ["discountPercent", "isAwesomeFeatureEnabled"] {
            let through_actor = client
                .send(GetValueDetails::new(key, Value::Int(0)).user(user.clone()))
                .await
                .unwrap();
            let direct = snapshot.get_value_details(key, Value::Int(0), Some(&user));
            assert_eq!(through_actor.value, direct.value, "{key}");
        }
    }
    let hook_calls = evaluated.lock().unwrap().len();
    assert!(
        hook_calls >= 1 + 4 + 4 + 2 + 1 + 8,
        "on_flag_evaluated ran {hook_calls} times"
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn fetches_go_through_a_proxy_with_credentials() {
    let cdn = MockCdn::start();
    let key = sdk_key("proxy-credentials");
    cdn.set_config(&key, simple_config("greeting", "via proxy"));
    let proxy = ForwardProxy::start_with_credentials("user", "secret");
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .proxy(
            Proxy::new(&proxy.url())
                .unwrap()
                .credentials("user", "secret"),
        )
        .log_sink(memory_log(LogLevel::Warn))
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    assert_eq!(text(&client, "greeting").await, "via proxy");
    assert!(proxy.tunnels_established() >= 1);
    client.send(Close).await.unwrap();

    let key = sdk_key("proxy-wrong-password");
    cdn.set_config(&key, simple_config("greeting", "via proxy"));
    let refused = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .proxy(
            Proxy::new(&proxy.url())
                .unwrap()
                .credentials("user", "wrong"),
        )
        .log_sink(memory_log(LogLevel::Warn))
        .start()
        .unwrap();
    assert!(refused.send(ForceRefresh).await.unwrap().is_err());
    assert!(proxy.tunnels_rejected() >= 1);
    assert_eq!(cdn.config_request_count(&key), 0);
    refused.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn https_works_with_a_certificate_trusted_through_the_option() {
    let cdn = MockCdn::start_tls();
    let key = sdk_key("tls");
    cdn.set_config(&key, simple_config("greeting", "over tls"));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .root_certificate(cdn.certificate_der())
        .log_sink(memory_log(LogLevel::Warn))
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    assert_eq!(text(&client, "greeting").await, "over tls");
    client.send(Close).await.unwrap();

    let key = sdk_key("tls-untrusted");
    cdn.set_config(&key, simple_config("greeting", "over tls"));
    let untrusting = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(memory_log(LogLevel::Warn))
        .start()
        .unwrap();
    assert!(untrusting.send(ForceRefresh).await.unwrap().is_err());
    untrusting.send(Close).await.unwrap();
}
