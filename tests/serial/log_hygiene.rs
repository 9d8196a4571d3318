//! No secret in any log line or error: a client runs against fault-injecting CDNs (over HTTP/2
//! and TLS, through a proxy with credentials, and over plain HTTP) with every event captured at
//! every level, through its own sink and, with the `log` and `tracing` features, through the
//! application's logger and subscriber at TRACE for every target (the HTTP stack's too). Every
//! line and every error text is scanned for the SDK key, its secret parts and the proxy
//! passwords.
//!
//! It installs the global `log` logger and `tracing` subscriber (routes them to its capture).

use crate::support;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use configcat_actix::*;
use support::{ForwardProxy, MockCdn, refused_base_url, simple_config, with_redirect};

const PART_A: &str = "hYg13n3SecretPartA4567";
const PART_B: &str = "hYg13n3SecretPartB4567";
const PASSWORD: &str = "pr0xy-Pa55word-S3cret";
const WRONG_PASSWORD: &str = "Wr0ng-Pa55word-S3cret";

fn sdk_key() -> String {
    format!("configcat-sdk-1/{PART_A}/{PART_B}")
}

/// What must appear nowhere: the key, its parts (and a piece of them, so that a partial leak
/// is caught too), the passwords and the `Proxy-Authorization` tokens.
fn secrets() -> Vec<String> {
    let token = |password: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("user:{password}"))
    };
    vec![
        sdk_key(),
        PART_A.to_owned(),
        PART_B.to_owned(),
        PART_A[..12].to_owned(),
        PASSWORD.to_owned(),
        WRONG_PASSWORD.to_owned(),
        token(PASSWORD),
        token(WRONG_PASSWORD),
    ]
}

/// Everything written, as (where, text).
type Lines = Arc<Mutex<Vec<(String, String)>>>;

/// The client's sink: a `MemoryLog` at DEBUG, and the `log` and `tracing` sinks when their
/// features are on.
struct Tee {
    memory: Arc<MemoryLog>,
}

impl LogSink for Tee {
    fn enabled(&self, _: LogLevel) -> bool {
        true
    }

    fn log(&self, level: LogLevel, event_id: u32, message: fmt::Arguments<'_>) {
        self.memory.log(level, event_id, message);
        #[cfg(feature = "log")]
        LogCrateSink.log(level, event_id, message);
        #[cfg(feature = "tracing")]
        TracingSink.log(level, event_id, message);
    }
}

#[cfg(feature = "log")]
mod log_capture {
    use super::Lines;

    /// Every record of every target, TRACE included.
    pub struct Capture(pub Lines);

    impl ::log::Log for Capture {
        fn enabled(&self, _: &::log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &::log::Record<'_>) {
            let mut text = record.args().to_string();
            let mut visitor = KeyValues(&mut text);
            let _ = record.key_values().visit(&mut visitor);
            let place = format!("log {} {}", record.level(), record.target());
            self.0.lock().unwrap().push((place, text));
        }
        fn flush(&self) {}
    }

    struct KeyValues<'a>(&'a mut String);

    impl<'kvs> ::log::kv::VisitSource<'kvs> for KeyValues<'_> {
        fn visit_pair(
            &mut self,
            key: ::log::kv::Key<'kvs>,
            value: ::log::kv::Value<'kvs>,
        ) -> Result<(), ::log::kv::Error> {
            self.0.push_str(&format!(" {key}={value}"));
            Ok(())
        }
    }

    pub fn install(lines: Lines) {
        crate::global_log::log_route::route(Box::leak(Box::new(Capture(lines))));
    }
}

#[cfg(feature = "tracing")]
mod tracing_capture {
    use std::fmt::Write as _;

    use tracing::field::{Field, Visit};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::Context;

    use super::Lines;

    /// Every event of every target, TRACE included, with all its fields.
    struct Capture(Lines);

    struct Fields(String);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    impl<S: tracing::Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            let metadata = event.metadata();
            let place = format!("tracing {} {}", metadata.level(), metadata.target());
            self.0.lock().unwrap().push((place, fields.0));
        }
    }

    pub fn install(lines: Lines) {
        crate::global_log::tracing_route::route(Capture(lines));
    }
}

/// Collects what a run writes and the errors it gets.
struct Run {
    memory: Arc<MemoryLog>,
    lines: Lines,
}

impl Run {
    fn builder(&self, base_url: &str) -> ConfigCatBuilder {
        let lines = self.lines.clone();
        ConfigCat::builder(sdk_key())
            .base_url(base_url)
            .polling_mode(PollingMode::manual_poll())
            .read_timeout(Duration::from_millis(800))
            .log_sink(Tee {
                memory: self.memory.clone(),
            })
            .on_error(move |message| {
                lines
                    .lock()
                    .unwrap()
                    .push(("on_error".to_owned(), message.to_owned()));
            })
    }

    fn error(&self, what: &str, error: &(impl fmt::Display + fmt::Debug)) {
        let mut lines = self.lines.lock().unwrap();
        lines.push((format!("{what} (Display)"), error.to_string()));
        lines.push((format!("{what} (Debug)"), format!("{error:?}")));
    }

    /// Refreshes and records the error, if any.
    async fn refresh(&self, client: &actix::Addr<ConfigCat>, what: &str) {
        if let Err(error) = client.send(ForceRefresh).await.expect("the client answers") {
            self.error(what, &error);
        }
    }
}

