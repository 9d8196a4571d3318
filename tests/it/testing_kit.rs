//! The test kit (feature `testing`): configs built in words evaluate as the words say, write the
//! conformance data's codes and hashes, serve through a one-line client, and the fake CDN speaks
//! the CDN's protocol and fails on demand.

use std::time::{Duration, SystemTime};

use configcat_actix::testing::{
    Check, Failure, FakeCdn, Flag, TestConfig, in_segment, not_in_segment, prerequisite, sdk_key,
    when,
};
use configcat_actix::{
    ClientCacheState, Config, FetchError, ForceRefresh, GetHandle, GetValue, LogLevel, MemoryLog,
    NoLog, PollingMode, RefreshError, User, eval,
};

/// The value of `key` for `user` in `config`, `false` on any error.
fn on(config: &Config, key: &str, user: &User) -> bool {
    eval::evaluate_value(config, key, false, Some(user), &NoLog)
}

/// A flag that is `true` exactly when `check` holds.
fn flag_of(check: Check) -> Config {
    TestConfig::new()
        .flag("f", Flag::new(false).rule(check.then(true)))
        .build()
}

#[test]
fn every_comparator_family_evaluates_as_its_words_say() {
    let email = |e: &str| User::new("u").email(e);
    let custom = |name: &str, value: configcat_actix::UserValue| User::new("u").custom(name, value);
    let noon = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let earlier = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let later = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let roles = |r: &[&str]| custom("Roles", r.to_vec().into());
    let version = |v: &str| custom("Version", v.into());
    let age = |a: i64| custom("Age", a.into());
    // (words, a user for whom they hold, one for whom they do not)
    let cases: Vec<(&str, Check, User, User)> = vec![
        (
            "is one of",
            when("Email").is_one_of(["a@x.com", "b@x.com"]),
            email("b@x.com"),
            email("c@x.com"),
        ),
        (
            "is not one of",
            when("Email").is_not_one_of(["a@x.com"]),
            email("c@x.com"),
            email("a@x.com"),
        ),
        (
            "contains any of",
            when("Email").contains_any_of(["@example.com"]),
            email("kim@example.com"),
            email("kim@other.com"),
        ),
        (
            "not contains any of",
            when("Email").not_contains_any_of(["@example.com"]),
            email("kim@other.com"),
            email("kim@example.com"),
        ),
        (
            "equals",
            when("Country").equals("Hungary"),
            User::new("u").country("Hungary"),
            User::new("u").country("Austria"),
        ),
        (
            "not equals",
            when("Country").not_equals("Hungary"),
            User::new("u").country("Austria"),
            User::new("u").country("Hungary"),
        ),
        (
            "starts with any of",
            when("Identifier").starts_with_any_of(["test-"]),
            User::new("test-1"),
            User::new("prod-1"),
        ),
        (
            "not starts with any of",
            when("Identifier").not_starts_with_any_of(["test-"]),
            User::new("prod-1"),
            User::new("test-1"),
        ),
        (
            "ends with any of",
            when("Email").ends_with_any_of(["@example.com"]),
            email("a@example.com"),
            email("a@example.org"),
        ),
        (
            "not ends with any of",
            when("Email").not_ends_with_any_of(["@example.com"]),
            email("a@example.org"),
            email("a@example.com"),
        ),
        (
            "version is one of",
            when("Version").version_is_one_of(["1.2.3", "2.0.0"]),
            version("2.0.0"),
            version("2.0.1"),
        ),
        (
            "version is not one of",
            when("Version").version_is_not_one_of(["1.2.3"]),
            version("1.2.4"),
            version("1.2.3"),
        ),
        (
            "version <",
            when("Version").version_less_than("2.0.0"),
            version("1.9.9"),
            version("2.0.0"),
        ),
        (
            "version <=",
            when("Version").version_less_than_or_equal("2.0.0"),
            version("2.0.0"),
            version("2.0.1"),
        ),
        (
            "version >",
            when("Version").version_greater_than("2.0.0"),
            version("2.0.1"),
            version("2.0.0"),
        ),
        (
            "version >=",
            when("Version").version_greater_than_or_equal("2.0.0"),
            version("2.0.0"),
            version("1.9.9"),
        ),
        ("number =", when("Age").number_equals(30), age(30), age(31)),
        (
            "number !=",
            when("Age").number_not_equals(30.0),
            age(31),
            age(30),
        ),
        (
            "number <",
            when("Age").number_less_than(30.0),
            age(29),
            age(30),
        ),
        (
            "number <=",
            when("Age").number_less_than_or_equal(30.0),
            age(30),
            age(31),
        ),
        (
            "number >",
            when("Age").number_greater_than(30.0),
            age(31),
            age(30),
        ),
        (
            "number >=",
            when("Age").number_greater_than_or_equal(30.0),
            age(30),
            age(29),
        ),
        (
            "before",
            when("Signup").before(noon),
            custom("Signup", earlier.into()),
            custom("Signup", later.into()),
        ),
        (
            "after",
            when("Signup").after(noon),
            custom("Signup", later.into()),
            custom("Signup", earlier.into()),
        ),
        (
            "array contains any of",
            when("Roles").array_contains_any_of(["admin"]),
            roles(&["dev", "admin"]),
            roles(&["dev"]),
        ),
        (
            "array not contains any of",
            when("Roles").array_not_contains_any_of(["admin"]),
            roles(&["dev"]),
            roles(&["admin"]),
        ),
        (
            "confidential is one of",
            when("Email").confidential().is_one_of(["a@x.com"]),
            email("a@x.com"),
            email("b@x.com"),
        ),
        (
            "confidential is not one of",
            when("Email").confidential().is_not_one_of(["a@x.com"]),
            email("b@x.com"),
            email("a@x.com"),
        ),
        (
            "confidential equals",
            when("Email").confidential().equals("a@x.com"),
            email("a@x.com"),
            email("b@x.com"),
        ),
        (
            "confidential not equals",
            when("Email").confidential().not_equals("a@x.com"),
            email("b@x.com"),
            email("a@x.com"),
        ),
        (
            "confidential starts with",
            when("Email").confidential().starts_with_any_of(["kim"]),
            email("kim@x.com"),
            email("lee@x.com"),
        ),
        (
            "confidential not starts with",
            when("Email").confidential().not_starts_with_any_of(["kim"]),
            email("lee@x.com"),
            email("kim@x.com"),
        ),
        (
            "confidential ends with",
            when("Email").confidential().ends_with_any_of(["@x.com"]),
            email("kim@x.com"),
            email("kim@y.com"),
        ),
        (
            "confidential not ends with",
            when("Email")
                .confidential()
                .not_ends_with_any_of(["@x.com"]),
            email("kim@y.com"),
            email("kim@x.com"),
        ),
        (
            "confidential array contains",
            when("Roles")
                .confidential()
                .array_contains_any_of(["admin"]),
            roles(&["admin"]),
            roles(&["dev"]),
        ),
        (
            "confidential array not contains",
            when("Roles")
                .confidential()
                .array_not_contains_any_of(["admin"]),
            roles(&["dev"]),
            roles(&["admin"]),
        ),
    ];
    let mut comparators = std::collections::HashSet::new();
    for (words, check, holds, fails) in &cases {
        comparators.insert(check.comparator());
        let config = flag_of(check.clone());
        assert!(
            on(&config, "f", holds),
            "{words}: should hold for {holds:?}"
        );
        assert!(
            !on(&config, "f", fails),
            "{words}: should not hold for {fails:?}"
        );
    }
    assert_eq!(
        comparators.len(),
        36,
        "every comparator of config v6 has words"
    );
}

