//! The ConfigCat client quickstart, runnable offline.
//!
//! It starts a tiny in-process "CDN" on 127.0.0.1 that serves `examples/data/config_v6.json`,
//! points a [`ConfigCat`] client at it, and evaluates a few flags for a few users. The log level
//! is INFO, so each decision is printed with ConfigCat's evaluation log (event 5000).
//!
//! Run it with `cargo run --example quickstart`. Against the real CDN, drop `base_url` and use
//! your SDK key.

#[path = "support/local_cdn.rs"]
mod local_cdn;

use std::time::Duration;

use configcat_actix::{Close, ConfigCat, GetValue, LogLevel, PollingMode, User, WaitForReady};
use local_cdn::LocalCdn;

const CONFIG: &str = include_str!("data/config_v6.json");
const SDK_KEY: &str = "configcat-sdk-1/QUICKSTART-0123456789a/QUICKSTART-0123456789a";

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local stand-in for the CDN: GET /configuration-files/<sdk key>/config_v6.json.
    let cdn = LocalCdn::start(CONFIG)?;
    let client = ConfigCat::builder(SDK_KEY)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::auto_poll(Duration::from_secs(60)))
        .log_level(LogLevel::Info)
        .start()?;
    let state = client.send(WaitForReady(Duration::from_secs(5))).await?;
    println!("== configcat-actix quickstart");
    println!(
        "   a local stand-in for the ConfigCat CDN on {}",
        cdn.base_url()
    );
    println!("   serving examples/data/config_v6.json for SDK key {SDK_KEY}");
    println!("   a ConfigCat client (auto poll every 60 s, log level INFO): ready with {state:?}");
    println!(
        "   evaluating 4 flags for 3 users; each decision follows with its evaluation log (event 5000)"
    );

    let users = [
        User::new("staff-1")
            .email("ada@example.com")
            .country("Hungary")
            .custom("OrderCount", 4),
        User::new("beta-7")
            .email("bob@beta.example.com")
            .custom("OrderCount", 5),
        User::new("customer-42")
            .country("Austria")
            .custom("OrderCount", 3),
    ];
    for user in users {
        let id = user.identifier().to_owned();
        let awesome = client
            .send(GetValue::new("isAwesomeFeatureEnabled", false).user(user.clone()))
            .await?;
        let banner = client
            .send(GetValue::new("betaBanner", String::new()).user(user.clone()))
            .await?;
        let discount = client
            .send(GetValue::new("discountPercent", 0_i64).user(user.clone()))
            .await?;
        let premium = client
            .send(GetValue::new("premiumSupport", false).user(user))
            .await?;
        println!(
            "\n== {id}: isAwesomeFeatureEnabled={awesome} betaBanner={banner:?} discountPercent={discount} premiumSupport={premium}\n"
        );
    }

    client.send(Close).await?;
    cdn.stop().await;
    Ok(())
}
