//! The glue a service would otherwise write, tested where it is used, with the test kit's
//! fake CDN: `ConfigChanged.changed_keys` naming the flags whose prerequisites or segments
//! changed, the strict readiness probe, a `ForceRefresh` admin endpoint answering a
//! `RefreshError` by itself, and OpenFeature contexts built from a `User`.

/// A fake CDN serving `flags`, and a manual-poll client of it (nothing downloaded yet).
#[cfg(feature = "testing")]
fn manual_client(
    flags: &configcat_actix::testing::TestConfig,
    options: impl FnOnce(configcat_actix::ConfigCatBuilder) -> configcat_actix::ConfigCatBuilder,
) -> (
    configcat_actix::testing::FakeCdn,
    String,
    actix::Addr<configcat_actix::ConfigCat>,
) {
    let cdn = configcat_actix::testing::FakeCdn::start().unwrap();
    let key = configcat_actix::testing::sdk_key();
    cdn.set_flags(&key, flags);
    let builder = cdn
        .client_builder(&key)
        .polling_mode(configcat_actix::PollingMode::manual_poll());
    let client = options(builder).start().unwrap();
    (cdn, key, client)
}

#[cfg(feature = "testing")]
mod changed_keys {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use actix::prelude::*;
    use configcat_actix::testing::{Flag, TestConfig, in_segment, prerequisite, when};
    use configcat_actix::{ConfigChanged, ForceRefresh};

    type Seen = Arc<Mutex<Vec<Vec<String>>>>;

    struct Recorder(Seen);

    impl Actor for Recorder {
        type Context = Context<Self>;
    }

    impl Handler<ConfigChanged> for Recorder {
        type Result = ();
        fn handle(&mut self, changed: ConfigChanged, _: &mut Context<Self>) {
            self.0.lock().unwrap().push(changed.changed_keys.to_vec());
        }
    }

    /// The changed keys of each change after serving `first`, then `second`.
    async fn changes(first: &TestConfig, second: &TestConfig) -> Vec<Vec<String>> {
        let seen = Seen::default();
        let recorder = Recorder(seen.clone()).start();
        let (cdn, key, client) = super::manual_client(first, |b| b.subscribe(recorder.recipient()));
        client.send(ForceRefresh).await.unwrap().unwrap();
        cdn.set_flags(&key, second);
        client.send(ForceRefresh).await.unwrap().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen.lock().unwrap().len() < 2 && Instant::now() < deadline {
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        seen.lock().unwrap().clone()
    }

    #[actix_rt::test]
    async fn a_flag_whose_prerequisite_changed_is_listed() {
        let config = |dark: bool| {
            TestConfig::new()
                .flag("darkMode", dark)
                .flag(
                    "beta",
                    Flag::new(false).rule(prerequisite("darkMode").equals(true).then(true)),
                )
                .flag(
                    "betaPlus",
                    Flag::new(false).rule(prerequisite("beta").equals(true).then(true)),
                )
                .flag("unrelated", 1)
        };
        let seen = changes(&config(false), &config(true)).await;
        assert_eq!(seen[1], ["beta", "betaPlus", "darkMode"]);
    }

    #[actix_rt::test]
    async fn a_flag_whose_segment_changed_is_listed_with_its_dependents() {
        let config = |domain: &str| {
            TestConfig::new()
                .segment("Staff", [when("Email").ends_with_any_of([domain])])
                .flag(
                    "staffOnly",
                    Flag::new(false).rule(in_segment("Staff").then(true)),
                )
                .flag(
                    "dependsOnStaffOnly",
                    Flag::new(false).rule(prerequisite("staffOnly").equals(true).then(true)),
                )
                .flag("unrelated", true)
        };
        let seen = changes(&config("@a.com"), &config("@b.com")).await;
        assert_eq!(seen[1], ["dependsOnStaffOnly", "staffOnly"]);
    }
}

#[cfg(all(feature = "actix-web", feature = "testing"))]
mod web {
    use std::time::Duration;

