//! The OpenFeature provider, exercised through the OpenFeature client (as applications use it)
//! over a ConfigCat client serving a local-only override file; readiness and status against
//! the mock CDN.

use crate::support;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::Addr;
use configcat_actix::cache::{ConfigCache, InMemoryCache, cache_key};
use configcat_actix::openfeature::ConfigCatProvider;
use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour};
use configcat_actix::{Close, ConfigCat, ForceRefresh, NoLog, PollingMode};
use open_feature::provider::{FeatureProvider, ProviderStatus};
use open_feature::{
    Client, EvaluationContext, EvaluationContextFieldValue, EvaluationErrorCode, EvaluationReason,
    FlagMetadataValue, OpenFeature, StructValue, Value,
};
use support::{MockCdn, sdk_key, simple_config};
use tokio::sync::{Mutex, MutexGuard};

/// The OpenFeature API is a process-wide singleton: tests take turns setting its provider.
static API: Mutex<()> = Mutex::const_new(());

const CONFIG: &str = r#"{"p":{"s":"salt"},"f":{
  "emailFlag":{"t":0,"v":{"b":false},"i":"v-email-off",
    "r":[{"c":[{"u":{"a":"Email","c":2,"l":["@example.com"]}}],"s":{"v":{"b":true},"i":"v-email-on"}}]},
  "countryFlag":{"t":1,"v":{"s":"elsewhere"},"i":"v-elsewhere",
    "r":[{"c":[{"u":{"a":"Country","c":0,"l":["Hungary"]}}],"s":{"v":{"s":"hungary"},"i":"v-hu"}}]},
  "planFlag":{"t":1,"v":{"s":"basic"},"i":"v-basic",
    "r":[{"c":[{"u":{"a":"Plan","c":0,"l":["enterprise"]}}],"s":{"v":{"s":"premium"},"i":"v-premium"}},
         {"c":[{"u":{"a":"Seats","c":15,"d":10}}],"s":{"v":{"s":"team"},"i":"v-team"}},
         {"c":[{"u":{"a":"Beta","c":0,"l":["true"]}}],"s":{"v":{"s":"beta"},"i":"v-beta"}},
         {"c":[{"u":{"a":"Ratio","c":14,"d":0.5}}],"s":{"v":{"s":"ratio"},"i":"v-ratio"}},
         {"c":[{"u":{"a":"Roles","c":34,"l":["admin"]}}],"s":{"v":{"s":"admin"},"i":"v-admin"}}]},
  "splitFlag":{"t":0,"v":{"b":false},"i":"v-split-default",
    "p":[{"p":100,"v":{"b":true},"i":"v-split-on"},{"p":0,"v":{"b":false},"i":"v-split-off"}]},
  "plainFlag":{"t":0,"v":{"b":true},"i":"v-plain"},
  "intFlag":{"t":2,"v":{"i":42},"i":"v-int"},
  "floatFlag":{"t":3,"v":{"d":3.5},"i":"v-float"},
  "jsonFlag":{"t":1,"v":{"s":"{\"color\":\"red\",\"size\":3,\"ratio\":0.5,\"tags\":[\"a\",\"b\"],\"nested\":{\"on\":true},\"none\":null}"},"i":"v-json"},
  "badJsonFlag":{"t":1,"v":{"s":"{not json"},"i":"v-bad"},
  "arrayJsonFlag":{"t":1,"v":{"s":"[1,2]"},"i":"v-array"}
}}"#;

/// A config file removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Holds the API turn, the config file and the ConfigCat client for one test.
struct Setup {
    client: Client,
    _configcat: Addr<ConfigCat>,
    _file: TempFile,
    _turn: MutexGuard<'static, ()>,
}

async fn setup(name: &str) -> Setup {
    let turn = API.lock().await;
    let path = std::env::temp_dir().join(format!(
        "configcat-actix-openfeature-{name}-{}.json",
        std::process::id()
    ));
    std::fs::write(&path, CONFIG).unwrap();
    let file = TempFile(path.clone());
    let configcat = ConfigCat::builder("any")
        .flag_overrides(FlagOverrides::from_file(path, OverrideBehaviour::LocalOnly))
        .log_sink(NoLog)
        .start()
        .unwrap();
    let mut api = OpenFeature::singleton_mut().await;
    api.set_provider(ConfigCatProvider::new(configcat.clone()))
        .await;
    let client = api.create_client();
    drop(api);
    Setup {
        client,
        _configcat: configcat,
        _file: file,
        _turn: turn,
    }
}

