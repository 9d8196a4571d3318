//! One evaluation surface: the messages, the handle, the snapshot and `web::Flags` answer each
//! verb alike; the default user never waits behind the external cache; the first download is
//! published once, ready with it.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use configcat_actix::log::event;
use configcat_actix::*;
use support::{MockCdn, sdk_key, targeting_config};

/// Every verb, by message, handle and snapshot, with the same types (this test does not
/// compile against a surface whose verbs differ in name or type).
#[actix_rt::test]
async fn every_verb_answers_alike_by_message_handle_and_snapshot() {
    let cdn = MockCdn::start();
    let key = sdk_key("one-surface-verbs");
    cdn.set_config(&key, targeting_config());
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .default_user(User::new("u1").email("a@example.com"))
        .log_sink(NoLog)
        .start()
        .unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    let snapshot = client.send(GetSnapshot).await.unwrap();
    let outsider = User::new("u2").email("b@elsewhere.org");

    let keys: Vec<String> = client.send(GetAllKeys).await.unwrap();
    assert_eq!(keys, ["enabled", "greeting"]);
    assert_eq!(handle.get_all_keys(), keys);
    assert_eq!(snapshot.get_all_keys(), keys);

    for user in [None, Some(&outsider)] {
        let values: HashMap<String, Value> =
            client.send(GetAllValues(user.cloned())).await.unwrap();
        let greeting = if user.is_none() {
            "hi, colleague"
        } else {
            "hello"
        };
        assert_eq!(values["greeting"], Value::from(greeting));
        assert_eq!(handle.get_all_values(user), values);
        assert_eq!(snapshot.get_all_values(user), values);

        let details = client
            .send(GetAllValueDetails(user.cloned()))
            .await
            .unwrap();
        let variations = |all: &[EvaluationDetails<Value>]| -> Vec<Option<SmolStr>> {
            all.iter().map(|d| d.variation_id.clone()).collect()
        };
        assert_eq!(
            variations(&handle.get_all_value_details(user)),
            variations(&details)
        );
        assert_eq!(
            variations(&snapshot.get_all_value_details(user)),
            variations(&details)
        );
    }

    let found: Option<(String, Value)> = client
        .send(GetKeyAndValue("v-colleague".into()))
        .await
        .unwrap();
    assert_eq!(
        found,
        Some(("greeting".into(), Value::from("hi, colleague")))
    );
    assert_eq!(handle.get_key_and_value("v-colleague"), found);
    assert_eq!(snapshot.get_key_and_value("v-colleague"), found);
    client.send(Close).await.unwrap();
}

/// After `Close`, every verb of a handle answers as with no config, saying why once per call
/// (WARNING 3201 naming the verb), and the details carry `ClientClosed`.
#[actix_rt::test]
async fn after_close_every_handle_verb_says_the_client_is_closed() {
    let cdn = MockCdn::start();
    let key = sdk_key("one-surface-closed");
    cdn.set_config(&key, targeting_config());
    let log = Arc::new(MemoryLog::new(LogLevel::Warn));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .default_user(User::new("u1").email("a@example.com"))
        .log_sink(log.clone())
        .start()
        .unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    let snapshot = handle.snapshot();
    client.send(Close).await.unwrap();

    assert_eq!(handle.get_value("greeting", String::from("d"), None), "d");
    let details = handle.get_value_details("greeting", String::from("d"), None);
    assert_eq!(details.error, Some(EvaluationError::ClientClosed));
    assert_eq!(
        details.user.map(|u| u.identifier().to_owned()),
        Some("u1".to_owned())
    );
    assert!(handle.get_all_keys().is_empty());
    assert!(handle.get_all_values(None).is_empty());
    assert!(handle.get_all_value_details(None).is_empty());
    assert_eq!(handle.get_key_and_value("v-colleague"), None);
    let said: Vec<String> = log
        .take()
        .into_iter()
        .filter(|e| e.event_id == event::CLIENT_DISPOSED)
        .map(|e| e.message)
        .collect();
    for verb in [
        "get_value",
        "get_value_details",
        "get_all_keys",
        "get_all_values",
        "get_all_value_details",
        "get_key_and_value",
    ] {
        let phrase = format!("`{verb}()`");
        assert_eq!(
            said.iter().filter(|m| m.contains(&phrase)).count(),
            1,
            "{verb}: {said:?}"
        );
    }
    // A snapshot is frozen: it answers from what it was taken with.
    assert_eq!(
        snapshot.get_value("greeting", String::from("d"), None),
        "hi, colleague"
    );
}