    use actix::Addr;
    use actix_web::{App, HttpResponse, http::StatusCode, test, web};
    use configcat_actix::testing::{Failure, FakeCdn, TestConfig, sdk_key};
    use configcat_actix::web::{FlagsConfig, readiness, readiness_strict};
    use configcat_actix::{ConfigCat, ForceRefresh, GetHandle, PollingMode, RefreshError};

    async fn probe(client: &Addr<ConfigCat>) -> Vec<(StatusCode, String)> {
        let handle = client.send(GetHandle).await.unwrap();
        let app = test::init_service(
            App::new()
                .app_data(FlagsConfig::new(handle))
                .route("/readyz", web::get().to(readiness))
                .route("/readyz/strict", web::get().to(readiness_strict)),
        )
        .await;
        let mut answers = Vec::new();
        for uri in ["/readyz", "/readyz/strict"] {
            let response =
                test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
            let status = response.status();
            let body = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
            answers.push((status, body));
        }
        answers
    }

    #[actix_rt::test]
    async fn the_strict_probe_fails_until_there_is_flag_data() {
        let cdn = FakeCdn::start().unwrap();
        let key = sdk_key();
        cdn.set_flags(&key, &TestConfig::new().flag("on", true));
        // Held back: the first download takes longer than the probes below.
        cdn.fail_next(Failure::Delay(Duration::from_secs(30)));
        let auto = cdn
            .client_builder(&key)
            .polling_mode(
                PollingMode::auto_poll(Duration::from_secs(60))
                    .max_init_wait(Duration::from_secs(60)),
            )
            .start()
            .unwrap();
        let not_ready = (StatusCode::SERVICE_UNAVAILABLE, "NotReady".to_owned());
        assert_eq!(probe(&auto).await, [not_ready.clone(), not_ready]);

        // Manual poll: ready at once, with no flag data until its first refresh.
        let manual = cdn
            .client_builder(&sdk_key())
            .polling_mode(PollingMode::manual_poll())
            .start()
            .unwrap();
        manual
            .send(GetHandle)
            .await
            .unwrap()
            .wait_for_ready(Duration::from_secs(5))
            .await;
        assert_eq!(
            probe(&manual).await,
            [
                (StatusCode::OK, "NoFlagData".to_owned()),
                (StatusCode::SERVICE_UNAVAILABLE, "NoFlagData".to_owned())
            ]
        );
        let local = TestConfig::new().flag("on", true).start_client().unwrap();
        assert_eq!(
            probe(&local).await[1],
            (StatusCode::OK, "HasLocalOverrideFlagDataOnly".to_owned())
        );
    }

    #[actix_rt::test]
    async fn the_strict_probe_passes_once_flag_data_arrives_after_readiness() {
        let (_cdn, _, manual) = super::manual_client(&TestConfig::new().flag("on", true), |b| b);
        manual
            .send(GetHandle)
            .await
            .unwrap()
            .wait_for_ready(Duration::from_secs(5))
            .await;
        manual.send(ForceRefresh).await.unwrap().unwrap();
        assert_eq!(
            probe(&manual).await,
            [
                (StatusCode::OK, "NoFlagData".to_owned()),
                (StatusCode::OK, "HasFlagData".to_owned())
            ]
        );
    }

    async fn refresh(client: web::Data<Addr<ConfigCat>>) -> Result<HttpResponse, RefreshError> {
        client.send(ForceRefresh).await??;
        Ok(HttpResponse::NoContent().finish())
    }

