//! The fetcher (spec §4) against local test servers: statuses, ETags, headers, timeouts, body
//! limits, redirects, proxies (given or from the environment) and TLS.
//!
//! These tests live in the crate because the fetcher is crate-private; they reuse the servers
//! of `tests/support/` (all but its client helpers, which name the crate from outside).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{DataGovernance, FetchError, FetchOptions, FetchOutcome, Fetcher, Proxy, user_agent};
use crate::log::event;
use crate::log::{LogLevel, MemoryLog};

#[path = "../../tests/support/cdn.rs"]
#[allow(dead_code)]
mod cdn;
#[path = "../../tests/support/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../../tests/support/proxy.rs"]
#[allow(dead_code)]
mod proxy;
#[path = "../../tests/support/server.rs"]
#[allow(dead_code)]
mod server;
#[path = "../../tests/support/tls.rs"]
#[allow(dead_code)]
mod tls;

/// The parts of `tests/support` these tests use, under the names the integration tests know.
mod support {
    pub(super) use super::cdn::{MockCdn, simple_config, with_redirect};
    pub(super) use super::proxy::ForwardProxy;
    pub(super) use super::server::refused_base_url;
    pub(super) use super::tls::TestCertificates;
}

use support::{ForwardProxy, MockCdn, simple_config, with_redirect};

const KEY: &str = "configcat-sdk-1/PKDVCLf-Hq-h-kCzMp-L7Q/y_ZB7o-Xb0Swxth-ZlMSeA";

/// Options for `base_url` as a custom URL, with generous timeouts.
fn options(base_url: &str) -> FetchOptions {
    FetchOptions {
        sdk_key: KEY.to_owned(),
        base_url: Some(base_url.to_owned()),
        mode_letter: 'm',
        connect_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(20),
        ..FetchOptions::default()
    }
}

/// Options whose base URL is `url` as if it were the data governance URL (not custom).
fn governance_options(url: &str) -> FetchOptions {
    FetchOptions {
        base_url: None,
        data_governance_url: Some(url.to_owned()),
        ..options(url)
    }
}

fn fetcher(options: FetchOptions) -> (Fetcher, Arc<MemoryLog>) {
    let log = Arc::new(MemoryLog::new(LogLevel::Info));
    let fetcher = Fetcher::new(options, log.clone()).expect("building the fetcher");
    (fetcher, log)
}

/// The event ids logged so far (and forgets them).
fn event_ids(log: &MemoryLog) -> Vec<u32> {
    log.take().into_iter().map(|e| e.event_id).collect()
}

/// The `value` of text flag `flag` in a fetched config.
fn flag_text(outcome: &FetchOutcome, flag: &str) -> String {
    match outcome {
        FetchOutcome::Fetched { config, .. } => {
            crate::eval::evaluate_value(config, flag, String::new(), None, &crate::log::NoLog)
        }
        other => panic!("expected a fetched config, got {other:?}"),
    }
}

