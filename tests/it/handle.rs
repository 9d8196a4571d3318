//! The live handle: evaluates on the caller's thread from the newest config, with the semantics
//! of the messages, from plain threads and foreign runtimes; readiness; after `Close`.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use configcat_actix::cache::{ConfigCache, InMemoryCache, cache_key};
use configcat_actix::log::event;
use configcat_actix::*;
use support::{MockCdn, sdk_key, simple_config, sleep, targeting_config};

fn assert_shareable<T: Clone + Send + Sync + 'static>() {}

#[test]
fn the_handle_is_clone_send_sync_and_static() {
    assert_shareable::<ConfigCatHandle>();
}

#[actix_rt::test]
async fn the_handle_always_sees_the_newest_config() {
    let cdn = MockCdn::start();
    let key = sdk_key("handle-newest");
    cdn.set_config(&key, simple_config("greeting", "v1"));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(NoLog)
        .start()
        .unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    assert_eq!(
        handle.get_value("greeting", String::from("default"), None),
        "default"
    );
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(
        handle.get_value("greeting", String::from("default"), None),
        "v1"
    );
    cdn.set_config(&key, simple_config("greeting", "v2"));
    client.send(ForceRefresh).await.unwrap().unwrap();
    // The same handle, no new message: the newest config.
    assert_eq!(
        handle.get_value("greeting", String::from("default"), None),
        "v2"
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn the_handle_evaluates_as_the_messages_do() {
    let cdn = MockCdn::start();
    let key = sdk_key("handle-semantics");
    cdn.set_config(&key, targeting_config());
    let evaluated = Arc::new(Mutex::new(Vec::new()));
    let seen = evaluated.clone();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .default_user(User::new("u1").email("a@example.com"))
        .on_flag_evaluated(move |details| seen.lock().unwrap().push(details.key.clone()))
        .log_sink(NoLog)
        .start()
        .unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    handle.wait_for_ready(Duration::from_secs(5)).await;
    let outsider = User::new("u2").email("b@elsewhere.org");
    for user in [None, Some(&outsider)] {
        let by_message = client
            .send(GetValueDetails::new("greeting", String::new()).user(user.cloned()))
            .await
            .unwrap();
        let by_handle = handle.get_value_details("greeting", String::new(), user);
        assert_eq!(by_handle.value, by_message.value, "{user:?}");
        assert_eq!(by_handle.variation_id, by_message.variation_id);
        assert_eq!(
            by_handle.matched_targeting_rule.is_some(),
            by_message.matched_targeting_rule.is_some()
        );
        assert_eq!(
            handle.get_value("greeting", String::new(), user),
            client
                .send(GetValue::new("greeting", String::new()).user(user.cloned()))
                .await
                .unwrap()
        );
    }
    assert_eq!(
        handle.get_value("greeting", String::new(), None),
        "hi, colleague",
        "the default user"
    );
    assert_eq!(handle.get_all_keys(), vec!["enabled", "greeting"]);
    assert_eq!(
        handle.get_all_values(None),
        client.send(GetAllValues(None)).await.unwrap()
    );
    assert_eq!(handle.get_all_value_details(None).len(), 2);
    assert_eq!(
        handle.get_key_and_value("v-colleague"),
        Some(("greeting".to_owned(), Value::from("hi, colleague")))
    );
    assert_eq!(
        handle.snapshot().get_all_keys(),
        vec!["enabled", "greeting"]
    );
    assert!(
        evaluated
            .lock()
            .unwrap()
            .iter()
            .filter(|k| *k == "greeting")
            .count()
            >= 4,
        "on_flag_evaluated hears the handle's reads"
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_default_user_change_is_seen_by_the_next_message_and_survives_a_refresh() {
    let cdn = MockCdn::start();
    let key = sdk_key("handle-default-user");
    cdn.set_config(&key, targeting_config());
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(NoLog)
        .start()
        .unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    let greeting = || GetValue::new("greeting", String::new());
    assert_eq!(client.send(greeting()).await.unwrap(), "hello");

    // Not awaited: the message after it is answered with the new default user all the same.
    client.do_send(SetDefaultUser(User::new("u1").email("a@example.com")));
    assert_eq!(client.send(greeting()).await.unwrap(), "hi, colleague");
    assert_eq!(
        handle.get_value("greeting", String::new(), None),
        "hi, colleague"
    );

    // A new download is published with the default user kept.
    cdn.set_config(
        &key,
        targeting_config().replace("hi, colleague", "hi again"),
    );
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(
        handle.get_value("greeting", String::new(), None),
        "hi again"
    );
    assert_eq!(
        handle.snapshot().get_value("greeting", String::new(), None),
        "hi again"
    );

    client.do_send(ClearDefaultUser);
    assert_eq!(client.send(greeting()).await.unwrap(), "hello");
    assert_eq!(handle.get_value("greeting", String::new(), None), "hello");
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn the_handle_reads_from_plain_threads_and_other_runtimes() {
    let cdn = MockCdn::start();
    let key = sdk_key("handle-threads");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .log_sink(NoLog)
        .start()
        .unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    assert_eq!(
        handle.wait_for_ready(Duration::from_secs(5)).await,
        ClientCacheState::HasUpToDateFlagData
    );
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                (0..1000)
                    .map(|_| handle.get_value("greeting", String::new(), None))
                    .all(|v| v == "hello")
            })
        })
        .collect();
    for thread in threads {
        assert!(thread.join().unwrap());
    }
    // A Tokio runtime of its own, outside the actix System: wait_for_ready works there too.
    let foreign = handle.clone();
    let from_tokio = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(async move {
                let state = foreign.wait_for_ready(Duration::from_secs(1)).await;
                let task =
                    tokio::spawn(async move { foreign.get_value("greeting", String::new(), None) });
                (state, task.await.unwrap())
            })
    })
    .join()
    .unwrap();
    assert_eq!(
        from_tokio,
        (ClientCacheState::HasUpToDateFlagData, "hello".to_owned())
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn waiting_for_ready_times_out_with_warning_4200() {
    let cdn = MockCdn::start();
    let key = sdk_key("handle-ready-timeout");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    cdn.set_delay(Duration::from_secs(3));
    let log = Arc::new(MemoryLog::new(LogLevel::Warn));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .log_sink(log.clone())
        .start()
        .unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    assert_eq!(handle.ready_state(), None);
    let asked = Instant::now();
    let state = handle.wait_for_ready(Duration::from_millis(300)).await;
    assert_eq!(state, ClientCacheState::NoFlagData);
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    let warnings: Vec<_> = log
        .take()
        .into_iter()
        .filter(|e| e.event_id == event::CLIENT_INIT_TIMED_OUT)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0].message,
        "Client initialization timed out after 0.3s."
    );
    // The message says the same once the download is in.
    let state = client
        .send(WaitForReady(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(state, ClientCacheState::HasUpToDateFlagData);
    assert_eq!(
        handle.ready_state(),
        Some(ClientCacheState::HasUpToDateFlagData)
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn after_close_the_handle_returns_defaults_saying_the_client_is_closed() {
    let cdn = MockCdn::start();
    let key = sdk_key("handle-closed");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let log = Arc::new(MemoryLog::new(LogLevel::Warn));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .log_sink(log.clone())
        .start()
        .unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    handle.wait_for_ready(Duration::from_secs(5)).await;
    assert_eq!(handle.get_value("greeting", String::new(), None), "hello");
    client.send(Close).await.unwrap();
    assert_eq!(
        handle.get_value("greeting", String::from("default"), None),
        "default"
    );
    let details = handle.get_value_details("greeting", String::from("default"), None);
    assert_eq!(details.value, "default");
    assert!(details.is_default_value);
    assert_eq!(details.error, Some(EvaluationError::ClientClosed));
    assert!(handle.get_all_keys().is_empty());
    let disposed = log
        .take()
        .into_iter()
        .filter(|e| e.event_id == event::CLIENT_DISPOSED)
        .count();
    assert_eq!(disposed, 3);
}

#[actix_rt::test]
async fn a_lazy_loading_handle_refreshes_an_expired_config() {
    let cdn = MockCdn::start();
    let key = sdk_key("handle-lazy");
    cdn.set_config(&key, simple_config("greeting", "v1"));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::lazy_load(Duration::from_millis(200)))
        .log_sink(NoLog)
        .start()
        .unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    // No config yet: the read answers the default and asks for a download.
    assert_eq!(
        handle.get_value("greeting", String::from("default"), None),
        "default"
    );
    let mut seen = String::new();
    for _ in 0..100 {
        seen = handle.get_value("greeting", String::from("default"), None);
        if seen == "v1" {
            break;
        }
        sleep(20).await;
    }
    assert_eq!(seen, "v1");
    cdn.set_config(&key, simple_config("greeting", "v2"));
    sleep(300).await;
    for _ in 0..100 {
        seen = handle.get_value("greeting", String::from("default"), None);
        if seen == "v2" {
            break;
        }
        sleep(20).await;
    }
    assert_eq!(seen, "v2", "the expired config was refreshed");
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_manual_polling_handle_follows_another_processes_download() {
    let cdn = MockCdn::start();
    let key = sdk_key("handle-follows");
    let cache = InMemoryCache::new();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .cache(cache.clone())
        .log_sink(NoLog)
        .start()
        .unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    handle.wait_for_ready(Duration::from_secs(5)).await;
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let json = simple_config("greeting", "from another process");
    cache
        .set(&cache_key(&key), format!("{millis}\n\"other\"\n{json}"))
        .await
        .unwrap();
    let since = Instant::now();
    let mut seen = String::new();
    while since.elapsed() < Duration::from_secs(3) {
        seen = handle.get_value("greeting", String::from("default"), None);
        if seen == "from another process" {
            break;
        }
        sleep(10).await;
    }
    assert_eq!(seen, "from another process");
    assert!(
        since.elapsed() < Duration::from_secs(1),
        "{:?}",
        since.elapsed()
    );
    assert_eq!(cdn.request_count(), 0);
    client.send(Close).await.unwrap();
}
