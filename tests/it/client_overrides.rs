//! Flag overrides at the client level: local only (no SDK key check, no request), local over
//! remote, remote over local, and an override file that reloads when it changes.

use crate::support;

use std::sync::{Arc, Mutex};

use configcat_actix::log::event;
use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour};
use configcat_actix::*;
use support::{MockCdn, TempDir, sdk_key, simple_config, sleep, text};

#[actix_rt::test]
async fn local_only_needs_no_valid_sdk_key_and_makes_no_request() {
    let cdn = MockCdn::start();
    let log = Arc::new(MemoryLog::new(LogLevel::Warn));
    let ready = Arc::new(Mutex::new(Vec::new()));
    let seen = ready.clone();
    let overrides = FlagOverrides::from_map(
        [
            ("enabled", Value::Bool(true)),
            ("greeting", Value::from("local")),
            ("count", Value::Int(3)),
        ],
        OverrideBehaviour::LocalOnly,
    );
    let client = ConfigCat::builder("not a valid key")
        .base_url(cdn.base_url())
        .flag_overrides(overrides)
        .on_ready(move |state| seen.lock().unwrap().push(state))
        .log_sink(log.clone())
        .start()
        .expect("local only skips the SDK key check");
    assert!(client.send(GetValue::new("enabled", false)).await.unwrap());
    assert_eq!(text(&client, "greeting").await, "local");
    assert_eq!(client.send(GetValue::new("count", 0_i64)).await.unwrap(), 3);
    let details = client
        .send(GetValueDetails::new("greeting", String::new()))
        .await
        .unwrap();
    assert_eq!(details.fetch_time, None, "local data was never fetched");
    assert!(client.send(ForceRefresh).await.unwrap().is_err());
    client.send(SetOnline).await.unwrap();
    sleep(300).await;
    assert_eq!(cdn.request_count(), 0, "local only never talks HTTP");
    let ids: Vec<u32> = log.take().iter().map(|e| e.event_id).collect();
    assert!(ids.contains(&event::LOCAL_ONLY_NO_EFFECT), "{ids:?}");
    assert_eq!(
        *ready.lock().unwrap(),
        vec![ClientCacheState::HasLocalOverrideFlagDataOnly]
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn local_over_remote_and_remote_over_local_merge_per_key() {
    let cdn = MockCdn::start();
    let remote = serde_json::json!({"p": {"s": "s"}, "f": {
        "both": {"t": 1, "v": {"s": "remote"}},
        "onlyRemote": {"t": 1, "v": {"s": "remote"}}}});
    let local = [
        ("both", Value::from("local")),
        ("onlyLocal", Value::from("local")),
    ];
    for (behaviour, both) in [
        (OverrideBehaviour::LocalOverRemote, "local"),
        (OverrideBehaviour::RemoteOverLocal, "remote"),
    ] {
        let key = sdk_key(&format!("merge-{behaviour:?}"));
        cdn.set_config(&key, remote.to_string());
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(PollingMode::manual_poll())
            .flag_overrides(FlagOverrides::from_map(local.clone(), behaviour))
            .log_sink(NoLog)
            .start()
            .unwrap();
        // Before any download, the local values are there already.
        assert_eq!(text(&client, "onlyLocal").await, "local", "{behaviour:?}");
        assert_eq!(
            text(&client, "both").await,
            "local",
            "{behaviour:?} before the download"
        );
        assert!(client.send(ForceRefresh).await.unwrap().is_ok());
        assert_eq!(text(&client, "both").await, both, "{behaviour:?}");
        assert_eq!(text(&client, "onlyRemote").await, "remote", "{behaviour:?}");
        assert_eq!(text(&client, "onlyLocal").await, "local", "{behaviour:?}");
        assert_eq!(
            client.send(GetAllKeys).await.unwrap(),
            ["both", "onlyLocal", "onlyRemote"]
        );
        client.send(Close).await.unwrap();
    }
}

#[actix_rt::test]
async fn an_override_file_reloads_when_it_changes() {
    let dir = TempDir::new("override-reload");
    let path = dir.file("flags.json");
    std::fs::write(&path, r#"{"flags": {"greeting": "first"}}"#).unwrap();
    let changes = Arc::new(Mutex::new(0));
    let counted = changes.clone();
    let client = ConfigCat::builder("any key")
        .flag_overrides(FlagOverrides::from_file(
            &path,
            OverrideBehaviour::LocalOnly,
        ))
        .on_config_changed(move |_| *counted.lock().unwrap() += 1)
        .log_sink(NoLog)
        .start()
        .unwrap();
    assert_eq!(text(&client, "greeting").await, "first");
    // A different length, so that the change is seen even where file times are coarse.
    std::fs::write(&path, r#"{"flags": {"greeting": "second, longer"}}"#).unwrap();
    let mut value = String::new();
    for _ in 0..100 {
        value = text(&client, "greeting").await;
        if value != "first" {
            break;
        }
        sleep(100).await;
    }
    assert_eq!(value, "second, longer");
    assert_eq!(*changes.lock().unwrap(), 1);
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_missing_or_malformed_override_file_is_logged_and_the_remote_config_served() {
    let cdn = MockCdn::start();
    let dir = TempDir::new("override-broken");
    let malformed = dir.file("malformed.json");
    std::fs::write(&malformed, "{ this is not json").unwrap();
    for (name, path, id) in [
        ("missing", dir.file("missing.json"), 1300),
        ("malformed", malformed, 1302),
    ] {
        let key = sdk_key(&format!("override-{name}"));
        cdn.set_config(&key, simple_config("greeting", "remote"));
        let log = Arc::new(MemoryLog::new(LogLevel::Error));
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(PollingMode::manual_poll())
            .flag_overrides(FlagOverrides::from_file(
                &path,
                OverrideBehaviour::LocalOverRemote,
            ))
            .log_sink(log.clone())
            .start()
            .unwrap();
        assert!(client.send(ForceRefresh).await.unwrap().is_ok());
        assert_eq!(text(&client, "greeting").await, "remote", "{name}");
        let ids: Vec<u32> = log.take().iter().map(|e| e.event_id).collect();
        assert!(ids.contains(&id), "{name}: {ids:?}");
        client.send(Close).await.unwrap();
    }
}
