//! The client the benches measure: manual polling against a local CDN, refreshed once, and
//! silent (no log sink output).

use actix::Addr;
use configcat_actix::{ConfigCat, ForceRefresh, NoLog, PollingMode};

use crate::local_cdn::LocalCdn;

/// Starts a manual-polling client on the current System against `cdn`, refreshed once.
pub async fn started_client(cdn: &LocalCdn, key: &str) -> Addr<ConfigCat> {
    let client = ConfigCat::builder(key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(NoLog)
        .start()
        .expect("client");
    assert!(client.send(ForceRefresh).await.expect("refresh").is_ok());
    client
}
