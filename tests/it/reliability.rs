//! Reliability of the client against local servers: shutdown (`Close`, stopping the System)
//! and recovery from CDN faults at the client level (tests/fetch.rs covers the fetcher).
//!
//! Timing is generous: bounded waits of several seconds, never exact counts at exact times.

use crate::support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use configcat_actix::*;
use support::{
    MockCdn, memory_log, refused_base_url, sdk_key, simple_config, sleep, text, with_redirect,
};

/// Connections to `port` still open on the client side: sockets in /proc/net/tcp whose remote
/// port is `port` in state ESTABLISHED (01), SYN_SENT (02) or CLOSE_WAIT (08). IPv4 only, which
/// is what a CDN on 127.0.0.1 gets.
fn open_client_connections(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port = fields
                .get(2)
                .and_then(|r| r.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            remote_port == Some(port) && matches!(fields.get(3), Some(&("01" | "02" | "08")))
        })
        .count()
}

/// Waits (bounded) until no client connection to `port` is open; returns the last count.
async fn wait_for_no_connections(port: u16, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let open = open_client_connections(port);
        if open == 0 || Instant::now() >= deadline {
            return open;
        }
        sleep(50).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------------

#[actix_rt::test]
async fn close_stops_the_actors_the_polling_and_the_connections() {
    let cdn = MockCdn::start();
    let key = sdk_key("reliability-close");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::auto_poll(Duration::from_millis(100)))
        .log_sink(memory_log(LogLevel::Warn))
        .start()
        .unwrap();
    assert_eq!(text(&client, "greeting").await, "hello");
    assert!(
        cdn.wait_for_requests(3, Duration::from_secs(10)).await,
        "auto poll at 100 ms fetches again"
    );
    let port = cdn.addr().port();
    assert!(
        open_client_connections(port) >= 1,
        "the client keeps a connection to the CDN while polling (checks the /proc probe)"
    );

    client.send(Close).await.unwrap();
    sleep(300).await;
    let after_close = cdn.config_request_count(&key);
    // Eight poll intervals.
    sleep(800).await;
    assert_eq!(
        cdn.config_request_count(&key),
        after_close,
        "no request after Close"
    );
    assert!(!client.connected(), "the facade is stopped");
    let late = client.send(GetValue::new("greeting", String::new())).await;
    assert!(matches!(late, Err(MailboxError::Closed)), "{late:?}");
    let late = client.send(ForceRefresh).await;
    assert!(matches!(late, Err(MailboxError::Closed)), "{late:?}");
    let late = client.send(GetAllValues(None)).await;
    assert!(matches!(late, Err(MailboxError::Closed)), "{late:?}");
    let open = wait_for_no_connections(port, Duration::from_secs(10)).await;
    assert_eq!(open, 0, "connections to the CDN still open after Close");
    assert_eq!(cdn.config_request_count(&key), after_close);
}

#[test]
fn stopping_the_system_returns_and_ends_all_traffic() {
    let cdn = MockCdn::start();
    let key = sdk_key("reliability-system-stop");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let base_url = cdn.base_url();
    let (done, finished) = std::sync::mpsc::channel();
    let thread_key = key.clone();
    let thread = std::thread::spawn(move || {
        let system = System::new();
        let value = system.block_on(async move {
            let client = ConfigCat::builder(&thread_key)
                .base_url(base_url)
                .polling_mode(PollingMode::auto_poll(Duration::from_millis(100)))
                .log_sink(memory_log(LogLevel::Warn))
                .start()
                .unwrap();
            let value = text(&client, "greeting").await;
            // Let it poll a few times, then stop everything without closing the client.
            sleep(350).await;
            System::current().stop();
            value
        });
        system.run().expect("the System stops cleanly");
        let _ = done.send(value);
    });
    let value = finished
        .recv_timeout(Duration::from_secs(10))
        .expect("System::run returns after System::stop");
    thread.join().unwrap();
    assert_eq!(value, "hello");
    assert!(cdn.config_request_count(&key) >= 2, "it polled before");
    let after_stop = cdn.config_request_count(&key);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        cdn.config_request_count(&key),
        after_stop,
        "no request after the System stopped"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_client_connections(cdn.addr().port()) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(open_client_connections(cdn.addr().port()), 0);
}

// ---------------------------------------------------------------------------------------------
// Fault recovery
// ---------------------------------------------------------------------------------------------

