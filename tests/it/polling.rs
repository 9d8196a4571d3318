//! The polling modes' policies at the client level: auto poll keeps its interval with a slow
//! CDN, each mode becomes ready when spec §5.1 says (with its `ClientCacheState`), lazy load
//! can wait for its refresh, and refreshes report typed errors.
//!
//! Timing tests use generous margins: they must hold on a loaded 2-core machine.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use configcat_actix::cache::{ConfigCache, InMemoryCache, cache_key};
use configcat_actix::log::event;
use configcat_actix::*;
use support::{MockCdn, sdk_key, simple_config, sleep, text};

type Seen = Arc<Mutex<Vec<ClientCacheState>>>;

fn builder(cdn: &MockCdn, key: &str, mode: PollingMode, seen: &Seen) -> ConfigCatBuilder {
    let seen = seen.clone();
    ConfigCat::builder(key)
        .base_url(cdn.base_url())
        .polling_mode(mode)
        .log_sink(NoLog)
        .on_ready(move |state| seen.lock().unwrap().push(state))
}

async fn ready_states(seen: &Seen, within: Duration) -> Vec<ClientCacheState> {
    let deadline = Instant::now() + within;
    while seen.lock().unwrap().is_empty() && Instant::now() < deadline {
        sleep(20).await;
    }
    seen.lock().unwrap().clone()
}

/// A cache entry in the shared format, `age` old.
fn entry(json: &str, age: Duration) -> String {
    let millis = (std::time::SystemTime::now() - age)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    format!("{millis}\n\"etag-1\"\n{json}")
}

