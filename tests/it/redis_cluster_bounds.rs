//! `RedisCache` in a Redis Cluster, and through a Sentinel, against hostile servers: every byte
//! read from every server (a Cluster's slot map, the sentinels' answers and the master's role
//! included) is bounded by the entry limit (issue 19, item 5), as it is for one node. The fake
//! servers are small RESP servers in this file; the `ASK` redirection is checked on a real
//! three-node cluster (skipped, except under CI, when `redis-server` is not installed).

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use configcat_actix::cache::{ConfigCache, RedisCache, cache_key};
use support::{RedisCluster, redis_binaries};

/// The entry limit the hostile-node tests set.
const LIMIT: usize = 1 << 20;

/// What a fake node streams at most before it waits for the client to hang up (the old code
/// would have buffered all of it): far more than the limit and the kernel's socket buffers.
const STREAM_CAP: u64 = 128 << 20;

/// What the kernel's socket buffers (the client's receive and the server's send buffers, on
/// loopback) may take besides what the client read: the bytes a fake node could send after
/// the client stopped reading.
const SOCKET_SLACK: u64 = 40 << 20;

/// How a fake node answers a command.
enum Reply {
    /// These bytes.
    Bytes(Vec<u8>),
    /// This header, then `a` without end (up to [`STREAM_CAP`]).
    Stream(Vec<u8>),
}

/// A fake node's answer to a command (name and arguments), given the node's own port.
type Script = dyn Fn(u16, &[Vec<u8>]) -> Reply + Send + Sync;

/// A fake cluster node on loopback, answering each connection's commands with `script` (and
/// `+OK` to the connection's set-up commands, which the script need not know). Returns its
/// port and, for each streamed reply, how many bytes of the stream it could send before the
/// client went away.
fn fake_node(
    script: impl Fn(u16, &[Vec<u8>]) -> Reply + Send + Sync + 'static,
) -> (u16, Receiver<u64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sent, streamed) = channel();
    let script: Arc<Script> = Arc::new(script);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let (script, sent) = (script.clone(), sent.clone());
            std::thread::spawn(move || serve(stream, port, &*script, &sent));
        }
    });
    (port, streamed)
}

/// One connection of a [`fake_node`]: command after command until the client goes.
fn serve(stream: TcpStream, port: u16, script: &Script, sent: &Sender<u64>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    while let Some(command) = read_command(&mut reader) {
        let name = command[0].to_ascii_uppercase();
        let reply = if [&b"CLIENT"[..], b"HELLO", b"SELECT", b"AUTH"].contains(&&*name) {
            Reply::Bytes(b"+OK\r\n".to_vec())
        } else {
            script(port, &command)
        };
        match reply {
            Reply::Bytes(bytes) => {
                if writer.write_all(&bytes).is_err() {
                    return;
                }
            }
            Reply::Stream(header) => {
                let _ = sent.send(stream_until_hung_up(&mut writer, &mut reader, &header));
                return;
            }
        }
    }
}

/// One command: `*N`, then N times `$len` and the argument; `None` when the client is gone.
fn read_command(reader: &mut impl BufRead) -> Option<Vec<Vec<u8>>> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let count: usize = line.trim().strip_prefix('*')?.parse().ok()?;
    (0..count)
        .map(|_| {
            line.clear();
            reader.read_line(&mut line).ok()?;
            let length: usize = line.trim().strip_prefix('$')?.parse().ok()?;
            let mut argument = vec![0; length + 2];
            reader.read_exact(&mut argument).ok()?;
            argument.truncate(length);
            Some(argument)
        })
        .collect()
}

/// Writes `header`, then `a` until a write fails (the client hung up) or [`STREAM_CAP`] bytes
/// went; then waits for the client to go. The bytes of the stream written.
fn stream_until_hung_up(writer: &mut TcpStream, reader: &mut impl Read, header: &[u8]) -> u64 {
    if writer.write_all(header).is_err() {
        return 0;
    }
    let chunk = vec![b'a'; 64 * 1024];
    let mut written = 0u64;
    while written < STREAM_CAP {
        match writer.write(&chunk) {
            Ok(n) => written += n as u64,
            Err(_) => return written,
        }
    }
    // Everything went: a client that buffers it all is still reading, or waiting for more.
    let _ = std::io::copy(reader, &mut std::io::sink());
    written
}

