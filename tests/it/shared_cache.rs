//! Shared caches at the client level: the polling modes use the cached entry's fetch time,
//! whoever fetches writes the entry back in the cross-SDK format, entries written by other
//! processes are picked up (with their ETag used on the next fetch), and a broken cache never
//! stops evaluation.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use configcat_actix::cache::{ConfigCache, InMemoryCache, cache_key};
use configcat_actix::log::event;
use configcat_actix::*;
use support::{BrokenCache, MockCdn, millis, sdk_key, simple_config, sleep, text};

async fn cached(cache: &InMemoryCache, sdk_key: &str) -> Option<String> {
    cache.get(&cache_key(sdk_key)).await.unwrap()
}

#[actix_rt::test]
async fn whoever_fetches_writes_the_entry_back_in_the_shared_format_byte_for_byte() {
    let cdn = MockCdn::start();
    let key = sdk_key("write-back");
    // Newlines inside the JSON must survive: the format splits at the first two only.
    cdn.set_config(
        &key,
        "{\"p\": {\"s\": \"s\"},\n \"f\": {\"greeting\": {\"t\": 1, \"v\": {\"s\": \"hello\"}}}}",
    );
    let cache = InMemoryCache::new();
    let before = millis(SystemTime::now());
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .cache(cache.clone())
        .log_sink(NoLog)
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    sleep(100).await;
    let after = millis(SystemTime::now());
    let stored = cached(&cache, &key).await.expect("the entry was written");
    let (time, rest) = stored.split_once('\n').unwrap();
    let time: u128 = time.parse().unwrap();
    assert!(
        before <= time && time <= after,
        "{before} <= {time} <= {after}"
    );
    let expected = format!(
        "{time}\n{}\n{}",
        cdn.etag_of(&key).unwrap(),
        cdn.config_json(&key).unwrap()
    );
    assert_eq!(stored, expected);
    assert!(rest.contains("\n \"f\""), "the body's own newline is kept");
    client.send(Close).await.unwrap();
}

/// An entry as another process (or an official SDK) would have written it.
fn entry_text(fetch_time: SystemTime, etag: &str, json: &str) -> String {
    format!("{}\n{etag}\n{json}", millis(fetch_time))
}