fn expect_failure(outcome: FetchOutcome) -> (FetchError, bool) {
    match outcome {
        FetchOutcome::Failed { error, transient } => (error, transient),
        other => panic!("expected a failure, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 200, 304, headers

#[actix_rt::test]
async fn fetches_the_config_with_its_etag() {
    let cdn = MockCdn::start();
    cdn.serve_test_data(KEY);
    let (fetcher, log) = fetcher(options(&cdn.base_url()));

    match fetcher.fetch(None).await {
        FetchOutcome::Fetched { config, json, etag } => {
            assert_eq!(&*json, cdn.config_json(KEY).unwrap());
            assert_eq!(etag, cdn.etag_of(KEY));
            assert!(etag.is_some());
            assert!(!config.settings().is_empty());
        }
        other => panic!("expected a config, got {other:?}"),
    }
    assert_eq!(cdn.config_request_count(KEY), 1);
    assert_eq!(event_ids(&log), Vec::<u32>::new());
}

#[actix_rt::test]
async fn a_known_etag_gets_not_modified() {
    let cdn = MockCdn::start();
    cdn.set_config(KEY, simple_config("flag", "one"));
    let (fetcher, log) = fetcher(options(&cdn.base_url()));

    let etag = match fetcher.fetch(None).await {
        FetchOutcome::Fetched { etag, .. } => etag.expect("an ETag"),
        other => panic!("expected a config, got {other:?}"),
    };
    assert_eq!(cdn.last_request().unwrap().if_none_match(), None);

    assert!(matches!(
        fetcher.fetch(Some(etag.clone())).await,
        FetchOutcome::NotModified
    ));
    assert_eq!(
        cdn.last_request().unwrap().if_none_match(),
        Some(etag.as_str())
    );

    // A changed config is fetched again despite the old ETag.
    cdn.set_config(KEY, simple_config("flag", "two"));
    let outcome = fetcher.fetch(Some(etag.clone())).await;
    assert_eq!(flag_text(&outcome, "flag"), "two");
    assert_eq!(cdn.config_request_count(KEY), 3);
    assert_eq!(event_ids(&log), Vec::<u32>::new());
}

#[actix_rt::test]
async fn an_empty_etag_is_not_sent_and_a_missing_etag_is_none() {
    let cdn = MockCdn::start();
    cdn.set_config(KEY, simple_config("flag", "one"));
    cdn.set_send_etag(false);
    let (fetcher, _log) = fetcher(options(&cdn.base_url()));

    match fetcher.fetch(Some(String::new())).await {
        FetchOutcome::Fetched { etag, .. } => assert_eq!(etag, None),
        other => panic!("expected a config, got {other:?}"),
    }
    assert_eq!(cdn.last_request().unwrap().if_none_match(), None);
}

#[actix_rt::test]
async fn sends_the_user_agent() {
    let cdn = MockCdn::start();
    cdn.set_config(KEY, simple_config("flag", "one"));
    let (fetcher, _log) = fetcher(FetchOptions {
        mode_letter: 'a',
        ..options(&cdn.base_url())
    });
    fetcher.fetch(None).await;

    let expected = format!("ConfigCat-Rust-Actix/a-{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(user_agent('a'), expected);
    assert_eq!(user_agent('l'), expected.replace("/a-", "/l-"));
    let request = cdn.last_request().unwrap();
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, MockCdn::config_path(KEY));
    assert_eq!(request.user_agent(), Some(expected.as_str()));
    assert_eq!(request.header("user-agent"), Some(expected.as_str()));
}

#[actix_rt::test]
async fn a_request_has_no_content_length() {
    let cdn = MockCdn::start();
    cdn.set_config(KEY, simple_config("flag", "one"));
    let (fetcher, _log) = fetcher(options(&cdn.base_url()));
    let etag = match fetcher.fetch(None).await {
        FetchOutcome::Fetched { etag, .. } => etag,
        other => panic!("expected a config, got {other:?}"),
    };
    assert!(matches!(
        fetcher.fetch(etag).await,
        FetchOutcome::NotModified
    ));

    let requests = cdn.requests();
    assert_eq!(requests.len(), 2);
    for request in requests {
        let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert!(!names.contains(&"content-length"), "{names:?}");
        assert!(!names.contains(&"transfer-encoding"), "{names:?}");
        assert!(names.contains(&"host"), "{names:?}");
    }
}

#[actix_rt::test]
async fn over_http2_a_request_carries_only_its_own_headers() {
    let cdn = MockCdn::start_h2();
    cdn.set_config(KEY, simple_config("flag", "h2"));
    let (fetcher, log) = fetcher(FetchOptions {
        extra_root_certificates: vec![cdn.certificate_der()],
        ..options(&cdn.base_url())
    });
    let etag = match fetcher.fetch(None).await {
        FetchOutcome::Fetched { config, etag, .. } => {
            assert_eq!(
                config
                    .settings()
                    .get("flag")
                    .map(|s| s.default_value().is_some()),
                Some(true)
            );
            etag
        }
        other => panic!("expected a config, got {other:?}"),
    };
    assert!(matches!(
        fetcher.fetch(etag).await,
        FetchOutcome::NotModified
    ));

    assert_eq!(
        cdn.http2_request_count(),
        2,
        "the CDN offered h2: both requests use it"
    );
    let expected_agent = user_agent('m');
    for request in cdn.requests() {
        let mut names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        names.retain(|n| *n != "if-none-match");
        assert_eq!(
            names,
            ["accept-encoding", "user-agent", "x-configcat-useragent"],
            "no date, content-length or other default header"
        );
        assert_eq!(request.user_agent(), Some(expected_agent.as_str()));
    }
    assert!(cdn.requests()[1].if_none_match().is_some());
    assert_eq!(event_ids(&log), Vec::<u32>::new());
}

// ---------------------------------------------------------------------------------------------
// Failures

#[actix_rt::test]
async fn forbidden_and_not_found_mean_a_wrong_sdk_key() {
    for status in [403u16, 404] {
        let cdn = MockCdn::start();
        cdn.set_status(status);
        let (fetcher, log) = fetcher(options(&cdn.base_url()));

        let (error, transient) = expect_failure(fetcher.fetch(None).await);
        assert_eq!(error, FetchError::InvalidSdkKey { status });
        assert!(!transient, "{status} is not transient");
        let events = log.take();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].event_id, 1100);
        assert_eq!(events[0].level, LogLevel::Error);
        assert!(
            events[0]
                .message
                .starts_with("Your SDK Key seems to be wrong.")
        );
        assert!(events[0].message.contains(&status.to_string()));
    }
}

#[actix_rt::test]
async fn an_unknown_sdk_key_is_404() {
    let cdn = MockCdn::start();
    let (fetcher, log) = fetcher(options(&cdn.base_url()));
    let (error, transient) = expect_failure(fetcher.fetch(None).await);
    assert_eq!(error, FetchError::InvalidSdkKey { status: 404 });
    assert!(!transient);
    assert_eq!(event_ids(&log), vec![1100]);
}

#[actix_rt::test]
async fn other_statuses_are_transient_1101() {
    let cdn = MockCdn::start();
    cdn.set_config(KEY, simple_config("flag", "one"));
    cdn.set_status(500);
    let (fetcher, log) = fetcher(options(&cdn.base_url()));

    let (error, transient) = expect_failure(fetcher.fetch(None).await);
    assert_eq!(
        error,
        FetchError::UnexpectedStatus {
            status: 500,
            reason: "Internal Server Error".to_owned()
        }
    );
    assert!(transient);
    let events = log.take();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event_id, 1101);
    assert_eq!(
        events[0].message,
        "Unexpected HTTP response was received while trying to fetch config JSON: 500 Internal Server Error"
    );

    // The next request succeeds again.
    cdn.clear_status();
    cdn.push_status(503);
    let (error, _) = expect_failure(fetcher.fetch(None).await);
    assert_eq!(error.event_id(), 1101);
    assert_eq!(flag_text(&fetcher.fetch(None).await, "flag"), "one");
    assert_eq!(event_ids(&log), vec![1101]);
}

#[actix_rt::test]
async fn a_slow_server_times_out_1102() {
    let cdn = MockCdn::start();
    cdn.set_config(KEY, simple_config("flag", "one"));
    cdn.set_delay(Duration::from_secs(5));
    let (fetcher, log) = fetcher(FetchOptions {
        read_timeout: Duration::from_millis(300),
        ..options(&cdn.base_url())
    });

    let started = Instant::now();
    let (error, transient) = expect_failure(fetcher.fetch(None).await);
    // Well before the server's 5 s answer, however loaded the machine.
    assert!(
        started.elapsed() < Duration::from_millis(4500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error, FetchError::Timeout { millis: 300 });
    assert!(transient);
    let events = log.take();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event_id, 1102);
    assert_eq!(
        events[0].message,
        "Request timed out while trying to fetch config JSON. Timeout value: 300ms"
    );
}