#[actix_rt::test]
async fn no_log_line_or_error_carries_the_sdk_key_or_a_proxy_password() {
    let _alone = crate::alone().await;
    let run = Run {
        memory: Arc::new(MemoryLog::new(LogLevel::Debug)),
        lines: Lines::default(),
    };
    #[cfg(feature = "log")]
    log_capture::install(run.lines.clone());
    #[cfg(feature = "tracing")]
    tracing_capture::install(run.lines.clone());
    let key = sdk_key();
    let proxy = ForwardProxy::start_with_credentials("user", PASSWORD);
    let proxy_with_password = format!("http://user:{PASSWORD}@127.0.0.1:{}", proxy.addr().port());

    // HTTP/2 over TLS through the proxy: 404, 200, 304, 500, 403, bad bodies, a redirect to
    // plain http.
    let h2 = MockCdn::start_h2();
    let plain = MockCdn::start();
    let client = run
        .builder(&h2.base_url())
        .root_certificate(h2.certificate_der())
        .proxy(Proxy::new(&proxy_with_password).unwrap())
        .start()
        .unwrap();
    run.refresh(&client, "404").await;
    h2.set_config(&key, simple_config("flag", "on"));
    run.refresh(&client, "200").await;
    run.refresh(&client, "304").await;
    for status in [500, 403, 502] {
        h2.push_status(status);
        run.refresh(&client, "status").await;
    }
    for body in [
        format!(r#"{{"f":{{"{key}":{{"t":"x"}},"{PART_A}":1}}}}"#).into_bytes(),
        b"\xff\xfe not UTF-8".to_vec(),
        format!("{{\"p\":{{\"u\":\"{key}\"").into_bytes(),
    ] {
        h2.set_body_override(body);
        run.refresh(&client, "bad body").await;
    }
    h2.clear_body_override();
    h2.set_config(
        &key,
        with_redirect(&simple_config("flag", "on"), &plain.base_url(), 2),
    );
    run.refresh(&client, "downgrade").await;
    assert_eq!(plain.request_count(), 0, "nothing went out in clear");

    // Warning 3000: the same key with other options while the first client runs.
    let again = run.builder(&h2.base_url()).offline(true).start().unwrap();
    assert_eq!(again, client);
    client.send(Close).await.unwrap();

    // Plain HTTP, also through the proxy: 304 with nothing cached, a timeout, a cut body, a
    // redirect loop.
    let other = MockCdn::start();
    let client = run
        .builder(&plain.base_url())
        .proxy(Proxy::new(&proxy_with_password).unwrap())
        .start()
        .unwrap();
    plain.set_status(304);
    run.refresh(&client, "304 without config").await;
    plain.clear_status();
    plain.set_config(&key, simple_config("flag", "on"));
    plain.set_delay(Duration::from_secs(3));
    run.refresh(&client, "timeout").await;
    plain.clear_delay();
    plain.set_cut_body_after(Some(10));
    run.refresh(&client, "cut body").await;
    plain.set_cut_body_after(None);
    plain.set_redirect(&key, &other.base_url(), 2);
    other.set_config(
        &key,
        with_redirect(&simple_config("f", "v"), &plain.base_url(), 2),
    );
    run.refresh(&client, "redirect loop").await;
    client.send(Close).await.unwrap();

    // A refused connection; a proxy that refuses the password; a proxy URL that cannot be
    // used; a malformed key that still holds the secret parts.
    let client = run.builder(&refused_base_url()).start().unwrap();
    run.refresh(&client, "refused").await;
    client.send(Close).await.unwrap();
    let wrong = Proxy::new(&proxy.url())
        .unwrap()
        .credentials("user", WRONG_PASSWORD);
    let client = run.builder(&plain.base_url()).proxy(wrong).start().unwrap();
    run.refresh(&client, "407").await;
    client.send(Close).await.unwrap();
    for url in [
        format!("socks5://user:{PASSWORD}@127.0.0.1:1"),
        format!("http://user:{PASSWORD}@127.0.0.1:1/path"),
    ] {
        run.error("Proxy::new", &Proxy::new(&url).unwrap_err());
    }
    let malformed = ConfigCat::builder(format!("{key}x"))
        .log_sink(NoLog)
        .start()
        .unwrap_err();
    run.error("malformed key", &malformed);

    // What was logged, at every level.
    let events = run.memory.take();
    let ids: Vec<u32> = events.iter().map(|e| e.event_id).collect();
    for expected in [
        1100, 1101, 1102, 1103, 1104, 1105, 1106, 3000, 9100, 9101, 9102, 9105, 9110,
    ] {
        assert!(ids.contains(&expected), "{expected} was exercised: {ids:?}");
    }
    let masked = configcat_actix::log::mask_sdk_key(&key);
    let warning = events.iter().find(|e| e.event_id == 3000).unwrap();
    assert!(warning.message.contains(&masked), "{warning}");
    let mut lines = std::mem::take(&mut *run.lines.lock().unwrap());
    lines.extend(events.iter().map(|e| ("sink".to_owned(), e.to_string())));
    assert!(lines.len() > events.len(), "errors were collected too");

    let secrets = secrets();
    let mut leaks = Vec::new();
    for (place, text) in &lines {
        if secrets.iter().any(|secret| text.contains(secret.as_str())) {
            leaks.push(format!("{place}: {text}"));
        }
    }
    // awc writes each HTTP/2 request's URL at TRACE through `log`, target
    // `awc::client::h2proto` (docs/logging.md says how to filter it): the only allowed leak.
    const AWC_TRACE: &str = "log TRACE awc::client::h2proto:";
    #[cfg(feature = "log")]
    assert!(
        leaks.iter().any(|leak| leak.starts_with(AWC_TRACE)),
        "the capture sees the HTTP stack at TRACE, and awc's request line is still there \
         (if it is gone, update docs/logging.md)"
    );
    leaks.retain(|leak| !leak.starts_with(AWC_TRACE));
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}
