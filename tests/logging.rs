//! Logging that follows the application: the level is asked of the `log` logger or the
//! `tracing` subscriber at each event (a client started before either is installed logs once it
//! is, and follows reloads); DEBUG events with their ids; the builder's log filter; the cap on
//! one message.
//!
//! The `log` and `tracing` tests each install their crate's global logger or subscriber, once
//! for this test binary, and keep only the events of their own client.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use configcat_actix::cache::InMemoryCache;
use configcat_actix::log::{MAX_MESSAGE_BYTES, event};
use configcat_actix::*;
use support::{MockCdn, sdk_key, simple_config};

/// A manual-poll client of `key` on `cdn` logging to `sink`.
fn client(cdn: &MockCdn, key: &str, sink: impl LogSink + 'static) -> ConfigCatBuilder {
    ConfigCat::builder(key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(sink)
}

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

/// The global `tracing` subscriber: its events of target `configcat`, behind a reloadable level.
#[cfg(feature = "tracing")]
mod tracing_capture {
    use std::fmt::Write as _;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::layer::{Context, SubscriberExt as _};
    use tracing_subscriber::{Layer, Registry, reload};

    /// Level, `event_id`, message.
    pub type Events = Arc<Mutex<Vec<(tracing::Level, u64, String)>>>;

    struct Capture(Events);

    #[derive(Default)]
    struct Fields {
        event_id: u64,
        message: String,
    }

    impl Visit for Fields {
        fn record_u64(&mut self, field: &Field, value: u64) {
            if field.name() == "event_id" {
                self.event_id = value;
            }
        }
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                let _ = write!(self.message, "{value:?}");
            }
        }
    }

    impl<S: tracing::Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            if event.metadata().target() != "configcat" {
                return;
            }
            let mut fields = Fields::default();
            event.record(&mut fields);
            self.0.lock().unwrap().push((
                *event.metadata().level(),
                fields.event_id,
                fields.message,
            ));
        }
    }

    /// Installs the global subscriber at `level`; returns its events and its reload handle.
    pub fn install(level: LevelFilter) -> (Events, reload::Handle<LevelFilter, Registry>) {
        let events = Events::default();
        let (filter, handle) = reload::Layer::new(level);
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(Capture(events.clone()));
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        (events, handle)
    }
}

#[cfg(feature = "tracing")]
#[actix_rt::test]
async fn a_client_started_before_the_tracing_subscriber_logs_once_it_is_installed_and_follows_reloads()
 {
    use tracing::Level;
    use tracing::level_filters::LevelFilter;

    let cdn = MockCdn::start();
    let key = sdk_key("tracing-installed-late");
    let client = client(&cdn, &key, TracingSink).start().unwrap();
    // No subscriber yet: a 404 (ERROR 1100) goes nowhere.
    assert!(client.send(ForceRefresh).await.unwrap().is_err());

    let (events, reload) = tracing_capture::install(LevelFilter::WARN);
    assert!(client.send(ForceRefresh).await.unwrap().is_err());
    let mine = |events: &tracing_capture::Events| -> Vec<(Level, u64)> {
        std::mem::take(&mut *events.lock().unwrap())
            .into_iter()
            .map(|(level, id, _)| (level, id))
            .collect()
    };
    assert_eq!(
        mine(&events),
        [(Level::ERROR, 1100)],
        "logged once installed"
    );

    // Raised to DEBUG at run time: the download's DEBUG event appears.
    reload.reload(LevelFilter::DEBUG).unwrap();
    cdn.set_config(&key, simple_config("flag", "on"));
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert!(mine(&events).contains(&(Level::DEBUG, u64::from(event::CONFIG_DOWNLOADED))));

    // Lowered to ERROR: a 304 (DEBUG) and a 500 at ERROR only.
    reload.reload(LevelFilter::ERROR).unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    cdn.push_status(500);
    assert!(client.send(ForceRefresh).await.unwrap().is_err());
    assert_eq!(mine(&events), [(Level::ERROR, 1101)]);
    client.send(Close).await.unwrap();
}

/// The global `log` logger: its records of target `configcat`, with a level a test changes.
#[cfg(feature = "log")]
mod log_capture {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub struct Capture {
        max: AtomicUsize,
        /// Level, `event_id`, message.
        pub records: Mutex<Vec<(::log::Level, u64, String)>>,
    }

    impl Capture {
        pub fn set_level(&self, level: ::log::LevelFilter) {
            self.max.store(level as usize, Ordering::SeqCst);
        }
    }

    impl ::log::Log for Capture {
        fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
            metadata.target() == "configcat"
                && metadata.level() as usize <= self.max.load(Ordering::SeqCst)
        }
        fn log(&self, record: &::log::Record<'_>) {
            if !self.enabled(record.metadata()) {
                return;
            }
            let event_id = record
                .key_values()
                .get(::log::kv::Key::from_str("event_id"))
                .and_then(|v| v.to_u64())
                .unwrap_or(0);
            self.records.lock().unwrap().push((
                record.level(),
                event_id,
                record.args().to_string(),
            ));
        }
        fn flush(&self) {}
    }

    /// Installs the global logger at `level`.
    pub fn install(level: ::log::LevelFilter) -> &'static Capture {
        let capture: &'static Capture = Box::leak(Box::new(Capture {
            max: AtomicUsize::new(level as usize),
            records: Mutex::new(Vec::new()),
        }));
        ::log::set_logger(capture).expect("the only logger");
        ::log::set_max_level(::log::LevelFilter::Trace);
        capture
    }
}

#[cfg(feature = "log")]
#[actix_rt::test]
async fn a_client_started_before_the_logger_logs_once_it_is_installed_and_follows_changes() {
    use ::log::{Level, LevelFilter};

    let cdn = MockCdn::start();
    let key = sdk_key("log-installed-late");
    let client = client(&cdn, &key, LogCrateSink).start().unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_err());

    let capture = log_capture::install(LevelFilter::Warn);
    let mine = || -> Vec<(Level, u64)> {
        std::mem::take(&mut *capture.records.lock().unwrap())
            .into_iter()
            .map(|(level, id, _)| (level, id))
            .collect()
    };
    assert!(client.send(ForceRefresh).await.unwrap().is_err());
    assert_eq!(mine(), [(Level::Error, 1100)], "logged once installed");

    capture.set_level(LevelFilter::Debug);
    cdn.set_config(&key, simple_config("flag", "on"));
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert!(mine().contains(&(Level::Debug, u64::from(event::CONFIG_DOWNLOADED))));

    capture.set_level(LevelFilter::Error);
    client.send(ForceRefresh).await.unwrap().unwrap();
    cdn.push_status(500);
    assert!(client.send(ForceRefresh).await.unwrap().is_err());
    assert_eq!(mine(), [(Level::Error, 1101)]);
    client.send(Close).await.unwrap();
}
