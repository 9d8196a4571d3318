//! One evaluation surface: the messages, the handle, the snapshot and `web::Flags` answer each
//! verb alike; the default user never waits behind the external cache; the first download is
//! published once, ready with it. (Behind a paused Redis: `tests/serial/one_surface.rs`.)

use crate::support;

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
