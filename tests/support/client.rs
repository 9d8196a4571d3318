//! Small helpers shared by the client-level tests.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::Addr;
use configcat_actix::cache::{CacheError, CacheFuture, ConfigCache};
use configcat_actix::{
    ConfigCat, ConfigCatBuilder, GetValue, LogLevel, LogSink, MemoryLog, PollingMode,
};

use super::MockCdn;

/// A valid SDK key (both parts 22 characters), different per test so that servers and the
/// one-client-per-key registry can tell tests apart.
pub fn sdk_key(test: &str) -> String {
    let part: String = format!("{test:-<22}").chars().take(22).collect();
    format!("configcat-sdk-1/{part}/{part}")
}

/// The text value of `key`, or `"default"`.
pub async fn text(client: &Addr<ConfigCat>, key: &str) -> String {
    client
        .send(GetValue::new(key, "default".to_owned()))
        .await
        .expect("the client answers")
}

/// Sleeps on the test's runtime.
pub async fn sleep(ms: u64) {
    actix_rt::time::sleep(Duration::from_millis(ms)).await;
}

/// A manual-poll client of `key` on `cdn` logging to `sink`, to be started.
pub fn manual_poll_client(
    cdn: &MockCdn,
    key: &str,
    sink: impl LogSink + 'static,
) -> ConfigCatBuilder {
    ConfigCat::builder(key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(sink)
}

/// A `MemoryLog` at `level`, to give a client and read afterwards.
pub fn memory_log(level: LogLevel) -> Arc<MemoryLog> {
    Arc::new(MemoryLog::new(level))
}

/// Polls `client` until it serves `expected` as `greeting`; how long that took. Panics after
/// `within`.
pub async fn follows(client: &Addr<ConfigCat>, expected: &str, within: Duration) -> Duration {
    let since = Instant::now();
    while since.elapsed() < within {
        if text(client, "greeting").await == expected {
            return since.elapsed();
        }
        sleep(10).await;
    }
    panic!("did not serve {expected:?} within {within:?}");
}

/// What a callback pushed into `seen`, once it holds `count` items or after 10 s.
pub async fn wait_for<T: Clone>(seen: &Mutex<Vec<T>>, count: usize) -> Vec<T> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().len() < count && Instant::now() < deadline {
        sleep(10).await;
    }
    seen.lock().unwrap().clone()
}

/// Milliseconds since the epoch, as a cache entry writes its fetch time.
pub fn millis(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH).unwrap().as_millis()
}

/// A cache whose backend is down.
pub struct BrokenCache;

impl ConfigCache for BrokenCache {
    fn get(&self, _: &str) -> CacheFuture<Option<String>> {
        Box::pin(async { Err(CacheError::new("connection refused")) })
    }
    fn set(&self, _: &str, _: String) -> CacheFuture<()> {
        Box::pin(async { Err(CacheError::new("connection refused")) })
    }
}