#[actix_rt::test]
async fn a_hung_connection_setup_times_out_with_the_connect_timeout() {
    // A "proxy" that never answers CONNECT: a mock CDN that sleeps before answering.
    let black_hole = MockCdn::start();
    black_hole.set_delay(Duration::from_secs(5));
    let (fetcher, log) = fetcher(FetchOptions {
        connect_timeout: Duration::from_millis(300),
        proxy: Some(Proxy::new(&black_hole.base_url()).unwrap()),
        ..options("http://cdn.invalid")
    });

    let (error, transient) = expect_failure(fetcher.fetch(None).await);
    assert_eq!(error, FetchError::Timeout { millis: 300 });
    assert!(transient);
    assert_eq!(event_ids(&log), vec![1102]);
}

#[actix_rt::test]
async fn a_refused_connection_is_a_network_error_1103() {
    let (fetcher, log) = fetcher(options(&support::refused_base_url()));
    let (error, transient) = expect_failure(fetcher.fetch(None).await);
    assert!(matches!(error, FetchError::Network(_)), "{error:?}");
    assert!(transient);
    let events = log.take();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event_id, 1103);
    assert!(events[0].message.starts_with(
        "Unexpected error occurred while trying to fetch config JSON. It is most likely due to a local network issue."
    ));
}

#[actix_rt::test]
async fn a_connection_cut_mid_body_is_a_network_error() {
    let cdn = MockCdn::start();
    cdn.set_config(KEY, simple_config("flag", "one"));
    cdn.set_cut_body_after(Some(10));
    let (fetcher, log) = fetcher(options(&cdn.base_url()));
    let (error, transient) = expect_failure(fetcher.fetch(None).await);
    assert!(matches!(error, FetchError::Network(_)), "{error:?}");
    assert!(transient);
    assert_eq!(event_ids(&log), vec![1103]);
}

#[actix_rt::test]
async fn an_invalid_body_is_1105() {
    let cdn = MockCdn::start();
    let (fetcher, log) = fetcher(options(&cdn.base_url()));
    let valid = simple_config("flag", "one");
    let truncated = valid[..valid.len() / 2].to_owned();
    let bodies: [Vec<u8>; 4] = [
        b"{not json".to_vec(),
        truncated.into_bytes(),
        b"[1, 2]".to_vec(),
        vec![0xff, 0xfe, b'{', b'}'],
    ];
    for body in bodies {
        cdn.set_body_override(body.clone());
        let (error, transient) = expect_failure(fetcher.fetch(None).await);
        assert!(matches!(error, FetchError::InvalidBody(_)), "{error:?}");
        assert!(transient);
        let events = log.take();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].event_id, 1105);
        assert!(events[0].message.starts_with(
            "Fetching config JSON was successful but the HTTP response content was invalid."
        ));
    }
}

#[actix_rt::test]
async fn a_body_over_the_limit_is_refused() {
    let cdn = MockCdn::start();
    // A valid config of about 64 KiB.
    let big = simple_config("flag", &"x".repeat(64 * 1024));
    cdn.set_config(KEY, big.clone());
    let (fetcher, log) = fetcher(FetchOptions {
        max_body_bytes: 16 * 1024,
        ..options(&cdn.base_url())
    });

    // Declared by Content-Length.
    let (error, transient) = expect_failure(fetcher.fetch(None).await);
    assert_eq!(error, FetchError::BodyTooLarge { limit: 16 * 1024 });
    assert!(transient);
    let events = log.take();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event_id, 1105);
    assert!(
        events[0].message.contains("16384 bytes"),
        "{}",
        events[0].message
    );

    // Streamed without a length.
    cdn.set_chunked(true);
    let (error, _) = expect_failure(fetcher.fetch(None).await);
    assert_eq!(error, FetchError::BodyTooLarge { limit: 16 * 1024 });
    assert_eq!(event_ids(&log), vec![1105]);

    // Under the limit, both ways.
    let (fetcher, _log) = fetcher_with_limit(&cdn, 128 * 1024);
    assert_eq!(
        flag_text(&fetcher.fetch(None).await, "flag").len(),
        64 * 1024
    );
    cdn.set_chunked(false);
    assert_eq!(
        flag_text(&fetcher.fetch(None).await, "flag").len(),
        64 * 1024
    );
}

fn fetcher_with_limit(cdn: &MockCdn, limit: usize) -> (Fetcher, Arc<MemoryLog>) {
    fetcher(FetchOptions {
        max_body_bytes: limit,
        ..options(&cdn.base_url())
    })
}

// ---------------------------------------------------------------------------------------------
// URLs

#[actix_rt::test]
async fn data_governance_and_custom_urls() {
    let (global, _) = fetcher(FetchOptions {
        base_url: None,
        ..options("unused")
    });
    assert_eq!(
        global.current_base_url(),
        "https://cdn-global.configcat.com"
    );
    assert_eq!(
        global.config_url(),
        format!("https://cdn-global.configcat.com/configuration-files/{KEY}/config_v6.json")
    );

    let (eu, _) = fetcher(FetchOptions {
        base_url: None,
        data_governance: DataGovernance::EuOnly,
        ..options("unused")
    });
    assert_eq!(eu.current_base_url(), "https://cdn-eu.configcat.com");
    assert_eq!(
        eu.config_url(),
        format!("https://cdn-eu.configcat.com/configuration-files/{KEY}/config_v6.json")
    );
    assert_eq!(DataGovernance::default(), DataGovernance::Global);

    let (custom, _) = fetcher(options("https://proxy.example.com/configcat/"));
    assert_eq!(
        custom.config_url(),
        format!("https://proxy.example.com/configcat/configuration-files/{KEY}/config_v6.json")
    );
}