/// The comparators suite's config has each text comparator twice, in clear text and hashed,
/// with the same values: the words, given the clear values, the config's salt and each flag's
/// key, write both exactly as the dashboard did (codes, and salted hashes with their lengths).
#[test]
fn the_words_write_the_conformance_configs_codes_and_hashes() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/configs/by-sdk-key/configcat-sdk-1__JcPbCGl_1E-K9M-fJOyKyQ__Da6w8dBbmUeMUBhh0iEeQQ.json"
    );
    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let salt = data["p"]["s"].as_str().unwrap();
    let condition = |key: &str| data["f"][key]["r"][0]["c"][0]["u"].clone();
    let attribute = condition("boolTextEqualsCleartext")["a"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = |key: &str| condition(key)["s"].as_str().unwrap().to_owned();
    let items = |key: &str| -> Vec<String> {
        condition(key)["l"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap().to_owned())
            .collect()
    };
    let at = || when(attribute.clone());
    let words: Vec<(&str, Check)> = vec![
        (
            "boolIsOneOfCleartext",
            at().is_one_of(items("boolIsOneOfCleartext")),
        ),
        (
            "boolIsNotOneOfCleartext",
            at().is_not_one_of(items("boolIsNotOneOfCleartext")),
        ),
        (
            "boolContainsCleartext",
            at().contains_any_of(items("boolContainsCleartext")),
        ),
        (
            "boolNotContainsCleartext",
            at().not_contains_any_of(items("boolNotContainsCleartext")),
        ),
        (
            "boolTextEqualsCleartext",
            at().equals(text("boolTextEqualsCleartext")),
        ),
        (
            "boolTextNotEqualsCleartext",
            at().not_equals(text("boolTextNotEqualsCleartext")),
        ),
        (
            "boolStartsWithCleartext",
            at().starts_with_any_of(items("boolStartsWithCleartext")),
        ),
        (
            "boolNotStartsWithCleartext",
            at().not_starts_with_any_of(items("boolNotStartsWithCleartext")),
        ),
        (
            "boolEndsWithCleartext",
            at().ends_with_any_of(items("boolEndsWithCleartext")),
        ),
        (
            "boolNotEndsWithCleartext",
            at().not_ends_with_any_of(items("boolNotEndsWithCleartext")),
        ),
        (
            "boolArrayContainsCleartext",
            at().array_contains_any_of(items("boolArrayContainsCleartext")),
        ),
        (
            "boolArrayNotContainsCleartext",
            at().array_not_contains_any_of(items("boolArrayNotContainsCleartext")),
        ),
        (
            "boolIsOneOfHashed",
            at().confidential().is_one_of(items("boolIsOneOfCleartext")),
        ),
        (
            "boolIsNotOneOfHashed",
            at().confidential()
                .is_not_one_of(items("boolIsNotOneOfCleartext")),
        ),
        (
            "boolTextEqualsHashed",
            at().confidential().equals(text("boolTextEqualsCleartext")),
        ),
        (
            "boolTextNotEqualsHashed",
            at().confidential()
                .not_equals(text("boolTextNotEqualsCleartext")),
        ),
        (
            "boolStartsWithHashed",
            at().confidential()
                .starts_with_any_of(items("boolStartsWithCleartext")),
        ),
        (
            "boolNotStartsWithHashed",
            at().confidential()
                .not_starts_with_any_of(items("boolNotStartsWithCleartext")),
        ),
        (
            "boolEndsWithHashed",
            at().confidential()
                .ends_with_any_of(items("boolEndsWithCleartext")),
        ),
        (
            "boolNotEndsWithHashed",
            at().confidential()
                .not_ends_with_any_of(items("boolNotEndsWithCleartext")),
        ),
        (
            "boolArrayContainsHashed",
            at().confidential()
                .array_contains_any_of(items("boolArrayContainsCleartext")),
        ),
        (
            "boolArrayNotContainsHashed",
            at().confidential()
                .array_not_contains_any_of(items("boolArrayNotContainsCleartext")),
        ),
    ];
    assert_eq!(
        words.len(),
        data["f"].as_object().unwrap().len(),
        "every flag of the config"
    );
    let mut config = TestConfig::new().salt(salt);
    for (key, check) in words.iter().cloned() {
        config = config.flag(key, Flag::new(false).rule(check.then(true)));
    }
    let written: serde_json::Value = serde_json::from_str(&config.to_json()).unwrap();
    for (key, _) in &words {
        assert_eq!(
            written["f"][key]["r"][0]["c"][0]["u"],
            condition(key),
            "{key}"
        );
    }
}

