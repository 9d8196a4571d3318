//! `FileCache` at the `ConfigCache` level: what a client (or another process) reads back is
//! exactly what was written, a missing entry is `None`, failures are errors, and concurrent
//! readers never see half an entry.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use configcat_actix::cache::{ConfigCache, FileCache, cache_key};
use configcat_actix::{Config, ConfigEntry};

use crate::support::TempDir;

const SDK_KEY: &str = "configcat-sdk-1/TEST_KEY-0123456789012/1234567890123456789012";

/// A pretty-printed (multi-line) config JSON, with non-ASCII text, as a CDN could send it.
const MULTILINE_JSON: &str = r#"{
  "p": {
    "u": "https://cdn-global.configcat.com",
    "r": 0,
    "s": "salt"
  },
  "f": {
    "greeting": {
      "t": 1,
      "v": { "s": "Grüß Gott\nüber zwei Zeilen" }
    },
    "enabled": {
      "t": 0,
      "v": { "b": true }
    }
  }
}
"#;

fn entry(json: &str, etag: &str, millis: u64) -> ConfigEntry {
    ConfigEntry {
        config: Arc::new(Config::parse(json).unwrap()),
        json: Arc::from(json),
        etag: Some(etag.to_owned()),
        fetch_time: UNIX_EPOCH + Duration::from_millis(millis),
    }
}

#[actix_rt::test]
async fn a_missing_entry_is_none() {
    let dir = TempDir::new("missing");
    // The directory exists but holds no entry.
    let cache = FileCache::new(dir.path());
    assert_eq!(cache.get(&cache_key(SDK_KEY)).await, Ok(None));
    // The directory does not exist yet (it is created on the first write).
    let cache = FileCache::new(dir.path().join("not-yet"));
    assert_eq!(cache.get(&cache_key(SDK_KEY)).await, Ok(None));
    assert!(
        !dir.path().join("not-yet").exists(),
        "reading creates nothing"
    );
}

#[actix_rt::test]
async fn a_serialized_entry_round_trips_byte_for_byte() {
    let dir = TempDir::new("round-trip");
    let directory = dir.path().join("created/on/first/write");
    let cache = FileCache::new(&directory);
    let key = cache_key(SDK_KEY);
    let entry = entry(MULTILINE_JSON, "\"W/abc-123\"", 1_686_756_435_844);
    let text = entry.serialize();
    assert_eq!(
        text,
        format!("1686756435844\n\"W/abc-123\"\n{MULTILINE_JSON}")
    );

    cache.set(&key, text.clone()).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(&*text));

    // On disk: one file named exactly the cache key, holding exactly the shared format, so that
    // another process (or an official SDK with a file cache) reads the same bytes.
    let on_disk = std::fs::read(directory.join(&key)).unwrap();
    assert_eq!(on_disk, text.as_bytes());
    let names: Vec<String> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        std::slice::from_ref(&key),
        "no temp file is left behind"
    );

    // Another cache on the same directory (another process) reads it, and it is a valid entry.
    let other = FileCache::new(&directory);
    let read = other.get(&key).await.unwrap().unwrap();
    let parsed = ConfigEntry::deserialize(&read).unwrap();
    assert_eq!(&*parsed.json, MULTILINE_JSON);
    assert_eq!(parsed.etag.as_deref(), Some("\"W/abc-123\""));
    assert_eq!(parsed.fetch_time, entry.fetch_time);
}

#[actix_rt::test]
async fn an_entry_is_overwritten_and_keys_are_separate() {
    let dir = TempDir::new("overwrite");
    let cache = FileCache::new(dir.path());
    let key = cache_key(SDK_KEY);
    let other_key = cache_key("configcat-sdk-1/TEST_KEY2-123456789012/1234567890123456789012");
    let long = format!("1\nfirst\n{MULTILINE_JSON}");
    cache.set(&key, long.clone()).await.unwrap();
    cache
        .set(&other_key, "7\nother\n{}".to_owned())
        .await
        .unwrap();
    // A shorter value replaces a longer one completely (no tail of the old one remains).
    cache.set(&key, "2\nsecond\n{}".to_owned()).await.unwrap();
    assert_eq!(
        cache.get(&key).await.unwrap().as_deref(),
        Some("2\nsecond\n{}")
    );
    assert_eq!(
        cache.get(&other_key).await.unwrap().as_deref(),
        Some("7\nother\n{}")
    );
    let mut expected = vec![key, other_key];
    expected.sort();
    assert_eq!(dir.files(), expected, "no temp file is left behind");
}