    #[actix_rt::test]
    async fn an_admin_refresh_endpoint_answers_refresh_errors_by_itself() {
        let (cdn, _, client) = super::manual_client(&TestConfig::new().flag("on", true), |b| b);
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(client))
                .route("/admin/refresh", web::post().to(refresh)),
        )
        .await;
        let call = || {
            test::call_service(
                &app,
                test::TestRequest::post().uri("/admin/refresh").to_request(),
            )
        };
        assert_eq!(call().await.status(), StatusCode::NO_CONTENT);
        for (failure, status, kind, event_id) in [
            (
                Failure::Status(500),
                StatusCode::SERVICE_UNAVAILABLE,
                "unexpected_status",
                1101,
            ),
            (
                Failure::InvalidBody,
                StatusCode::BAD_GATEWAY,
                "invalid_body",
                1105,
            ),
            (
                Failure::Status(403),
                StatusCode::INTERNAL_SERVER_ERROR,
                "invalid_sdk_key",
                1100,
            ),
        ] {
            cdn.fail_next(failure);
            let response = call().await;
            assert_eq!(response.status(), status, "{kind}");
            let body: serde_json::Value = test::read_body_json(response).await;
            assert_eq!(
                (body["kind"].as_str(), body["event_id"].as_u64()),
                (Some(kind), Some(event_id))
            );
        }
        cdn.refuse_connections();
        let response = call().await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = test::read_body_json(response).await;
        assert_eq!(body["kind"], "network");
    }
}

#[cfg(feature = "openfeature")]
mod openfeature {
    use std::time::{Duration, UNIX_EPOCH};

    use configcat_actix::openfeature::user_from_context;
    use configcat_actix::{User, UserValue};
    use open_feature::{EvaluationContext, EvaluationContextFieldValue};

    #[test]
    fn a_user_becomes_a_context_and_back_with_every_attribute() {
        let signup = UNIX_EPOCH + Duration::from_millis(1_693_497_600_123);
        let user = User::new("user-42")
            .email("a@example.com")
            .country("Hungary")
            .custom("Plan", "gold")
            .custom("Seats", 25)
            .custom("Ratio", 0.5)
            .custom("Signup", signup)
            .custom("Roles", vec!["admin", "billing"])
            .custom("Version", semver::Version::new(1, 2, 3));
        let context = EvaluationContext::from(&user);
        assert_eq!(context.targeting_key.as_deref(), Some("user-42"));
        let field = |name: &str| {
            context
                .custom_fields
                .get(name)
                .unwrap_or_else(|| panic!("{name}"))
        };
        assert_eq!(field("Email").as_str(), Some("a@example.com"));
        assert_eq!(field("Country").as_str(), Some("Hungary"));
        assert_eq!(field("Plan").as_str(), Some("gold"));
        assert_eq!(field("Seats").as_i64(), Some(25));
        assert_eq!(field("Ratio").as_f64(), Some(0.5));
        assert!(matches!(
            field("Signup"),
            EvaluationContextFieldValue::DateTime(_)
        ));
        assert_eq!(field("Version").as_str(), Some("1.2.3"));
        assert_eq!(context.custom_fields.len(), 8);

        let back = User::from(&context);
        assert_eq!(back, user_from_context(&context).unwrap());
        assert_eq!(
            (back.identifier(), back.get_email(), back.get_country()),
            ("user-42", Some("a@example.com"), Some("Hungary"))
        );
        for (name, expected) in [
            ("Plan", UserValue::from("gold")),
            ("Seats", 25.into()),
            ("Ratio", 0.5.into()),
            ("Signup", signup.into()),
            ("Roles", vec!["admin", "billing"].into()),
            ("Version", "1.2.3".into()), // a version travels as its text
        ] {
            assert_eq!(back.get_custom(name), Some(&expected), "{name}");
        }
    }

    #[test]
    fn an_empty_context_is_a_user_with_an_empty_identifier() {
        let user = User::from(&EvaluationContext::default());
        assert_eq!(user, User::new(""));
        assert_eq!(
            EvaluationContext::from(&User::new(""))
                .targeting_key
                .as_deref(),
            Some("")
        );
    }
}