#[test]
fn segments_prerequisites_and_percentage_options_evaluate_as_written() {
    let config = TestConfig::new()
        .segment("Staff", [when("Email").ends_with_any_of(["@example.com"])])
        .segment("Hungarians", [when("Country").equals("Hungary")])
        .flag(
            "darkMode",
            Flag::new(false).rule(in_segment("Hungarians").then(true)),
        )
        .flag(
            "beta",
            Flag::new("off")
                .rule(
                    in_segment("Staff")
                        .and(prerequisite("darkMode").equals(true))
                        .then("staff+dark"),
                )
                .rule(
                    not_in_segment("Staff")
                        .and(prerequisite("darkMode").not_equals(false))
                        .then("dark"),
                )
                .rule(
                    when("Email")
                        .contains_any_of(["@example.com"])
                        .then_percentage_options([(100, "all"), (0, "none")]),
                ),
        )
        .flag(
            "split",
            Flag::new(0)
                .percentage_attribute("Country")
                .percentage_options([(0, 1), (100, 2)]),
        )
        .build();
    let value = |key: &str, user: &User| {
        eval::evaluate_value(&config, key, String::new(), Some(user), &NoLog)
    };
    let staff_hu = User::new("1").email("a@example.com").country("Hungary");
    let staff_at = User::new("2").email("a@example.com").country("Austria");
    let other_hu = User::new("3").email("a@other.com").country("Hungary");
    assert_eq!(value("beta", &staff_hu), "staff+dark");
    assert_eq!(
        value("beta", &staff_at),
        "all",
        "no prerequisite: the rule with percentage options"
    );
    assert_eq!(value("beta", &other_hu), "dark");
    assert_eq!(value("beta", &User::new("4").country("Austria")), "off");
    assert_eq!(
        eval::evaluate_value(&config, "split", 0_i64, Some(&staff_at), &NoLog),
        2
    );
    // Each value has one variation id: `<key>:<value>`.
    let id = |key: &str, user: Option<&User>| {
        eval::evaluate_details(
            &config,
            key,
            configcat_actix::Value::from(0),
            user,
            None,
            &NoLog,
        )
        .variation_id
        .map(|id| id.to_string())
    };
    assert_eq!(id("beta", Some(&other_hu)).as_deref(), Some("beta:dark"));
    assert_eq!(id("beta", Some(&staff_at)).as_deref(), Some("beta:all"));
    assert_eq!(id("split", None).as_deref(), Some("split:0"));
    assert_eq!(id("split", Some(&staff_at)).as_deref(), Some("split:2"));
    // A segment the config does not define fails the evaluation: the caller's default.
    let broken = TestConfig::new()
        .flag("f", Flag::new(false).rule(in_segment("Nobody").then(true)))
        .build();
    assert!(eval::evaluate_value(
        &broken,
        "f",
        true,
        Some(&staff_hu),
        &NoLog
    ));
    let log = MemoryLog::new(LogLevel::Error);
    eval::evaluate_value(&broken, "f", false, Some(&staff_hu), &log);
    assert_eq!(
        log.take().iter().map(|e| e.event_id).collect::<Vec<_>>(),
        [1002]
    );
}