#[actix_rt::test]
async fn auto_poll_keeps_its_interval_when_downloads_are_slow() {
    let cdn = MockCdn::start();
    let key = sdk_key("slow-cdn-interval");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    cdn.set_delay(Duration::from_millis(700));
    let started = Instant::now();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::auto_poll(Duration::from_secs(2)))
        .log_sink(NoLog)
        .start()
        .unwrap();
    // Note when each request arrives (to 50 ms) over 6.6 s: at 0, 2, 4, 6 s. Skipping every
    // other tick (the bug this guards against) would give 0 and 4 s only.
    let mut arrivals = Vec::new();
    while started.elapsed() < Duration::from_millis(6600) {
        let count = cdn.config_request_count(&key);
        while arrivals.len() < count {
            arrivals.push(started.elapsed());
        }
        sleep(50).await;
    }
    assert!(
        (3..=5).contains(&arrivals.len()),
        "requests at {arrivals:?}"
    );
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap < Duration::from_millis(3200),
            "a tick was skipped: requests at {arrivals:?}"
        );
    }
    assert_eq!(text(&client, "greeting").await, "hello");
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn manual_poll_is_ready_at_start_without_a_refresh() {
    let cdn = MockCdn::start();
    let key = sdk_key("manual-ready");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let seen = Seen::default();
    let client = builder(&cdn, &key, PollingMode::manual_poll(), &seen)
        .start()
        .unwrap();
    assert_eq!(
        ready_states(&seen, Duration::from_secs(5)).await,
        vec![ClientCacheState::NoFlagData]
    );
    assert_eq!(text(&client, "greeting").await, "default");
    assert_eq!(cdn.config_request_count(&key), 0);
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(text(&client, "greeting").await, "hello");
    assert_eq!(seen.lock().unwrap().len(), 1, "ready fires once");
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn manual_poll_with_a_cached_entry_is_ready_with_it() {
    let cdn = MockCdn::start();
    let key = sdk_key("manual-ready-cached");
    let cache = InMemoryCache::new();
    let json = simple_config("greeting", "cached");
    cache
        .set(&cache_key(&key), entry(&json, Duration::from_secs(1)))
        .await
        .unwrap();
    let seen = Seen::default();
    let client = builder(&cdn, &key, PollingMode::manual_poll(), &seen)
        .cache(cache)
        .start()
        .unwrap();
    assert_eq!(text(&client, "greeting").await, "cached");
    assert_eq!(
        ready_states(&seen, Duration::from_secs(5)).await,
        vec![ClientCacheState::HasCachedFlagDataOnly]
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn lazy_load_is_ready_after_the_cache_read_before_any_download() {
    let cdn = MockCdn::start();
    let key = sdk_key("lazy-ready");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    for (age, state) in [
        (None, ClientCacheState::NoFlagData),
        (
            Some(Duration::from_secs(1)),
            ClientCacheState::HasUpToDateFlagData,
        ),
        (
            Some(Duration::from_secs(600)),
            ClientCacheState::HasCachedFlagDataOnly,
        ),
    ] {
        let cache = InMemoryCache::new();
        if let Some(age) = age {
            let json = simple_config("greeting", "cached");
            cache
                .set(&cache_key(&key), entry(&json, age))
                .await
                .unwrap();
        }
        cdn.reset_requests();
        let seen = Seen::default();
        let client = builder(
            &cdn,
            &key,
            PollingMode::lazy_load(Duration::from_secs(60)),
            &seen,
        )
        .cache(cache)
        .start()
        .unwrap();
        assert_eq!(
            ready_states(&seen, Duration::from_secs(5)).await,
            vec![state],
            "entry aged {age:?}"
        );
        assert_eq!(
            cdn.config_request_count(&key),
            0,
            "ready before any download"
        );
        client.send(Close).await.unwrap();
    }
}

#[actix_rt::test]
async fn auto_poll_started_offline_is_ready_without_going_online() {
    let cdn = MockCdn::start();
    let key = sdk_key("auto-offline-ready");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let seen = Seen::default();
    let client = builder(
        &cdn,
        &key,
        PollingMode::auto_poll(Duration::from_secs(60)),
        &seen,
    )
    .offline(true)
    .start()
    .unwrap();
    let asked = Instant::now();
    assert_eq!(text(&client, "greeting").await, "default");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "no max-init-wait when offline"
    );
    assert_eq!(
        ready_states(&seen, Duration::from_secs(5)).await,
        vec![ClientCacheState::NoFlagData]
    );
    assert_eq!(cdn.config_request_count(&key), 0);
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn auto_poll_is_ready_up_to_date_after_its_first_download() {
    let cdn = MockCdn::start();
    let key = sdk_key("auto-ready");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let seen = Seen::default();
    let client = builder(
        &cdn,
        &key,
        PollingMode::auto_poll(Duration::from_secs(60)),
        &seen,
    )
    .start()
    .unwrap();
    assert_eq!(text(&client, "greeting").await, "hello");
    assert_eq!(
        ready_states(&seen, Duration::from_secs(5)).await,
        vec![ClientCacheState::HasUpToDateFlagData]
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn lazy_load_can_wait_for_the_refresh_of_an_expired_config() {
    let cdn = MockCdn::start();
    let key = sdk_key("lazy-wait-refresh");
    cdn.set_config(&key, simple_config("greeting", "v1"));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::lazy_load(Duration::from_millis(300)).wait_for_refresh(true))
        .log_sink(NoLog)
        .start()
        .unwrap();
    assert_eq!(text(&client, "greeting").await, "v1");
    cdn.set_config(&key, simple_config("greeting", "v2"));
    cdn.set_delay(Duration::from_millis(200));
    sleep(400).await;
    // Expired: this request waits for the refresh and sees its result.
    assert_eq!(text(&client, "greeting").await, "v2");
    assert_eq!(cdn.config_request_count(&key), 2);
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn lazy_load_first_download_wait_is_an_option() {
    let cdn = MockCdn::start();
    let key = sdk_key("lazy-first-wait");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    cdn.set_delay(Duration::from_secs(3));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(
            PollingMode::lazy_load(Duration::from_secs(60))
                .max_init_wait(Duration::from_millis(300)),
        )
        .log_sink(NoLog)
        .start()
        .unwrap();
    let asked = Instant::now();
    assert_eq!(text(&client, "greeting").await, "default");
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_millis(2500),
        "waited {waited:?}"
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn refresh_errors_say_what_happened() {
    let cdn = MockCdn::start();
    let key = sdk_key("refresh-errors");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let log = Arc::new(MemoryLog::new(LogLevel::Warn));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(log.clone())
        .offline(true)
        .start()
        .unwrap();
    let offline = client.send(ForceRefresh).await.unwrap();
    assert_eq!(offline, Err(RefreshError::Offline));
    assert_eq!(
        offline.unwrap_err().event_id(),
        Some(event::OFFLINE_NO_HTTP)
    );
    assert!(
        log.take()
            .iter()
            .any(|e| e.event_id == event::OFFLINE_NO_HTTP)
    );
    client.send(SetOnline).await.unwrap();
    cdn.set_status(500);
    let failed = client.send(ForceRefresh).await.unwrap();
    assert!(
        matches!(
            &failed,
            Err(RefreshError::Fetch(FetchError::UnexpectedStatus {
                status: 500,
                ..
            }))
        ),
        "{failed:?}"
    );
    assert_eq!(failed.unwrap_err().event_id(), Some(1101));
    cdn.clear_status();
    assert_eq!(client.send(ForceRefresh).await.unwrap(), Ok(()));
    client.send(Close).await.unwrap();

    let local = ConfigCat::builder("local")
        .flag_overrides(FlagOverrides::from_map(
            [("f", true)],
            OverrideBehaviour::LocalOnly,
        ))
        .log_sink(NoLog)
        .start()
        .unwrap();
    assert_eq!(
        local.send(ForceRefresh).await.unwrap(),
        Err(RefreshError::LocalOnly)
    );
    local.send(Close).await.unwrap();
}

#[test]
fn a_mailbox_timeout_is_a_timeout_not_a_closed_client() {
    assert_eq!(Error::from(actix::MailboxError::Timeout), Error::Timeout);
    assert_eq!(Error::from(actix::MailboxError::Closed), Error::Closed);
    assert_eq!(
        RefreshError::from(actix::MailboxError::Timeout),
        RefreshError::Timeout
    );
}

#[actix_rt::test]
async fn warning_3000_covers_every_option() {
    let cdn = MockCdn::start();
    let key = sdk_key("warning-3000-every-option");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let first = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .log_sink(NoLog)
        .start()
        .unwrap();
    type Change = fn(ConfigCatBuilder) -> ConfigCatBuilder;
    let changes: [(&str, Change); 4] = [
        ("max body size", |b| b.max_body_size(1024)),
        ("root certificate", |b| b.root_certificate(vec![1, 2, 3])),
        ("cache timeout", |b| {
            b.cache_timeout(Duration::from_millis(5))
        }),
        ("polling mode", |b| {
            b.polling_mode(PollingMode::manual_poll())
        }),
    ];
    for (what, change) in changes {
        let log = Arc::new(MemoryLog::new(LogLevel::Warn));
        let again = change(ConfigCat::builder(&key).base_url(cdn.base_url()))
            .log_sink(log.clone())
            .start()
            .unwrap();
        assert_eq!(again, first, "{what}: the running client");
        let ids: Vec<u32> = log.take().iter().map(|e| e.event_id).collect();
        assert_eq!(ids, vec![event::CLIENT_ALREADY_CREATED], "{what}");
    }
    let log = Arc::new(MemoryLog::new(LogLevel::Warn));
    let same = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .log_sink(log.clone())
        .start()
        .unwrap();
    assert_eq!(same, first);
    assert!(log.take().is_empty(), "the same options: no warning");
    first.send(Close).await.unwrap();
}