#[actix_rt::test]
async fn a_trailing_slash_of_a_custom_url_is_stripped() {
    let cdn = MockCdn::start();
    cdn.set_config(KEY, simple_config("flag", "one"));
    let (fetcher, _log) = fetcher(options(&format!("{}/", cdn.base_url())));
    assert_eq!(flag_text(&fetcher.fetch(None).await, "flag"), "one");
    assert_eq!(cdn.last_request().unwrap().path, MockCdn::config_path(KEY));
}

#[actix_rt::test]
async fn invalid_options_are_refused() {
    let log = Arc::new(MemoryLog::new(LogLevel::Info));
    for url in ["ftp://example.com", "not a url", "http://"] {
        let result = Fetcher::new(options(url), log.clone());
        assert!(
            matches!(result, Err(crate::error::Error::InvalidUrl(_))),
            "{url}: {result:?}"
        );
    }
    let result = Fetcher::new(
        FetchOptions {
            extra_root_certificates: vec![b"not a certificate".to_vec()],
            ..options("https://example.com")
        },
        log.clone(),
    );
    assert!(
        matches!(result, Err(crate::error::Error::InvalidCertificate(_))),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Redirects (data governance)

#[actix_rt::test]
async fn redirect_mode_0_switches_for_the_next_fetch() {
    let first = MockCdn::start();
    let second = MockCdn::start();
    first.set_config(
        KEY,
        with_redirect(&simple_config("from", "first"), &second.base_url(), 0),
    );
    second.set_config(KEY, simple_config("from", "second"));
    let (fetcher, log) = fetcher(governance_options(&first.base_url()));

    assert_eq!(flag_text(&fetcher.fetch(None).await, "from"), "first");
    assert_eq!((first.request_count(), second.request_count()), (1, 0));
    assert_eq!(fetcher.current_base_url(), second.base_url());

    assert_eq!(flag_text(&fetcher.fetch(None).await, "from"), "second");
    assert_eq!((first.request_count(), second.request_count()), (1, 1));
    assert_eq!(fetcher.current_base_url(), second.base_url());
    assert_eq!(event_ids(&log), Vec::<u32>::new());
}

#[actix_rt::test]
async fn redirect_mode_1_refetches_at_once_and_warns_3002() {
    let first = MockCdn::start();
    let second = MockCdn::start();
    first.set_config(
        KEY,
        with_redirect(&simple_config("from", "first"), &second.base_url(), 1),
    );
    second.set_config(KEY, simple_config("from", "second"));
    let (fetcher, log) = fetcher(governance_options(&first.base_url()));

    let outcome = fetcher.fetch(None).await;
    assert_eq!(flag_text(&outcome, "from"), "second");
    match &outcome {
        FetchOutcome::Fetched { etag, .. } => assert_eq!(*etag, second.etag_of(KEY)),
        _ => unreachable!(),
    }
    assert_eq!((first.request_count(), second.request_count()), (1, 1));
    assert_eq!(fetcher.current_base_url(), second.base_url());
    let events = log.take();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event_id, 3002);
    assert_eq!(events[0].level, LogLevel::Warn);
    assert!(events[0].message.contains("dataGovernance"));

    // Later fetches stay on the second CDN.
    fetcher.fetch(None).await;
    assert_eq!((first.request_count(), second.request_count()), (1, 2));
}

#[actix_rt::test]
async fn redirect_mode_2_refetches_at_once_without_warning() {
    let first = MockCdn::start();
    let second = MockCdn::start();
    first.set_config(
        KEY,
        with_redirect(&simple_config("from", "first"), &second.base_url(), 2),
    );
    second.set_config(KEY, simple_config("from", "second"));
    let (fetcher, log) = fetcher(governance_options(&first.base_url()));

    assert_eq!(flag_text(&fetcher.fetch(None).await, "from"), "second");
    assert_eq!((first.request_count(), second.request_count()), (1, 1));
    assert_eq!(fetcher.current_base_url(), second.base_url());
    assert_eq!(event_ids(&log), Vec::<u32>::new());
}

#[actix_rt::test]
async fn a_redirect_to_the_current_url_is_no_redirect() {
    let cdn = MockCdn::start();
    cdn.set_config(
        KEY,
        with_redirect(
            &simple_config("from", "first"),
            &format!("{}/", cdn.base_url()),
            1,
        ),
    );
    let (fetcher, log) = fetcher(governance_options(&cdn.base_url()));
    assert_eq!(flag_text(&fetcher.fetch(None).await, "from"), "first");
    assert_eq!(cdn.request_count(), 1);
    assert_eq!(event_ids(&log), Vec::<u32>::new());
}

#[actix_rt::test]
async fn a_custom_base_url_follows_only_mode_2() {
    for mode in [0u8, 1] {
        let custom = MockCdn::start();
        let other = MockCdn::start();
        custom.set_config(
            KEY,
            with_redirect(&simple_config("from", "custom"), &other.base_url(), mode),
        );
        other.set_config(KEY, simple_config("from", "other"));
        let (fetcher, log) = fetcher(options(&custom.base_url()));

        assert_eq!(flag_text(&fetcher.fetch(None).await, "from"), "custom");
        assert_eq!(flag_text(&fetcher.fetch(None).await, "from"), "custom");
        assert_eq!(
            (custom.request_count(), other.request_count()),
            (2, 0),
            "mode {mode}"
        );
        assert_eq!(fetcher.current_base_url(), custom.base_url());
        assert_eq!(event_ids(&log), Vec::<u32>::new(), "mode {mode}");
    }

    let custom = MockCdn::start();
    let other = MockCdn::start();
    custom.set_config(
        KEY,
        with_redirect(&simple_config("from", "custom"), &other.base_url(), 2),
    );
    other.set_config(KEY, simple_config("from", "other"));
    let (fetcher, log) = fetcher(options(&custom.base_url()));
    assert_eq!(flag_text(&fetcher.fetch(None).await, "from"), "other");
    assert_eq!((custom.request_count(), other.request_count()), (1, 1));
    assert_eq!(fetcher.current_base_url(), other.base_url());
    assert_eq!(event_ids(&log), Vec::<u32>::new());
}

#[actix_rt::test]
async fn a_redirect_loop_stops_after_3_requests_with_1104_and_keeps_the_config() {
    let global = MockCdn::start();
    let eu = MockCdn::start();
    global.set_config(
        KEY,
        with_redirect(&simple_config("from", "global"), &eu.base_url(), 1),
    );
    eu.set_config(
        KEY,
        with_redirect(&simple_config("from", "eu"), &global.base_url(), 1),
    );
    let (fetcher, log) = fetcher(governance_options(&global.base_url()));

    // global → eu → global: the third config (global's) is returned.
    let outcome = fetcher.fetch(None).await;
    assert_eq!(flag_text(&outcome, "from"), "global");
    assert_eq!((global.request_count(), eu.request_count()), (2, 1));
    let ids = event_ids(&log);
    assert_eq!(ids.iter().filter(|id| **id == 1104).count(), 1, "{ids:?}");
    assert_eq!(ids.iter().filter(|id| **id == 3002).count(), 3, "{ids:?}");
    assert_eq!(ids.last(), Some(&1104));
    // The last redirect is kept: the next refresh starts at eu (eu → global → eu).
    assert_eq!(fetcher.current_base_url(), eu.base_url());
    let outcome = fetcher.fetch(None).await;
    assert_eq!(flag_text(&outcome, "from"), "eu");
    assert_eq!((global.request_count(), eu.request_count()), (3, 3));
}

#[actix_rt::test]
async fn a_forced_loop_from_a_custom_url_also_stops_after_3_requests() {
    let a = MockCdn::start();
    let b = MockCdn::start();
    a.set_config(
        KEY,
        with_redirect(&simple_config("from", "a"), &b.base_url(), 2),
    );
    b.set_config(
        KEY,
        with_redirect(&simple_config("from", "b"), &a.base_url(), 2),
    );
    let (fetcher, log) = fetcher(options(&a.base_url()));

    assert_eq!(flag_text(&fetcher.fetch(None).await, "from"), "a");
    assert_eq!((a.request_count(), b.request_count()), (2, 1));
    let events = log.take();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event_id, 1104);
    assert_eq!(events[0].level, LogLevel::Error);
    assert_eq!(events[0].message, FetchError::RedirectLoop.to_string());
}

