//! `on_config_fetched`: called after every fetch attempt, once its outcome is stored, with what
//! it brought and what started it.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use configcat_actix::*;
use support::{MockCdn, sdk_key, simple_config, text, wait_for};

type Seen = Arc<Mutex<Vec<ConfigFetched>>>;

fn client(cdn: &MockCdn, key: &str, mode: PollingMode, seen: &Seen) -> actix::Addr<ConfigCat> {
    let seen = seen.clone();
    ConfigCat::builder(key)
        .base_url(cdn.base_url())
        .polling_mode(mode)
        .log_sink(NoLog)
        .on_config_fetched(move |fetched| seen.lock().unwrap().push(fetched.clone()))
        .start()
        .unwrap()
}

#[actix_rt::test]
async fn each_fetch_reports_its_result_and_what_started_it() {
    let cdn = MockCdn::start();
    let key = sdk_key("config-fetched-results");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let seen = Seen::default();
    let client = client(
        &cdn,
        &key,
        PollingMode::auto_poll(Duration::from_secs(3600)),
        &seen,
    );
    let first = wait_for(&seen, 1).await;
    assert_eq!(first[0].result, FetchResult::Changed);
    assert_eq!(first[0].trigger, FetchTrigger::Policy);
    assert!(!first[0].is_initiated_by_user());

    client.send(ForceRefresh).await.unwrap().unwrap();
    cdn.set_config(&key, simple_config("greeting", "changed"));
    client.send(ForceRefresh).await.unwrap().unwrap();
    // The hook runs once the outcome is stored: the new value is served when it is called.
    assert_eq!(text(&client, "greeting").await, "changed");
    cdn.set_send_etag(false);
    client.send(ForceRefresh).await.unwrap().unwrap();
    cdn.set_status(500);
    assert!(client.send(ForceRefresh).await.unwrap().is_err());

    let seen = wait_for(&seen, 5).await;
    let results: Vec<_> = seen.iter().map(|f| f.result.clone()).collect();
    assert_eq!(
        results,
        vec![
            FetchResult::Changed,
            FetchResult::NotModified,
            FetchResult::Changed,
            FetchResult::Unchanged,
            FetchResult::Failed(FetchError::UnexpectedStatus {
                status: 500,
                reason: "Internal Server Error".into()
            }),
        ]
    );
    for fetched in &seen[1..] {
        assert_eq!(fetched.trigger, FetchTrigger::ForceRefresh);
        assert!(fetched.is_initiated_by_user());
    }
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn the_hook_sees_the_new_config_served() {
    let cdn = MockCdn::start();
    let key = sdk_key("config-fetched-order");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let handle_slot: Arc<Mutex<Option<ConfigCatHandle>>> = Arc::default();
    let values = Arc::new(Mutex::new(Vec::new()));
    let (slot, got) = (handle_slot.clone(), values.clone());
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(NoLog)
        .on_config_fetched(move |_| {
            if let Some(handle) = slot.lock().unwrap().as_ref() {
                got.lock()
                    .unwrap()
                    .push(handle.get_value("greeting", String::new(), None));
            }
        })
        .start()
        .unwrap();
    *handle_slot.lock().unwrap() = Some(client.send(GetHandle).await.unwrap());
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(*values.lock().unwrap(), vec!["hello".to_owned()]);
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_panicking_hook_is_caught_and_fetching_goes_on() {
    let cdn = MockCdn::start();
    let key = sdk_key("config-fetched-panics");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let log = Arc::new(MemoryLog::new(LogLevel::Error));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(log.clone())
        .on_config_fetched(|_| panic!("a bug in the hook"))
        .start()
        .unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(cdn.request_count(), 2);
    let hook_panics = log
        .take()
        .iter()
        .filter(|e| e.event_id == log::event::HOOK_PANICKED)
        .count();
    assert_eq!(hook_panics, 2);
    assert_eq!(text(&client, "greeting").await, "hello");
    client.send(Close).await.unwrap();
}