fn user(key: &str) -> EvaluationContext {
    EvaluationContext::default().with_targeting_key(key)
}

#[actix_rt::test]
async fn provider_metadata_is_configcat() {
    let _setup = setup("metadata").await;
    let api = OpenFeature::singleton().await;
    assert_eq!(api.provider_metadata().await.name, "ConfigCat");
}

#[actix_rt::test]
async fn every_value_type_resolves() {
    let s = setup("types").await;
    let c = &s.client;
    let ctx = user("u1");
    assert!(
        c.get_bool_value("plainFlag", Some(&ctx), None)
            .await
            .unwrap()
    );
    assert_eq!(
        c.get_int_value("intFlag", Some(&ctx), None).await.unwrap(),
        42
    );
    assert_eq!(
        c.get_float_value("floatFlag", Some(&ctx), None)
            .await
            .unwrap(),
        3.5
    );
    // An int setting reads as a float too, as in ConfigCat.
    assert_eq!(
        c.get_float_value("intFlag", Some(&ctx), None)
            .await
            .unwrap(),
        42.0
    );
    assert_eq!(
        c.get_string_value("planFlag", Some(&ctx), None)
            .await
            .unwrap(),
        "basic"
    );
    // No context at all: evaluated without a user.
    assert_eq!(c.get_int_value("intFlag", None, None).await.unwrap(), 42);
}

#[actix_rt::test]
async fn reasons_variants_and_metadata() {
    let s = setup("reasons").await;
    let c = &s.client;

    let plain = c
        .get_bool_details("plainFlag", Some(&user("u1")), None)
        .await
        .unwrap();
    assert!(plain.value);
    assert_eq!(plain.reason, Some(EvaluationReason::Static));
    assert_eq!(plain.variant.as_deref(), Some("v-plain"));
    assert!(plain.flag_metadata.values.is_empty());

    let ctx = user("u1").with_custom_field("Email", "jane@example.com");
    let rule = c
        .get_bool_details("emailFlag", Some(&ctx), None)
        .await
        .unwrap();
    assert!(rule.value);
    assert_eq!(rule.reason, Some(EvaluationReason::TargetingMatch));
    assert_eq!(rule.variant.as_deref(), Some("v-email-on"));
    assert_eq!(
        rule.flag_metadata.values.get("matched_targeting_rule"),
        Some(&FlagMetadataValue::Bool(true))
    );
    assert!(
        !rule
            .flag_metadata
            .values
            .contains_key("matched_percentage_option")
    );
    // Local-only data has no fetch time.
    assert!(!rule.flag_metadata.values.contains_key("fetch_time"));

    let no_match = c
        .get_bool_details(
            "emailFlag",
            Some(&user("u1").with_custom_field("Email", "j@other.org")),
            None,
        )
        .await
        .unwrap();
    assert!(!no_match.value);
    assert_eq!(no_match.reason, Some(EvaluationReason::Default));
    assert_eq!(no_match.variant.as_deref(), Some("v-email-off"));

    let split = c
        .get_bool_details("splitFlag", Some(&user("u1")), None)
        .await
        .unwrap();
    assert!(split.value);
    assert_eq!(split.reason, Some(EvaluationReason::Split));
    assert_eq!(split.variant.as_deref(), Some("v-split-on"));
    assert_eq!(
        split.flag_metadata.values.get("matched_percentage_option"),
        Some(&FlagMetadataValue::Int(100))
    );
    assert!(
        !split
            .flag_metadata
            .values
            .contains_key("matched_targeting_rule")
    );
}

