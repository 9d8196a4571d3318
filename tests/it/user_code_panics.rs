//! Code the user plugs in (a log sink, a cache) may panic. The client must lose at most what
//! that code was doing, never an actor: evaluation, refresh and recovery go on.

use crate::support;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use configcat_actix::cache::{CacheError, ConfigCache};
use configcat_actix::*;
use futures_util::future::BoxFuture;
use support::{MockCdn, sdk_key, simple_config};

/// A sink that panics on every event it is given, and counts them.
#[derive(Default)]
struct PanickingSink {
    calls: AtomicUsize,
}

impl LogSink for PanickingSink {
    fn enabled(&self, _: LogLevel) -> bool {
        true
    }

    fn log(&self, _: LogLevel, event_id: u32, _: fmt::Arguments<'_>) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        panic!("a bug in the application's log sink (event {event_id})");
    }
}

#[actix_rt::test]
async fn a_log_sink_that_panics_loses_its_lines_and_nothing_else() {
    let cdn = MockCdn::start();
    let key = sdk_key("panicking-sink");
    cdn.set_config(&key, simple_config("greeting", "v1"));
    let sink = Arc::new(PanickingSink::default());
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(sink.clone())
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    let greeting = || client.send(GetValue::new("greeting", String::from("default")));
    assert_eq!(greeting().await.unwrap(), "v1");

    // Each of these logs (evaluation log, 1001, 1101), and the sink panics each time.
    let missing = client.send(GetValue::new("missing", 7_i64)).await.unwrap();
    assert_eq!(missing, 7, "the default for an unknown key");
    cdn.set_status(500);
    let failed = client.send(ForceRefresh).await.unwrap();
    assert!(failed.is_err(), "the refresh failure is still reported");
    assert_eq!(
        greeting().await.unwrap(),
        "v1",
        "the last good config is kept"
    );

    cdn.clear_status();
    cdn.set_config(&key, simple_config("greeting", "v2"));
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    assert_eq!(greeting().await.unwrap(), "v2", "the client recovered");
    assert!(
        sink.calls.load(Ordering::SeqCst) >= 3,
        "the sink was called (and panicked) {} times",
        sink.calls.load(Ordering::SeqCst)
    );
}

/// A cache whose reads and writes panic.
struct PanickingCache;

impl ConfigCache for PanickingCache {
    fn get(&self, _: &str) -> BoxFuture<'static, Result<Option<String>, CacheError>> {
        panic!("a bug in the application's cache (get)");
    }

    fn set(&self, _: &str, _: String) -> BoxFuture<'static, Result<(), CacheError>> {
        Box::pin(async { panic!("a bug in the application's cache (set)") })
    }
}

#[actix_rt::test]
async fn a_cache_that_panics_is_logged_as_a_failing_cache() {
    let cdn = MockCdn::start();
    let key = sdk_key("panicking-cache");
    cdn.set_config(&key, simple_config("greeting", "v1"));
    let log = Arc::new(MemoryLog::new(LogLevel::Error));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .cache(PanickingCache)
        .log_sink(log.clone())
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    let greeting = || client.send(GetValue::new("greeting", String::from("default")));
    assert_eq!(greeting().await.unwrap(), "v1");

    cdn.set_config(&key, simple_config("greeting", "v2"));
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    assert_eq!(greeting().await.unwrap(), "v2", "refreshes go on");

    let events = log.take();
    let with_id = |id: u32| {
        events
            .iter()
            .filter(|e| e.event_id == id && e.message.contains("panicked"))
            .count()
    };
    assert!(
        with_id(2200) >= 1,
        "read failures logged as 2200: {events:?}"
    );
    // Both writes failed; a streak of failures is logged at its first (tests/quiet_failures.rs).
    assert!(
        with_id(2201) >= 1,
        "write failures logged as 2201: {events:?}"
    );
}
