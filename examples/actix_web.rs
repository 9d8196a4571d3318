//! An actix-web app that keeps a ConfigCat client in its app data and serves a page that
//! depends on a flag.
//!
//! Run `cargo run --example actix_web` and open http://127.0.0.1:8080/?user=ada@example.com
//! (and any other e-mail address). The config is served by a local stand-in for the CDN, so
//! this runs offline; with a real SDK key, drop `base_url`.

#[path = "support/local_cdn.rs"]
mod local_cdn;

use actix::Addr;
use actix_web::{App, HttpResponse, HttpServer, web};
use configcat_actix::{ConfigCat, GetValue, User};
use local_cdn::LocalCdn;
use serde::Deserialize;

const CONFIG: &str = include_str!("data/config_v6.json");
const SDK_KEY: &str = "configcat-sdk-1/ACTIX-WEB-0123456789ab/ACTIX-WEB-0123456789ab";

#[derive(Deserialize)]
struct Visitor {
    user: Option<String>,
}

async fn home(client: web::Data<Addr<ConfigCat>>, visitor: web::Query<Visitor>) -> HttpResponse {
    let email = visitor.user.clone().unwrap_or_default();
    let user = User::new(email.clone()).email(email.clone());
    let awesome = client
        .send(GetValue::new("isAwesomeFeatureEnabled", false).user(user))
        .await
        .unwrap_or(false);
    let body = if awesome {
        format!("<h1>Hello {email}, the awesome feature is ON for you.</h1>")
    } else {
        format!("<h1>Hello {email}, nothing new to see yet.</h1>")
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cdn = LocalCdn::start(CONFIG)?;
    let client = ConfigCat::builder(SDK_KEY)
        .base_url(cdn.base_url())
        .start()?;

    println!("Listening on http://127.0.0.1:8080/?user=ada@example.com");
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(client.clone()))
            .route("/", web::get().to(home))
    })
    .bind(("127.0.0.1", 8080))?
    .run()
    .await?;
    cdn.stop().await;
    Ok(())
}