#[actix_rt::test]
async fn a_failure_after_a_redirect_is_returned_and_clones_share_the_redirect() {
    let first = MockCdn::start();
    let second = MockCdn::start();
    first.set_config(
        KEY,
        with_redirect(&simple_config("from", "first"), &second.base_url(), 2),
    );
    second.set_status(500);
    let (fetcher, log) = fetcher(governance_options(&first.base_url()));
    let clone = fetcher.clone();

    let (error, transient) = expect_failure(fetcher.fetch(None).await);
    assert_eq!(error.event_id(), 1101);
    assert!(transient);
    assert_eq!(event_ids(&log), vec![1101]);
    assert_eq!(clone.current_base_url(), second.base_url());
}

// ---------------------------------------------------------------------------------------------
// Proxy

#[actix_rt::test]
async fn fetches_through_a_proxy() {
    let cdn = MockCdn::start();
    cdn.set_config(KEY, simple_config("flag", "proxied"));
    let proxy = ForwardProxy::start();
    let (fetcher, log) = fetcher(FetchOptions {
        proxy: Some(Proxy::new(&proxy.url()).unwrap()),
        ..options(&cdn.base_url())
    });

    assert_eq!(flag_text(&fetcher.fetch(None).await, "flag"), "proxied");
    assert!(proxy.tunnels_established() >= 1);
    assert_eq!(
        proxy.connect_targets()[0],
        format!("127.0.0.1:{}", cdn.addr().port())
    );
    assert_eq!(proxy.requests()[0].header("proxy-authorization"), None);
    assert_eq!(cdn.config_request_count(KEY), 1);
    assert_eq!(event_ids(&log), Vec::<u32>::new());
}

#[actix_rt::test]
async fn a_proxy_with_credentials() {
    let cdn = MockCdn::start();
    cdn.set_config(KEY, simple_config("flag", "proxied"));
    let proxy = ForwardProxy::start_with_credentials("alice", "s3cret:pw");

    // Right credentials, given separately and in the URL.
    for proxy_option in [
        Proxy::new(&proxy.url())
            .unwrap()
            .credentials("alice", "s3cret:pw"),
        Proxy::new(&proxy.url().replace("http://", "http://alice:s3cret:pw@")).unwrap(),
    ] {
        let (fetcher, log) = fetcher(FetchOptions {
            proxy: Some(proxy_option),
            ..options(&cdn.base_url())
        });
        assert_eq!(flag_text(&fetcher.fetch(None).await, "flag"), "proxied");
        assert_eq!(event_ids(&log), Vec::<u32>::new());
    }
    assert_eq!(proxy.tunnels_rejected(), 0);
    assert!(proxy.tunnels_established() >= 2);
    assert_eq!(
        proxy.requests()[0].header("proxy-authorization"),
        Some("Basic YWxpY2U6czNjcmV0OnB3")
    );

    // Wrong and missing credentials.
    let served = cdn.request_count();
    for proxy_option in [
        Proxy::new(&proxy.url())
            .unwrap()
            .credentials("alice", "wrong"),
        Proxy::new(&proxy.url()).unwrap(),
    ] {
        let (fetcher, log) = fetcher(FetchOptions {
            proxy: Some(proxy_option),
            ..options(&cdn.base_url())
        });
        let (error, transient) = expect_failure(fetcher.fetch(None).await);
        match &error {
            FetchError::Network(cause) => assert!(cause.contains("407"), "{cause}"),
            other => panic!("expected a network error, got {other:?}"),
        }
        assert!(transient);
        assert_eq!(event_ids(&log), vec![1103]);
    }
    assert_eq!(proxy.tunnels_rejected(), 2);
    assert_eq!(cdn.request_count(), served);
}

