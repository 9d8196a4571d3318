//! An actor of your own that reacts to config changes.
//!
//! `Watcher` subscribes to the client; the example then publishes a new config on the local
//! stand-in for the CDN and asks for a refresh, and the watcher prints what changed.
//! Run it with `cargo run --example subscriber`.

#[path = "support/local_cdn.rs"]
mod local_cdn;

use actix::prelude::*;
use configcat_actix::{
    Close, ConfigCat, ConfigChanged, ForceRefresh, GetValue, PollingMode, Subscribe,
};
use local_cdn::LocalCdn;

const CONFIG: &str = include_str!("data/config_v6.json");
const SDK_KEY: &str = "configcat-sdk-1/SUBSCRIBER-0123456789a/SUBSCRIBER-0123456789a";

/// Prints the keys each new config changed (all of them for the first config).
struct Watcher;

impl Actor for Watcher {
    type Context = Context<Self>;
}

impl Handler<ConfigChanged> for Watcher {
    type Result = ();

    fn handle(&mut self, changed: ConfigChanged, _: &mut Context<Self>) {
        // Sorted, and including the flags whose prerequisite flags or segments changed.
        let keys = &changed.changed_keys;
        println!("Watcher: {} setting(s) changed: {keys:?}", keys.len());
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cdn = LocalCdn::start(CONFIG)?;
    let client = ConfigCat::builder(SDK_KEY)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .start()?;
    let watcher = Watcher.start();
    client.send(Subscribe(watcher.recipient())).await?;

    // Manual polling: nothing is downloaded until asked.
    let refreshed = client.send(ForceRefresh).await?;
    println!("First refresh succeeded: {}", refreshed.is_ok());

    // The dashboard turns the feature on for everybody.
    cdn.publish(
        &CONFIG
            .replace(
                r#""v": {"b": false}, "i": "awesome-off""#,
                r#""v": {"b": true}, "i": "awesome-on""#,
            )
            .replace(
                r#"{"p": 75, "v": {"b": false}"#,
                r#"{"p": 75, "v": {"b": true}"#,
            ),
    );
    client.send(ForceRefresh).await??;
    let on = client
        .send(GetValue::new("isAwesomeFeatureEnabled", false))
        .await?;
    println!("isAwesomeFeatureEnabled for an anonymous visitor: {on}");

    // Let the watcher print before shutting down.
    actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    client.send(Close).await?;
    cdn.stop().await;
    Ok(())
}