/// A `CLUSTER SLOTS` reply: every slot on the node at `port`.
fn all_slots_on(port: u16) -> Vec<u8> {
    format!(
        "*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:{port}\r\n$40\r\n{}\r\n",
        "f".repeat(40)
    )
    .into_bytes()
}

/// Whether `command` is `CLUSTER SLOTS`.
fn is_slots(command: &[Vec<u8>]) -> bool {
    command.len() == 2
        && command[0].eq_ignore_ascii_case(b"CLUSTER")
        && command[1].eq_ignore_ascii_case(b"SLOTS")
}

/// Whether `command` reads the entry.
fn is_read(command: &[Vec<u8>]) -> bool {
    command[0].eq_ignore_ascii_case(b"GETRANGE") || command[0].eq_ignore_ascii_case(b"GET")
}

/// A 1 GiB bulk string announced, then streamed.
fn huge_bulk() -> Reply {
    Reply::Stream(format!("${}\r\n", 1u64 << 30).into_bytes())
}

/// A cache on the cluster whose seed is the node at `port`, with [`LIMIT`] and a timeout far
/// longer than the test needs (a timeout would show as an error without "limit").
fn cache_on(port: u16) -> RedisCache {
    RedisCache::cluster_builder([format!("redis://127.0.0.1:{port}")])
        .max_entry_size(LIMIT)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// `get` fails, with an error that names the limit, and the node that streamed saw the client
/// hang up within the limit and the kernel's buffers.
async fn assert_dropped_within_the_limit(cache: &RedisCache, streamed: &Receiver<u64>) {
    let got = tokio::time::timeout(Duration::from_secs(60), cache.get("configcat-entry"))
        .await
        .expect("get does not hang");
    let error = got.expect_err("a streamed reply is no entry").to_string();
    assert!(error.contains("limit"), "{error}");
    let written = streamed
        .recv_timeout(Duration::from_secs(60))
        .expect("the node saw the client go");
    assert!(
        written < LIMIT as u64 + SOCKET_SLACK,
        "{written} bytes were sent before the hang-up"
    );
}

#[actix_rt::test]
async fn a_cluster_node_streaming_a_huge_entry_is_dropped_within_the_limit() {
    // Every slot is its own; the entry is announced as 1 GiB and streamed.
    let (seed, streamed) = fake_node(|own, command| {
        if is_slots(command) {
            Reply::Bytes(all_slots_on(own))
        } else if is_read(command) {
            huge_bulk()
        } else {
            Reply::Bytes(b"+OK\r\n".to_vec())
        }
    });
    assert_dropped_within_the_limit(&cache_on(seed), &streamed).await;
}

#[actix_rt::test]
async fn a_node_a_moved_points_to_is_bounded_too() {
    let (hostile, streamed) = fake_node(|_, command| {
        if is_read(command) {
            huge_bulk()
        } else {
            Reply::Bytes(b"+OK\r\n".to_vec())
        }
    });
    // The seed maps every slot to itself, and then says the entry's slot moved.
    let (seed, _) = fake_node(move |own, command| {
        if is_slots(command) {
            Reply::Bytes(all_slots_on(own))
        } else {
            Reply::Bytes(format!("-MOVED 1234 127.0.0.1:{hostile}\r\n").into_bytes())
        }
    });
    assert_dropped_within_the_limit(&cache_on(seed), &streamed).await;
}

#[actix_rt::test]
async fn a_slot_map_without_end_is_dropped_within_the_limit() {
    // `CLUSTER SLOTS` answered with a line that never ends.
    let (seed, streamed) = fake_node(|_, command| {
        if is_slots(command) {
            Reply::Stream(b"+".to_vec())
        } else {
            Reply::Bytes(b"+OK\r\n".to_vec())
        }
    });
    assert_dropped_within_the_limit(&cache_on(seed), &streamed).await;
}

#[actix_rt::test]
async fn a_slot_the_map_did_not_serve_is_mapped_again() {
    // The first map serves slot 0 only (not the entry's); the next ones serve every slot.
    let maps = std::sync::atomic::AtomicUsize::new(0);
    let (seed, _) = fake_node(move |own, command| {
        if is_slots(command) {
            if maps.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                let map = format!("*1\r\n*3\r\n:0\r\n:0\r\n*2\r\n$9\r\n127.0.0.1\r\n:{own}\r\n");
                return Reply::Bytes(map.into_bytes());
            }
            Reply::Bytes(all_slots_on(own))
        } else if is_read(command) {
            Reply::Bytes(b"$5\r\nhello\r\n".to_vec())
        } else {
            Reply::Bytes(b"+OK\r\n".to_vec())
        }
    });
    let cache = cache_on(seed);
    let first = cache.get("configcat-entry").await.unwrap_err().to_string();
    assert!(first.contains("slot"), "{first}");
    assert_eq!(
        cache.get("configcat-entry").await.unwrap().as_deref(),
        Some("hello")
    );
}