/// A fake environment for [`Fetcher::with_env`].
fn fake_env(vars: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    move |name| vars.get(name).cloned()
}

fn fetcher_with_env(
    options: FetchOptions,
    env: impl Fn(&str) -> Option<String>,
) -> (Fetcher, Arc<MemoryLog>) {
    let log = Arc::new(MemoryLog::new(LogLevel::Info));
    let fetcher = Fetcher::with_env(options, log.clone(), env).expect("building the fetcher");
    (fetcher, log)
}

#[actix_rt::test]
async fn the_proxy_from_the_environment_is_used_only_when_asked_for() {
    let cdn = MockCdn::start();
    cdn.set_config(KEY, simple_config("flag", "proxied"));
    let proxy = ForwardProxy::start_with_credentials("eve", "p@ss");
    let env = [(
        "http_proxy",
        proxy.url().replace("http://", "http://eve:p%40ss@"),
    )];

    let (fetcher, log) = fetcher_with_env(
        FetchOptions {
            proxy_from_env: true,
            ..options(&cdn.base_url())
        },
        fake_env(&env),
    );
    assert_eq!(flag_text(&fetcher.fetch(None).await, "flag"), "proxied");
    assert_eq!(
        proxy.connect_targets(),
        vec![format!("127.0.0.1:{}", cdn.addr().port())]
    );
    assert_eq!(proxy.tunnels_rejected(), 0);
    assert_eq!(event_ids(&log), Vec::<u32>::new());

    // Not asked for: the same environment is not read.
    let (fetcher, _log) = fetcher_with_env(options(&cdn.base_url()), fake_env(&env));
    assert_eq!(flag_text(&fetcher.fetch(None).await, "flag"), "proxied");
    assert_eq!(proxy.connect_targets().len(), 1);
    assert_eq!(cdn.config_request_count(KEY), 2);

    // An explicit proxy wins over the environment.
    let other = ForwardProxy::start();
    let (fetcher, _log) = fetcher_with_env(
        FetchOptions {
            proxy: Some(Proxy::new(&other.url()).unwrap()),
            proxy_from_env: true,
            ..options(&cdn.base_url())
        },
        fake_env(&env),
    );
    assert_eq!(flag_text(&fetcher.fetch(None).await, "flag"), "proxied");
    assert_eq!(other.connect_targets().len(), 1);
    assert_eq!(proxy.connect_targets().len(), 1);
}

#[actix_rt::test]
async fn the_environment_proxy_is_chosen_per_target_across_a_redirect() {
    // The first CDN redirects (mode 2) to the second under the name `localhost`, which
    // `no_proxy` sends direct: the proxy sees only the first target.
    let first = MockCdn::start();
    let second = MockCdn::start();
    first.set_config(
        KEY,
        with_redirect(
            &simple_config("from", "first"),
            &second.localhost_base_url(),
            2,
        ),
    );
    second.set_config(KEY, simple_config("from", "second"));
    let proxy = ForwardProxy::start();
    let env = [
        ("http_proxy", proxy.url()),
        ("no_proxy", "example.com, .localhost".to_owned()),
    ];
    let (fetcher, log) = fetcher_with_env(
        FetchOptions {
            proxy_from_env: true,
            ..governance_options(&first.base_url())
        },
        fake_env(&env),
    );

    assert_eq!(flag_text(&fetcher.fetch(None).await, "from"), "second");
    assert_eq!(fetcher.current_base_url(), second.localhost_base_url());
    assert_eq!(
        proxy.connect_targets(),
        vec![format!("127.0.0.1:{}", first.addr().port())]
    );
    assert_eq!((first.request_count(), second.request_count()), (1, 1));
    assert_eq!(second.last_request().unwrap().method, "GET");
    assert_eq!(event_ids(&log), Vec::<u32>::new());
}

#[actix_rt::test]
async fn an_https_target_uses_https_proxy_from_the_environment() {
    let cdn = MockCdn::start_tls();
    cdn.set_config(KEY, simple_config("flag", "secure"));
    let proxy = ForwardProxy::start();
    // `http_proxy` names a port nothing listens on: using it would fail the fetch.
    let env = [
        ("HTTPS_PROXY", proxy.url()),
        ("http_proxy", support::refused_base_url()),
    ];
    let (fetcher, log) = fetcher_with_env(
        FetchOptions {
            proxy_from_env: true,
            extra_root_certificates: vec![cdn.certificate_der()],
            ..options(&cdn.localhost_base_url())
        },
        fake_env(&env),
    );
    assert_eq!(flag_text(&fetcher.fetch(None).await, "flag"), "secure");
    assert_eq!(
        proxy.connect_targets(),
        vec![format!("localhost:{}", cdn.addr().port())]
    );
    assert_eq!(event_ids(&log), Vec::<u32>::new());
}

#[actix_rt::test]
async fn a_bad_proxy_variable_is_logged_as_9003_and_ignored() {
    let cdn = MockCdn::start();
    cdn.set_config(KEY, simple_config("flag", "direct"));
    let env = [
        ("http_proxy", "socks5://user:hunter2@proxy:1080".to_owned()),
        ("no_proxy", "10.0.0.0/40".to_owned()),
    ];
    let (fetcher, log) = fetcher_with_env(
        FetchOptions {
            proxy_from_env: true,
            ..options(&cdn.base_url())
        },
        fake_env(&env),
    );
    let events = log.take();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e.event_id == event::PROXY_ENV_INVALID
        && e.event_id == 9003
        && e.level == LogLevel::Error));
    assert_eq!(
        events[0].message,
        "The environment variable http_proxy cannot be used: `socks5://***@proxy:1080`: \
         unsupported scheme `socks5`; the variable is ignored"
    );
    assert!(events[1].message.contains("no_proxy"), "{events:?}");

    // No usable proxy is left: the fetch goes direct.
    assert_eq!(flag_text(&fetcher.fetch(None).await, "flag"), "direct");
    assert_eq!(cdn.config_request_count(KEY), 1);
}

