//! Evaluates the bundled `examples/data/config_v6.json` for a few users and prints each result
//! with its INFO evaluation log (event 5000), the way a ConfigCat client explains a decision.
//!
//! Run it with `cargo run --example quickstart`; it needs no network.

use configcat_actix::{Config, LogLevel, SlogSink, User, eval};

const CONFIG: &str = include_str!("data/config_v6.json");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::parse(CONFIG)?;
    let log = SlogSink::stdout(LogLevel::Info);

    let users = [
        User::new("staff-1").email("ada@example.com").country("Hungary").custom("OrderCount", 4),
        User::new("beta-7").email("bob@beta.example.com").custom("OrderCount", 5),
        User::new("customer-42").country("Austria").custom("OrderCount", 3),
    ];
    for user in &users {
        println!("\n== {}", user.identifier());
        let awesome = eval::evaluate_value(&config, "isAwesomeFeatureEnabled", false, Some(user), &log);
        let banner = eval::evaluate_value(&config, "betaBanner", String::new(), Some(user), &log);
        let discount = eval::evaluate_value(&config, "discountPercent", 0_i64, Some(user), &log);
        let premium = eval::evaluate_value(&config, "premiumSupport", false, Some(user), &log);
        println!(
            "isAwesomeFeatureEnabled={awesome} betaBanner={banner:?} discountPercent={discount} premiumSupport={premium}"
        );
    }
    Ok(())
}
