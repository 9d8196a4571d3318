//! A cache in a directory: one file per cache key.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::BoxFuture;

use super::{CacheError, ConfigCache};

/// Numbers the writes of this process, so that two concurrent writes never share a temp file
/// (a clock alone can give two writes the same instant).
static WRITES: AtomicU64 = AtomicU64::new(0);

/// Keeps each entry in a file named after its cache key, in a directory that several processes
/// (on one machine, or on a shared volume) can use together.
///
/// Writes go to a temporary file that is then renamed over the entry, so a reader never sees
/// half an entry. The file holds exactly the cross-SDK shared format.
///
/// ```
/// # #[actix_rt::main] async fn main() -> Result<(), configcat_actix::cache::CacheError> {
/// use configcat_actix::cache::{ConfigCache, FileCache};
/// let directory = std::env::temp_dir().join("configcat-file-cache-doc");
/// let cache = FileCache::new(&directory);
/// cache.set("key", "1\netag\n{}".to_owned()).await?;
/// assert_eq!(cache.get("key").await?, Some("1\netag\n{}".to_owned()));
/// # let _ = std::fs::remove_dir_all(directory); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FileCache {
    directory: PathBuf,
}

impl FileCache {
    /// A cache in `directory`, created on the first write.
    pub fn new(directory: impl Into<PathBuf>) -> FileCache {
        FileCache {
            directory: directory.into(),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf, CacheError> {
        // Keys are hex digests; refuse anything that could leave the directory.
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(CacheError(format!("'{key}' cannot be used as a file name")));
        }
        Ok(self.directory.join(key))
    }
}

impl ConfigCache for FileCache {
    fn get(&self, key: &str) -> BoxFuture<'static, Result<Option<String>, CacheError>> {
        let path = self.path(key);
        Box::pin(async move {
            let path = path?;
            match tokio::fs::read_to_string(&path).await {
                Ok(text) => Ok(Some(text)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(CacheError(format!("reading {}: {error}", path.display()))),
            }
        })
    }

    fn set(&self, key: &str, value: String) -> BoxFuture<'static, Result<(), CacheError>> {
        let path = self.path(key);
        let directory = self.directory.clone();
        Box::pin(async move {
            let path = path?;
            let failed = |what: &str, error: std::io::Error| {
                CacheError(format!("{what} {}: {error}", path.display()))
            };
            tokio::fs::create_dir_all(&directory)
                .await
                .map_err(|e| failed("creating the directory of", e))?;
            // A name unique to this write (process id, write number, and the time for processes
            // on other machines sharing the directory whose ids may collide), so that concurrent
            // writers never share a temp file. It starts with a dot: never a cache key.
            let unique = format!(
                ".{}.{}.{}.{}.tmp",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
                std::process::id(),
                WRITES.fetch_add(1, Ordering::Relaxed),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos()
            );
            let temporary = directory.join(unique);
            tokio::fs::write(&temporary, value.as_bytes())
                .await
                .map_err(|e| failed("writing", e))?;
            if let Err(error) = tokio::fs::rename(&temporary, &path).await {
                let _ = tokio::fs::remove_file(&temporary).await;
                return Err(failed("replacing", error));
            }
            Ok(())
        })
    }
}
