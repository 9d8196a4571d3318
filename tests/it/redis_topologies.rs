//! `RedisCache` against Redis as managed services run it, on servers each test starts on
//! loopback: TLS with a private CA and an ACL user, a three-node Redis Cluster (a MOVED
//! followed), and a Sentinel whose master is killed (the promoted replica followed).
//!
//! The servers are `redis-server` processes; when it is not installed the tests say how to get
//! it and pass, except under CI (env `CI` set), where they fail.

use crate::support;

use std::time::{Duration, Instant};

use configcat_actix::cache::{ConfigCache, RedisCache, cache_key};
use support::{RedisCluster, RedisProcess, TestCertificates, redis_binaries, tls_arguments};

const ENTRY: &str = "1700000000000\n\"etag-1\"\n{\"f\":{\"flag\":{\"t\":0,\"v\":{\"b\":true}}}}";

/// Retries `get` until it returns `want`, for at most `within`; the last result otherwise.
async fn eventually(
    cache: &RedisCache,
    key: &str,
    want: &str,
    within: Duration,
) -> Result<Option<String>, String> {
    let deadline = Instant::now() + within;
    loop {
        let got = cache.get(key).await.map_err(|e| e.to_string());
        if got.as_ref().is_ok_and(|v| v.as_deref() == Some(want)) || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_rt::test]
async fn tls_with_a_private_ca_and_an_acl_user() {
    if !redis_binaries() {
        return;
    }
    let certificates = TestCertificates::generate();
    let dir = support::TempDir::new("redis-tls-files");
    let mut args = tls_arguments(&certificates, dir.path());
    // An ACL user, and no access without one.
    args.extend(
        [
            "--user",
            "app",
            "on",
            ">s3cret-pass",
            "~*",
            "+@all",
            "--user",
            "default",
            "off",
        ]
        .map(str::to_owned),
    );
    let server = RedisProcess::start("redis-tls", &args, true);
    let url = format!("rediss://app:s3cret-pass@localhost:{}", server.port);
    let key = cache_key("configcat-sdk-1/TLS_TEST_KEY_0123456789/1234567890123456789012");

    let cache = RedisCache::builder(&url)
        .root_certificate(certificates.ca_der.clone())
        .build()
        .unwrap();
    cache.set(&key, ENTRY.to_owned()).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(ENTRY));
    // Another process (a second cache, its own connection) reads it too; so does one reaching
    // the server by IP address (the certificate names 127.0.0.1 as well).
    let other = RedisCache::builder(&format!(
        "rediss://app:s3cret-pass@127.0.0.1:{}",
        server.port
    ))
    .root_certificate(certificates.ca_der.clone())
    .build()
    .unwrap();
    assert_eq!(other.get(&key).await.unwrap().as_deref(), Some(ENTRY));

    // Without the private CA the server is not trusted: the webpki roots do not sign it.
    let untrusted = RedisCache::new(&url).unwrap();
    let error = untrusted.get(&key).await.unwrap_err().to_string();
    assert!(error.contains("certificate"), "{error}");

    // Plain text to a TLS port is no Redis conversation either.
    let plain = RedisCache::builder(&format!(
        "redis://app:s3cret-pass@localhost:{}",
        server.port
    ))
    .timeout(Duration::from_millis(500))
    .build()
    .unwrap();
    assert!(plain.get(&key).await.is_err());

    // A wrong password is refused with an error that says so, without the password.
    for (user, password) in [("app", "wrong-pass-0123"), ("nobody", "s3cret-pass")] {
        let wrong = RedisCache::builder(&format!(
            "rediss://{user}:{password}@localhost:{}",
            server.port
        ))
        .root_certificate(certificates.ca_der.clone())
        .build()
        .unwrap();
        let error = wrong.get(&key).await.unwrap_err();
        let text = error.to_string();
        assert!(
            text.to_lowercase().contains("authentication failed"),
            "{text}"
        );
        assert!(!text.contains(password), "{text}");
        assert!(!format!("{error:?}").contains(password), "{error:?}");
        assert!(!format!("{wrong:?}").contains(password), "{wrong:?}");
    }
}

