//! `RedisCache` at the `ConfigCache` level, against a real Redis: values go through byte for
//! byte under exactly the shared key (so official SDKs share them), values written by other
//! clients are read, a dropped connection is replaced, and a Redis that is down is a quick
//! error.
//!
//! The server is `CONFIGCAT_TEST_REDIS_URL` (default `redis://127.0.0.1:6390`). When it is
//! unreachable the tests that need it print how to start one and pass, except under CI (env
//! `CI` set), where they fail.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use configcat_actix::cache::{ConfigCache, EntryTooLarge, RedisCache, cache_key};
use configcat_actix::{Config, ConfigEntry};
use support::{redis_connection as other_client, redis_url};

/// A key no other test (or run) uses.
fn unique(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("configcat-actix-test-{test}-{}-{nanos}", std::process::id())
}

fn get(connection: &mut redis::Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(connection).unwrap()
}

fn set(connection: &mut redis::Connection, key: &str, value: &str) {
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query::<()>(connection)
        .unwrap();
}

/// Removes what a test created (keys, an ACL user) when dropped, even when the test fails.
struct Cleanup {
    keys: Vec<String>,
    user: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Ok(mut connection) = redis::Client::open(redis_url().as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        else {
            return;
        };
        for key in &self.keys {
            let _ = redis::cmd("DEL").arg(key).query::<i64>(&mut connection);
        }
        if let Some(user) = &self.user {
            let _ = redis::cmd("ACL")
                .arg(&["DELUSER", user])
                .query::<i64>(&mut connection);
        }
    }
}

const MULTILINE_JSON: &str = "{\n  \"p\": {\"u\": \"https://cdn-global.configcat.com\", \"r\": 0, \"s\": \"salt\"},\n  \"f\": {\n    \"greeting\": {\"t\": 1, \"v\": {\"s\": \"Grüß Gott 👋\\nzwei Zeilen\"}}\n  }\n}\n";

#[actix_rt::test]
async fn values_round_trip_byte_for_byte() {
    let Some(mut other) = other_client() else {
        return;
    };
    let cache = RedisCache::new(&redis_url()).unwrap();
    let key = unique("round-trip");
    let _cleanup = Cleanup {
        keys: vec![key.clone()],
        user: None,
    };
    assert_eq!(cache.get(&key).await, Ok(None), "a missing key is None");

    let value = format!("1686756435844\n\"W/etag\"\n{MULTILINE_JSON}");
    cache.set(&key, value.clone()).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(&*value));
    assert_eq!(get(&mut other, &key).as_deref(), Some(&*value));
    let ttl: i64 = redis::cmd("TTL").arg(&key).query(&mut other).unwrap();
    assert_eq!(ttl, -1, "stored without expiry");

    // Overwritten, by a shorter value.
    cache.set(&key, "2\n\n{}".to_owned()).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some("2\n\n{}"));
}

#[actix_rt::test]
async fn a_value_set_by_another_client_is_read() {
    let Some(mut other) = other_client() else {
        return;
    };
    let key = unique("other-client");
    let _cleanup = Cleanup {
        keys: vec![key.clone()],
        user: None,
    };
    let value = format!("1700000000000\nfrom-another-process\n{MULTILINE_JSON}");
    set(&mut other, &key, &value);
    let cache = RedisCache::new(&redis_url()).unwrap();
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(&*value));
    // And a later change by the other client is seen on the same connection.
    set(&mut other, &key, "3\nchanged\n{}");
    assert_eq!(
        cache.get(&key).await.unwrap().as_deref(),
        Some("3\nchanged\n{}")
    );
}

