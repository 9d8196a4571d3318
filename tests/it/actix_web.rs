//! The actix-web integration, through `actix_web::test` services over real clients (a mock CDN):
//! the `Flags` extractor with a user built from the request, the default user, the error when
//! the app forgot to register the client, a config change seen without re-registering, and
//! the readiness handler.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::Addr;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, test, web};
use configcat_actix::web::{Flags, FlagsConfig, MissingFlagsConfig, readiness};
use configcat_actix::*;
use support::{MockCdn, sdk_key, simple_config, targeting_config};

/// A ready client over `config`, manual polling (so that only ForceRefresh changes it), and its
/// handle.
async fn client(
    cdn: &MockCdn,
    key: &str,
    config: String,
    default_user: Option<User>,
) -> (Addr<ConfigCat>, ConfigCatHandle) {
    cdn.set_config(key, config);
    let mut builder = ConfigCat::builder(key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .log_sink(NoLog);
    if let Some(user) = default_user {
        builder = builder.default_user(user);
    }
    let client = builder.start().unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    (client, handle)
}

fn user_from_header(req: &HttpRequest) -> Option<User> {
    let email = req.headers().get("x-user-email")?.to_str().ok()?;
    Some(User::new(email).email(email))
}

async fn greeting(flags: Flags) -> HttpResponse {
    let who = flags.user().map(User::identifier).unwrap_or("-").to_owned();
    let text = flags.get_value("greeting", String::from("default"));
    HttpResponse::Ok().body(format!("{who}: {text}"))
}

fn get(uri: &str, email: Option<&str>) -> test::TestRequest {
    let request = test::TestRequest::get().uri(uri);
    match email {
        Some(email) => request.insert_header(("x-user-email", email)),
        None => request,
    }
}

/// The body of `app`'s response to a request, as text.
macro_rules! body {
    ($app:expr, $request:expr) => {{
        let bytes = test::call_and_read_body($app, $request.to_request()).await;
        String::from_utf8(bytes.to_vec()).unwrap()
    }};
}

#[actix_rt::test]
async fn the_user_is_built_from_the_request_and_targeting_follows_it() {
    let cdn = MockCdn::start();
    let key = sdk_key("web-user-from-header");
    let (client, handle) = client(&cdn, &key, targeting_config(), None).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let config = FlagsConfig::new(handle).user_from(move |req: &HttpRequest| {
        counted.fetch_add(1, Ordering::SeqCst);
        user_from_header(req)
    });
    let app = test::init_service(
        App::new()
            .app_data(config)
            .route("/", web::get().to(greeting)),
    )
    .await;

    assert_eq!(
        body!(&app, get("/", Some("ada@example.com"))),
        "ada@example.com: hi, colleague"
    );
    assert_eq!(
        body!(&app, get("/", Some("bob@elsewhere.org"))),
        "bob@elsewhere.org: hello"
    );
    // No header: the function returns None, no default user: the flag's default value.
    assert_eq!(body!(&app, get("/", None)), "-: hello");
    // Once per extraction, so once per request here.
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn details_and_all_values_are_for_the_request_user() {
    let cdn = MockCdn::start();
    let key = sdk_key("web-details-all-values");
    let (client, handle) = client(&cdn, &key, targeting_config(), None).await;
    async fn details(flags: Flags) -> HttpResponse {
        let details = flags.get_value_details("greeting", String::new());
        let all = flags.get_all_values();
        let listed = flags.get_all_value_details();
        // The verbs without a user: the same as the handle's.
        let keys = flags.get_all_keys();
        let variation = flags.get_key_and_value("v-colleague");
        assert_eq!(keys, ["enabled", "greeting"]);
        assert_eq!(variation, flags.handle().get_key_and_value("v-colleague"));
        HttpResponse::Ok().body(format!(
            "{} {} {:?} {:?} {} {}",
            details.value,
            details.variation_id.as_deref().unwrap_or("-"),
            all.get("greeting"),
            all.get("enabled"),
            listed.len(),
            variation.map_or("-".into(), |(key, _)| key),
        ))
    }
    let app = test::init_service(
        App::new()
            .app_data(FlagsConfig::new(handle).user_from(user_from_header))
            .route("/", web::get().to(details)),
    )
    .await;
    let colleague = body!(&app, get("/", Some("ada@example.com")));
    assert_eq!(
        colleague,
        format!(
            "hi, colleague v-colleague {:?} {:?} 2 greeting",
            Some(Value::from("hi, colleague")),
            Some(Value::from(true)),
        )
    );
    let outsider = body!(&app, get("/", Some("bob@elsewhere.org")));
    assert_eq!(
        outsider,
        format!(
            "hello v-hello {:?} {:?} 2 greeting",
            Some(Value::from("hello")),
            Some(Value::from(true)),
        )
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn without_a_user_function_the_default_user_applies() {
    let cdn = MockCdn::start();
    let key = sdk_key("web-default-user");
    let colleague = User::new("default-user").email("d@example.com");
    let (client, handle) = client(&cdn, &key, targeting_config(), Some(colleague)).await;
    let app = test::init_service(
        App::new()
            .app_data(FlagsConfig::new(handle))
            .route("/", web::get().to(greeting)),
    )
    .await;
    // The header is there but nothing reads it: no user of the request's own.
    assert_eq!(
        body!(&app, get("/", Some("bob@elsewhere.org"))),
        "-: hi, colleague"
    );
    // The client's default user, not one captured at registration: clearing it shows.
    client.send(ClearDefaultUser).await.unwrap();
    assert_eq!(body!(&app, get("/", None)), "-: hello");
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_user_function_returning_none_falls_back_to_the_default_user() {
    let cdn = MockCdn::start();
    let key = sdk_key("web-none-default-user");
    let colleague = User::new("default-user").email("d@example.com");
    let (client, handle) = client(&cdn, &key, targeting_config(), Some(colleague)).await;
    let app = test::init_service(
        App::new()
            .app_data(FlagsConfig::new(handle).user_from(user_from_header))
            .route("/", web::get().to(greeting)),
    )
    .await;
    assert_eq!(body!(&app, get("/", None)), "-: hi, colleague");
    // A user of the request's own replaces the default user.
    assert_eq!(
        body!(&app, get("/", Some("bob@elsewhere.org"))),
        "bob@elsewhere.org: hello"
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_missing_registration_is_a_500_that_says_what_to_register() {
    let app = test::init_service(
        App::new()
            .route("/", web::get().to(greeting))
            .route("/readyz", web::get().to(readiness)),
    )
    .await;
    for uri in ["/", "/readyz"] {
        let response =
            test::call_service(&app, get(uri, Some("ada@example.com")).to_request()).await;
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{uri}"
        );
        let body = test::read_body(response).await;
        let body = std::str::from_utf8(&body).unwrap();
        assert_eq!(body, MissingFlagsConfig.to_string(), "{uri}");
        assert!(
            body.contains("App::new().app_data(configcat_actix::web::FlagsConfig::new(handle))"),
            "{body}"
        );
    }
}

#[actix_rt::test]
async fn the_config_can_be_registered_on_a_scope_or_in_web_data() {
    let cdn = MockCdn::start();
    let key = sdk_key("web-scope-and-data");
    let (client, handle) = client(&cdn, &key, targeting_config(), None).await;
    let config = FlagsConfig::new(handle).user_from(user_from_header);
    let app = test::init_service(
        App::new()
            .service(
                web::scope("/scoped")
                    .app_data(config.clone())
                    .route("", web::get().to(greeting)),
            )
            .service(
                web::scope("/data")
                    .app_data(web::Data::new(config))
                    .route("", web::get().to(greeting)),
            )
            .route("/outside", web::get().to(greeting)),
    )
    .await;
    for uri in ["/scoped", "/data"] {
        assert_eq!(
            body!(&app, get(uri, Some("ada@example.com"))),
            "ada@example.com: hi, colleague",
            "{uri}"
        );
    }
    let outside = test::call_service(&app, get("/outside", None).to_request()).await;
    assert_eq!(outside.status(), StatusCode::INTERNAL_SERVER_ERROR);
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn the_registered_handle_sees_a_config_change_without_re_registering() {
    let cdn = MockCdn::start();
    let key = sdk_key("web-config-change");
    let (client, handle) = client(&cdn, &key, simple_config("greeting", "v1"), None).await;
    let app = test::init_service(
        App::new()
            .app_data(FlagsConfig::new(handle).user_from(user_from_header))
            .route("/", web::get().to(greeting)),
    )
    .await;
    assert_eq!(body!(&app, get("/", None)), "-: v1");
    cdn.set_config(&key, simple_config("greeting", "v2"));
    // Not yet refreshed: still the first config.
    assert_eq!(body!(&app, get("/", None)), "-: v1");
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(body!(&app, get("/", None)), "-: v2");
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn readiness_is_503_until_the_client_is_ready_then_200_with_the_state() {
    let cdn = MockCdn::start();
    let key = sdk_key("web-readiness");
    cdn.set_config(&key, simple_config("greeting", "v1"));
    // The first download takes a while, so the client starts unready.
    cdn.set_delay(Duration::from_millis(1000));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::auto_poll(Duration::from_secs(60)))
        .log_sink(NoLog)
        .start()
        .unwrap();
    let handle = client.send(GetHandle).await.unwrap();
    let app = test::init_service(
        App::new()
            .app_data(FlagsConfig::new(handle.clone()))
            .route("/readyz", web::get().to(readiness)),
    )
    .await;
    let before = test::call_service(&app, get("/readyz", None).to_request()).await;
    assert_eq!(before.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(test::read_body(before).await, "NotReady");

    let state = handle.wait_for_ready(Duration::from_secs(5)).await;
    assert_eq!(state, ClientCacheState::HasUpToDateFlagData);
    let after = test::call_service(&app, get("/readyz", None).to_request()).await;
    assert_eq!(after.status(), StatusCode::OK);
    assert_eq!(test::read_body(after).await, "HasUpToDateFlagData");
    client.send(Close).await.unwrap();
}