/// A sentinel's answer to `ROLE` (which a client may ask to check that it is one).
fn sentinel_role() -> Reply {
    Reply::Bytes(b"*2\r\n$8\r\nsentinel\r\n*1\r\n$9\r\nconfigcat\r\n".to_vec())
}

/// A cache on the master of `configcat` as the fake sentinel at `port` names it.
fn cache_through_sentinel(port: u16) -> RedisCache {
    RedisCache::sentinel_builder(
        "configcat",
        [format!("redis://127.0.0.1:{port}")],
        "redis://master",
    )
    .max_entry_size(LIMIT)
    .timeout(Duration::from_secs(20))
    .build()
    .unwrap()
}

#[actix_rt::test]
async fn a_sentinel_streaming_garbage_is_dropped_within_the_limit() {
    let (sentinel, streamed) = fake_node(|_, command| {
        if command[0].eq_ignore_ascii_case(b"SENTINEL") {
            Reply::Stream(b"*2\r\n+".to_vec())
        } else if command[0].eq_ignore_ascii_case(b"ROLE") {
            sentinel_role()
        } else {
            Reply::Bytes(b"+OK\r\n".to_vec())
        }
    });
    assert_dropped_within_the_limit(&cache_through_sentinel(sentinel), &streamed).await;
}

#[actix_rt::test]
async fn a_master_streaming_its_role_is_dropped_within_the_limit() {
    let (master, streamed) = fake_node(|_, command| {
        if command[0].eq_ignore_ascii_case(b"ROLE") || command[0].eq_ignore_ascii_case(b"INFO") {
            Reply::Stream(b"*3\r\n$6\r\nmaster\r\n+".to_vec())
        } else {
            Reply::Bytes(b"+OK\r\n".to_vec())
        }
    });
    // The sentinel names the master, whatever it is asked (its own flags say it is up).
    let (sentinel, _) = fake_node(move |_, command| {
        if command[0].eq_ignore_ascii_case(b"ROLE") {
            return sentinel_role();
        }
        let sub = command.get(1).map(|s| s.to_ascii_uppercase());
        let port = master.to_string();
        let address = format!("*2\r\n$9\r\n127.0.0.1\r\n${}\r\n{port}\r\n", port.len());
        match sub.as_deref() {
            Some(b"GET-MASTER-ADDR-BY-NAME") => Reply::Bytes(address.into_bytes()),
            Some(b"MASTERS") => {
                let fields = [
                    ("name", "configcat".to_owned()),
                    ("ip", "127.0.0.1".to_owned()),
                    ("port", port.clone()),
                    ("flags", "master".to_owned()),
                ];
                let mut reply = format!("*1\r\n*{}\r\n", fields.len() * 2);
                for (k, v) in fields {
                    reply += &format!("${}\r\n{k}\r\n${}\r\n{v}\r\n", k.len(), v.len());
                }
                Reply::Bytes(reply.into_bytes())
            }
            _ => Reply::Bytes(b"+OK\r\n".to_vec()),
        }
    });
    assert_dropped_within_the_limit(&cache_through_sentinel(sentinel), &streamed).await;
}

