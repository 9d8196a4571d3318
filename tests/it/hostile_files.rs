//! Files planted where the client reads (issue: hostile input): a FIFO, a link, a device, a
//! directory or an oversized file at a file-cache entry's name or at a temporary file's name.
//! Each is refused at once, never waited on and never echoed in a log line; new entries are
//! private.

use crate::support;

use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use configcat_actix::cache::{ConfigCache, FileCache, cache_key};
use configcat_actix::log::event;
use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour};
use configcat_actix::*;
use support::{MockCdn, TempDir, memory_log, sdk_key, simple_config, text};

/// Generous: a refused file answers in microseconds; a FIFO that is waited on never does.
const BOUND: Duration = Duration::from_secs(10);

/// A FIFO; when dropped, a reader still blocked on it (the behaviour this file tests against)
/// is released, so that a failing test fails instead of hanging its runtime.
struct Fifo(PathBuf);

impl Fifo {
    fn at(path: &Path) -> Fifo {
        let made = std::process::Command::new("mkfifo").arg(path).status();
        assert!(made.unwrap().success(), "mkfifo {}", path.display());
        Fifo(path.to_owned())
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        // Opening the write end without blocking succeeds only while a reader waits; each
        // success lets one reader through (it then reads an empty file).
        for _ in 0..16 {
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&self.0);
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {BOUND:?}"))
}

fn client(key: &str, cdn: &MockCdn, dir: &Path, log: &Arc<MemoryLog>) -> actix::Addr<ConfigCat> {
    ConfigCat::builder(key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .cache(FileCache::new(dir))
        .log_sink(log.clone())
        .start()
        .unwrap()
}

#[actix_rt::test]
async fn a_fifo_at_the_entry_name_is_a_read_error_at_once_and_the_next_download_replaces_it() {
    let dir = TempDir::new("hostile-fifo");
    let key = sdk_key("hostile-fifo");
    let entry = dir.file(&cache_key(&key));
    let _fifo = Fifo::at(&entry);

    let error = bounded("get", FileCache::new(dir.path()).get(&cache_key(&key)))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("a FIFO"), "{error}");
    assert!(
        error.is_invalid_entry(),
        "a planted FIFO is a corrupt entry"
    );

    // Through a client: 2200, the download is served and written over the FIFO.
    let cdn = MockCdn::start();
    cdn.set_config(&key, simple_config("greeting", "downloaded"));
    let log = memory_log(LogLevel::Debug);
    let client = client(&key, &cdn, dir.path(), &log);
    bounded("refresh", client.send(ForceRefresh))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        bounded("value", text(&client, "greeting")).await,
        "downloaded"
    );
    let logged: Vec<u32> = log.take().iter().map(|e| e.event_id).collect();
    assert!(logged.contains(&event::CACHE_READ_FAILED), "{logged:?}");
    client.send(Close).await.unwrap();
    assert!(std::fs::symlink_metadata(&entry).unwrap().is_file());
}

#[actix_rt::test]
async fn a_fifo_at_a_temporary_file_name_blocks_no_read_and_no_write() {
    let dir = TempDir::new("hostile-tmp-fifo");
    let key = cache_key(&sdk_key("hostile-tmp-fifo"));
    // A name the sweeper of dead writers' files looks at.
    let planted = dir.file(&format!(".{key}.1.2.3.tmp"));
    let _fifo = Fifo::at(&planted);

    let cache = FileCache::new(dir.path());
    assert_eq!(bounded("first get", cache.get(&key)).await, Ok(None));
    bounded("set", cache.set(&key, "1\netag\n{}".to_owned()))
        .await
        .unwrap();
    assert_eq!(
        bounded("get", FileCache::new(dir.path()).get(&key)).await,
        Ok(Some("1\netag\n{}".to_owned()))
    );
    // Not a writer's file: left alone.
    let kind = std::fs::symlink_metadata(&planted).unwrap().file_type();
    assert!(kind.is_fifo());
}

#[actix_rt::test]
async fn a_link_at_the_entry_name_is_not_followed_and_no_log_line_quotes_an_entry() {
    let dir = TempDir::new("hostile-link");
    let outside = TempDir::new("hostile-link-target");
    let secret = "r00t-0nly-passw0rd";
    let target = outside.file("shadow");
    std::fs::write(
        &target,
        format!("{secret}:x:0:0\n{secret}\n{{\"{secret}\": 1}}"),
    )
    .unwrap();
    let cdn = MockCdn::start();

    // A link to a private file; a regular file whose first line (and JSON) is that file's.
    for (case, planted_link) in [(0, true), (1, false)] {
        let key = sdk_key(&format!("hostile-link-{case}"));
        cdn.set_config(&key, simple_config("greeting", "downloaded"));
        let entry = dir.file(&cache_key(&key));
        if planted_link {
            std::os::unix::fs::symlink(&target, &entry).unwrap();
            let error = FileCache::new(dir.path())
                .get(&cache_key(&key))
                .await
                .unwrap_err();
            assert!(error.to_string().contains("symbolic link"), "{error}");
        } else {
            std::fs::copy(&target, &entry).unwrap();
        }
        let log = memory_log(LogLevel::Debug);
        let client = client(&key, &cdn, dir.path(), &log);
        client.send(ForceRefresh).await.unwrap().unwrap();
        assert_eq!(text(&client, "greeting").await, "downloaded");
        client.send(Close).await.unwrap();
        let events = log.take();
        assert!(
            events
                .iter()
                .any(|e| e.event_id == event::CACHE_READ_FAILED),
            "case {case}: {events:?}"
        );
        for event in &events {
            assert!(!event.message.contains(secret), "case {case}: {event:?}");
        }
        // The link itself was replaced, never written through.
        assert!(std::fs::symlink_metadata(&entry).unwrap().is_file());
    }
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .starts_with(secret)
    );
}

