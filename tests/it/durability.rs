//! A shared cache never loses a download, and a client follows what other processes write
//! (spec §5), against the file cache and a real Redis.
//!
//! A "process" here is an actix System on a thread of its own, dropped the moment it has its
//! answer: what it did not finish by then is lost, as when a CLI tool or a job exits.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use configcat_actix::cache::{CacheFuture, ConfigCache, FileCache, cache_key};
use configcat_actix::*;
use support::{MockCdn, TempDir, follows, sdk_key, simple_config, text};

const RUNS: usize = 20;

/// A cache whose writes take a while (a remote disk, a distant Redis): long enough that a
/// process that does not wait for them exits before they are done.
struct SlowWrites<C>(C);

impl<C: ConfigCache> ConfigCache for SlowWrites<C> {
    fn get(&self, key: &str) -> CacheFuture<Option<String>> {
        self.0.get(key)
    }

    fn set(&self, key: &str, value: String) -> CacheFuture<()> {
        let write = self.0.set(key, value);
        Box::pin(async move {
            actix_rt::time::sleep(Duration::from_millis(30)).await;
            write.await
        })
    }
}

/// How a short-lived process ends.
#[derive(Debug, Clone, Copy)]
enum ExitAfter {
    /// Right after `ForceRefresh` answered (manual poll).
    ForceRefresh,
    /// Right after `ForceRefresh` and `Close` answered (manual poll).
    Close,
    /// Right after the first evaluation of an auto-polling client.
    FirstEvaluation,
}

/// Runs a client in a System of its own that exits as `exit` says; returns what it served.
fn short_lived(cdn: &MockCdn, key: &str, cache: Arc<dyn ConfigCache>, exit: ExitAfter) -> String {
    let (base_url, key) = (cdn.base_url(), key.to_owned());
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let mode = match exit {
                ExitAfter::FirstEvaluation => PollingMode::auto_poll(Duration::from_secs(60)),
                _ => PollingMode::manual_poll(),
            };
            let client = ConfigCat::builder(&key)
                .base_url(base_url)
                .polling_mode(mode)
                .cache(cache)
                .log_sink(NoLog)
                .start()
                .unwrap();
            if !matches!(exit, ExitAfter::FirstEvaluation) {
                client.send(ForceRefresh).await.unwrap().unwrap();
            }
            if matches!(exit, ExitAfter::Close) {
                let served = text(&client, "greeting").await;
                client.send(Close).await.unwrap();
                return served;
            }
            text(&client, "greeting").await
        })
    })
    .join()
    .unwrap()
}

fn entry_json(entry: &str) -> &str {
    entry.splitn(3, '\n').nth(2).unwrap()
}

async fn every_download_reaches(cache: impl Fn() -> Arc<dyn ConfigCache>, name: &str) {
    let cdn = MockCdn::start();
    for (case, exit) in [
        ExitAfter::ForceRefresh,
        ExitAfter::Close,
        ExitAfter::FirstEvaluation,
    ]
    .into_iter()
    .enumerate()
    {
        let mut kept = 0;
        for run in 0..RUNS {
            // Keys are cut to 22 characters: keep what tells runs apart short.
            let key = sdk_key(&format!("d-{name}-{case}-{run}"));
            let value = format!("{exit:?} {run}");
            cdn.set_config(&key, simple_config("greeting", &value));
            let served = short_lived(&cdn, &key, cache(), exit);
            assert_eq!(served, value, "{name} {exit:?} run {run}: served");
            let stored = cache().get(&cache_key(&key)).await.unwrap();
            if stored.as_deref().map(entry_json) == cdn.config_json(&key).as_deref() {
                kept += 1;
            }
        }
        assert_eq!(kept, RUNS, "{name} {exit:?}: downloads kept out of {RUNS}");
    }
}

#[actix_rt::test]
async fn every_download_reaches_the_file_cache_when_the_process_exits_at_once() {
    let dir = TempDir::new("durability");
    let path = dir.path().to_owned();
    every_download_reaches(move || Arc::new(SlowWrites(FileCache::new(&path))), "file").await;
}

/// Entries a process may find at start: not UTF-8, not the shared format, not a config.
const CORRUPT: [&[u8]; 3] = [
    b"\xff\xfe1686756435844\netag\n{}",
    b"garbage",
    b"1686756435844\netag\n{\"f\":",
];

/// Write before serve holds when the entry found at start is corrupt: such a cache answered,
/// so it is not a failing one whose writes are not waited for.
async fn every_download_replaces_a_corrupt_entry(
    cache: impl Fn() -> Arc<dyn ConfigCache>,
    plant: impl Fn(&str, &[u8]),
    name: &str,
) {
    let cdn = MockCdn::start();
    let mut kept = 0;
    for run in 0..RUNS {
        let key = sdk_key(&format!("c-{name}-{run}"));
        let value = format!("after a corrupt entry {run}");
        cdn.set_config(&key, simple_config("greeting", &value));
        plant(&cache_key(&key), CORRUPT[run % CORRUPT.len()]);
        let served = short_lived(&cdn, &key, cache(), ExitAfter::FirstEvaluation);
        assert_eq!(served, value, "{name} run {run}: served");
        let stored = cache().get(&cache_key(&key)).await.ok().flatten();
        if stored.as_deref().map(entry_json) == cdn.config_json(&key).as_deref() {
            kept += 1;
        }
    }
    assert_eq!(kept, RUNS, "{name}: downloads kept out of {RUNS}");
}