#[actix_rt::test]
async fn the_entry_is_stored_under_the_shared_key_in_the_shared_format() {
    let Some(mut other) = other_client() else {
        return;
    };
    // A unique SDK key, so that parallel runs do not share the entry; the key derivation is
    // checked against the official vectors below.
    let sdk_key = format!("configcat-sdk-1/{}/1234567890123456789012", unique("sdk"));
    let _cleanup = Cleanup {
        keys: vec![cache_key(&sdk_key)],
        user: None,
    };
    let json = r#"{"p":{"u":"https://cdn-global.configcat.com","r":0},"f":{"testKey":{"t":1,"v":{"s":"testValue"}}}}"#;
    let entry = ConfigEntry {
        config: Arc::new(Config::parse(json).unwrap()),
        json: Arc::from(json),
        etag: Some("test-etag".to_owned()),
        fetch_time: UNIX_EPOCH + Duration::from_millis(1_686_756_435_844),
    };
    let cache = RedisCache::new(&redis_url()).unwrap();
    cache
        .set(&cache_key(&sdk_key), entry.serialize())
        .await
        .unwrap();

    let stored = get(&mut other, &cache_key(&sdk_key)).expect("stored under cache_key(sdk_key)");
    assert_eq!(stored, entry.serialize());
    assert_eq!(stored, format!("1686756435844\ntest-etag\n{json}"));
    // No prefix, no other key: the raw key is the SHA-1 of "<sdk key>_config_v6.json_v2", as
    // the official SDKs compute it (vectors of spec §5).
    let found: Vec<String> = redis::cmd("KEYS")
        .arg(format!("*{}*", cache_key(&sdk_key)))
        .query(&mut other)
        .unwrap();
    assert_eq!(found, [cache_key(&sdk_key)]);
    assert_eq!(
        cache_key("configcat-sdk-1/TEST_KEY-0123456789012/1234567890123456789012"),
        "f83ba5d45bceb4bb704410f51b704fb6dfa19942"
    );
    assert_eq!(
        cache_key("configcat-sdk-1/TEST_KEY2-123456789012/1234567890123456789012"),
        "da7bfd8662209c8ed3f9db96daed4f8d91ba5876"
    );
    let read =
        ConfigEntry::deserialize(&cache.get(&cache_key(&sdk_key)).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        (read.fetch_time, read.etag, &*read.json),
        (entry.fetch_time, entry.etag, json)
    );
}

#[actix_rt::test]
async fn a_connection_closed_by_redis_is_replaced_without_an_error() {
    let Some(mut other) = other_client() else {
        return;
    };
    // A user of our own, so that exactly this cache's connection can be killed (Redis ≥ 6).
    let user = unique("user");
    let key = unique("reconnect");
    let _cleanup = Cleanup {
        keys: vec![key.clone()],
        user: Some(user.clone()),
    };
    redis::cmd("ACL")
        .arg(&["SETUSER", &user, "on", ">secret", "~*", "+@all"])
        .query::<()>(&mut other)
        .unwrap();
    // The server's URL with our user's credentials instead of any it had.
    let url = redis_url();
    let server = url.strip_prefix("redis://").expect("a redis:// URL");
    let server = server.rsplit_once('@').map_or(server, |(_, host)| host);
    let url = format!("redis://{user}:secret@{server}");
    let cache = RedisCache::new(&url).unwrap();
    cache.set(&key, "1\n\n{}".to_owned()).await.unwrap();

    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "USER", &user])
        .query(&mut other)
        .unwrap();
    assert_eq!(killed, 1, "the cache's one connection was killed");
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some("1\n\n{}"));
    redis::cmd("CLIENT")
        .arg(&["KILL", "USER", &user])
        .query::<i64>(&mut other)
        .unwrap();
    cache.set(&key, "2\n\n{}".to_owned()).await.unwrap();
    assert_eq!(get(&mut other, &key).as_deref(), Some("2\n\n{}"));
}

