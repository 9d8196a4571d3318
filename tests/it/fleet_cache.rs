//! A fleet sharing one cache: a client follows the shared entry at the cost of its head, a 304
//! moves only the entry's time on (byte for byte the entry every SDK reads), and processes
//! started together make one download between them, a dead leaseholder costing one lease.
//! Each against the in-memory cache, the file cache and a real Redis.
//!
//! A "process" is an actix System on a thread of its own.

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};

use configcat_actix::cache::{CacheFuture, ConfigCache, FileCache, InMemoryCache, cache_key};
use configcat_actix::*;
use support::{MockCdn, TempDir, follows, millis, sdk_key, simple_config, sleep, text};

/// Counts what a cache is asked and how many bytes its reads return; forwards everything.
struct Counting<C> {
    inner: C,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    gets: AtomicUsize,
    heads: AtomicUsize,
    read_bytes: AtomicUsize,
    sets: AtomicUsize,
    touches: AtomicUsize,
}

fn n(count: &AtomicUsize) -> usize {
    count.load(Ordering::SeqCst)
}

/// A valid SDK key unique to this test run (Redis keeps entries between runs).
fn run_key(name: &str) -> String {
    sdk_key(&format!("{name}-{}", std::process::id()))
}

fn counting<C: ConfigCache>(inner: C) -> (Counting<C>, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let cache = Counting {
        inner,
        counts: counts.clone(),
    };
    (cache, counts)
}

impl<C: ConfigCache> ConfigCache for Counting<C> {
    fn get(&self, key: &str) -> CacheFuture<Option<String>> {
        self.counts.gets.fetch_add(1, Ordering::SeqCst);
        let (read, counts) = (self.inner.get(key), self.counts.clone());
        Box::pin(async move {
            let value = read.await?;
            let bytes = value.as_ref().map_or(0, String::len);
            counts.read_bytes.fetch_add(bytes, Ordering::SeqCst);
            Ok(value)
        })
    }

    fn set(&self, key: &str, value: String) -> CacheFuture<()> {
        self.counts.sets.fetch_add(1, Ordering::SeqCst);
        self.inner.set(key, value)
    }

    fn get_head(&self, key: &str, max_bytes: usize) -> CacheFuture<Option<String>> {
        self.counts.heads.fetch_add(1, Ordering::SeqCst);
        let (read, counts) = (self.inner.get_head(key, max_bytes), self.counts.clone());
        Box::pin(async move {
            let value = read.await?;
            let bytes = value.as_ref().map_or(0, String::len);
            counts.read_bytes.fetch_add(bytes, Ordering::SeqCst);
            Ok(value)
        })
    }

    fn touch(&self, key: &str, etag: &str, fetch_time: &str) -> CacheFuture<bool> {
        self.counts.touches.fetch_add(1, Ordering::SeqCst);
        self.inner.touch(key, etag, fetch_time)
    }

    fn try_lease(&self, key: &str, holder: &str, ttl: Duration) -> CacheFuture<bool> {
        self.inner.try_lease(key, holder, ttl)
    }

    fn release_lease(&self, key: &str, holder: &str) -> CacheFuture<()> {
        self.inner.release_lease(key, holder)
    }
}

/// A cache of the kind users wrote before leases and heads: `get` and `set` only.
#[derive(Clone, Default)]
struct PlainCache(InMemoryCache);

impl ConfigCache for PlainCache {
    fn get(&self, key: &str) -> CacheFuture<Option<String>> {
        self.0.get(key)
    }

    fn set(&self, key: &str, value: String) -> CacheFuture<()> {
        self.0.set(key, value)
    }
}

/// An entry exactly as the official SDKs write it (spec §5).
fn official_entry(fetch_time: &str, etag: &str, json: &str) -> String {
    format!("{fetch_time}\n{etag}\n{json}")
}

/// A config whose `greeting` is `value`, padded with another flag to about `bytes` bytes: a
/// full read of it shows in the byte count.
fn padded_config(value: &str, bytes: usize) -> String {
    serde_json::json!({"p": {"s": "salt"}, "f": {
        "greeting": {"t": 1, "v": {"s": value}},
        "padding": {"t": 1, "v": {"s": "x".repeat(bytes)}},
    }})
    .to_string()
}