#[actix_rt::test]
async fn a_link_to_a_device_and_an_oversized_entry_are_refused_unread() {
    let dir = TempDir::new("hostile-size");
    let cache = FileCache::new(dir.path());

    let zero = cache_key(&sdk_key("hostile-zero"));
    std::os::unix::fs::symlink("/dev/zero", dir.file(&zero)).unwrap();
    let error = bounded("get /dev/zero", cache.get(&zero))
        .await
        .unwrap_err();
    assert!(error.is_invalid_entry(), "{error}");

    // Sparse: 16 MiB of zeros (valid UTF-8) plus the 64 KiB allowed for an entry's first
    // lines, plus one byte. Read whole before, it is refused by its size now.
    let large = cache_key(&sdk_key("hostile-large"));
    let file = std::fs::File::create(dir.file(&large)).unwrap();
    file.set_len(16 * 1024 * 1024 + 64 * 1024 + 1).unwrap();
    drop(file);
    let error = bounded("get oversized", cache.get(&large))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("larger than"), "{error}");
    assert!(error.is_invalid_entry(), "{error}");

    // A directory: no write can replace it, so the cache is failing, not holding a bad entry.
    let directory = cache_key(&sdk_key("hostile-dir"));
    std::fs::create_dir(dir.file(&directory)).unwrap();
    let error = bounded("get directory", cache.get(&directory))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("a directory"), "{error}");
    assert!(!error.is_invalid_entry(), "{error}");
}

#[actix_rt::test]
async fn new_entries_are_private_unless_told_otherwise() {
    let dir = TempDir::new("hostile-mode");
    let key = cache_key(&sdk_key("hostile-mode"));
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;

    FileCache::new(dir.path())
        .set(&key, "1\netag\n{}".to_owned())
        .await
        .unwrap();
    assert_eq!(mode(&dir.file(&key)), 0o600);

    // An entry is its temporary file renamed: its mode is the temporary file's.
    FileCache::new(dir.path())
        .mode(0o640)
        .set(&key, "2\netag\n{}".to_owned())
        .await
        .unwrap();
    assert_eq!(mode(&dir.file(&key)), 0o640);
}

/// A client in an actix System of its own, on its own thread, as a server runs one: when its
/// arbiter blocks, this test's runtime still runs (and fails instead of hanging).
struct ClientThread {
    client: actix::Addr<ConfigCat>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ClientThread {
    fn start(builder: impl FnOnce() -> ConfigCatBuilder + Send + 'static) -> ClientThread {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let client = builder().start().unwrap();
                addr_tx.send(client.clone()).unwrap();
                let _ = stopped.await;
                let _ = client.send(Close).await;
            });
        });
        ClientThread {
            client: addr_rx.recv().unwrap(),
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for ClientThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[actix_rt::test]
async fn an_override_file_replaced_by_a_fifo_keeps_the_last_good_values_and_never_stalls_evaluations()
 {
    let dir = TempDir::new("hostile-overrides");
    let path = dir.file("flags.json");
    std::fs::write(&path, r#"{"flags": {"greeting": "local"}}"#).unwrap();
    let log = memory_log(LogLevel::Debug);
    let (file, sink) = (path.clone(), log.clone());
    let running = ClientThread::start(move || {
        ConfigCat::builder("local only: any key")
            .flag_overrides(FlagOverrides::from_file(file, OverrideBehaviour::LocalOnly))
            .log_sink(sink)
    });
    let client = running.client.clone();
    assert_eq!(bounded("value", text(&client, "greeting")).await, "local");

    std::fs::remove_file(&path).unwrap();
    let fifo = Fifo::at(&path);
    // The file is checked every 500 ms: evaluations over three checks all answer, with the
    // last good value, and the FIFO is logged (1302) rather than waited on.
    for _ in 0..15 {
        assert_eq!(bounded("value", text(&client, "greeting")).await, "local");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = log.take();
    assert!(
        events
            .iter()
            .any(|e| e.event_id == event::OVERRIDE_FILE_INVALID && e.message.contains("a FIFO")),
        "{events:?}"
    );
    drop(fifo);
    drop(running);
}