#[actix_rt::test]
async fn a_redis_that_is_down_is_a_quick_error() {
    // Nothing listens on port 1: needs no server.
    let cache = RedisCache::new("redis://127.0.0.1:1").unwrap();
    let key = unique("down");
    for _ in 0..2 {
        let started = Instant::now();
        let got = tokio::time::timeout(Duration::from_secs(10), cache.get(&key))
            .await
            .expect("get does not hang");
        assert!(got.is_err(), "{got:?}");
        // A refused connection is an I/O error of the redis crate, kept as the source.
        let error = got.unwrap_err();
        let source = std::error::Error::source(&error).expect("a source");
        assert!(
            source
                .downcast_ref::<redis::RedisError>()
                .is_some_and(|e| e.is_io_error()),
            "{error}"
        );
        let set = tokio::time::timeout(Duration::from_secs(10), cache.set(&key, "1\n\n{}".into()))
            .await
            .expect("set does not hang");
        assert!(set.is_err(), "{set:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}

#[actix_rt::test]
async fn a_redis_that_hangs_is_an_error_within_the_bound() {
    // A "Redis" that never answers: the kernel accepts the connections into the backlog, and
    // nobody reads them.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let cache = RedisCache::new(&format!("redis://127.0.0.1:{port}")).unwrap();
    // 2 s to connect, 2 s per command: each call ends within about 4 s, not never.
    let started = Instant::now();
    let got = tokio::time::timeout(Duration::from_secs(10), cache.get("key"))
        .await
        .expect("get does not hang");
    assert!(got.is_err(), "{got:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let set = tokio::time::timeout(Duration::from_secs(10), cache.set("key", "1\n\n{}".into()))
        .await
        .expect("set does not hang");
    assert!(set.is_err(), "{set:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}

#[test]
fn an_invalid_url_is_an_error_without_io() {
    for url in ["", "http://127.0.0.1:6379", "not a url"] {
        let error = RedisCache::new(url).unwrap_err();
        assert!(error.to_string().contains("Redis URL"), "{url:?}: {error}");
        // The redis crate's error stays reachable, for an application that wants its kind.
        let source = std::error::Error::source(&error).expect("the redis error as the source");
        assert!(
            source.downcast_ref::<redis::RedisError>().is_some(),
            "{url:?}"
        );
    }
    // Valid URLs are accepted without connecting (nothing listens there).
    RedisCache::new("redis://127.0.0.1:1/3").unwrap();
    RedisCache::new("redis://user:password@cache.invalid:6379").unwrap();
}

#[actix_rt::test]
async fn an_entry_over_the_limit_is_a_typed_error_without_its_content() {
    let Some(mut other) = other_client() else {
        return;
    };
    let key = unique("too-large");
    let _cleanup = Cleanup {
        keys: vec![key.clone()],
        user: None,
    };
    let cache = RedisCache::builder(&redis_url())
        .max_entry_size(1024)
        .build()
        .unwrap();
    assert_eq!(cache.get(&key).await, Ok(None), "a missing key is None");
    set(&mut other, &key, "");
    assert_eq!(
        cache.get(&key).await,
        Ok(Some(String::new())),
        "empty is kept"
    );

    // Exactly the limit is read; one byte more is an error naming the limit, not the entry.
    let exact = format!("1\n\n{}", "x".repeat(1020));
    set(&mut other, &key, &exact);
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(&*exact));
    let larger = format!("1\n\n{}SECRET-CONTENT{}", "y".repeat(600), "z".repeat(600));
    set(&mut other, &key, &larger);
    let error = cache.get(&key).await.unwrap_err();
    let source = std::error::Error::source(&error).expect("a source");
    assert_eq!(
        source.downcast_ref::<EntryTooLarge>(),
        Some(&EntryTooLarge { limit: 1024 })
    );
    assert!(error.to_string().contains("1024 bytes"), "{error}");
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(
            !shown.contains("SECRET") && !shown.contains("yyy"),
            "{shown}"
        );
    }
    // The connection is still good: the refusal was the cache's, not the server's.
    set(&mut other, &key, "2\n\n{}");
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some("2\n\n{}"));

    // By default the limit is the HTTP body limit's default, 16 MiB: a 17 MiB entry is
    // refused, a 1 MiB one read.
    let default = RedisCache::new(&redis_url()).unwrap();
    set(&mut other, &key, &"a".repeat(17 << 20));
    let error = default.get(&key).await.unwrap_err();
    let source = std::error::Error::source(&error).expect("a source");
    assert_eq!(
        source.downcast_ref::<EntryTooLarge>(),
        Some(&EntryTooLarge { limit: 16 << 20 })
    );
    set(&mut other, &key, &"b".repeat(1 << 20));
    assert_eq!(
        default.get(&key).await.unwrap().map(|v| v.len()),
        Some(1 << 20)
    );
}

#[actix_rt::test]
async fn an_entry_that_is_not_utf8_is_an_error_without_its_content() {
    let Some(mut other) = other_client() else {
        return;
    };
    let key = unique("not-utf8");
    let _cleanup = Cleanup {
        keys: vec![key.clone()],
        user: None,
    };
    redis::cmd("SET")
        .arg(&key)
        .arg(b"1\n\nSECRET\xff\xfe{}".as_slice())
        .query::<()>(&mut other)
        .unwrap();
    let cache = RedisCache::new(&redis_url()).unwrap();
    let error = cache.get(&key).await.unwrap_err().to_string();
    assert!(error.contains("UTF-8"), "{error}");
    assert!(!error.contains("SECRET"), "{error}");
}

/// A fake Redis on loopback: answers `+OK` to every command but `GETRANGE`/`GET`, to which it
/// announces a 1 GB bulk string and streams it until the client goes away. Returns its port
/// and, once the client is gone, how many bytes of the string it could send.
fn streaming_fake_redis() -> (u16, std::sync::mpsc::Receiver<u64>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sent, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        loop {
            // One command: `*N`, then N times `$len` and the argument.
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let count: usize = line.trim()[1..].parse().unwrap();
            let mut name = Vec::new();
            for i in 0..count {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let length: usize = line.trim()[1..].parse().unwrap();
                let mut argument = vec![0; length + 2];
                reader.read_exact(&mut argument).unwrap();
                if i == 0 {
                    name = argument[..length].to_ascii_uppercase();
                }
            }
            if name != b"GETRANGE" && name != b"GET" {
                writer.write_all(b"+OK\r\n").unwrap();
                continue;
            }
            let total: u64 = 1 << 30;
            writer
                .write_all(format!("${total}\r\n").as_bytes())
                .unwrap();
            let chunk = vec![b'a'; 64 * 1024];
            let mut written = 0u64;
            while written < total {
                match writer.write(&chunk) {
                    Ok(n) => written += n as u64,
                    Err(_) => break,
                }
            }
            let _ = sent.send(written);
            return;
        }
    });
    (port, receiver)
}

#[actix_rt::test]
async fn a_server_streaming_a_huge_reply_is_dropped_within_the_limit() {
    let (port, sent) = streaming_fake_redis();
    let cache = RedisCache::builder(&format!("redis://127.0.0.1:{port}"))
        .max_entry_size(1 << 20)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(30), cache.get("key"))
        .await
        .expect("get does not hang");
    let error = got.unwrap_err().to_string();
    assert!(error.contains("limit"), "{error}");
    // The client hung up long before the gigabyte: what the server could send is what the
    // kernel's socket buffers took, not the reply (the old code read all of it).
    let written = sent
        .recv_timeout(Duration::from_secs(30))
        .expect("the server saw the client go");
    assert!(
        written < 64 << 20,
        "{written} bytes were sent before the hang-up"
    );
}

#[actix_rt::test]
async fn the_timeout_setting_bounds_connecting_instead_of_a_fixed_two_seconds() {
    // A "Redis" that never answers: the kernel accepts the connections into the backlog.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let cache = RedisCache::builder(&format!("redis://127.0.0.1:{port}"))
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let started = Instant::now();
    let got = tokio::time::timeout(Duration::from_secs(20), cache.get("key"))
        .await
        .expect("get does not hang");
    assert!(got.is_err(), "{got:?}");
    // Not before the 3 s given (the old fixed bound was 2 s).
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}

#[test]
fn tls_without_verification_is_refused_when_the_cache_is_built() {
    let error = RedisCache::new("rediss://127.0.0.1:6380/#insecure").unwrap_err();
    assert!(error.to_string().contains("#insecure"), "{error}");
    let error = RedisCache::cluster_builder(["rediss://127.0.0.1:7000/#insecure"])
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("#insecure"), "{error}");
    // Verified TLS is accepted (nothing connects yet).
    RedisCache::new("rediss://user:password@cache.invalid:6380/0").unwrap();
}