#[actix_rt::test]
async fn a_cluster_entry_is_written_read_and_followed_after_moved() {
    if !redis_binaries() {
        return;
    }
    let cluster = RedisCluster::start();
    let key = cache_key("configcat-sdk-1/CLUSTER_TEST_KEY_01234/1234567890123456789012");
    // One seed node is enough: the others are found from it.
    let seed = format!("redis://127.0.0.1:{}", cluster.nodes[0].port);
    let cache = RedisCache::cluster_builder([seed.as_str()])
        .build()
        .unwrap();
    cache.set(&key, ENTRY.to_owned()).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(ENTRY));

    // The key lives on the node that owns its slot, and nowhere else.
    let mut first = cluster.nodes[0].connection();
    let slot: u16 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(&key)
        .query(&mut first)
        .unwrap();
    let ids: Vec<String> = cluster
        .nodes
        .iter()
        .map(|n| {
            redis::cmd("CLUSTER")
                .arg("MYID")
                .query(&mut n.connection())
                .unwrap()
        })
        .collect();
    let owner = (0..3)
        .find(|&i| {
            redis::cmd("CLUSTER")
                .arg("COUNTKEYSINSLOT")
                .arg(slot)
                .query::<i64>(&mut cluster.nodes[i].connection())
                .unwrap()
                == 1
        })
        .expect("the entry is stored on one node");
    let target = (owner + 1) % 3;

    // Move the slot, with the entry, to another node while the cache's slot map still names
    // the old owner: the cache's next commands get MOVED, and must follow it.
    let mut from = cluster.nodes[owner].connection();
    let mut to = cluster.nodes[target].connection();
    redis::cmd("CLUSTER")
        .arg(&["SETSLOT", &slot.to_string(), "IMPORTING", &ids[owner]])
        .query::<()>(&mut to)
        .unwrap();
    redis::cmd("CLUSTER")
        .arg(&["SETSLOT", &slot.to_string(), "MIGRATING", &ids[target]])
        .query::<()>(&mut from)
        .unwrap();
    redis::cmd("MIGRATE")
        .arg("127.0.0.1")
        .arg(cluster.nodes[target].port)
        .arg(&key)
        .arg(0)
        .arg(5000)
        .query::<()>(&mut from)
        .unwrap();
    for node in &cluster.nodes {
        redis::cmd("CLUSTER")
            .arg(&["SETSLOT", &slot.to_string(), "NODE", &ids[target]])
            .query::<()>(&mut node.connection())
            .unwrap();
    }
    // The old owner now redirects.
    let moved = redis::cmd("GET")
        .arg(&key)
        .query::<Option<String>>(&mut from);
    let moved = moved.unwrap_err().to_string();
    assert!(moved.to_lowercase().contains("moved"), "{moved}");

    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(ENTRY));
    let changed = ENTRY.replace("etag-1", "etag-2");
    cache.set(&key, changed.clone()).await.unwrap();
    let stored: Option<String> = redis::cmd("GET").arg(&key).query(&mut to).unwrap();
    assert_eq!(stored.as_deref(), Some(&*changed));
}

#[actix_rt::test]
async fn a_tls_cluster_with_a_private_ca_and_an_acl_user() {
    if !redis_binaries() {
        return;
    }
    let certificates = TestCertificates::generate();
    let cluster = RedisCluster::start_tls(&certificates);
    // An ACL user on every node (a cluster does not share users).
    for node in &cluster.nodes {
        let out = cluster
            .cli()
            .args(["-p", &node.port.to_string()])
            .args(["ACL", "SETUSER", "app", "on", ">s3cret-pass", "~*", "+@all"])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
    }
    let key = cache_key("configcat-sdk-1/TLS_CLUSTER_KEY_012345/1234567890123456789012");
    let seed = format!(
        "rediss://app:s3cret-pass@127.0.0.1:{}",
        cluster.nodes[0].port
    );
    let cache = RedisCache::cluster_builder([seed.as_str()])
        .root_certificate(certificates.ca_der.clone())
        .build()
        .unwrap();
    cache.set(&key, ENTRY.to_owned()).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(ENTRY));
    // Stored on the node owning the key's slot, whichever the seed was.
    let stored = cluster.nodes.iter().any(|node| {
        let out = cluster
            .cli()
            .args(["-p", &node.port.to_string(), "GET", &key])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("etag-1")
    });
    assert!(stored);

    // The webpki roots alone do not trust the private CA.
    let untrusted = RedisCache::cluster_builder([seed.as_str()])
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    assert!(untrusted.get(&key).await.is_err());
}