/// The caches under test: a fresh one of each kind per call.
struct Backends {
    dir: TempDir,
}

impl Backends {
    fn new(name: &str) -> Backends {
        Backends {
            dir: TempDir::new(name),
        }
    }

    /// The cache a dead leaseholder used: the same one, but for files another instance (the
    /// file lease is a lock that ends with its process, and the dead holder's process is not
    /// this test's: an instance never dropped here stands for a hung process).
    fn dead_holder_cache(&self, name: &str, cache: &Arc<dyn ConfigCache>) -> Arc<dyn ConfigCache> {
        match name {
            "file" => Arc::new(FileCache::new(self.dir.path())),
            _ => cache.clone(),
        }
    }

    /// `(name, cache)` for every backend available (Redis when it runs).
    fn all(&self) -> Vec<(&'static str, Arc<dyn ConfigCache>)> {
        let caches: Vec<(&'static str, Arc<dyn ConfigCache>)> = vec![
            ("memory", Arc::new(InMemoryCache::new())),
            ("file", Arc::new(FileCache::new(self.dir.path()))),
        ];
        #[cfg(feature = "redis")]
        let caches = {
            let mut caches = caches;
            if support::redis_connection().is_some() {
                let url = support::redis_url();
                let redis = configcat_actix::cache::RedisCache::new(&url).unwrap();
                caches.push(("redis", Arc::new(redis) as Arc<dyn ConfigCache>));
            }
            caches
        };
        caches
    }
}

#[actix_rt::test]
async fn an_unchanged_entry_is_followed_by_its_head_and_a_changed_one_within_a_sync() {
    const CONFIG_BYTES: usize = 64 * 1024;
    let backends = Backends::new("fleet-head");
    let cdn = MockCdn::start();
    for (name, inner) in backends.all() {
        let key = run_key(&format!("head-{name}"));
        let cache_key = cache_key(&key);
        let first = padded_config("first", CONFIG_BYTES);
        let now = millis(SystemTime::now()).to_string();
        inner
            .set(&cache_key, official_entry(&now, "\"e1\"", &first))
            .await
            .unwrap();
        let (cache, counts) = counting(inner.clone());
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(PollingMode::manual_poll())
            .cache(cache)
            .cache_sync_interval(Duration::from_millis(20))
            .log_sink(NoLog)
            .start()
            .unwrap();
        assert_eq!(text(&client, "greeting").await, "first", "{name}");
        let read_at_start = n(&counts.read_bytes);
        assert!(
            read_at_start > CONFIG_BYTES,
            "{name}: the start reads it all"
        );

        // A second of evaluations, each allowed to re-read the entry (every 20 ms).
        let since = Instant::now();
        while since.elapsed() < Duration::from_secs(1) {
            assert_eq!(text(&client, "greeting").await, "first");
            sleep(5).await;
        }
        let heads = n(&counts.heads);
        let read = n(&counts.read_bytes) - read_at_start;
        assert!(heads >= 5, "{name}: the entry was re-read ({heads} heads)");
        assert_eq!(n(&counts.gets), 1, "{name}: only the start read it all");
        assert!(
            read <= heads * 64,
            "{name}: {read} bytes for {heads} unchanged re-reads"
        );

        // Another process confirms the same config later: the time is followed, by the head.
        let later = SystemTime::now() + Duration::from_secs(30);
        inner
            .set(
                &cache_key,
                official_entry(&millis(later).to_string(), "\"e1\"", &first),
            )
            .await
            .unwrap();
        let since = Instant::now();
        loop {
            let details = client
                .send(GetValueDetails::new("greeting", String::new()))
                .await
                .unwrap();
            if details.fetch_time.map(millis) == Some(millis(later)) {
                break;
            }
            assert!(since.elapsed() < Duration::from_secs(3), "{name}: time");
            sleep(10).await;
        }
        assert_eq!(n(&counts.gets), 1, "{name}: a new time needs no JSON");

        // Another process writes another config: followed within the sync interval plus a
        // read (a head, then the whole entry).
        let second = padded_config("second", CONFIG_BYTES);
        inner
            .set(&cache_key, official_entry(&now, "\"e2\"", &second))
            .await
            .unwrap();
        let took = follows(&client, "second", Duration::from_secs(3)).await;
        assert!(took < Duration::from_millis(1000), "{name}: after {took:?}");
        assert_eq!(n(&counts.gets), 2, "{name}: one whole read for it");
        client.send(Close).await.unwrap();
    }
}