#[test]
fn the_json_text_parses_into_the_built_config() {
    let config = TestConfig::new()
        .flag("a", true)
        .flag("b", "text")
        .flag("c", 42)
        .flag("d", 0.5)
        .flag("a", false); // replaces the first `a`
    let parsed = Config::parse(&config.to_json()).unwrap();
    let built = config.build();
    assert_eq!(parsed.settings().len(), 4);
    for (key, setting) in parsed.settings() {
        assert_eq!(Some(setting), built.settings().get(key), "{key}");
    }
    assert!(!on(&built, "a", &User::new("u")));
    assert_eq!(eval::evaluate_value(&built, "d", 0.0, None, &NoLog), 0.5);
}

#[actix_rt::test]
async fn one_line_starts_a_client_serving_the_flags() {
    let beta = TestConfig::new().flag(
        "beta",
        Flag::new(false).rule(when("Email").ends_with_any_of(["@example.com"]).then(true)),
    );
    let client = beta.start_client().unwrap();
    // A second client in the same System: its own key, so its own flags.
    let other = TestConfig::new().flag("beta", true).start_client().unwrap();
    let staff = User::new("u").email("kim@example.com");
    assert!(
        client
            .send(GetValue::new("beta", false).user(staff))
            .await
            .unwrap()
    );
    assert!(
        !client
            .send(GetValue::new("beta", false).user(User::new("v")))
            .await
            .unwrap()
    );
    assert!(
        other
            .send(GetValue::new("beta", false).user(User::new("v")))
            .await
            .unwrap()
    );
    let handle = client.send(GetHandle).await.unwrap();
    assert_eq!(
        handle.ready_state(),
        Some(ClientCacheState::HasLocalOverrideFlagDataOnly)
    );
    assert_eq!(
        client.send(ForceRefresh).await.unwrap(),
        Err(RefreshError::LocalOnly),
        "no network"
    );
}

