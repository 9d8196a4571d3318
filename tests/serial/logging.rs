//! Logging that follows the application: a client started before the `log` logger or the
//! `tracing` subscriber is installed logs once it is, and follows level changes and reloads.
//! (The rest of the logging tests are in `tests/it/logging.rs`.)
//!
//! Each test takes the process's one logger or subscriber ([`crate::global_log`]), which is off
//! (as if not installed) until the test routes it to its capture.

use configcat_actix::log::event;
use configcat_actix::*;

use crate::alone;
use crate::support::{MockCdn, manual_poll_client as client, sdk_key, simple_config};

/// The global `tracing` subscriber: its events of target `configcat`, behind a reloadable level.
#[cfg(feature = "tracing")]
mod tracing_capture {
    use std::fmt::Write as _;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::layer::Context;
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

    /// Installs the global subscriber at `level` (routes it to this capture); returns its
    /// events and its reload handle.
    pub fn install(level: LevelFilter) -> (Events, reload::Handle<LevelFilter, Registry>) {
        let events = Events::default();
        let (filter, handle) = reload::Layer::new(level);
        crate::global_log::tracing_route::route(filter.and_then(Capture(events.clone())));
        (events, handle)
    }
}

#[cfg(feature = "tracing")]
#[actix_rt::test]
async fn a_client_started_before_the_tracing_subscriber_logs_once_it_is_installed_and_follows_reloads()
 {
    use tracing::Level;
    use tracing::level_filters::LevelFilter;

    let _alone = alone().await;

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

    /// Installs the global logger at `level` (routes it to this capture).
    pub fn install(level: ::log::LevelFilter) -> &'static Capture {
        let capture: &'static Capture = Box::leak(Box::new(Capture {
            max: AtomicUsize::new(level as usize),
            records: Mutex::new(Vec::new()),
        }));
        crate::global_log::log_route::route(capture);
        capture
    }
}

#[cfg(feature = "log")]
#[actix_rt::test]
async fn a_client_started_before_the_logger_logs_once_it_is_installed_and_follows_changes() {
    use ::log::{Level, LevelFilter};

    let _alone = alone().await;

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