#[actix_rt::test]
async fn an_entry_without_an_etag_is_compared_by_its_content() {
    // The JS and Rust SDKs write an empty ETag when the CDN sent none: the head cannot tell
    // two such entries apart, so the whole entry is read and compared.
    let backends = Backends::new("fleet-no-etag");
    let cdn = MockCdn::start();
    for (name, inner) in backends.all() {
        let key = run_key(&format!("noetag-{name}"));
        let now = millis(SystemTime::now()).to_string();
        let first = simple_config("greeting", "first");
        inner
            .set(&cache_key(&key), official_entry(&now, "", &first))
            .await
            .unwrap();
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(PollingMode::manual_poll())
            .cache(inner.clone())
            .cache_sync_interval(Duration::from_millis(20))
            .log_sink(NoLog)
            .start()
            .unwrap();
        assert_eq!(text(&client, "greeting").await, "first", "{name}");
        let second = simple_config("greeting", "second");
        inner
            .set(&cache_key(&key), official_entry(&now, "", &second))
            .await
            .unwrap();
        follows(&client, "second", Duration::from_secs(3)).await;
        client.send(Close).await.unwrap();
    }
}

#[actix_rt::test]
async fn a_304_moves_only_the_time_on_leaving_the_entry_the_official_sdks_wrote() {
    let backends = Backends::new("fleet-304");
    let cdn = MockCdn::start();
    for (name, inner) in backends.all() {
        let key = run_key(&format!("touch-{name}"));
        // Newlines in the body, as a CDN may send them: the rewrite must not care.
        let json = "{\"p\": {\"s\": \"salt\"},\n \"f\": {\"greeting\": {\"t\": 1, \"v\": {\"s\": \"hello\"}}}}";
        cdn.set_config(&key, json);
        let etag = cdn.etag_of(&key).unwrap();
        // Written by an official SDK at 2023-06-14T15:27:15.844Z (the spec's vector time).
        let written = official_entry("1686756435844", &etag, json);
        inner.set(&cache_key(&key), written.clone()).await.unwrap();
        let (cache, counts) = counting(inner.clone());
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(PollingMode::manual_poll())
            .cache(cache)
            .log_sink(NoLog)
            .start()
            .unwrap();
        assert_eq!(text(&client, "greeting").await, "hello", "{name}");
        let before = millis(SystemTime::now());
        client.send(ForceRefresh).await.unwrap().unwrap();
        let after = millis(SystemTime::now());
        assert_eq!(
            cdn.last_request().unwrap().if_none_match(),
            Some(etag.as_str()),
            "{name}: a conditional request"
        );
        assert_eq!(n(&counts.touches), 1, "{name}");
        assert_eq!(n(&counts.sets), 0, "{name}: the JSON was not rewritten");
        let stored = inner.get(&cache_key(&key)).await.unwrap().unwrap();
        let (time, rest) = stored.split_once('\n').unwrap();
        let time: u128 = time.parse().unwrap();
        assert!(
            before <= time && time <= after,
            "{name}: {before} <= {time} <= {after}"
        );
        // Byte for byte what a full write would have been, and what the official SDKs write.
        assert_eq!(
            stored,
            official_entry(&time.to_string(), &etag, json),
            "{name}"
        );
        assert_eq!(rest, written.split_once('\n').unwrap().1, "{name}");
        let read = ConfigEntry::deserialize(&stored).unwrap();
        assert_eq!(millis(read.fetch_time), time);
        assert_eq!(read.etag.as_deref(), Some(etag.as_str()));
        assert_eq!(&*read.json, json);
        client.send(Close).await.unwrap();

        // A time of another width (the Python SDK may write a fraction) cannot be replaced in
        // place: the whole entry is written.
        let key = run_key(&format!("frac-{name}"));
        cdn.set_config(&key, json);
        let fractional = official_entry("1686756435844.5", &etag, json);
        inner.set(&cache_key(&key), fractional).await.unwrap();
        let (cache, counts) = counting(inner.clone());
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(PollingMode::manual_poll())
            .cache(cache)
            .log_sink(NoLog)
            .start()
            .unwrap();
        client.send(ForceRefresh).await.unwrap().unwrap();
        assert_eq!(n(&counts.sets), 1, "{name}: written whole");
        let stored = inner.get(&cache_key(&key)).await.unwrap().unwrap();
        let time = stored.split('\n').next().unwrap();
        assert_eq!(stored, official_entry(time, &etag, json), "{name}");
        assert_eq!(time.len(), 13, "{name}");
        client.send(Close).await.unwrap();
    }
}