#[test]
fn a_cluster_mixing_credentials_or_tls_is_refused_when_built() {
    for seeds in [
        [
            "redis://a:one@127.0.0.1:7000",
            "redis://a:two@127.0.0.1:7001",
        ],
        [
            "redis://a:one@127.0.0.1:7000",
            "redis://b:one@127.0.0.1:7001",
        ],
        ["redis://127.0.0.1:7000", "rediss://127.0.0.1:7001"],
        ["redis://127.0.0.1:7000", "unix:///tmp/redis.sock"],
    ] {
        let error = RedisCache::cluster_builder(seeds).build().unwrap_err();
        assert!(!error.to_string().contains("one"), "{error}");
    }
    assert!(
        RedisCache::cluster_builder(Vec::<String>::new())
            .build()
            .is_err()
    );
    RedisCache::cluster_builder(["redis://a:one@127.0.0.1:7000", "redis://a:one@other:7001"])
        .build()
        .unwrap();
}

#[actix_rt::test]
async fn an_ask_during_a_slot_migration_is_followed() {
    if !redis_binaries() {
        return;
    }
    let cluster = RedisCluster::start();
    let key = cache_key("configcat-sdk-1/CLUSTER_ASK_KEY_0123456/1234567890123456789012");
    let seed = format!("redis://127.0.0.1:{}", cluster.nodes[0].port);
    let cache = RedisCache::cluster_builder([seed.as_str()])
        .build()
        .unwrap();
    let entry = "1700000000000\n\"etag-1\"\n{\"f\":{}}";
    cache.set(&key, entry.to_owned()).await.unwrap();

    let cli = |node: usize, args: &[&str]| -> String {
        let out = cluster
            .cli()
            .args(["-p", &cluster.nodes[node].port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let slot = cli(0, &["CLUSTER", "KEYSLOT", &key]);
    let owner = (0..3)
        .find(|&i| cli(i, &["CLUSTER", "COUNTKEYSINSLOT", &slot]) == "1")
        .expect("the entry is on one node");
    let target = (owner + 1) % 3;
    let (owner_id, target_id) = (
        cli(owner, &["CLUSTER", "MYID"]),
        cli(target, &["CLUSTER", "MYID"]),
    );

    // Half a migration: the entry is on the target, the slot still the owner's, which answers
    // ASK for a key it no longer has.
    assert_eq!(
        cli(
            target,
            &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &owner_id]
        ),
        "OK"
    );
    assert_eq!(
        cli(
            owner,
            &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &target_id]
        ),
        "OK"
    );
    let target_port = cluster.nodes[target].port.to_string();
    assert_eq!(
        cli(
            owner,
            &["MIGRATE", "127.0.0.1", &target_port, &key, "0", "5000"]
        ),
        "OK"
    );
    let redirected = cli(owner, &["GET", &key]);
    assert!(redirected.contains("ASK"), "{redirected}");

    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(entry));
    let changed = entry.replace("etag-1", "etag-2");
    cache.set(&key, changed.clone()).await.unwrap();
    // Written where the entry now is (read there with ASKING, as the slot is not its yet).
    let mut on_target = cluster.nodes[target].connection();
    let stored: (String, Option<String>) = redis::pipe()
        .cmd("ASKING")
        .cmd("GET")
        .arg(&key)
        .query(&mut on_target)
        .unwrap();
    assert_eq!(stored.1.as_deref(), Some(&*changed));

    // The migration ends: MOVED from the old owner, followed.
    for node in 0..3 {
        assert_eq!(
            cli(node, &["CLUSTER", "SETSLOT", &slot, "NODE", &target_id]),
            "OK"
        );
    }
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(&*changed));
}