/// A TCP relay on 127.0.0.1 that forwards to a target on its own thread and runtime. Dropping
/// it closes the port and every relayed connection; [`Relay::start_on`] reopens the same port.
/// Used to make the CDN refuse connections and come back at the same address.
struct Relay {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start_on(addr: SocketAddr, target: SocketAddr) -> Relay {
        // std sets SO_REUSEADDR on Unix, so the port can be bound again right after a drop.
        let listener = std::net::TcpListener::bind(addr).expect("binding the relay");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((mut inbound, _)) = accepted else { continue };
                            tokio::spawn(async move {
                                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                                }
                            });
                        }
                    }
                }
            });
            // Dropping the runtime drops the listener and every relayed connection.
            runtime.shutdown_background();
        });
        Relay {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    Status(u16),
    Refused,
    Hung,
    /// Headers at once, then the body one byte every 100 ms: each byte comes 10 times faster
    /// than the 1 s read timeout of the test, but the whole body takes over 5 s.
    Trickle,
    Truncated,
    Body(&'static str),
}

impl Fault {
    fn event_id(self) -> u32 {
        match self {
            Fault::Status(403 | 404) => 1100,
            Fault::Status(_) => 1101,
            Fault::Hung | Fault::Trickle => 1102,
            Fault::Refused | Fault::Truncated => 1103,
            Fault::Body(_) => 1105,
        }
    }
}

/// Event ids logged so far (and forgets them); only ERROR events are expected here.
fn logged(log: &MemoryLog) -> Vec<(LogLevel, u32)> {
    log.take()
        .into_iter()
        .map(|e| (e.level, e.event_id))
        .collect()
}

/// After a first good fetch, `fault` hits the CDN while a new config (v2) is published:
/// * a manual-poll client's `ForceRefresh` reports the failure, logs it exactly once with its
///   event id, and keeps serving v1;
/// * an auto-poll client (200 ms) meets the fault by itself, logs only that id, keeps serving
///   v1, and once the CDN heals shows v2 without any `ForceRefresh`.
async fn recovers_from(name: &str, fault: Fault) {
    let cdn = MockCdn::start();
    let manual_key = sdk_key(&format!("m-{name}"));
    let auto_key = sdk_key(&format!("a-{name}"));
    for key in [&manual_key, &auto_key] {
        cdn.set_config(key, simple_config("greeting", "v1"));
    }
    // A relay in front of the CDN for the refused case (its port can be closed and reopened).
    let mut relay = match fault {
        Fault::Refused => Some(Relay::start_on("127.0.0.1:0".parse().unwrap(), cdn.addr())),
        _ => None,
    };
    let base_url = match &relay {
        Some(relay) => format!("http://{}", relay.addr),
        None => cdn.base_url(),
    };
    let read_timeout = match fault {
        Fault::Hung => Duration::from_millis(400),
        Fault::Trickle => Duration::from_secs(1),
        _ => Duration::from_secs(30),
    };
    let manual_log = memory_log(LogLevel::Warn);
    let manual = ConfigCat::builder(&manual_key)
        .base_url(base_url.clone())
        .polling_mode(PollingMode::manual_poll())
        .read_timeout(read_timeout)
        .log_sink(manual_log.clone())
        .start()
        .unwrap();
    let auto_log = memory_log(LogLevel::Warn);
    let auto = ConfigCat::builder(&auto_key)
        .base_url(base_url.clone())
        .polling_mode(PollingMode::auto_poll(Duration::from_millis(200)))
        .read_timeout(read_timeout)
        .log_sink(auto_log.clone())
        .start()
        .unwrap();

    let first = manual.send(ForceRefresh).await.unwrap();
    assert!(first.is_ok(), "{name}: first fetch {first:?}");
    assert_eq!(text(&manual, "greeting").await, "v1");
    assert_eq!(text(&auto, "greeting").await, "v1");
    assert_eq!(logged(&manual_log), vec![], "{name}: clean start");
    assert_eq!(logged(&auto_log), vec![], "{name}: clean start");

    // The fault, then a new config behind it (so that body faults are not hidden by a 304).
    // In this order, a poll racing with the setup can never see v2.
    match fault {
        Fault::Status(status) => cdn.set_status(status),
        Fault::Refused => relay = None,
        Fault::Hung => cdn.set_delay(Duration::from_secs(20)),
        Fault::Trickle => cdn.set_trickle(Some((1, Duration::from_millis(100)))),
        Fault::Truncated => cdn.set_cut_body_after(Some(12)),
        Fault::Body(body) => cdn.set_body_override(body),
    }
    for key in [&manual_key, &auto_key] {
        cdn.set_config(key, simple_config("greeting", "v2"));
    }
    let id = fault.event_id();

    let refreshed = manual.send(ForceRefresh).await.unwrap();
    let Err(RefreshError::Fetch(error)) = &refreshed else {
        panic!("{name}: a fetch error, got {refreshed:?}");
    };
    assert_eq!(
        error.event_id(),
        id,
        "{name}: the error carries its event id"
    );
    assert!(!error.to_string().is_empty(), "{name}: an error text");
    assert_eq!(
        text(&manual, "greeting").await,
        "v1",
        "{name}: last good value"
    );
    assert_eq!(
        logged(&manual_log),
        vec![(LogLevel::Error, id)],
        "{name}: logged exactly once with its id ({error})"
    );

    // The auto-poll client meets the fault by itself and keeps serving v1.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut auto_events = Vec::new();
    while auto_events.is_empty() && Instant::now() < deadline {
        sleep(50).await;
        auto_events.extend(logged(&auto_log));
    }
    assert!(
        !auto_events.is_empty(),
        "{name}: the auto poll met the fault"
    );
    assert_eq!(
        text(&auto, "greeting").await,
        "v1",
        "{name}: last good value"
    );
    sleep(450).await;
    auto_events.extend(logged(&auto_log));
    assert!(
        auto_events.iter().all(|e| *e == (LogLevel::Error, id)),
        "{name}: only {id} logged: {auto_events:?}"
    );
    assert_eq!(
        text(&auto, "greeting").await,
        "v1",
        "{name}: last good value"
    );

    // Heal.
    match fault {
        Fault::Status(_) => cdn.clear_status(),
        Fault::Refused => {
            let addr: SocketAddr = base_url.trim_start_matches("http://").parse().unwrap();
            relay = Some(Relay::start_on(addr, cdn.addr()));
        }
        Fault::Hung => cdn.clear_delay(),
        Fault::Trickle => cdn.set_trickle(None),
        Fault::Truncated => cdn.set_cut_body_after(None),
        Fault::Body(_) => cdn.clear_body_override(),
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut value = text(&auto, "greeting").await;
    while value != "v2" && Instant::now() < deadline {
        sleep(50).await;
        value = text(&auto, "greeting").await;
    }
    assert_eq!(
        value, "v2",
        "{name}: the auto-poll client recovered by itself"
    );
    let healed = manual.send(ForceRefresh).await.unwrap();
    assert!(healed.is_ok(), "{name}: {healed:?}");
    assert_eq!(text(&manual, "greeting").await, "v2");
    let manual_events = logged(&manual_log);
    assert_eq!(
        manual_events,
        vec![],
        "{name}: nothing logged after healing"
    );

    manual.send(Close).await.unwrap();
    auto.send(Close).await.unwrap();
    drop(relay);
}

#[actix_rt::test]
async fn recovers_from_500() {
    recovers_from("status-500", Fault::Status(500)).await;
}

#[actix_rt::test]
async fn recovers_from_502() {
    recovers_from("status-502", Fault::Status(502)).await;
}

#[actix_rt::test]
async fn recovers_from_503() {
    recovers_from("status-503", Fault::Status(503)).await;
}

#[actix_rt::test]
async fn recovers_from_403() {
    recovers_from("status-403", Fault::Status(403)).await;
}

#[actix_rt::test]
async fn recovers_from_404() {
    recovers_from("status-404", Fault::Status(404)).await;
}

#[actix_rt::test]
async fn recovers_from_refused_connections() {
    recovers_from("refused", Fault::Refused).await;
}

#[actix_rt::test]
async fn recovers_from_a_hung_server() {
    recovers_from("hung", Fault::Hung).await;
}

#[actix_rt::test]
async fn recovers_from_a_slow_trickling_body() {
    recovers_from("trickle", Fault::Trickle).await;
}

#[actix_rt::test]
async fn recovers_from_a_truncated_body() {
    recovers_from("truncated", Fault::Truncated).await;
}

#[actix_rt::test]
async fn recovers_from_invalid_json() {
    recovers_from("invalid-json", Fault::Body("{\"f\": {\"greeting\": ")).await;
}

#[actix_rt::test]
async fn recovers_from_json_that_is_an_array() {
    recovers_from("json-array", Fault::Body("[1,2,3]")).await;
}

#[actix_rt::test]
async fn recovers_from_json_of_the_wrong_shape() {
    recovers_from("json-shape", Fault::Body("{\"f\": 5}")).await;
}

#[actix_rt::test]
async fn a_client_that_never_connected_reports_1103_and_serves_defaults() {
    // Refused from the very start: nothing to serve but the default, 1103 each time.
    let base_url = refused_base_url();
    let key = sdk_key("refused-from-start");
    let log = memory_log(LogLevel::Warn);
    let client = ConfigCat::builder(&key)
        .base_url(base_url.clone())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(log.clone())
        .start()
        .unwrap();
    let refreshed = client.send(ForceRefresh).await.unwrap();
    assert!(
        matches!(&refreshed, Err(RefreshError::Fetch(e)) if e.event_id() == 1103),
        "{refreshed:?}"
    );
    assert_eq!(text(&client, "greeting").await, "default");
    let ids: Vec<u32> = log.take().iter().map(|e| e.event_id).collect();
    assert_eq!(ids.iter().filter(|id| **id == 1103).count(), 1, "{ids:?}");
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_new_etag_for_the_same_content_is_taken_without_error() {
    // The mock CDN derives the ETag from the bytes: the same config re-serialized with other
    // whitespace is identical content under a new ETag.
    let cdn = MockCdn::start();
    let key = sdk_key("etag-same-content");
    let json = simple_config("greeting", "v1");
    cdn.set_config(&key, json.clone());
    let log = memory_log(LogLevel::Warn);
    let changes = Arc::new(Mutex::new(0usize));
    let seen = changes.clone();
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .on_config_changed(move |_| *seen.lock().unwrap() += 1)
        .log_sink(log.clone())
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    let first_etag = cdn.etag_of(&key).unwrap();
    let reformatted =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&json).unwrap())
            .unwrap();
    cdn.set_config(&key, reformatted);
    let second_etag = cdn.etag_of(&key).unwrap();
    assert_ne!(first_etag, second_etag);

    let refreshed = client.send(ForceRefresh).await.unwrap();
    assert!(refreshed.is_ok(), "{refreshed:?}");
    assert_eq!(text(&client, "greeting").await, "v1");
    // The client adopted the new ETag: the next fetch sends it and gets a 304.
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    let last = cdn.last_request().unwrap();
    assert_eq!(last.if_none_match(), Some(second_etag.as_str()));
    assert_eq!(text(&client, "greeting").await, "v1");
    assert!(log.take().is_empty(), "nothing logged");
    // New bytes count as a new config (hooks fire for it), but never for the 304.
    let changes = *changes.lock().unwrap();
    assert!((1..=2).contains(&changes), "{changes} change notifications");
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn an_oversized_body_is_refused_and_the_last_good_config_kept() {
    let cdn = MockCdn::start();
    let key = sdk_key("oversized-body");
    cdn.set_config(&key, simple_config("greeting", "small"));
    let log = memory_log(LogLevel::Warn);
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .max_body_size(4096)
        .log_sink(log.clone())
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    // A config of about 40 KB: ten times the limit.
    let padding = "x".repeat(40_000);
    let big = serde_json::json!({"p": {"s": "s"}, "f": {
        "greeting": {"t": 1, "v": {"s": "big"}}, "padding": {"t": 1, "v": {"s": padding}}}});
    for chunked in [false, true] {
        cdn.set_chunked(chunked);
        cdn.set_config(&key, big.to_string());
        let refreshed = client.send(ForceRefresh).await.unwrap();
        assert!(refreshed.is_err(), "chunked={chunked}");
        assert_eq!(
            text(&client, "greeting").await,
            "small",
            "chunked={chunked}"
        );
        let ids: Vec<u32> = log.take().iter().map(|e| e.event_id).collect();
        assert_eq!(ids, vec![1105], "chunked={chunked}");
    }
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_slow_trickle_that_ends_within_the_read_timeout_is_taken() {
    // The same trickle, shorter than the deadline: slow is not a failure.
    let cdn = MockCdn::start();
    let key = sdk_key("trickle-in-time");
    cdn.set_config(&key, simple_config("greeting", "v1"));
    let log = memory_log(LogLevel::Warn);
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .read_timeout(Duration::from_secs(30))
        .log_sink(log.clone())
        .start()
        .unwrap();
    assert!(client.send(ForceRefresh).await.unwrap().is_ok());
    assert_eq!(text(&client, "greeting").await, "v1");

    let v2 = simple_config("greeting", "v2");
    let pieces = v2.len().div_ceil(4);
    cdn.set_trickle(Some((4, Duration::from_millis(40))));
    cdn.set_config(&key, v2);
    let started = Instant::now();
    let refreshed = client.send(ForceRefresh).await.unwrap();
    let took = started.elapsed();
    assert_eq!(refreshed, Ok(()));
    assert_eq!(text(&client, "greeting").await, "v2");
    // A lower bound only (the pauses are at least that long): the body was really trickled.
    let least = Duration::from_millis(40) * u32::try_from(pieces).unwrap();
    assert!(took >= least, "took {took:?}, at least {least:?} expected");
    assert_eq!(logged(&log), vec![], "nothing logged");
    client.send(Close).await.unwrap();
}

/// The config of `key` on `from` redirects (force, mode 2) to `to`, serving `value`.
fn redirecting(from: &MockCdn, to: &MockCdn, key: &str, value: &str) {
    from.set_config(
        key,
        with_redirect(&simple_config("greeting", value), &to.base_url(), 2),
    );
}

#[actix_rt::test]
async fn a_redirect_loop_is_logged_1104_once_per_refresh_and_recovers() {
    // CDN A and CDN B force redirects to each other. A custom base URL follows forced
    // redirects only (mode 2; a mode-1 ping-pong is not followed from it, see the next test).
    // Spec §4: a refresh that meets the loop stops after 3 requests, logs ERROR 1104 once and
    // uses the last config it fetched, so `ForceRefresh` succeeds (the application hears of
    // the loop through the log and the error hook); the next refresh starts where the last
    // redirect pointed.
    let a = MockCdn::start();
    let b = MockCdn::start();
    let manual_key = sdk_key("m-redirect-loop");
    let auto_key = sdk_key("a-redirect-loop");
    for key in [&manual_key, &auto_key] {
        a.set_config(key, simple_config("greeting", "v1"));
    }
    let manual_log = memory_log(LogLevel::Warn);
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = errors.clone();
    let manual = ConfigCat::builder(&manual_key)
        .base_url(a.base_url())
        .polling_mode(PollingMode::manual_poll())
        .on_error(move |message| seen.lock().unwrap().push(message.to_owned()))
        .log_sink(manual_log.clone())
        .start()
        .unwrap();
    let auto_log = memory_log(LogLevel::Warn);
    let auto = ConfigCat::builder(&auto_key)
        .base_url(a.base_url())
        .polling_mode(PollingMode::auto_poll(Duration::from_millis(200)))
        .log_sink(auto_log.clone())
        .start()
        .unwrap();
    assert!(manual.send(ForceRefresh).await.unwrap().is_ok());
    assert_eq!(text(&manual, "greeting").await, "v1");
    assert_eq!(text(&auto, "greeting").await, "v1");
    assert_eq!(logged(&manual_log), vec![]);
    assert_eq!(logged(&auto_log), vec![]);

    // B first: until A redirects, nobody asks B, so a racing poll never meets a half-set loop.
    for key in [&manual_key, &auto_key] {
        redirecting(&b, &a, key, "v2-b");
        redirecting(&a, &b, key, "v2-a");
    }

    // A → B → A: three requests, 1104 once, and A's config (the last fetched) is used.
    let before = (
        a.config_request_count(&manual_key),
        b.config_request_count(&manual_key),
    );
    let refreshed = manual.send(ForceRefresh).await.unwrap();
    assert!(
        refreshed.is_ok(),
        "the last fetched config is used (spec §4): {refreshed:?}"
    );
    assert_eq!(text(&manual, "greeting").await, "v2-a");
    assert_eq!(logged(&manual_log), vec![(LogLevel::Error, 1104)]);
    assert_eq!(
        (
            a.config_request_count(&manual_key) - before.0,
            b.config_request_count(&manual_key) - before.1
        ),
        (2, 1),
        "the loop is cut after 3 requests"
    );
    // The 1104 reaches the application through the error hook.
    let reported = errors.lock().unwrap().clone();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert!(
        reported[0].starts_with("Redirection loop encountered while trying to fetch config JSON."),
        "{reported:?}"
    );

    // The next refresh starts where the last redirect pointed, at B; B sends it back to A,
    // which answers 304 to the ETag of the config held (A's): no loop, nothing logged.
    let refreshed = manual.send(ForceRefresh).await.unwrap();
    assert!(refreshed.is_ok(), "{refreshed:?}");
    assert_eq!(text(&manual, "greeting").await, "v2-a");
    assert_eq!(logged(&manual_log), vec![]);
    assert_eq!(
        (
            a.config_request_count(&manual_key) - before.0,
            b.config_request_count(&manual_key) - before.1
        ),
        (3, 2)
    );

    // New content on both sides of the loop: the next refresh meets it again, 1104 once more.
    for key in [&manual_key, &auto_key] {
        redirecting(&b, &a, key, "v3-b");
        redirecting(&a, &b, key, "v3-a");
    }
    let refreshed = manual.send(ForceRefresh).await.unwrap();
    assert!(refreshed.is_ok(), "{refreshed:?}");
    assert_eq!(text(&manual, "greeting").await, "v3-a");
    assert_eq!(logged(&manual_log), vec![(LogLevel::Error, 1104)]);
    assert_eq!(
        (
            a.config_request_count(&manual_key) - before.0,
            b.config_request_count(&manual_key) - before.1
        ),
        (5, 3)
    );

    // The auto-poll client meets the loop by itself: only 1104 is logged, and its polls stay
    // bounded (3 requests per refresh, not a spin).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut auto_events = Vec::new();
    while auto_events.is_empty() && Instant::now() < deadline {
        sleep(50).await;
        auto_events.extend(logged(&auto_log));
    }
    assert!(!auto_events.is_empty(), "the auto poll met the loop");
    let loop_started = Instant::now();
    let requests_then = a.config_request_count(&auto_key) + b.config_request_count(&auto_key);
    sleep(600).await;
    auto_events.extend(logged(&auto_log));
    assert!(
        auto_events.iter().all(|e| *e == (LogLevel::Error, 1104)),
        "only 1104 logged: {auto_events:?}"
    );
    let polls = loop_started.elapsed().as_millis() / 200 + 2;
    let requests =
        a.config_request_count(&auto_key) + b.config_request_count(&auto_key) - requests_then;
    assert!(
        requests <= 3 * polls as usize,
        "{requests} requests for at most {polls} polls"
    );
    let value = text(&auto, "greeting").await;
    assert!(
        value.starts_with("v2-") || value.starts_with("v3-"),
        "{value}"
    );

    // Heal: both CDNs serve v4 without a redirect.
    for key in [&manual_key, &auto_key] {
        a.set_config(key, simple_config("greeting", "v4"));
        b.set_config(key, simple_config("greeting", "v4"));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut value = text(&auto, "greeting").await;
    while value != "v4" && Instant::now() < deadline {
        sleep(50).await;
        value = text(&auto, "greeting").await;
    }
    assert_eq!(value, "v4", "the auto-poll client recovered by itself");
    let healed = manual.send(ForceRefresh).await.unwrap();
    assert!(healed.is_ok(), "{healed:?}");
    assert_eq!(text(&manual, "greeting").await, "v4");
    assert_eq!(logged(&manual_log), vec![], "nothing logged after healing");
    assert_eq!(errors.lock().unwrap().len(), 2);

    manual.send(Close).await.unwrap();
    auto.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_should_redirect_ping_pong_is_not_followed_from_a_custom_base_url() {
    // Mode 1 (should redirect) between A and B: a custom base URL is left only when forced,
    // so no loop, no 3002, no 1104, and B is never asked.
    let a = MockCdn::start();
    let b = MockCdn::start();
    let key = sdk_key("redirect-mode-1-custom");
    b.set_config(
        &key,
        with_redirect(&simple_config("greeting", "b"), &a.base_url(), 1),
    );
    a.set_config(
        &key,
        with_redirect(&simple_config("greeting", "a"), &b.base_url(), 1),
    );
    let log = memory_log(LogLevel::Warn);
    let client = ConfigCat::builder(&key)
        .base_url(a.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(log.clone())
        .start()
        .unwrap();
    for _ in 0..2 {
        let refreshed = client.send(ForceRefresh).await.unwrap();
        assert!(refreshed.is_ok(), "{refreshed:?}");
        assert_eq!(text(&client, "greeting").await, "a");
    }
    assert_eq!(a.config_request_count(&key), 2);
    assert_eq!(b.config_request_count(&key), 0);
    assert_eq!(logged(&log), vec![]);
    client.send(Close).await.unwrap();
}