#[test]
fn proxy_urls() {
    let proxy = Proxy::new("http://proxy.internal:3128").unwrap();
    assert_eq!((proxy.host(), proxy.port()), ("proxy.internal", 3128));
    let proxy = Proxy::new("proxy.internal:8080").unwrap();
    assert_eq!((proxy.host(), proxy.port()), ("proxy.internal", 8080));
    let proxy = Proxy::new("http://proxy.internal").unwrap();
    assert_eq!(proxy.port(), 80);
    let proxy = Proxy::new("http://user:secret@[::1]:3128/").unwrap();
    assert_eq!((proxy.host(), proxy.port()), ("[::1]", 3128));
    let debug = format!("{proxy:?}");
    assert!(
        debug.contains("user") && !debug.contains("secret"),
        "{debug}"
    );

    for bad in [
        "https://proxy.internal:443",
        "socks5://proxy:1080",
        "http://proxy/path",
        "http://",
    ] {
        assert!(
            matches!(Proxy::new(bad), Err(crate::error::Error::InvalidProxy(_))),
            "{bad}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// TLS

#[actix_rt::test]
async fn https_with_a_trusted_extra_root() {
    let cdn = MockCdn::start_tls();
    cdn.set_config(KEY, simple_config("flag", "secure"));
    for base_url in [cdn.base_url(), cdn.localhost_base_url()] {
        assert!(base_url.starts_with("https://"));
        let (fetcher, log) = fetcher(FetchOptions {
            extra_root_certificates: vec![cdn.certificate_der()],
            ..options(&base_url)
        });
        assert_eq!(flag_text(&fetcher.fetch(None).await, "flag"), "secure");
        assert_eq!(event_ids(&log), Vec::<u32>::new());
    }
}

#[actix_rt::test]
async fn https_with_an_untrusted_certificate_fails() {
    let cdn = MockCdn::start_tls();
    cdn.set_config(KEY, simple_config("flag", "secure"));
    let other_ca = support::TestCertificates::generate().ca_der;
    for extra in [vec![], vec![other_ca]] {
        let (fetcher, log) = fetcher(FetchOptions {
            extra_root_certificates: extra,
            ..options(&cdn.base_url())
        });
        let (error, transient) = expect_failure(fetcher.fetch(None).await);
        assert!(matches!(error, FetchError::Network(_)), "{error:?}");
        assert!(transient);
        assert_eq!(event_ids(&log), vec![1103]);
    }
    assert_eq!(cdn.request_count(), 0);
}

#[actix_rt::test]
async fn https_through_a_proxy() {
    let cdn = MockCdn::start_tls();
    cdn.set_config(KEY, simple_config("flag", "secure"));
    let proxy = ForwardProxy::start_with_credentials("bob", "pw");
    let (fetcher, log) = fetcher(FetchOptions {
        extra_root_certificates: vec![cdn.certificate_der()],
        proxy: Some(Proxy::new(&proxy.url()).unwrap().credentials("bob", "pw")),
        ..options(&cdn.localhost_base_url())
    });

    let etag = match fetcher.fetch(None).await {
        FetchOutcome::Fetched { etag, .. } => etag,
        other => panic!("expected a config, got {other:?}"),
    };
    assert!(matches!(
        fetcher.fetch(etag).await,
        FetchOutcome::NotModified
    ));
    assert!(proxy.tunnels_established() >= 1);
    assert_eq!(
        proxy.connect_targets()[0],
        format!("localhost:{}", cdn.addr().port())
    );
    assert_eq!(cdn.config_request_count(KEY), 2);
    assert_eq!(event_ids(&log), Vec::<u32>::new());
}

#[actix_rt::test]
async fn http2_through_a_proxy_tunnel() {
    let cdn = MockCdn::start_h2();
    cdn.set_config(KEY, simple_config("flag", "tunnelled"));
    let proxy = ForwardProxy::start();
    let (fetcher, log) = fetcher(FetchOptions {
        extra_root_certificates: vec![cdn.certificate_der()],
        proxy: Some(Proxy::new(&proxy.url()).unwrap()),
        ..options(&cdn.localhost_base_url())
    });
    assert_eq!(flag_text(&fetcher.fetch(None).await, "flag"), "tunnelled");
    assert!(proxy.tunnels_established() >= 1);
    assert_eq!(cdn.http2_request_count(), 1);
    assert_eq!(event_ids(&log), Vec::<u32>::new());
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn error_event_ids_and_messages() {
    let cases = [
        (FetchError::InvalidSdkKey { status: 403 }, 1100),
        (
            FetchError::UnexpectedStatus {
                status: 502,
                reason: "Bad Gateway".to_owned(),
            },
            1101,
        ),
        (FetchError::Timeout { millis: 30000 }, 1102),
        (FetchError::Network("refused".to_owned()), 1103),
        (FetchError::RedirectLoop, 1104),
        (FetchError::InvalidBody("bad".to_owned()), 1105),
        (FetchError::BodyTooLarge { limit: 10 }, 1105),
        (FetchError::NotModifiedWithoutConfig, 1106),
    ];
    for (error, id) in cases {
        assert_eq!(error.event_id(), id, "{error:?}");
        assert_eq!(error.is_transient(), id != 1100, "{error:?}");
    }
    assert_eq!(
        FetchError::RedirectLoop.to_string(),
        "Redirection loop encountered while trying to fetch config JSON. Please contact us at https://configcat.com/support/"
    );
    assert_eq!(
        FetchError::NotModifiedWithoutConfig.to_string(),
        "Unexpected HTTP response was received when no config JSON is cached locally: 304 Not Modified"
    );
    let log = MemoryLog::new(LogLevel::Warn);
    FetchError::NotModifiedWithoutConfig.log_to(&log);
    assert_eq!(
        log.take()[0].to_string(),
        "ERROR [1106] Unexpected HTTP response was received when no config JSON is cached locally: 304 Not Modified"
    );
}

// ---------------------------------------------------------------------------------------------
// No downgrade, DEBUG events, no SDK key in error texts

#[actix_rt::test]
async fn a_redirect_from_https_to_http_is_refused_once_and_the_url_kept() {
    let secure = MockCdn::start_tls();
    let plain = MockCdn::start();
    plain.set_config(KEY, simple_config("from", "plain"));
    // Modes 1 and 2 refetch at once, 0 would switch for the next fetch: all are refused, from
    // the data governance URL and (mode 2 only leaves it) from a custom one.
    for (mode, custom) in [(1, false), (2, false), (0, false), (2, true)] {
        secure.set_config(
            KEY,
            with_redirect(&simple_config("from", "secure"), &plain.base_url(), mode),
        );
        let base = if custom {
            options(&secure.base_url())
        } else {
            governance_options(&secure.base_url())
        };
        let (fetcher, log) = fetcher(FetchOptions {
            extra_root_certificates: vec![secure.certificate_der()],
            ..base
        });
        for _ in 0..3 {
            // The config that asked for the redirect is served.
            assert_eq!(flag_text(&fetcher.fetch(None).await, "from"), "secure");
            assert_eq!(fetcher.current_base_url(), secure.base_url());
        }
        assert_eq!(
            plain.request_count(),
            0,
            "mode {mode}: nothing went out in clear"
        );
        let events = log.take();
        assert_eq!(events.len(), 1, "mode {mode}, logged once: {events:?}");
        assert_eq!(events[0].event_id, event::REDIRECT_DOWNGRADE_REFUSED);
        assert_eq!(events[0].level, LogLevel::Warn);
        assert!(events[0].message.contains(&plain.base_url()), "{events:?}");
        assert!(!events[0].message.contains(KEY), "{events:?}");
    }
    // http to http (a local stand-in) and https to https are followed as before.
    let other_secure = MockCdn::start_tls();
    other_secure.set_config(KEY, simple_config("from", "other"));
    secure.set_config(
        KEY,
        with_redirect(
            &simple_config("from", "secure"),
            &other_secure.base_url(),
            2,
        ),
    );
    let (fetcher, log) = fetcher(FetchOptions {
        extra_root_certificates: vec![secure.certificate_der(), other_secure.certificate_der()],
        ..governance_options(&secure.base_url())
    });
    assert_eq!(flag_text(&fetcher.fetch(None).await, "from"), "other");
    assert_eq!(event_ids(&log), Vec::<u32>::new());
}

#[actix_rt::test]
async fn downloads_304s_and_failures_are_logged_at_debug_with_their_ids() {
    let cdn = MockCdn::start();
    cdn.set_config(KEY, simple_config("flag", "one"));
    let log = Arc::new(MemoryLog::new(LogLevel::Debug));
    let fetcher = Fetcher::new(options(&cdn.base_url()), log.clone()).unwrap();

    let FetchOutcome::Fetched { etag, .. } = fetcher.fetch(None).await else {
        panic!("a download")
    };
    fetcher.fetch(etag).await;
    cdn.push_status(500);
    fetcher.fetch(None).await;
    let events = log.take();
    let ids: Vec<(LogLevel, u32)> = events.iter().map(|e| (e.level, e.event_id)).collect();
    assert_eq!(
        ids,
        [
            (LogLevel::Debug, event::CONFIG_DOWNLOADED),
            (LogLevel::Debug, event::CONFIG_NOT_MODIFIED),
            (LogLevel::Error, event::FETCH_UNEXPECTED_STATUS),
            (LogLevel::Debug, event::DOWNLOAD_FAILED),
        ]
    );
    assert!(events[0].message.contains(&cdn.base_url()), "{events:?}");
    assert!(events[3].message.contains("1101"), "{events:?}");
    for event in &events {
        assert!(!event.message.contains(KEY), "{event}");
    }
}

#[actix_rt::test]
async fn error_texts_carry_neither_the_sdk_key_nor_unbounded_input() {
    let cdn = MockCdn::start();
    let (fetcher, log) = fetcher(options(&cdn.base_url()));
    // A hostile body that quotes the key in a place the parse error names, and a huge one.
    let quoting = format!(r#"{{"f":{{"{KEY}":{{"t":"not a type"}}}}}}"#);
    let huge = format!(r#"{{"f":{{"{}":{{"t":"x"}}}}}}"#, "k".repeat(1_000_000));
    for body in [quoting.into_bytes(), huge.into_bytes()] {
        cdn.set_body_override(body);
        let (error, _) = expect_failure(fetcher.fetch(None).await);
        let text = error.to_string();
        assert_eq!(error.event_id(), 1105);
        assert!(!text.contains("PKDVCLf-Hq-h-kCzMp-L7Q"), "{text}");
        assert!(!text.contains("y_ZB7o-Xb0Swxth"), "{text}");
        assert!(text.len() <= 5 * 1024, "{} bytes", text.len());
    }
    for event in log.take() {
        assert!(!event.message.contains("PKDVCLf-Hq-h-kCzMp-L7Q"), "{event}");
        assert!(event.message.len() <= 5 * 1024);
    }
    // The config URL of an SDK key that a URL cannot carry is quoted masked.
    let error = Fetcher::new(
        FetchOptions {
            sdk_key: "configcat-sdk-1/PKDVCLf Hq-h-kCzMp-L7Q/y_ZB7o-Xb0Swxth-ZlMSeA".to_owned(),
            ..options(&cdn.base_url())
        },
        Arc::new(crate::log::NoLog),
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(error.starts_with("invalid URL"), "{error}");
    assert!(!error.contains("PKDVCLf Hq-h-kCzMp-L7Q"), "{error}");
    assert!(!error.contains("y_ZB7o-Xb0Swxth"), "{error}");
}
