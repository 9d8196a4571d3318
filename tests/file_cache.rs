//! `FileCache` at the `ConfigCache` level: what a client (or another process) reads back is
//! exactly what was written, a missing entry is `None`, failures are errors, and concurrent
//! readers never see half an entry.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use configcat_actix::cache::{ConfigCache, FileCache, cache_key};
use configcat_actix::{Config, ConfigEntry};

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "configcat-file-cache-{test}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// The names of the files in the directory.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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