#[actix_rt::test]
async fn the_fake_cdn_serves_etags_and_304s_and_follows_set_flags() {
    let cdn = FakeCdn::start().unwrap();
    let key = sdk_key();
    cdn.set_flags(&key, &TestConfig::new().flag("limit", 10));
    let client = cdn
        .client_builder(&key)
        .polling_mode(PollingMode::manual_poll())
        .start()
        .unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(
        client.send(GetValue::new("limit", 0_i64)).await.unwrap(),
        10
    );
    cdn.set_flags(&key, &TestConfig::new().flag("limit", 20));
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(
        client.send(GetValue::new("limit", 0_i64)).await.unwrap(),
        20
    );
    let requests = cdn.requests();
    assert_eq!(cdn.request_count(), 3);
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 304, 200]
    );
    assert_eq!(requests[0].if_none_match, None);
    assert!(
        requests[1].if_none_match.is_some(),
        "the ETag of the first answer is sent back"
    );
    assert_eq!(requests[1].if_none_match, requests[2].if_none_match);
    assert!(requests.iter().all(|r| r.sdk_key == key));
    assert!(
        requests[0]
            .user_agent
            .as_deref()
            .unwrap()
            .starts_with("ConfigCat-Rust-Actix/m-")
    );
}

#[actix_rt::test]
async fn the_fake_cdn_fails_on_demand_and_recovers() {
    let cdn = FakeCdn::start().unwrap();
    let key = sdk_key();
    cdn.set_flags(&key, &TestConfig::new().flag("on", true));
    let client = cdn
        .client_builder(&key)
        .polling_mode(PollingMode::manual_poll())
        .read_timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    let refresh = || async { client.send(ForceRefresh).await.unwrap() };
    refresh().await.unwrap();

    cdn.fail_next(Failure::Status(503));
    cdn.fail_next(Failure::InvalidBody);
    assert!(matches!(
        refresh().await,
        Err(RefreshError::Fetch(FetchError::UnexpectedStatus {
            status: 503,
            ..
        }))
    ));
    assert!(matches!(
        refresh().await,
        Err(RefreshError::Fetch(FetchError::InvalidBody(_)))
    ));
    cdn.fail(Failure::Delay(Duration::from_secs(60)));
    assert!(matches!(
        refresh().await,
        Err(RefreshError::Fetch(FetchError::Timeout { .. }))
    ));
    cdn.fail(Failure::Status(404));
    assert!(matches!(
        refresh().await,
        Err(RefreshError::Fetch(FetchError::InvalidSdkKey {
            status: 404
        }))
    ));
    cdn.recover();
    refresh().await.unwrap();
    assert!(
        client.send(GetValue::new("on", false)).await.unwrap(),
        "the last good config throughout"
    );
    let statuses: Vec<u16> = cdn.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 503, 200, 304, 404, 304]);

    cdn.refuse_connections();
    assert!(matches!(
        refresh().await,
        Err(RefreshError::Fetch(FetchError::Network(_)))
    ));
    assert_eq!(cdn.request_count(), 6, "a refused connection is no request");
    cdn.accept_connections().unwrap();
    refresh().await.unwrap();
    assert_eq!(cdn.request_count(), 7);

    cdn.remove_config(&key);
    assert!(matches!(
        refresh().await,
        Err(RefreshError::Fetch(FetchError::InvalidSdkKey {
            status: 404
        }))
    ));
}