#[actix_rt::test]
async fn a_sentinel_failover_is_followed() {
    if !redis_binaries() {
        return;
    }
    let mut master = RedisProcess::start("sentinel-master", &[], false);
    let replica = RedisProcess::start(
        "sentinel-replica",
        &[
            "--replicaof".into(),
            "127.0.0.1".into(),
            master.port.to_string(),
        ],
        false,
    );
    let sentinel = RedisProcess::sentinel("configcat", master.port);
    // The sentinel must know the replica, and the replica be in sync, before the master dies.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let replicas: Vec<Vec<String>> = redis::cmd("SENTINEL")
            .arg(&["REPLICAS", "configcat"])
            .query(&mut sentinel.connection())
            .unwrap_or_default();
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut replica.connection())
            .unwrap();
        let known = replicas.iter().any(|fields| {
            fields
                .windows(2)
                .any(|w| w[0] == "port" && w[1] == replica.port.to_string())
        });
        if known && info.contains("master_link_status:up") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sentinel never saw the replica"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let key = cache_key("configcat-sdk-1/SENTINEL_TEST_KEY_0123/1234567890123456789012");
    let cache = RedisCache::sentinel_builder(
        "configcat",
        [format!("redis://127.0.0.1:{}", sentinel.port)],
        "redis://master",
    )
    .timeout(Duration::from_secs(1))
    .build()
    .unwrap();
    cache.set(&key, ENTRY.to_owned()).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(ENTRY));
    // Written to the master, replicated before it dies.
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis::cmd("GET")
        .arg(&key)
        .query::<Option<String>>(&mut replica.connection())
        .unwrap()
        .as_deref()
        != Some(ENTRY)
    {
        assert!(Instant::now() < deadline, "not replicated");
        std::thread::sleep(Duration::from_millis(50));
    }

    master.kill();
    // Until the sentinel promotes the replica, reads fail (the master is gone); then they are
    // served by the new master, through the same cache.
    let got = eventually(&cache, &key, ENTRY, Duration::from_secs(40)).await;
    assert_eq!(got, Ok(Some(ENTRY.to_owned())));
    let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut replica.connection()).unwrap();
    assert_eq!(
        role.first(),
        Some(&redis::Value::BulkString(b"master".to_vec())),
        "the replica was promoted"
    );
    let changed = ENTRY.replace("etag-1", "etag-2");
    cache.set(&key, changed.clone()).await.unwrap();
    let stored: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query(&mut replica.connection())
        .unwrap();
    assert_eq!(
        stored.as_deref(),
        Some(&*changed),
        "written to the new master"
    );
}

#[cfg(unix)]
#[actix_rt::test]
async fn a_unix_socket_is_still_a_node() {
    if !redis_binaries() {
        return;
    }
    let sockets = support::TempDir::new("redis-unix-socket");
    let socket = sockets.file("redis.sock");
    let server = RedisProcess::start(
        "redis-unix",
        &["--unixsocket".into(), socket.display().to_string()],
        false,
    );
    let key = cache_key("configcat-sdk-1/UNIX_SOCKET_KEY_012345/1234567890123456789012");
    let cache = RedisCache::new(&format!("unix://{}", socket.display())).unwrap();
    cache.set(&key, ENTRY.to_owned()).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(ENTRY));
    let stored: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query(&mut server.connection())
        .unwrap();
    assert_eq!(stored.as_deref(), Some(ENTRY));
}