#[actix_rt::test]
async fn a_fresh_shared_entry_is_served_without_fetching() {
    let cdn = MockCdn::start();
    let key = sdk_key("fresh-entry");
    cdn.set_config(&key, simple_config("greeting", "from the CDN"));
    let cache = InMemoryCache::new();
    let entry = entry_text(
        SystemTime::now(),
        "\"other-process\"",
        &simple_config("greeting", "from the cache"),
    );
    cache.set(&cache_key(&key), entry).await.unwrap();
    let ready = Arc::new(Mutex::new(Vec::new()));
    let seen = ready.clone();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::auto_poll(Duration::from_secs(60)))
        .cache(cache.clone())
        .on_ready(move |state| seen.lock().unwrap().push(state))
        .log_sink(NoLog)
        .start()
        .unwrap();
    assert_eq!(text(&client, "greeting").await, "from the cache");
    sleep(500).await;
    assert_eq!(
        cdn.config_request_count(&key),
        0,
        "a fresh entry means no download"
    );
    assert_eq!(
        *ready.lock().unwrap(),
        vec![ClientCacheState::HasUpToDateFlagData]
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_stale_shared_entry_is_refreshed_with_its_etag_and_written_back() {
    let cdn = MockCdn::start();
    let key = sdk_key("stale-entry");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let etag = cdn.etag_of(&key).unwrap();
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    let cache = InMemoryCache::new();
    let old = entry_text(two_hours_ago, &etag, &cdn.config_json(&key).unwrap());
    cache.set(&cache_key(&key), old).await.unwrap();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::auto_poll(Duration::from_secs(60)))
        .cache(cache.clone())
        .log_sink(NoLog)
        .start()
        .unwrap();
    assert_eq!(text(&client, "greeting").await, "hello");
    assert!(cdn.wait_for_requests(1, Duration::from_secs(10)).await);
    let request = cdn.last_request().unwrap();
    assert_eq!(
        request.if_none_match(),
        Some(etag.as_str()),
        "the cached ETag was sent"
    );
    sleep(200).await;
    let rewritten = cached(&cache, &key).await.unwrap();
    let time: u128 = rewritten.split('\n').next().unwrap().parse().unwrap();
    assert!(
        time > millis(two_hours_ago) + 7_000_000,
        "the 304 refreshed the entry's time"
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn lazy_load_uses_the_shared_entry_time_too() {
    let cdn = MockCdn::start();
    let key = sdk_key("lazy-shared");
    cdn.set_config(&key, simple_config("greeting", "from the CDN"));
    let cache = InMemoryCache::new();
    let entry = entry_text(
        SystemTime::now(),
        "\"e1\"",
        &simple_config("greeting", "from the cache"),
    );
    cache.set(&cache_key(&key), entry).await.unwrap();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::lazy_load(Duration::from_secs(60)))
        .cache(cache.clone())
        .log_sink(NoLog)
        .start()
        .unwrap();
    assert_eq!(text(&client, "greeting").await, "from the cache");
    sleep(300).await;
    assert_eq!(text(&client, "greeting").await, "from the cache");
    assert_eq!(cdn.config_request_count(&key), 0);
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn manual_poll_serves_the_shared_entry_without_a_refresh() {
    let cdn = MockCdn::start();
    let key = sdk_key("manual-shared");
    cdn.set_config(&key, simple_config("greeting", "from the CDN"));
    let cache = InMemoryCache::new();
    let old = SystemTime::now() - Duration::from_secs(86_400);
    let entry = entry_text(old, "\"e1\"", &simple_config("greeting", "from the cache"));
    cache.set(&cache_key(&key), entry).await.unwrap();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .cache(cache.clone())
        .log_sink(NoLog)
        .start()
        .unwrap();
    // Sent at once: the request waits for the cache's first read, not for a download.
    assert_eq!(text(&client, "greeting").await, "from the cache");
    let details = client
        .send(GetValueDetails::new("greeting", String::new()))
        .await
        .unwrap();
    assert_eq!(
        details.fetch_time,
        Some(UNIX_EPOCH + Duration::from_millis(millis(old) as u64))
    );
    sleep(300).await;
    assert_eq!(
        cdn.config_request_count(&key),
        0,
        "manual polling downloads only when asked"
    );
    client.send(Close).await.unwrap();
}

#[test]
fn two_processes_share_one_download() {
    // Two actix Systems on two threads stand for two processes: each has its own client.
    let cdn = MockCdn::start();
    let key = sdk_key("two-processes");
    cdn.set_config(&key, simple_config("greeting", "shared"));
    let cache = InMemoryCache::new();
    let run = |cache: InMemoryCache, base_url: String, key: String| {
        std::thread::spawn(move || {
            actix::System::new().block_on(async move {
                let client = ConfigCat::builder(&key)
                    .base_url(base_url)
                    .polling_mode(PollingMode::auto_poll(Duration::from_secs(60)))
                    .cache(cache)
                    .log_sink(NoLog)
                    .start()
                    .unwrap();
                let value = text(&client, "greeting").await;
                sleep(200).await; // let the write-back land
                client.send(Close).await.unwrap();
                value
            })
        })
        .join()
        .unwrap()
    };
    assert_eq!(run(cache.clone(), cdn.base_url(), key.clone()), "shared");
    assert_eq!(run(cache.clone(), cdn.base_url(), key.clone()), "shared");
    assert_eq!(
        cdn.config_request_count(&key),
        1,
        "the second process used the first one's download"
    );
}

#[actix_rt::test]
async fn an_entry_written_by_another_process_is_picked_up_and_announced() {
    let cdn = MockCdn::start();
    let key = sdk_key("picked-up");
    cdn.set_config(&key, simple_config("greeting", "v1"));
    let cache = InMemoryCache::new();
    let changes = Arc::new(Mutex::new(Vec::new()));
    let seen = changes.clone();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::auto_poll(Duration::from_millis(300)))
        .cache(cache.clone())
        .on_config_changed(move |config| seen.lock().unwrap().push(config.settings().len()))
        .log_sink(NoLog)
        .start()
        .unwrap();
    assert_eq!(text(&client, "greeting").await, "v1");
    // The CDN fails from now on; another process has a newer config.
    cdn.set_status(500);
    let newer = serde_json::json!({"p": {"s": "s"}, "f": {
        "greeting": {"t": 1, "v": {"s": "v2"}}, "extra": {"t": 0, "v": {"b": true}}}});
    let entry = entry_text(
        SystemTime::now() + Duration::from_secs(1),
        "\"v2\"",
        &newer.to_string(),
    );
    cache.set(&cache_key(&key), entry).await.unwrap();
    let mut value = String::new();
    for _ in 0..50 {
        value = text(&client, "greeting").await;
        if value == "v2" {
            break;
        }
        sleep(100).await;
    }
    assert_eq!(value, "v2");
    assert_eq!(*changes.lock().unwrap(), vec![1, 2]);
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_broken_or_corrupt_cache_is_logged_and_never_stops_evaluation() {
    let cdn = MockCdn::start();
    let key = sdk_key("broken-cache");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let log = Arc::new(MemoryLog::new(LogLevel::Error));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .cache(BrokenCache)
        .log_sink(log.clone())
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    assert_eq!(text(&client, "greeting").await, "hello");
    sleep(100).await;
    let ids: Vec<u32> = log.take().iter().map(|e| e.event_id).collect();
    assert!(ids.contains(&event::CACHE_READ_FAILED), "{ids:?}");
    assert!(ids.contains(&event::CACHE_WRITE_FAILED), "{ids:?}");
    client.send(Close).await.unwrap();

    for corrupt in [
        "garbage",
        "12\n",
        "not-a-time\netag\n{}",
        "123\netag\n{not json",
    ] {
        let key = sdk_key(&format!("corrupt-{}", corrupt.len()));
        cdn.set_config(&key, simple_config("greeting", "hello"));
        let cache = InMemoryCache::new();
        cache
            .set(&cache_key(&key), corrupt.to_owned())
            .await
            .unwrap();
        let log = Arc::new(MemoryLog::new(LogLevel::Error));
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(PollingMode::auto_poll(Duration::from_secs(60)))
            .cache(cache.clone())
            .log_sink(log.clone())
            .start()
            .unwrap();
        assert_eq!(text(&client, "greeting").await, "hello", "{corrupt:?}");
        let ids: Vec<u32> = log.take().iter().map(|e| e.event_id).collect();
        assert!(
            ids.contains(&event::CACHE_READ_FAILED),
            "{corrupt:?}: {ids:?}"
        );
        sleep(100).await;
        let replaced = cached(&cache, &key).await.unwrap();
        assert!(
            replaced.ends_with(&cdn.config_json(&key).unwrap()),
            "{corrupt:?} was replaced"
        );
        client.send(Close).await.unwrap();
    }
}

#[cfg(feature = "redis")]
mod redis_interop {
    use super::*;
    use configcat_actix::cache::RedisCache;

    use support::{redis_connection as redis, redis_url};

    #[actix_rt::test]
    async fn an_entry_set_by_another_process_in_redis_is_served_and_its_etag_reused() {
        let Some(mut other_process) = redis() else {
            return;
        };
        let cdn = MockCdn::start();
        let key = sdk_key("redis-interop");
        cdn.set_config(&key, simple_config("greeting", "from redis"));
        let etag = cdn.etag_of(&key).unwrap();
        // As `redis-cli SET` would: an hour-old entry with the CDN's current ETag.
        let entry = entry_text(
            SystemTime::now() - Duration::from_secs(3600),
            &etag,
            &cdn.config_json(&key).unwrap(),
        );
        redis::cmd("SET")
            .arg(cache_key(&key))
            .arg(&entry)
            .query::<()>(&mut other_process)
            .unwrap();
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(PollingMode::manual_poll())
            .cache(RedisCache::new(&redis_url()).unwrap())
            .log_sink(NoLog)
            .start()
            .unwrap();
        assert!(client.send(ForceRefresh).await.unwrap().is_ok());
        assert_eq!(text(&client, "greeting").await, "from redis");
        let request = cdn.last_request().unwrap();
        assert_eq!(
            request.if_none_match(),
            Some(etag.as_str()),
            "the ETag from Redis was used"
        );
        sleep(200).await;
        let stored: String = redis::cmd("GET")
            .arg(cache_key(&key))
            .query(&mut other_process)
            .unwrap();
        let (time, rest) = stored.split_once('\n').unwrap();
        assert_eq!(
            rest,
            entry.split_once('\n').unwrap().1,
            "same ETag and JSON"
        );
        assert!(
            time.parse::<u128>().unwrap() > millis(SystemTime::now() - Duration::from_secs(60))
        );
        client.send(Close).await.unwrap();
    }

    #[actix_rt::test]
    async fn a_fresh_redis_entry_means_no_download_and_redis_down_means_no_outage() {
        let Some(mut other_process) = redis() else {
            return;
        };
        let cdn = MockCdn::start();
        let key = sdk_key("redis-fresh");
        cdn.set_config(&key, simple_config("greeting", "cdn"));
        let entry = entry_text(
            SystemTime::now(),
            "\"redis\"",
            &simple_config("greeting", "redis"),
        );
        redis::cmd("SET")
            .arg(cache_key(&key))
            .arg(&entry)
            .query::<()>(&mut other_process)
            .unwrap();
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .cache(RedisCache::new(&redis_url()).unwrap())
            .log_sink(NoLog)
            .start()
            .unwrap();
        assert_eq!(text(&client, "greeting").await, "redis");
        assert_eq!(cdn.config_request_count(&key), 0);
        client.send(Close).await.unwrap();

        let key = sdk_key("redis-down");
        cdn.set_config(&key, simple_config("greeting", "cdn"));
        let log = Arc::new(MemoryLog::new(LogLevel::Error));
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .cache(RedisCache::new("redis://127.0.0.1:1").unwrap())
            .log_sink(log.clone())
            .start()
            .unwrap();
        assert_eq!(text(&client, "greeting").await, "cdn");
        let ids: Vec<u32> = log.take().iter().map(|e| e.event_id).collect();
        assert!(ids.contains(&event::CACHE_READ_FAILED), "{ids:?}");
        client.send(Close).await.unwrap();
    }
}