#[actix_rt::test]
async fn context_fields_become_user_attributes() {
    let s = setup("context").await;
    let c = &s.client;
    let plan = async |ctx: EvaluationContext| {
        c.get_string_details("planFlag", Some(&ctx), None)
            .await
            .unwrap()
    };

    let d = plan(user("u1").with_custom_field("Plan", "enterprise")).await;
    assert_eq!(
        (d.value.as_str(), d.variant.as_deref()),
        ("premium", Some("v-premium"))
    );
    assert_eq!(d.reason, Some(EvaluationReason::TargetingMatch));
    assert_eq!(
        plan(user("u1").with_custom_field("Seats", 25)).await.value,
        "team"
    );
    assert_eq!(
        plan(user("u1").with_custom_field("Seats", 5)).await.value,
        "basic"
    );
    assert_eq!(
        plan(user("u1").with_custom_field("Beta", true)).await.value,
        "beta"
    );
    assert_eq!(
        plan(user("u1").with_custom_field("Beta", false))
            .await
            .value,
        "basic"
    );
    assert_eq!(
        plan(user("u1").with_custom_field("Ratio", 0.75))
            .await
            .value,
        "ratio"
    );
    let roles =
        EvaluationContextFieldValue::new_struct(vec!["viewer".to_owned(), "admin".to_owned()]);
    assert_eq!(
        plan(user("u1").with_custom_field("Roles", roles))
            .await
            .value,
        "admin"
    );
    // Struct fields of other types are skipped.
    let odd = EvaluationContextFieldValue::new_struct(42_u8);
    assert_eq!(
        plan(user("u1").with_custom_field("Roles", odd)).await.value,
        "basic"
    );
    // Without a targeting key the identifier is empty, and the other fields still count.
    let keyless = EvaluationContext::default().with_custom_field("Plan", "enterprise");
    assert_eq!(plan(keyless).await.value, "premium");

    let country = c
        .get_string_value(
            "countryFlag",
            Some(&user("u1").with_custom_field("Country", "Hungary")),
            None,
        )
        .await
        .unwrap();
    assert_eq!(country, "hungary");
}

#[actix_rt::test]
async fn errors_map_to_openfeature_codes() {
    let s = setup("errors").await;
    let c = &s.client;
    let ctx = user("u1");

    let missing = c
        .get_bool_details("noSuchFlag", Some(&ctx), None)
        .await
        .unwrap_err();
    assert_eq!(missing.code, EvaluationErrorCode::FlagNotFound);
    assert!(missing.message.unwrap().contains("noSuchFlag"));

    let mismatch = c
        .get_bool_details("planFlag", Some(&ctx), None)
        .await
        .unwrap_err();
    assert_eq!(mismatch.code, EvaluationErrorCode::TypeMismatch);
    assert!(mismatch.message.is_some());

    let int_of_float = c
        .get_int_value("floatFlag", Some(&ctx), None)
        .await
        .unwrap_err();
    assert_eq!(int_of_float.code, EvaluationErrorCode::TypeMismatch);
}

#[actix_rt::test]
async fn closed_client_is_not_ready() {
    let s = setup("closed").await;
    s._configcat.send(configcat_actix::Close).await.unwrap();
    let e = s
        .client
        .get_bool_value("plainFlag", Some(&user("u1")), None)
        .await
        .unwrap_err();
    assert_eq!(e.code, EvaluationErrorCode::ProviderNotReady);
}

#[actix_rt::test]
async fn struct_values_parse_json_text() {
    let s = setup("struct").await;
    let c = &s.client;
    let ctx = user("u1");

    let d = c
        .get_struct_details::<StructValue>("jsonFlag", Some(&ctx), None)
        .await
        .unwrap();
    assert_eq!(d.variant.as_deref(), Some("v-json"));
    assert_eq!(d.reason, Some(EvaluationReason::Static));
    let expected = StructValue::default()
        .with_field("color", "red")
        .with_field("size", 3)
        .with_field("ratio", 0.5)
        .with_field("tags", vec!["a", "b"])
        .with_field("nested", StructValue::default().with_field("on", true));
    assert_eq!(d.value, expected);
    assert_eq!(
        d.value.fields.get("tags"),
        Some(&Value::Array(vec!["a".into(), "b".into()]))
    );

    let bad = c
        .get_struct_value::<StructValue>("badJsonFlag", Some(&ctx), None)
        .await
        .unwrap_err();
    assert_eq!(bad.code, EvaluationErrorCode::ParseError);
    assert!(bad.message.is_some());

    let array = c
        .get_struct_value::<StructValue>("arrayJsonFlag", Some(&ctx), None)
        .await
        .unwrap_err();
    assert_eq!(array.code, EvaluationErrorCode::TypeMismatch);

    let not_text = c
        .get_struct_value::<StructValue>("intFlag", Some(&ctx), None)
        .await
        .unwrap_err();
    assert_eq!(not_text.code, EvaluationErrorCode::TypeMismatch);
}

