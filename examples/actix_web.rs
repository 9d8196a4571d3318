//! An actix-web app that registers a ConfigCat client once and serves a page that depends on a
//! flag for the visitor, plus a readiness probe.
//!
//! Run `cargo run --example actix_web --features actix-web` and open
//! http://127.0.0.1:8080/?user=ada@example.com (and any other e-mail address), or
//! http://127.0.0.1:8080/readyz. The config is served by a local stand-in for the CDN, so this
//! runs offline; with a real SDK key, drop `base_url`. It serves until Ctrl-C.

#[path = "support/local_cdn.rs"]
mod local_cdn;

use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use configcat_actix::web::{Flags, FlagsConfig, readiness};
use configcat_actix::{ConfigCat, GetHandle, User};
use local_cdn::LocalCdn;
use serde::Deserialize;

const CONFIG: &str = include_str!("data/config_v6.json");
const SDK_KEY: &str = "configcat-sdk-1/ACTIX-WEB-0123456789ab/ACTIX-WEB-0123456789ab";

#[derive(Deserialize)]
struct Visitor {
    user: Option<String>,
}

/// The visitor, from `?user=<e-mail>`. A real app would read its session or an authentication
/// header here; `None` (no parameter) leaves the client's default user to apply.
fn visitor(req: &HttpRequest) -> Option<User> {
    let query = web::Query::<Visitor>::from_query(req.query_string()).ok()?;
    let email = query.into_inner().user?;
    Some(User::new(email.clone()).email(email))
}

async fn home(flags: Flags) -> HttpResponse {
    let who = flags.user().and_then(User::get_email).unwrap_or("stranger");
    let body = if flags.get_value("isAwesomeFeatureEnabled", false) {
        format!("<h1>Hello {who}, the awesome feature is ON for you.</h1>")
    } else {
        format!("<h1>Hello {who}, nothing new to see yet.</h1>")
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cdn = LocalCdn::start(CONFIG)?;
    let client = ConfigCat::builder(SDK_KEY)
        .base_url(cdn.base_url())
        .start()?;
    let handle = client.send(GetHandle).await?;
    // Serve once the first config is in (at most 5 s): /readyz says 503 until then anyway.
    let state = handle.wait_for_ready(Duration::from_secs(5)).await;
    println!(
        "ConfigCat client ready: {state:?} (config from {})",
        cdn.base_url()
    );

    // Built once and cloned into each worker: every worker reads the one client.
    let flags = FlagsConfig::new(handle).user_from(visitor);
    println!("Listening on http://127.0.0.1:8080/?user=ada@example.com and /readyz");
    HttpServer::new(move || {
        App::new()
            .app_data(flags.clone())
            .route("/", web::get().to(home))
            .route("/readyz", web::get().to(readiness))
    })
    .bind(("127.0.0.1", 8080))?
    .run()
    .await?;
    cdn.stop().await;
    Ok(())
}