#[actix_rt::test]
async fn every_download_replaces_a_corrupt_entry_in_the_file_cache() {
    let dir = TempDir::new("durability-corrupt");
    let path = dir.path().to_owned();
    let planted = path.clone();
    every_download_replaces_a_corrupt_entry(
        move || Arc::new(SlowWrites(FileCache::new(&path))),
        move |key, bytes| std::fs::write(planted.join(key), bytes).unwrap(),
        "file",
    )
    .await;
}

fn entry(json: &str, fetch_time: SystemTime, etag: &str) -> String {
    let millis = fetch_time.duration_since(UNIX_EPOCH).unwrap().as_millis();
    format!("{millis}\n{etag}\n{json}")
}

async fn follows_other_writers(cache: Arc<dyn ConfigCache>, name: &str) {
    let cdn = MockCdn::start();
    for (case, mode) in [
        PollingMode::manual_poll(),
        PollingMode::auto_poll(Duration::from_secs(3600)),
        PollingMode::lazy_load(Duration::from_secs(3600)),
    ]
    .into_iter()
    .enumerate()
    {
        let key = sdk_key(&format!("f-{name}-{case}"));
        cdn.set_config(&key, simple_config("greeting", "from the cdn"));
        // Another process left an entry dated a day ahead (a clock that ran fast).
        let tomorrow = SystemTime::now() + Duration::from_secs(86_400);
        let first = simple_config("greeting", "future-dated");
        cache
            .set(&cache_key(&key), entry(&first, tomorrow, "\"future\""))
            .await
            .unwrap();
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(mode)
            .cache(cache.clone())
            .log_sink(NoLog)
            .start()
            .unwrap();
        assert_eq!(
            text(&client, "greeting").await,
            "future-dated",
            "{name} {mode:?}"
        );
        // Another process downloads a newer config: a now-dated entry with a new ETag. Its time
        // is older than the one we hold; it is taken all the same.
        let second = simple_config("greeting", "written by another process");
        cache
            .set(
                &cache_key(&key),
                entry(&second, SystemTime::now(), "\"another\""),
            )
            .await
            .unwrap();
        let took = follows(
            &client,
            "written by another process",
            Duration::from_secs(3),
        )
        .await;
        // The documented bound: the sync interval (100 ms) plus one read, with a margin for a
        // loaded machine.
        assert!(
            took < Duration::from_millis(1000),
            "{name} {mode:?}: followed after {took:?}"
        );
        assert_eq!(
            cdn.config_request_count(&key),
            0,
            "{name} {mode:?}: nothing downloaded"
        );
        client.send(Close).await.unwrap();
    }
}

#[actix_rt::test]
async fn every_mode_follows_another_writer_even_past_a_future_dated_entry_file() {
    let dir = TempDir::new("durability");
    follows_other_writers(Arc::new(FileCache::new(dir.path())), "file").await;
}

#[cfg(feature = "redis")]
mod redis_backed {
    use std::net::TcpListener;
    use std::time::Instant;

    use super::*;
    use crate::support::sleep;

    /// Accepts connections and never answers: a hung Redis.
    fn hung_server() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        (listener, port)
    }
    use configcat_actix::cache::RedisCache;

    use support::{redis_connection, redis_url};

    /// The test Redis as a cache, or `None` when it is not running (see `redis_connection`).
    fn redis() -> Option<RedisCache> {
        redis_connection().map(|_| RedisCache::new(&redis_url()).unwrap())
    }

    #[actix_rt::test]
    async fn every_download_reaches_redis_when_the_process_exits_at_once() {
        if redis().is_none() {
            return;
        }
        every_download_reaches(
            || Arc::new(SlowWrites(RedisCache::new(&redis_url()).unwrap())),
            "redis",
        )
        .await;
    }

    #[actix_rt::test]
    async fn every_download_replaces_a_corrupt_entry_in_redis() {
        let Some(connection) = redis_connection() else {
            return;
        };
        let connection = std::sync::Mutex::new(connection);
        every_download_replaces_a_corrupt_entry(
            || Arc::new(SlowWrites(RedisCache::new(&redis_url()).unwrap())),
            move |key, bytes| {
                redis::cmd("SET")
                    .arg(key)
                    .arg(bytes)
                    .query::<()>(&mut *connection.lock().unwrap())
                    .unwrap()
            },
            "redis",
        )
        .await;
    }

    #[actix_rt::test]
    async fn every_mode_follows_another_writer_even_past_a_future_dated_entry_redis() {
        let Some(cache) = redis() else {
            return;
        };
        follows_other_writers(Arc::new(cache), "redis").await;
    }

    #[actix_rt::test]
    async fn a_hung_redis_costs_the_first_download_one_cache_timeout_at_most() {
        let (_listener, port) = hung_server();
        let cdn = MockCdn::start();
        let key = sdk_key("hung-redis");
        cdn.set_config(&key, simple_config("greeting", "hello"));
        let timeout = Duration::from_millis(1000);
        let started = Instant::now();
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .cache(RedisCache::new(&format!("redis://127.0.0.1:{port}")).unwrap())
            .cache_timeout(timeout)
            .log_sink(NoLog)
            .start()
            .unwrap();
        assert_eq!(text(&client, "greeting").await, "hello");
        let took = started.elapsed();
        // One timeout (the read at start, shared with the first cycle) plus a download; two
        // timeouts would be 2 s.
        assert!(
            took >= timeout && took < timeout * 19 / 10,
            "the first config after {took:?}"
        );
        // Later evaluations never wait on the cache.
        let asked = Instant::now();
        for _ in 0..20 {
            assert_eq!(text(&client, "greeting").await, "hello");
            sleep(20).await;
        }
        assert!(
            asked.elapsed() < Duration::from_millis(900),
            "{:?}",
            asked.elapsed()
        );
        client.send(Close).await.unwrap();
    }
}