fn cdn_client(cdn: &MockCdn, key: &str, mode: PollingMode) -> Addr<ConfigCat> {
    ConfigCat::builder(key)
        .base_url(cdn.base_url())
        .polling_mode(mode)
        .log_sink(NoLog)
        .start()
        .unwrap()
}

async fn greeting(provider: &ConfigCatProvider) -> Result<String, EvaluationErrorCode> {
    provider
        .resolve_string_value("greeting", &user("u1"))
        .await
        .map(|d| d.value)
        .map_err(|e| e.code)
}

#[actix_rt::test]
async fn set_provider_waits_for_the_first_config() {
    let _turn = API.lock().await;
    let cdn = MockCdn::start();
    let key = sdk_key("of-waits");
    cdn.set_config(&key, simple_config("greeting", "downloaded"));
    cdn.set_delay(Duration::from_millis(400));
    let configcat = cdn_client(&cdn, &key, PollingMode::default());
    let provider = ConfigCatProvider::new(configcat.clone());
    let watcher = provider.clone();
    assert_eq!(watcher.status(), ProviderStatus::NotReady);

    let asked = Instant::now();
    let mut api = OpenFeature::singleton_mut().await;
    api.set_provider(provider).await;
    let waited = asked.elapsed();
    let client = api.create_client();
    drop(api);
    assert!(waited >= Duration::from_millis(350), "waited {waited:?}");
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    // The clone shares the registered provider's state.
    assert_eq!(watcher.status(), ProviderStatus::Ready);
    // Right after `set_provider`: the downloaded value, not PROVIDER_NOT_READY.
    let details = client
        .get_string_details("greeting", Some(&user("u1")), None)
        .await
        .unwrap();
    assert_eq!(details.value, "downloaded");
    assert_eq!(details.reason, Some(EvaluationReason::Static));
    assert!(details.flag_metadata.values.contains_key("fetch_time"));
    configcat.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn initialize_returns_after_the_bound_when_the_cdn_hangs() {
    let cdn = MockCdn::start();
    let key = sdk_key("of-hangs");
    cdn.set_config(&key, simple_config("greeting", "downloaded"));
    cdn.set_delay(Duration::from_secs(30));
    // The client's own wait (5 s) is longer than the provider's: the provider's bound counts.
    let configcat = cdn_client(&cdn, &key, PollingMode::default());
    let mut provider =
        ConfigCatProvider::new(configcat.clone()).max_init_wait(Duration::from_millis(300));
    assert_eq!(provider.init_wait(), Duration::from_millis(300));

    let asked = Instant::now();
    provider.initialize(&EvaluationContext::default()).await;
    let waited = asked.elapsed();
    assert!(waited >= Duration::from_millis(250), "waited {waited:?}");
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    assert_eq!(provider.status(), ProviderStatus::NotReady);

    // Not ready: resolutions fail at once instead of waiting for the client.
    let asked = Instant::now();
    assert_eq!(
        greeting(&provider).await,
        Err(EvaluationErrorCode::ProviderNotReady)
    );
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    configcat.send(Close).await.unwrap();
    assert_eq!(provider.status(), ProviderStatus::Error);
}

#[actix_rt::test]
async fn status_is_not_ready_then_ready_then_error_after_close() {
    let configcat = ConfigCat::builder("local")
        .flag_overrides(FlagOverrides::from_map(
            [("greeting", "local")],
            OverrideBehaviour::LocalOnly,
        ))
        .log_sink(NoLog)
        .start()
        .unwrap();
    let mut provider = ConfigCatProvider::new(configcat.clone());
    assert_eq!(provider.status(), ProviderStatus::NotReady);
    provider.initialize(&EvaluationContext::default()).await;
    assert_eq!(provider.status(), ProviderStatus::Ready);
    assert_eq!(greeting(&provider).await.as_deref(), Ok("local"));

    configcat.send(Close).await.unwrap();
    assert_eq!(provider.status(), ProviderStatus::Error);
    assert_eq!(
        greeting(&provider).await,
        Err(EvaluationErrorCode::ProviderNotReady)
    );
}

#[actix_rt::test]
async fn a_provider_never_initialized_fetches_the_handle_on_first_use() {
    let configcat = ConfigCat::builder("local")
        .flag_overrides(FlagOverrides::from_map(
            [("greeting", "local")],
            OverrideBehaviour::LocalOnly,
        ))
        .log_sink(NoLog)
        .start()
        .unwrap();
    let provider = ConfigCatProvider::from(configcat.clone());
    assert_eq!(greeting(&provider).await.as_deref(), Ok("local"));
    // The first resolution fetched the handle, so the status can look at the client.
    assert_eq!(provider.status(), ProviderStatus::Ready);
    configcat.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_closed_client_gives_an_error_status_from_initialize() {
    let configcat = ConfigCat::builder("local")
        .flag_overrides(FlagOverrides::from_map(
            [("greeting", "local")],
            OverrideBehaviour::LocalOnly,
        ))
        .log_sink(NoLog)
        .start()
        .unwrap();
    configcat.send(Close).await.unwrap();
    let mut provider = ConfigCatProvider::new(configcat);
    let asked = Instant::now();
    provider.initialize(&EvaluationContext::default()).await;
    // No waiting for a client that is gone.
    assert!(asked.elapsed() < Duration::from_secs(1));
    assert_eq!(provider.status(), ProviderStatus::Error);
    assert_eq!(
        greeting(&provider).await,
        Err(EvaluationErrorCode::ProviderNotReady)
    );
}

#[actix_rt::test]
async fn ready_without_flag_data_is_an_error_until_a_download() {
    let cdn = MockCdn::start();
    let key = sdk_key("of-no-data");
    cdn.set_config(&key, simple_config("greeting", "downloaded"));
    // Manual polling with no cache: ready at once, with nothing.
    let configcat = cdn_client(&cdn, &key, PollingMode::manual_poll());
    let mut provider = ConfigCatProvider::new(configcat.clone());
    provider.initialize(&EvaluationContext::default()).await;
    assert_eq!(provider.status(), ProviderStatus::Error);
    assert_eq!(
        greeting(&provider).await,
        Err(EvaluationErrorCode::ProviderNotReady)
    );

    configcat.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(provider.status(), ProviderStatus::Ready);
    assert_eq!(greeting(&provider).await.as_deref(), Ok("downloaded"));
    configcat.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn ready_with_only_cached_data_is_stale_until_a_download() {
    let cdn = MockCdn::start();
    let key = sdk_key("of-stale");
    cdn.set_config(&key, simple_config("greeting", "downloaded"));
    let cache = InMemoryCache::new();
    // Written by another process a minute ago.
    let written = SystemTime::now() - Duration::from_secs(60);
    let millis = written.duration_since(UNIX_EPOCH).unwrap().as_millis();
    let json = simple_config("greeting", "cached");
    cache
        .set(&cache_key(&key), format!("{millis}\n\"etag\"\n{json}"))
        .await
        .unwrap();
    let configcat = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .cache(cache)
        .log_sink(NoLog)
        .start()
        .unwrap();
    let mut provider = ConfigCatProvider::new(configcat.clone());
    provider.initialize(&EvaluationContext::default()).await;
    assert_eq!(provider.status(), ProviderStatus::STALE);
    // Stale, but served.
    assert_eq!(greeting(&provider).await.as_deref(), Ok("cached"));
    assert_eq!(provider.status(), ProviderStatus::STALE);

    configcat.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(provider.status(), ProviderStatus::Ready);
    assert_eq!(greeting(&provider).await.as_deref(), Ok("downloaded"));
    configcat.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn resolutions_do_not_go_through_the_clients_mailbox() {
    let configcat = ConfigCat::builder("local")
        .flag_overrides(FlagOverrides::from_map(
            [("greeting", "local")],
            OverrideBehaviour::LocalOnly,
        ))
        .log_sink(NoLog)
        .start()
        .unwrap();
    let mut provider = ConfigCatProvider::new(configcat.clone());
    provider.initialize(&EvaluationContext::default()).await;
    let (answer, answered) = std::sync::mpsc::channel();
    let elsewhere = provider.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _ = answer.send(runtime.block_on(greeting(&elsewhere)));
    });
    // This blocks the System's only thread, so the client's actor cannot answer a message: a
    // resolution sent as one would time out here.
    let value = answered.recv_timeout(Duration::from_secs(3));
    assert_eq!(value, Ok(Ok("local".to_owned())));
    configcat.send(Close).await.unwrap();
}