#[actix_rt::test]
async fn an_unusable_directory_is_an_error_never_a_panic() {
    let dir = TempDir::new("unusable");
    // A regular file where the directory should be: nothing can be created under it (this
    // holds even for root, unlike permissions).
    let file = dir.path().join("a-regular-file");
    std::fs::write(&file, "not a directory").unwrap();
    let key = cache_key(SDK_KEY);

    let cache = FileCache::new(file.join("cache"));
    let error = cache.set(&key, "1\n\n{}".to_owned()).await.unwrap_err();
    assert!(!error.to_string().is_empty());
    let error = cache.get(&key).await.unwrap_err();
    assert!(!error.to_string().is_empty());

    // The file itself as the directory.
    let cache = FileCache::new(&file);
    assert!(cache.set(&key, "1\n\n{}".to_owned()).await.is_err());
    assert!(cache.get(&key).await.is_err());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory");

    // A directory where the entry should be.
    std::fs::create_dir(dir.path().join(&key)).unwrap();
    let cache = FileCache::new(dir.path());
    assert!(cache.get(&key).await.is_err());
    assert!(cache.set(&key, "1\n\n{}".to_owned()).await.is_err());
}

#[actix_rt::test]
async fn keys_that_are_not_plain_file_names_are_refused() {
    let dir = TempDir::new("keys");
    let cache = FileCache::new(dir.path().join("inner"));
    for key in ["", "../escape", "a/b", ".hidden", "a\\b", "a b"] {
        assert!(cache.set(key, "x".to_owned()).await.is_err(), "{key:?}");
        assert!(cache.get(key).await.is_err(), "{key:?}");
    }
    assert!(!dir.path().join("escape").exists());
    assert_eq!(dir.files(), Vec::<String>::new());
}

