//! Small helpers shared by the client-level tests.

use std::time::Duration;

use actix::Addr;
use configcat_actix::{ConfigCat, ConfigCatBuilder, GetValue, LogSink, PollingMode};

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