/// The first download is published once, ready with it: `on_config_changed` (which runs
/// right after the publish) already finds the client ready.
#[actix_rt::test]
async fn the_first_download_is_published_ready() {
    let cdn = MockCdn::start();
    let key = sdk_key("one-surface-first");
    cdn.set_config(&key, targeting_config());
    let handle_cell: Arc<OnceLock<ConfigCatHandle>> = Arc::default();
    let seen: Arc<Mutex<Vec<Option<ClientCacheState>>>> = Arc::default();
    let (cell, record) = (handle_cell.clone(), seen.clone());
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .on_config_changed(move |_| {
            let state = cell.get().and_then(ConfigCatHandle::ready_state);
            record.lock().unwrap().push(state);
        })
        .log_sink(NoLog)
        .start()
        .unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    // Manual poll is ready after the first read of the (absent) external cache: wait for
    // that, then make the first download.
    handle.wait_for_ready(Duration::from_secs(5)).await;
    handle_cell.set(handle.clone()).ok().unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(*seen.lock().unwrap(), [Some(ClientCacheState::NoFlagData)]);
    client.send(Close).await.unwrap();

    // Auto poll becomes ready with its first download.
    let key = sdk_key("one-surface-first-auto");
    cdn.set_config(&key, targeting_config());
    let handle_cell: Arc<OnceLock<ConfigCatHandle>> = Arc::default();
    let seen: Arc<Mutex<Vec<Option<ClientCacheState>>>> = Arc::default();
    let (cell, record) = (handle_cell.clone(), seen.clone());
    // The CDN answers only once the hook can see the handle.
    cdn.set_delay(Duration::from_millis(300));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::auto_poll(Duration::from_secs(60)))
        .on_config_changed(move |_| {
            let state = cell.get().and_then(ConfigCatHandle::ready_state);
            record.lock().unwrap().push(state);
        })
        .log_sink(NoLog)
        .start()
        .unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    handle_cell.set(handle.clone()).ok().unwrap();
    assert_eq!(
        handle.wait_for_ready(Duration::from_secs(10)).await,
        ClientCacheState::HasUpToDateFlagData
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [Some(ClientCacheState::HasUpToDateFlagData)],
        "the hook ran after a publish that made the client ready"
    );
    client.send(Close).await.unwrap();
}

#[cfg(feature = "redis")]
mod behind_a_paused_redis {
    use std::time::Instant;

    use configcat_actix::cache::RedisCache;

    use super::*;
    use support::{redis_connection, redis_url};

    /// `SetDefaultUser` and the evaluations after it are answered while the config store waits
    /// for a write to a Redis that does not answer: the default user does not go through the
    /// cache actor. The Redis is paused with `CLIENT PAUSE` for 2 s (as `DEBUG SLEEP 2` would,
    /// but `DEBUG` is off by default).
    #[actix_rt::test]
    async fn the_default_user_and_evaluations_do_not_wait_for_a_cache_write() {
        let Some(mut redis) = redis_connection() else {
            return;
        };
        let cdn = MockCdn::start();
        // Unique per run: the cache key is derived from the SDK key.
        let key = sdk_key(&format!("paused-redis-{}", std::process::id()));
        cdn.set_config(&key, targeting_config());
        let cache = RedisCache::builder(&redis_url())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(PollingMode::manual_poll())
            .cache(cache)
            .cache_timeout(Duration::from_secs(10))
            // The refresh below does not re-read the cache first: its write is the first
            // thing that meets the paused Redis.
            .cache_sync_interval(Duration::from_secs(600))
            .log_sink(NoLog)
            .start()
            .unwrap();
        client.send(ForceRefresh).await.unwrap().unwrap();
        let greeting = || GetValue::new("greeting", String::new());
        assert_eq!(client.send(greeting()).await.unwrap(), "hello");

        cdn.set_config(
            &key,
            targeting_config().replace("hi, colleague", "hi again"),
        );
        // The download takes 500 ms: Redis is paused while it is under way (after the lease
        // was taken), so that its write meets the pause.
        cdn.set_delay(Duration::from_millis(500));
        let requests = cdn.requests().len();
        let asked = Instant::now();
        let refresh = actix_rt::spawn(client.send(ForceRefresh));
        while cdn.requests().len() == requests {
            assert!(
                asked.elapsed() < Duration::from_secs(5),
                "the refresh never fetched"
            );
            support::sleep(5).await;
        }
        let paused_at = Instant::now();
        redis::cmd("CLIENT")
            .arg(&["PAUSE", "2000", "ALL"])
            .query::<()>(&mut redis)
            .unwrap();
        let pause = Duration::from_millis(2000);
        // The download is in: its store now waits for the write to the paused Redis.
        support::sleep(800).await;

        client.do_send(SetDefaultUser(User::new("u1").email("a@example.com")));
        let sent = Instant::now();
        let answers: Vec<_> = (0..100)
            .map(|_| {
                let answer = client.send(greeting());
                async move {
                    let value = answer.await.unwrap();
                    (value, sent.elapsed())
                }
            })
            .collect();
        let answers = futures_util::future::join_all(answers).await;
        let batch_over = paused_at.elapsed();
        for (value, took) in &answers {
            // The old config (its successor is still being written), for the new user.
            assert_eq!(value, "hi, colleague");
            assert!(
                *took < Duration::from_millis(500),
                "answered after {took:?}"
            );
        }
        assert!(
            batch_over < pause,
            "the batch ended {batch_over:?} after the pause began"
        );
        assert!(
            !refresh.is_finished(),
            "the refresh is still waiting for its write"
        );

        // Once Redis answers, the download is written and served, for the same default user.
        refresh.await.unwrap().unwrap().unwrap();
        cdn.clear_delay();
        assert!(paused_at.elapsed() >= pause / 2);
        assert_eq!(client.send(greeting()).await.unwrap(), "hi again");
        client.send(Close).await.unwrap();
        let _ = redis::cmd("DEL")
            .arg(configcat_actix::cache::cache_key(&key))
            .query::<i64>(&mut redis);
    }
}