#[actix_rt::test]
async fn concurrent_readers_never_see_a_partial_entry() {
    const WRITERS: usize = 4;
    const WRITES: usize = 40;
    const READERS: usize = 4;

    let dir = TempDir::new("concurrent");
    let key = cache_key(SDK_KEY);
    // Large, distinct values (about 256 KiB each) so that a non-atomic write would be seen
    // half done: each reader must only ever see one of them, whole.
    let values: Vec<Vec<String>> = (0..WRITERS)
        .map(|writer| {
            (0..WRITES)
                .map(|n| {
                    let padding = char::from(b'a' + ((writer * WRITES + n) % 26) as u8)
                        .to_string()
                        .repeat(256 * 1024);
                    format!("{n}\nwriter-{writer}\n{{\"p\":{{\"s\":\"{padding}\"}},\"f\":{{}}}}")
                })
                .collect()
        })
        .collect();
    let all: Arc<HashSet<String>> = Arc::new(values.iter().flatten().cloned().collect());

    let first = values[0][0].clone();
    FileCache::new(dir.path()).set(&key, first).await.unwrap();

    let mut writers = Vec::new();
    for writer_values in values {
        // Each task has its own cache on the same directory, like separate processes.
        let cache = FileCache::new(dir.path());
        let key = key.clone();
        writers.push(actix_rt::spawn(async move {
            for value in writer_values {
                cache.set(&key, value).await.unwrap();
            }
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let cache = FileCache::new(dir.path());
        let key = key.clone();
        let all = all.clone();
        readers.push(actix_rt::spawn(async move {
            let mut reads = 0;
            for _ in 0..WRITERS * WRITES {
                let value = cache
                    .get(&key)
                    .await
                    .unwrap()
                    .expect("the entry is never missing");
                assert!(
                    all.contains(&value),
                    "a partial or foreign value of {} bytes was read",
                    value.len()
                );
                reads += 1;
            }
            reads
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let mut reads = 0;
    for reader in readers {
        reads += reader.await.unwrap();
    }
    assert_eq!(reads, READERS * WRITERS * WRITES);
    let last = FileCache::new(dir.path()).get(&key).await.unwrap().unwrap();
    assert!(all.contains(&last));
    assert_eq!(dir.files(), [key], "no temp file is left behind");
}

/// Whether `name` is a temporary file of a write (`.<key>.<pid>.<n>.<time>.tmp`).
fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// The process id in a temporary file's name.
fn writer_of(name: &str) -> u32 {
    name.rsplit('.').nth(3).unwrap().parse().unwrap()
}

/// A temporary file as a writer of process `pid` names it.
fn temporary_path(dir: &TempDir, pid: u32, n: u32) -> PathBuf {
    dir.path().join(format!(
        ".{}.{pid}.{n}.1700000000000000000.tmp",
        cache_key(SDK_KEY)
    ))
}

#[actix_rt::test]
async fn dead_writers_files_are_removed_at_first_use_and_before_each_write() {
    let dir = TempDir::new("sweep");
    let key = cache_key(SDK_KEY);
    std::fs::write(dir.path().join(&key), "1\ne\n{}").unwrap();
    let dead = temporary_path(&dir, 4_000_001, 0);
    std::fs::write(&dead, "half an ent").unwrap();
    // A live writer: holds the lock on its file, as `FileCache` does while it writes.
    let live_path = temporary_path(&dir, 4_000_002, 0);
    let live = std::fs::File::create(&live_path).unwrap();
    live.lock().unwrap();
    // Files of anyone else are never touched, whatever they look like.
    for other in [".notes.tmp", "notes.tmp", ".a.b.1.2.3.tmp", "README"] {
        std::fs::write(dir.path().join(other), "theirs").unwrap();
    }
    let others = [".a.b.1.2.3.tmp", ".notes.tmp", "README", "notes.tmp"];

    // The first use, a read, removes the dead writer's file only.
    let cache = FileCache::new(dir.path());
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some("1\ne\n{}"));
    assert!(
        !dead.exists(),
        "a dead writer's file is removed at first use"
    );
    assert!(live_path.exists(), "a live writer's file is kept");

    // Later reads do not look again; the next write does.
    std::fs::write(&dead, "half an ent").unwrap();
    assert!(cache.get(&key).await.unwrap().is_some());
    assert!(dead.exists());
    cache.set(&key, "2\ne\n{}".to_owned()).await.unwrap();
    assert!(
        !dead.exists(),
        "a dead writer's file is removed before a write"
    );
    assert!(live_path.exists(), "a live writer's file is kept");

    // Once its writer is gone (the lock released with the file), the next write removes it.
    drop(live);
    cache.set(&key, "3\ne\n{}".to_owned()).await.unwrap();
    assert!(!live_path.exists());
    let mut expected: Vec<String> = others.iter().map(|s| (*s).to_owned()).collect();
    expected.push(key.clone());
    expected.sort();
    assert_eq!(dir.files(), expected);
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some("3\ne\n{}"));
}

/// Writers in child processes: this test binary run again with `CHILD` set. (Unix: the
/// tests kill with SIGKILL.)
#[cfg(unix)]
mod processes {
    use super::*;
    use crate::support::{rerun, test_name};

    /// Set in a child process: the name of the test that started it, which then runs as a
    /// writer in the directory `CHILD_DIRECTORY`.
    const CHILD: &str = "CONFIGCAT_FILE_CACHE_TEST_CHILD";
    const CHILD_DIRECTORY: &str = "CONFIGCAT_FILE_CACHE_TEST_CHILD_DIRECTORY";

    /// The directory to write in, when this process is the child of `test`.
    fn child_directory(test: &str) -> Option<PathBuf> {
        let name = std::env::var(CHILD).ok()?;
        // A child must never act as a parent (it would start children of its own).
        assert_eq!(name, test, "a child runs only the test that started it");
        Some(PathBuf::from(std::env::var_os(CHILD_DIRECTORY).unwrap()))
    }

    /// A child process, killed (SIGKILL) and reaped when dropped: a failing test leaves no writer
    /// running.
    struct Child(std::process::Child);

    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Starts this test binary again, running only `test`, as a writer in `dir`.
    fn spawn_child(test: &str, dir: &Path) -> Child {
        assert!(std::env::var_os(CHILD).is_none(), "a child starts no child");
        Child(
            rerun(test)
                .arg("--test-threads=1")
                .env(CHILD, test)
                .env(CHILD_DIRECTORY, dir)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit())
                .spawn()
                .unwrap(),
        )
    }

    /// In a child: whether the test that started it is gone (then the child is adopted), so that
    /// a writer never outlives its test.
    fn orphaned(parent: u32) -> bool {
        std::os::unix::process::parent_id() != parent
    }

    /// Entry `n` of a writer, about `size` bytes: its ETag tells what its JSON must be, so a
    /// reader can tell a whole entry from a torn one without parsing megabytes.
    fn big_entry(writer: u32, n: u32, size: usize) -> String {
        let fill = char::from(b'a' + (n % 26) as u8);
        let json = format!(
            "{{\"p\":{{\"s\":\"{}\"}},\"f\":{{}}}}",
            fill.to_string().repeat(size)
        );
        format!("{n}\nw{writer}-{n}-{fill}-{}\n{json}", json.len())
    }

    /// Panics unless `text` is an entry of [`big_entry`], whole.
    fn assert_whole(text: &str) {
        let mut parts = text.splitn(3, '\n');
        let (_, etag, json) = (
            parts.next().unwrap(),
            parts.next().expect("an ETag"),
            parts.next().expect("a JSON"),
        );
        let fields: Vec<&str> = etag.split('-').collect();
        let [_, _, fill, length] = fields[..] else {
            panic!("not an entry of a writer: {etag:?}")
        };
        assert_eq!(json.len(), length.parse::<usize>().unwrap(), "torn: {etag}");
        let fill = fill.chars().next().unwrap();
        let padding = json
            .strip_prefix("{\"p\":{\"s\":\"")
            .and_then(|j| j.strip_suffix("\"},\"f\":{}}"))
            .unwrap_or_else(|| panic!("torn: {etag}"));
        assert!(padding.chars().all(|c| c == fill), "mixed: {etag}");
    }

    /// The process that wrote the entry now in `dir`, from the start of its ETag.
    fn entry_writer(dir: &TempDir) -> Option<u32> {
        use std::io::Read;
        let mut start = [0; 64];
        let file = std::fs::File::open(dir.path().join(cache_key(SDK_KEY))).ok()?;
        let read = file.take(64).read(&mut start).ok()?;
        let start = std::str::from_utf8(&start[..read]).ok()?;
        let etag = start.split('\n').nth(1)?;
        etag.strip_prefix('w')?.split('-').next()?.parse().ok()
    }

    fn temporary_files(dir: &TempDir) -> Vec<String> {
        dir.files()
            .into_iter()
            .filter(|n| is_temporary(n))
            .collect()
    }

    const KILLS: u32 = 25;
    const BIG: usize = 8 * 1024 * 1024;

    #[actix_rt::test]
    async fn writers_killed_mid_write_never_tear_the_entry_and_leave_nothing_behind() {
        let test = &test_name(
            module_path!(),
            "writers_killed_mid_write_never_tear_the_entry_and_leave_nothing_behind",
        );
        if let Some(directory) = child_directory(test) {
            // The child: 8 MB writes back to back until it is killed.
            let cache = FileCache::new(directory);
            let parent = std::os::unix::process::parent_id();
            for n in (0..).take_while(|_| !orphaned(parent)) {
                cache
                    .set(&cache_key(SDK_KEY), big_entry(std::process::id(), n, BIG))
                    .await
                    .unwrap();
            }
            return;
        }
        let dir = TempDir::new("killed");
        let key = cache_key(SDK_KEY);
        let mut left_by_killed = 0;
        let mut previous: Option<u32> = None;
        for kill in 0..KILLS {
            let mut child = spawn_child(test, dir.path());
            let pid = child.0.id();
            // Wait until it wrote an entry and is writing the next one: its temporary file is
            // there, so the kill lands while a whole entry is being replaced.
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            let temporary = loop {
                let files = temporary_files(&dir);
                let writing = files.iter().find(|n| writer_of(n) == pid);
                if let (Some(name), Some(true)) = (writing, entry_writer(&dir).map(|w| w == pid)) {
                    // The writer before it was killed mid-write; this one removed what it left
                    // before starting its own first write.
                    assert!(
                        files.iter().all(|n| Some(writer_of(n)) != previous),
                        "a dead writer's file is left once the next writer runs: {files:?}"
                    );
                    break dir.path().join(name);
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the child never wrote"
                );
                assert!(child.0.try_wait().unwrap().is_none(), "the child exited");
                std::thread::sleep(Duration::from_micros(200));
            };
            // Kill at different points of the write: just created, a third and two thirds
            // written, written in full (flushing, renaming).
            let target = BIG as u64 * u64::from(kill % 4) / 3;
            while std::fs::metadata(&temporary).is_ok_and(|m| m.len() < target)
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_micros(200));
            }
            child.0.kill().unwrap(); // SIGKILL
            child.0.wait().unwrap();
            let files = temporary_files(&dir);
            assert!(
                files.len() <= 1 && files.iter().all(|n| writer_of(n) == pid),
                "one temporary file per writer at most: {files:?}"
            );
            left_by_killed += files.len();
            previous = Some(pid);
            // Read directly: a `FileCache` would clean up at its first use.
            assert_whole(&std::fs::read_to_string(dir.path().join(&key)).unwrap());
        }
        // Most kills land in the middle of a write, leaving its temporary file behind (a kill
        // can miss when the write ends between the look and the kill).
        assert!(
            left_by_killed >= KILLS as usize / 2,
            "only {left_by_killed} of {KILLS} kills left a temporary file: not mid-write"
        );
        // The next writer removes what the last one left.
        let text = std::fs::read_to_string(dir.path().join(&key)).unwrap();
        ConfigEntry::deserialize(&text).expect("a valid entry");
        let cache = FileCache::new(dir.path());
        cache.set(&key, big_entry(0, 0, 16)).await.unwrap();
        assert_eq!(dir.files(), [key]);
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "    {KILLS} writers killed with SIGKILL, {left_by_killed} mid-write; \
                 no torn entry, nothing left\n"
            )
            .as_bytes(),
        );
    }

    #[actix_rt::test]
    async fn writer_processes_racing_never_remove_each_others_files() {
        let test = &test_name(
            module_path!(),
            "writer_processes_racing_never_remove_each_others_files",
        );
        const WRITES: u32 = 40;
        if let Some(directory) = child_directory(test) {
            // A child: its writes, each of which sweeps while the other process writes; a removed
            // temporary file would fail its rename and this unwrap.
            let cache = FileCache::new(directory);
            for n in 0..WRITES {
                cache
                    .set(
                        &cache_key(SDK_KEY),
                        big_entry(std::process::id(), n, 1024 * 1024),
                    )
                    .await
                    .unwrap();
            }
            return;
        }
        let dir = TempDir::new("racing");
        let key = cache_key(SDK_KEY);
        let mut children = [spawn_child(test, dir.path()), spawn_child(test, dir.path())];
        let cache = FileCache::new(dir.path());
        let mut reads = 0;
        let mut statuses = [None, None];
        while statuses.iter().any(Option::is_none) {
            if let Some(text) = cache.get(&key).await.unwrap() {
                assert_whole(&text);
                reads += 1;
            }
            for (child, status) in children.iter_mut().zip(&mut statuses) {
                if status.is_none() {
                    *status = child.0.try_wait().unwrap();
                }
            }
        }
        for status in statuses {
            assert!(status.unwrap().success(), "a writer failed: {status:?}");
        }
        assert!(reads > 0, "the entry was read while they wrote");
        assert_whole(&cache.get(&key).await.unwrap().unwrap());
        assert_eq!(dir.files(), [key], "no temporary file is left");
    }
}
