//! Logging that follows the application: the level is asked of the `log` logger or the
//! `tracing` subscriber at each event (a client started before either is installed logs once it
//! is, and follows reloads); DEBUG events with their ids; the builder's log filter; the cap on
//! one message.
//!
//! The `log` and `tracing` tests that install their crate's global logger or subscriber are in
//! `tests/serial/logging.rs`.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use configcat_actix::cache::InMemoryCache;
use configcat_actix::log::{MAX_MESSAGE_BYTES, event};
use configcat_actix::*;
use support::{MockCdn, manual_poll_client as client, sdk_key, simple_config};

fn ids(events: &[LogEvent]) -> Vec<(LogLevel, u32)> {
    events.iter().map(|e| (e.level, e.event_id)).collect()
}

#[actix_rt::test]
async fn each_download_304_failure_cache_read_and_write_and_readiness_is_logged_at_debug() {
    let cdn = MockCdn::start();
    let key = sdk_key("debug-events");
    cdn.set_config(&key, simple_config("flag", "on"));
    let log = Arc::new(MemoryLog::new(LogLevel::Debug));
    let client = client(&cdn, &key, log.clone())
        .cache(InMemoryCache::new())
        .start()
        .unwrap();
    client
        .send(WaitForReady(Duration::from_secs(10)))
        .await
        .unwrap();
    // Manual poll: ready after the first read of the (empty) external cache.
    assert_eq!(
        ids(&log.take()),
        [
            (LogLevel::Debug, event::CACHE_READ),
            (LogLevel::Debug, event::CLIENT_READY),
        ]
    );

    client.send(ForceRefresh).await.unwrap().unwrap();
    let events = log.take();
    let seen = ids(&events);
    assert!(
        seen.contains(&(LogLevel::Debug, event::CONFIG_DOWNLOADED)),
        "{events:?}"
    );
    assert!(
        seen.contains(&(LogLevel::Debug, event::CACHE_WRITTEN)),
        "{events:?}"
    );
    let download = seen.iter().position(|e| e.1 == event::CONFIG_DOWNLOADED);
    let write = seen.iter().position(|e| e.1 == event::CACHE_WRITTEN);
    assert!(
        download < write,
        "written after it was downloaded: {events:?}"
    );

    client.send(ForceRefresh).await.unwrap().unwrap();
    let seen = ids(&log.take());
    assert!(
        seen.contains(&(LogLevel::Debug, event::CONFIG_NOT_MODIFIED)),
        "{seen:?}"
    );

    cdn.push_status(503);
    assert!(client.send(ForceRefresh).await.unwrap().is_err());
    let seen = ids(&log.take());
    assert!(
        seen.contains(&(LogLevel::Error, event::FETCH_UNEXPECTED_STATUS)),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(LogLevel::Debug, event::DOWNLOAD_FAILED)),
        "{seen:?}"
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn the_log_filter_decides_what_reaches_the_sink_and_on_error_still_sees_every_error() {
    let cdn = MockCdn::start();
    let key = sdk_key("log-filter");
    let log = Arc::new(MemoryLog::new(LogLevel::Debug));
    let seen_by_filter = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let client = {
        let seen_by_filter = seen_by_filter.clone();
        let errors = errors.clone();
        client(&cdn, &key, log.clone())
            .log_filter(move |level, event_id, message| {
                seen_by_filter
                    .lock()
                    .unwrap()
                    .push((level, event_id, message.to_owned()));
                // Keep only errors, and not the "wrong SDK key" one.
                level == LogLevel::Error && event_id != event::FETCH_INVALID_SDK_KEY
            })
            .on_error(move |message| errors.lock().unwrap().push(message.to_owned()))
            .start()
            .unwrap()
    };
    // No config for the key: 404, ERROR 1100; then 500, ERROR 1101.
    assert!(client.send(ForceRefresh).await.unwrap().is_err());
    cdn.push_status(500);
    assert!(client.send(ForceRefresh).await.unwrap().is_err());
    client.send(Close).await.unwrap();

    assert_eq!(
        ids(&log.take()),
        [(LogLevel::Error, event::FETCH_UNEXPECTED_STATUS)]
    );
    let seen = seen_by_filter.lock().unwrap();
    let asked: Vec<(LogLevel, u32)> = seen.iter().map(|(l, id, _)| (*l, *id)).collect();
    for expected in [
        (LogLevel::Debug, event::CLIENT_READY),
        (LogLevel::Error, event::FETCH_INVALID_SDK_KEY),
        (LogLevel::Debug, event::DOWNLOAD_FAILED),
        (LogLevel::Error, event::FETCH_UNEXPECTED_STATUS),
    ] {
        assert!(asked.contains(&expected), "{expected:?} in {asked:?}");
    }
    // The filter gets the message as the sink would.
    let (_, _, message) = seen
        .iter()
        .find(|(_, id, _)| *id == event::FETCH_UNEXPECTED_STATUS)
        .unwrap();
    assert!(message.contains("500 Internal Server Error"), "{message}");
    assert_eq!(
        errors.lock().unwrap().len(),
        2,
        "{:?}",
        errors.lock().unwrap()
    );
}

#[actix_rt::test]
async fn one_message_is_capped_with_a_note_and_on_error_gets_the_capped_text() {
    let cdn = MockCdn::start();
    let key = sdk_key("capped-message");
    // Error 1001 lists every key of the config: 2,000 keys of 100 characters, 200 KB.
    let settings: serde_json::Map<String, serde_json::Value> = (0..2000)
        .map(|i| {
            let name = format!("{i:0>100}");
            (name, serde_json::json!({"t": 1, "v": {"s": "x"}}))
        })
        .collect();
    cdn.set_config(&key, serde_json::json!({ "f": settings }).to_string());
    let log = Arc::new(MemoryLog::new(LogLevel::Warn));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let client = {
        let errors = errors.clone();
        client(&cdn, &key, log.clone())
            .on_error(move |message| errors.lock().unwrap().push(message.to_owned()))
            .start()
            .unwrap()
    };
    client.send(ForceRefresh).await.unwrap().unwrap();
    let value = client
        .send(GetValue::new("missing", "default".to_owned()))
        .await
        .unwrap();
    assert_eq!(value, "default");
    client.send(Close).await.unwrap();

    let events = log.take();
    let missing = events
        .iter()
        .find(|e| e.event_id == event::SETTING_KEY_MISSING)
        .expect("1001");
    assert!(
        missing.message.len() <= MAX_MESSAGE_BYTES + 100,
        "{} bytes",
        missing.message.len()
    );
    assert!(missing.message.len() > MAX_MESSAGE_BYTES / 2);
    assert!(
        missing
            .message
            .ends_with(&format!("(cut: longer than {MAX_MESSAGE_BYTES} bytes)"))
    );
    let errors = errors.lock().unwrap();
    assert_eq!(errors.as_slice(), std::slice::from_ref(&missing.message));
}