/// Starts `n` auto-polling clients together, each in a System of its own, on one cache; each
/// runs `run` and returns what it served.
fn fleet(
    n: usize,
    cdn: &MockCdn,
    key: &str,
    cache: Arc<dyn ConfigCache>,
    lease: Duration,
    run: Duration,
) -> Vec<String> {
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (base_url, key, cache) = (cdn.base_url(), key.to_owned(), cache.clone());
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                actix_rt::System::new().block_on(async move {
                    barrier.wait();
                    let client = ConfigCat::builder(&key)
                        .base_url(base_url)
                        .polling_mode(
                            PollingMode::auto_poll(Duration::from_secs(1))
                                .max_init_wait(Duration::from_secs(10)),
                        )
                        .cache(cache)
                        .cache_sync_interval(Duration::from_millis(20))
                        .cache_lease(lease)
                        .log_sink(NoLog)
                        .start()
                        .unwrap();
                    let served = text(&client, "greeting").await;
                    let since = Instant::now();
                    while since.elapsed() < run {
                        let _ = text(&client, "greeting").await;
                        sleep(10).await;
                    }
                    client.send(Close).await.unwrap();
                    served
                })
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn a_fleet_started_together_downloads_once() {
    let backends = Backends::new("fleet-start");
    let cdn = MockCdn::start();
    // A download takes a while, as a large config does: long enough for every process to
    // find the cache empty and want one.
    cdn.set_delay(Duration::from_millis(300));
    for (name, cache) in backends.all() {
        let key = run_key(&format!("start-{name}"));
        cdn.set_config(&key, simple_config("greeting", "hello"));
        let served = fleet(4, &cdn, &key, cache, Duration::from_secs(5), Duration::ZERO);
        assert_eq!(served, vec!["hello"; 4], "{name}");
        assert_eq!(
            cdn.config_request_count(&key),
            1,
            "{name}: one download for the fleet"
        );
    }
}

#[test]
fn a_fleet_polls_about_as_often_as_one_process() {
    let backends = Backends::new("fleet-poll");
    let cdn = MockCdn::start();
    cdn.set_delay(Duration::from_millis(50));
    let run = Duration::from_millis(3500);
    // One process alone, as the reference.
    let key = run_key("alone");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    fleet(
        1,
        &cdn,
        &key,
        Arc::new(InMemoryCache::new()),
        Duration::from_secs(2),
        run,
    );
    let alone = cdn.config_request_count(&key);
    assert!(alone >= 3, "one process polled {alone} times");
    for (name, cache) in backends.all() {
        let key = run_key(&format!("poll-{name}"));
        cdn.set_config(&key, simple_config("greeting", "hello"));
        fleet(4, &cdn, &key, cache, Duration::from_secs(2), run);
        let fleet = cdn.config_request_count(&key);
        // Four processes without leases make about four times as many.
        assert!(
            fleet <= alone + 2,
            "{name}: the fleet made {fleet} requests, one process {alone}"
        );
    }
}

#[test]
fn a_cache_without_leases_behaves_as_before() {
    let cdn = MockCdn::start();
    cdn.set_delay(Duration::from_millis(300));
    let key = run_key("plain");
    cdn.set_config(&key, simple_config("greeting", "hello"));
    let cache = PlainCache::default();
    let served = fleet(
        2,
        &cdn,
        &key,
        Arc::new(cache.clone()),
        Duration::from_secs(5),
        Duration::ZERO,
    );
    assert_eq!(served, vec!["hello"; 2]);
    assert_eq!(
        cdn.config_request_count(&key),
        2,
        "each downloads for itself"
    );
    let stored = actix_rt::System::new().block_on(cache.get(&cache_key(&key)));
    assert!(
        stored
            .unwrap()
            .unwrap()
            .ends_with(&cdn.config_json(&key).unwrap())
    );
}

/// Takes the lease of `key` as a process that then dies without writing would.
async fn dead_holder(cache: &dyn ConfigCache, key: &str, ttl: Duration) {
    assert_eq!(
        cache
            .try_lease(&cache_key(key), "a-process-that-died", ttl)
            .await,
        Ok(true)
    );
}

#[actix_rt::test]
async fn a_dead_leaseholder_costs_one_lease_then_the_waiter_downloads() {
    let backends = Backends::new("fleet-dead");
    let cdn = MockCdn::start();
    let lease = Duration::from_millis(1500);
    for (name, cache) in backends.all() {
        let key = run_key(&format!("dead-{name}"));
        cdn.set_config(&key, simple_config("greeting", "hello"));
        let holder = backends.dead_holder_cache(name, &cache);
        dead_holder(&*holder, &key, lease).await;
        let started = Instant::now();
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(
                PollingMode::auto_poll(Duration::from_secs(60))
                    .max_init_wait(Duration::from_secs(10)),
            )
            .cache(cache.clone())
            .cache_sync_interval(Duration::from_millis(20))
            .cache_lease(lease)
            .log_sink(NoLog)
            .start()
            .unwrap();
        assert_eq!(text(&client, "greeting").await, "hello", "{name}");
        let took = started.elapsed();
        assert!(
            took >= lease - Duration::from_millis(200),
            "{name}: it waited for the lease ({took:?})"
        );
        assert!(took < lease + Duration::from_secs(4), "{name}: {took:?}");
        assert_eq!(cdn.config_request_count(&key), 1, "{name}");
        client.send(Close).await.unwrap();
        drop(holder);
    }
}

#[actix_rt::test]
async fn force_refresh_never_waits_for_another_leaseholder() {
    let backends = Backends::new("fleet-force");
    let cdn = MockCdn::start();
    for (name, cache) in backends.all() {
        let key = run_key(&format!("force-{name}"));
        cdn.set_config(&key, simple_config("greeting", "hello"));
        let holder = backends.dead_holder_cache(name, &cache);
        dead_holder(&*holder, &key, Duration::from_secs(60)).await;
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(PollingMode::manual_poll())
            .cache(cache.clone())
            .cache_lease(Duration::from_secs(60))
            .log_sink(NoLog)
            .start()
            .unwrap();
        let asked = Instant::now();
        client.send(ForceRefresh).await.unwrap().unwrap();
        assert!(asked.elapsed() < Duration::from_secs(10), "{name}");
        assert_eq!(text(&client, "greeting").await, "hello", "{name}");
        assert_eq!(cdn.config_request_count(&key), 1, "{name}");
        client.send(Close).await.unwrap();
    }
}

#[actix_rt::test]
async fn every_cache_reads_heads_touches_times_and_keeps_leases_exclusive() {
    let backends = Backends::new("fleet-methods");
    let ttl = Duration::from_secs(60);
    for (name, cache) in backends.all() {
        let key = cache_key(&run_key(&format!("methods-{name}")));
        assert_eq!(cache.get_head(&key, 64).await, Ok(None), "{name}: no entry");
        assert_eq!(cache.touch(&key, "e", "1686756435844").await, Ok(false));
        assert_eq!(
            cache.get(&key).await,
            Ok(None),
            "{name}: touch creates nothing"
        );

        // A head is the start of the value, cut before a character it would split.
        let entry = official_entry("1686756435844", "\"é\"", "{\"f\":{}}");
        cache.set(&key, entry.clone()).await.unwrap();
        assert_eq!(
            cache.get_head(&key, 14).await.unwrap().unwrap(),
            "1686756435844\n"
        );
        assert_eq!(
            cache.get_head(&key, 16).await.unwrap().unwrap(),
            "1686756435844\n\""
        );
        assert_eq!(
            cache.get_head(&key, 17).await.unwrap().unwrap(),
            "1686756435844\n\"é"
        );
        assert_eq!(cache.get_head(&key, 10_000).await.unwrap().unwrap(), entry);

        // A touch moves the time only for the same ETag line and a time of the same width.
        for (etag, time) in [
            ("\"é", "1686756499999"),
            ("\"e\"", "1686756499999"),
            ("\"é\"", "168675649999"),
            ("\"é\"", "16867564999999"),
        ] {
            assert_eq!(
                cache.touch(&key, etag, time).await,
                Ok(false),
                "{name} {etag} {time}"
            );
            assert_eq!(cache.get(&key).await.unwrap().unwrap(), entry, "{name}");
        }
        assert_eq!(cache.touch(&key, "\"é\"", "1686756499999").await, Ok(true));
        assert_eq!(
            cache.get(&key).await.unwrap().unwrap(),
            official_entry("1686756499999", "\"é\"", "{\"f\":{}}"),
            "{name}"
        );

        // One holder at a time, which may ask again; only the holder gives it back.
        assert_eq!(cache.try_lease(&key, "a", ttl).await, Ok(true), "{name}");
        assert_eq!(cache.try_lease(&key, "b", ttl).await, Ok(false), "{name}");
        assert_eq!(
            cache.try_lease(&key, "a", ttl).await,
            Ok(true),
            "{name}: again"
        );
        cache.release_lease(&key, "b").await.unwrap();
        assert_eq!(cache.try_lease(&key, "b", ttl).await, Ok(false), "{name}");
        cache.release_lease(&key, "a").await.unwrap();
        assert_eq!(cache.try_lease(&key, "b", ttl).await, Ok(true), "{name}");
        cache.release_lease(&key, "b").await.unwrap();
        // The lease is not the entry.
        assert_eq!(
            cache.get(&key).await.unwrap().unwrap(),
            official_entry("1686756499999", "\"é\"", "{\"f\":{}}"),
            "{name}"
        );

        // A lease ends by itself.
        let short = Duration::from_millis(300);
        assert_eq!(cache.try_lease(&key, "a", short).await, Ok(true), "{name}");
        assert_eq!(cache.try_lease(&key, "b", short).await, Ok(false), "{name}");
        sleep(600).await;
        assert_eq!(cache.try_lease(&key, "b", short).await, Ok(true), "{name}");
        cache.release_lease(&key, "b").await.unwrap();
    }
}

#[actix_rt::test]
async fn a_file_lease_is_exclusive_across_caches_and_ends_with_its_holder() {
    // Two `FileCache`s on one directory stand for two processes: the lease is a lock on a file
    // beside the entry, which the system gives back when its holder's file is closed.
    let dir = TempDir::new("fleet-file-lease");
    let key = cache_key(&run_key("file-lease"));
    let ttl = Duration::from_secs(60);
    let first = FileCache::new(dir.path());
    let second = FileCache::new(dir.path());
    assert_eq!(first.try_lease(&key, "a", ttl).await, Ok(true));
    assert_eq!(second.try_lease(&key, "b", ttl).await, Ok(false));
    assert!(dir.path().join(format!(".{key}.lease")).is_file());
    drop(first); // its process died
    assert_eq!(second.try_lease(&key, "b", ttl).await, Ok(true));
    let third = FileCache::new(dir.path());
    assert_eq!(third.try_lease(&key, "c", ttl).await, Ok(false));
    second.release_lease(&key, "b").await.unwrap();
    assert_eq!(third.try_lease(&key, "c", ttl).await, Ok(true));
    // Nothing but the lease file was made: no entry, no temporary file to sweep.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec![format!(".{key}.lease")]);
}

/// A cache that refuses to touch at once, as a Redis whose user may not run scripts does.
struct RefusesTouch(Arc<dyn ConfigCache>);

impl ConfigCache for RefusesTouch {
    fn get(&self, key: &str) -> CacheFuture<Option<String>> {
        self.0.get(key)
    }

    fn set(&self, key: &str, value: String) -> CacheFuture<()> {
        self.0.set(key, value)
    }

    fn get_head(&self, key: &str, max_bytes: usize) -> CacheFuture<Option<String>> {
        self.0.get_head(key, max_bytes)
    }

    fn touch(&self, _: &str, _: &str, _: &str) -> CacheFuture<bool> {
        Box::pin(async { Err(configcat_actix::cache::CacheError::new("NOPERM")) })
    }
}

/// After a 304, the entry's time in `cache` moved on to about now.
async fn a_304_moves_the_time_of(cache: Arc<dyn ConfigCache>, inner: &dyn ConfigCache, name: &str) {
    let cdn = MockCdn::start();
    let key = run_key(&format!("refused-{name}"));
    let json = simple_config("greeting", "hello");
    cdn.set_config(&key, json.clone());
    let etag = cdn.etag_of(&key).unwrap();
    let written = official_entry("1686756435844", &etag, &json);
    inner.set(&cache_key(&key), written).await.unwrap();
    let log = Arc::new(MemoryLog::new(LogLevel::Warn));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .cache(cache)
        .log_sink(log.clone())
        .start()
        .unwrap();
    let before = millis(SystemTime::now());
    client.send(ForceRefresh).await.unwrap().unwrap();
    let stored = inner.get(&cache_key(&key)).await.unwrap().unwrap();
    let time: u128 = stored.split('\n').next().unwrap().parse().unwrap();
    assert!(time >= before, "{name}: the time moved on");
    assert_eq!(
        stored,
        official_entry(&time.to_string(), &etag, &json),
        "{name}"
    );
    let ids: Vec<u32> = log.take().iter().map(|e| e.event_id).collect();
    assert!(ids.is_empty(), "{name}: {ids:?}");
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_touch_the_cache_refuses_is_a_whole_write() {
    let backends = Backends::new("fleet-refused");
    for (name, inner) in backends.all() {
        a_304_moves_the_time_of(Arc::new(RefusesTouch(inner.clone())), &*inner, name).await;
    }
}

#[cfg(feature = "redis")]
#[actix_rt::test]
async fn a_redis_user_that_may_not_run_scripts_still_shares_the_entry() {
    let Some(mut admin) = support::redis_connection() else {
        return;
    };
    // Everything but scripts.
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("configcat-noscript")
        .arg("on")
        .arg(">noscript-password")
        .arg("~*")
        .arg("+@all")
        .arg("-@scripting")
        .query::<()>(&mut admin)
        .unwrap();
    let url = support::redis_url().replacen(
        "redis://",
        "redis://configcat-noscript:noscript-password@",
        1,
    );
    let cache = configcat_actix::cache::RedisCache::new(&url).unwrap();
    assert!(
        cache.touch("k", "e", "1").await.is_err(),
        "the user may not run scripts"
    );
    // Leases need no script to be taken (giving one back does; it then ends by itself).
    let lease_of = cache_key(&run_key("noscript-lease"));
    let ttl = Duration::from_millis(500);
    assert_eq!(cache.try_lease(&lease_of, "a", ttl).await, Ok(true));
    assert_eq!(cache.try_lease(&lease_of, "b", ttl).await, Ok(false));
    assert_eq!(cache.try_lease(&lease_of, "a", ttl).await, Ok(true));
    a_304_moves_the_time_of(Arc::new(cache.clone()), &cache, "redis-noscript").await;
}

#[actix_rt::test]
async fn an_entry_read_before_a_download_is_taken_again_when_it_comes_back() {
    // Heads spare the client reading its own write back; the entry it read before that write
    // must still count as news when another process writes it again.
    let backends = Backends::new("fleet-back");
    let cdn = MockCdn::start();
    for (name, cache) in backends.all() {
        let key = run_key(&format!("back-{name}"));
        cdn.set_config(&key, simple_config("greeting", "downloaded"));
        let now = millis(SystemTime::now()).to_string();
        let old = official_entry(&now, "\"old\"", &simple_config("greeting", "old"));
        cache.set(&cache_key(&key), old.clone()).await.unwrap();
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(PollingMode::manual_poll())
            .cache(cache.clone())
            .cache_sync_interval(Duration::from_millis(20))
            .log_sink(NoLog)
            .start()
            .unwrap();
        assert_eq!(text(&client, "greeting").await, "old", "{name}");
        client.send(ForceRefresh).await.unwrap().unwrap();
        assert_eq!(text(&client, "greeting").await, "downloaded", "{name}");
        sleep(100).await; // re-reads of its own entry
        assert_eq!(text(&client, "greeting").await, "downloaded", "{name}");
        cache.set(&cache_key(&key), old).await.unwrap();
        follows(&client, "old", Duration::from_secs(3)).await;
        client.send(Close).await.unwrap();
    }
}

#[actix_rt::test]
async fn evaluations_wait_for_readiness_never_for_a_lease() {
    // Only the poller waits for a leaseholder: a request before the first config waits the
    // max init wait, as always, and is answered with its default.
    let backends = Backends::new("fleet-eval");
    let cdn = MockCdn::start();
    let lease = Duration::from_secs(3);
    for (name, cache) in backends.all() {
        let key = run_key(&format!("eval-{name}"));
        cdn.set_config(&key, simple_config("greeting", "hello"));
        let holder = backends.dead_holder_cache(name, &cache);
        dead_holder(&*holder, &key, lease).await;
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(
                PollingMode::auto_poll(Duration::from_secs(60))
                    .max_init_wait(Duration::from_millis(300)),
            )
            .cache(cache.clone())
            .cache_sync_interval(Duration::from_millis(20))
            .cache_lease(lease)
            .log_sink(NoLog)
            .start()
            .unwrap();
        let asked = Instant::now();
        assert_eq!(text(&client, "greeting").await, "default", "{name}");
        assert!(asked.elapsed() < lease / 2, "{name}: {:?}", asked.elapsed());
        assert_eq!(cdn.config_request_count(&key), 0, "{name}: still waiting");
        follows(&client, "hello", lease * 3).await;
        assert_eq!(cdn.config_request_count(&key), 1, "{name}");
        client.send(Close).await.unwrap();
        drop(holder);
    }
}

/// Leases always fail (a store that refuses the command); writes take a while.
struct LeasesFail(InMemoryCache);

impl ConfigCache for LeasesFail {
    fn get(&self, key: &str) -> CacheFuture<Option<String>> {
        self.0.get(key)
    }

    fn set(&self, key: &str, value: String) -> CacheFuture<()> {
        // The in-memory cache stores when called: the write is made after the wait.
        let (inner, key) = (self.0.clone(), key.to_owned());
        Box::pin(async move {
            actix_rt::time::sleep(Duration::from_millis(30)).await;
            inner.set(&key, value).await
        })
    }

    fn try_lease(&self, _: &str, _: &str, _: Duration) -> CacheFuture<bool> {
        Box::pin(async { Err(configcat_actix::cache::CacheError::new("refused")) })
    }
}

#[test]
fn a_failing_lease_still_writes_the_download_before_serving_it() {
    // A process that exits once it has its first answer leaves its download behind, even
    // when its cache cannot give leases.
    let cdn = MockCdn::start();
    let cache = InMemoryCache::new();
    for run in 0..10 {
        let key = run_key(&format!("lease-fails-{run}"));
        cdn.set_config(&key, simple_config("greeting", "hello"));
        let (base_url, key_here, inner) = (cdn.base_url(), key.clone(), cache.clone());
        let served = std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let client = ConfigCat::builder(&key_here)
                    .base_url(base_url)
                    .cache(LeasesFail(inner))
                    .log_sink(NoLog)
                    .start()
                    .unwrap();
                text(&client, "greeting").await
            })
        })
        .join()
        .unwrap();
        assert_eq!(served, "hello");
        let stored = actix_rt::System::new().block_on(cache.get(&cache_key(&key)));
        assert!(
            stored.unwrap().is_some(),
            "run {run}: the download was kept"
        );
    }
}
