//! Quiet failures: a cache that keeps failing is logged at the first failure of a streak, then
//! at most once a minute, and once (INFO, the same id) when it works again; ERROR 9003 (a
//! proxy variable that cannot be used) once per start.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use configcat_actix::cache::{CacheError, CacheFuture, ConfigCache, InMemoryCache};
use configcat_actix::log::event;
use configcat_actix::*;
use support::{MockCdn, sdk_key, simple_config, sleep, text};

/// Fails every read and write while `down` is set; otherwise a working in-memory cache.
struct Flaky {
    down: Arc<AtomicBool>,
    inner: InMemoryCache,
}

impl ConfigCache for Flaky {
    fn get(&self, key: &str) -> CacheFuture<Option<String>> {
        if self.down.load(Ordering::SeqCst) {
            return Box::pin(async { Err(CacheError::new("connection refused")) });
        }
        self.inner.get(key)
    }

    fn set(&self, key: &str, value: String) -> CacheFuture<()> {
        if self.down.load(Ordering::SeqCst) {
            return Box::pin(async { Err(CacheError::new("connection refused")) });
        }
        self.inner.set(key, value)
    }
}

/// How many of `events` are `id` at `level`.
fn count(events: &[LogEvent], level: LogLevel, id: u32) -> usize {
    events
        .iter()
        .filter(|e| e.level == level && e.event_id == id)
        .count()
}

#[actix_rt::test]
async fn a_failing_cache_is_logged_once_per_streak_and_once_when_it_recovers() {
    let cdn = MockCdn::start();
    let key = sdk_key("quiet-cache");
    cdn.set_config(&key, simple_config("greeting", "downloaded"));
    let down = Arc::new(AtomicBool::new(true));
    let log = Arc::new(MemoryLog::new(LogLevel::Info));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .cache(Flaky {
            down: down.clone(),
            inner: InMemoryCache::new(),
        })
        .log_sink(log.clone())
        .start()
        .unwrap();

    // Three downloads (three failed writes) and accesses for 1.5 s past the 100 ms sync
    // interval (a dozen failed reads or more).
    for _ in 0..3 {
        client.send(ForceRefresh).await.unwrap().unwrap();
    }
    for _ in 0..15 {
        assert_eq!(text(&client, "greeting").await, "downloaded");
        sleep(100).await;
    }
    let events = log.take();
    assert_eq!(
        count(&events, LogLevel::Error, event::CACHE_READ_FAILED),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, LogLevel::Error, event::CACHE_WRITE_FAILED),
        1,
        "{events:?}"
    );

    // It works again: said once for reads and once for writes.
    down.store(false, Ordering::SeqCst);
    for _ in 0..2 {
        client.send(ForceRefresh).await.unwrap().unwrap();
    }
    for _ in 0..5 {
        assert_eq!(text(&client, "greeting").await, "downloaded");
        sleep(100).await;
    }
    let events = log.take();
    assert_eq!(
        count(&events, LogLevel::Info, event::CACHE_READ_FAILED),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, LogLevel::Info, event::CACHE_WRITE_FAILED),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, LogLevel::Error, event::CACHE_READ_FAILED),
        0,
        "{events:?}"
    );
    assert_eq!(
        count(&events, LogLevel::Error, event::CACHE_WRITE_FAILED),
        0,
        "{events:?}"
    );

    // A new streak is logged at once.
    down.store(true, Ordering::SeqCst);
    client.send(ForceRefresh).await.unwrap().unwrap();
    let events = log.take();
    assert_eq!(
        count(&events, LogLevel::Error, event::CACHE_WRITE_FAILED),
        1,
        "{events:?}"
    );
    client.send(Close).await.unwrap();
}

/// Set in the child process of `a_bad_proxy_variable_is_logged_once_per_start`.
const CHILD: &str = "CONFIGCAT_TEST_PROXY_9003_CHILD";

/// Runs this test binary again, with a proxy variable that cannot be used: the environment is
/// the process's, so it is set in a process of its own.
#[test]
fn a_bad_proxy_variable_is_logged_once_per_start() {
    let mut child = support::rerun(&support::test_name(
        module_path!(),
        "bad_proxy_variable_child",
    ));
    // Only the one variable under test: no proxy of the machine's applies to the mock CDN.
    for variable in [
        "http_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        child.env_remove(variable);
    }
    let output = child
        .arg("--nocapture")
        .env(CHILD, "1")
        .env("https_proxy", "socks5://proxy.invalid:1080")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("1 passed"), "the child ran: {stdout}");
}

#[actix_rt::test]
async fn bad_proxy_variable_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let cdn = MockCdn::start();
    let key = sdk_key("quiet-9003");
    cdn.set_config(&key, simple_config("greeting", "direct"));
    let log = Arc::new(MemoryLog::new(LogLevel::Error));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .proxy_from_env()
        // The change stream makes an HTTP client of its own from the same variables.
        .change_stream(ProxyStream::new(cdn.base_url(), "quiet-9003"))
        .log_sink(log.clone())
        .start()
        .unwrap();
    // Downloads build the HTTP client the poller uses.
    client.send(ForceRefresh).await.unwrap().unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(text(&client, "greeting").await, "direct");
    let events = log.take();
    assert_eq!(
        count(&events, LogLevel::Error, event::PROXY_ENV_INVALID),
        1,
        "{events:?}"
    );
    client.send(Close).await.unwrap();
}
