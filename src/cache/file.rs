//! A cache in a directory: one file per cache key.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::entry::touchable;
use super::external::entry_text;
use super::{CacheError, CacheFuture, ConfigCache};
use crate::local_file::{self, Links};

/// Numbers the writes of this process, so that two concurrent writes never share a temp file
/// (a clock alone can give two writes the same instant).
static WRITES: AtomicU64 = AtomicU64::new(0);

/// How many temporary files a write tries before it gives up: a sweeper can take (and remove)
/// a fresh one in the instant between its creation and its lock, which is rare, so a second
/// try all but always succeeds.
const ATTEMPTS: usize = 4;

/// Keeps each entry in a file named after its cache key, in a directory that several processes
/// (on one machine, or on a shared volume) can use together.
///
/// The file holds exactly the cross-SDK shared format. A write goes to a temporary file in the
/// same directory, which is flushed to disk (`fsync`) and then renamed over the entry, and the
/// directory is flushed after the rename (on Unix): a reader never sees half an entry, and
/// after a crash or a power loss the entry is the old one or the new one, whole.
///
/// A writer holds an advisory lock (`flock` on Unix, `LockFileEx` on Windows) on its
/// temporary file while it writes, and has one temporary file at a time. A temporary file
/// that can be locked was left by a writer that died (a `kill -9` in the middle of a write):
/// such files are removed when a cache is first used and before each write, by whichever
/// process writes next. A file a live writer (of this process or another) is writing is never
/// removed. Where the file system has no locks, nothing is removed.
///
/// All file I/O runs on tokio's blocking pool, never on the client's arbiter.
///
/// The directory may be shared with other users, so what is found in it is not trusted: only
/// a regular file is read as an entry, never through a symbolic link at the entry's name, and
/// never more than the HTTP client's default body size limit (16 MiB) plus 64 KiB for the
/// entry's first two lines. A FIFO, a device, a directory or a link there is a read error
/// (2200) at once, without blocking; no error quotes the file's content. New entries are
/// created with the permissions of [`mode`](FileCache::mode) (`0o600` unless told otherwise).
///
/// ```
/// # #[actix::main] async fn main() -> Result<(), configcat_actix::cache::CacheError> {
/// use configcat_actix::cache::{ConfigCache, FileCache};
/// let directory = std::env::temp_dir().join(format!("configcat-file-cache-doc-{}", std::process::id()));
/// let cache = FileCache::new(&directory);
/// cache.set("key", "1\netag\n{}".to_owned()).await?;
/// assert_eq!(cache.get("key").await?, Some("1\netag\n{}".to_owned()));
/// # let _ = std::fs::remove_dir_all(directory); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FileCache {
    directory: PathBuf,
    /// Whether the temporary files of dead writers were looked for since this cache (or a
    /// clone of it) was made: done once on the first use, as a read may come long before the
    /// first write.
    swept: Arc<AtomicBool>,
    /// The permission bits of new entries (Unix).
    mode: u32,
    /// The download leases this cache (or a clone of it) holds: the locked lease file of each
    /// key, its holder, and when the lease ends.
    leases: Arc<Mutex<HashMap<String, HeldLease>>>,
}

/// A lease file locked by this process for `holder`, until `until`.
#[derive(Debug)]
struct HeldLease {
    holder: String,
    file: File,
    until: Instant,
}

/// The permissions of a new entry unless [`FileCache::mode`] says otherwise: readable and
/// writable by its owner only, as a config can hold what the targeting rules compare users
/// with (emails, customer ids).
const DEFAULT_MODE: u32 = 0o600;

impl FileCache {
    /// A cache in `directory`, created on the first write.
    pub fn new(directory: impl Into<PathBuf>) -> FileCache {
        FileCache {
            directory: directory.into(),
            swept: Arc::default(),
            mode: DEFAULT_MODE,
            leases: Arc::default(),
        }
    }

    /// The permission bits new entries (and their temporary files) are created with, on Unix;
    /// the process's umask still applies. Default `0o600`: only the user that writes them can
    /// read them. Processes of several users that share one directory through a group need
    /// `0o640` (read by the group) or `0o660` (written by it too). Ignored elsewhere than on
    /// Unix. An entry that is replaced takes the mode of its replacement.
    ///
    /// ```
    /// use configcat_actix::cache::FileCache;
    /// let cache = FileCache::new("/var/cache/configcat").mode(0o640);
    /// # let _ = cache;
    /// ```
    #[must_use]
    pub fn mode(mut self, mode: u32) -> FileCache {
        self.mode = mode & 0o7777;
        self
    }

    fn path(&self, key: &str) -> Result<PathBuf, CacheError> {
        if !is_key(key) {
            return Err(CacheError::new(format!(
                "'{key}' cannot be used as a file name"
            )));
        }
        Ok(self.directory.join(key))
    }

    fn first_use(&self) -> bool {
        !self.swept.swap(true, Ordering::Relaxed)
    }
}

/// Keys are hex digests; refuse anything that could leave the directory or be taken for a
/// temporary file.
fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Runs blocking file I/O on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CacheError> + Send + 'static,
) -> Result<T, CacheError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| CacheError::with_source("the file cache's I/O task failed", e))?
}

impl ConfigCache for FileCache {
    fn get(&self, key: &str) -> CacheFuture<Option<String>> {
        let path = self.path(key);
        let sweep = self.first_use().then(|| self.directory.clone());
        Box::pin(async move {
            let path = path?;
            blocking(move || {
                if let Some(directory) = sweep {
                    remove_dead_writers_files(&directory);
                }
                read(&path)
            })
            .await
        })
    }

    fn set(&self, key: &str, value: String) -> CacheFuture<()> {
        let path = self.path(key);
        let key = key.to_owned();
        let directory = self.directory.clone();
        let mode = self.mode;
        self.swept.store(true, Ordering::Relaxed);
        Box::pin(async move {
            let path = path?;
            blocking(move || write(&directory, &key, &path, value.as_bytes(), mode)).await
        })
    }

    /// Reads the first `max_bytes` bytes of the file only.
    fn get_head(&self, key: &str, max_bytes: usize) -> CacheFuture<Option<String>> {
        let path = self.path(key);
        Box::pin(async move {
            let path = path?;
            blocking(move || {
                read_head(&path, max_bytes)
                    .map_err(|e| CacheError::with_source(format!("reading {}", path.display()), e))
            })
            .await
        })
    }

    /// Rewrites the time in the file itself: a few bytes, each state a crash can leave valid
    /// (see `touch_in_place` for why this is safe).
    fn touch(&self, key: &str, etag: &str, fetch_time: &str) -> CacheFuture<bool> {
        let path = self.path(key);
        let (etag, fetch_time) = (etag.to_owned(), fetch_time.to_owned());
        Box::pin(async move {
            let path = path?;
            blocking(move || {
                touch_in_place(&path, &etag, &fetch_time).map_err(|e| {
                    CacheError::with_source(format!("rewriting the time of {}", path.display()), e)
                })
            })
            .await
        })
    }

    /// An advisory lock (`flock`, `LockFileEx`) on `.<key>.lease` in the directory, held
    /// until released, `ttl` passes (for this process), or the holder's process ends (the
    /// system releases the lock of a process that died). On a file system without locks every
    /// request is granted.
    fn try_lease(&self, key: &str, holder: &str, ttl: Duration) -> CacheFuture<bool> {
        let path = self.lease_path(key);
        let (key, holder) = (key.to_owned(), holder.to_owned());
        let (directory, leases) = (self.directory.clone(), self.leases.clone());
        Box::pin(async move {
            let path = path?;
            blocking(move || {
                let mut leases = leases
                    .lock()
                    .map_err(|_| CacheError::new("the file cache's leases are poisoned"))?;
                take_lease(&mut leases, &directory, &path, key, holder, ttl)
                    .map_err(|e| CacheError::with_source(format!("locking {}", path.display()), e))
            })
            .await
        })
    }

    fn release_lease(&self, key: &str, holder: &str) -> CacheFuture<()> {
        let (key, holder, leases) = (key.to_owned(), holder.to_owned(), self.leases.clone());
        // On the blocking pool: the map is held while a lease file is opened, which on a
        // network file system can take a while.
        Box::pin(blocking(move || {
            let mut leases = leases
                .lock()
                .map_err(|_| CacheError::new("the file cache's leases are poisoned"))?;
            if leases.get(&key).is_some_and(|lease| lease.holder == holder)
                && let Some(lease) = leases.remove(&key)
            {
                // Closing the file would release it too.
                let _ = lease.file.unlock();
            }
            Ok(())
        }))
    }
}

impl FileCache {
    /// The lease file of `key`: `.<key>.lease`, which starts with a dot (never a cache key)
    /// and is never taken for a temporary file.
    fn lease_path(&self, key: &str) -> Result<PathBuf, CacheError> {
        self.path(key)?;
        Ok(self.directory.join(format!(".{key}.lease")))
    }
}

/// Takes the lease of `key` for `holder`, in this process first (a lease of this cache's
/// clients), then across processes (the lock of the lease file).
fn take_lease(
    leases: &mut HashMap<String, HeldLease>,
    directory: &Path,
    path: &Path,
    key: String,
    holder: String,
    ttl: Duration,
) -> io::Result<bool> {
    let now = Instant::now();
    if let Some(lease) = leases.get_mut(&key) {
        if lease.holder == holder {
            lease.until = now + ttl;
            return Ok(true);
        }
        if lease.until > now {
            return Ok(false);
        }
        // Expired: given back (its holder never did), and taken anew below.
        leases.remove(&key);
    }
    std::fs::create_dir_all(directory)?;
    // The file stays (removing it would race a process that just opened it); it is empty.
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(false),
        // No locks here (a network file system without them, say): each process downloads
        // for itself, as without leases.
        Err(TryLockError::Error(_)) => return Ok(true),
    }
    leases.insert(
        key,
        HeldLease {
            holder,
            file,
            until: now + ttl,
        },
    );
    Ok(true)
}

/// The first `max_bytes` bytes of the file at `path` (a character cut in two dropped), or
/// `None` when there is no file.
fn read_head(path: &Path, max_bytes: usize) -> io::Result<Option<String>> {
    // The same checks as a whole read: no link followed, nothing but a regular file.
    let file = match local_file::open_regular(path, Links::Refuse) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut head = Vec::with_capacity(max_bytes.min(4096));
    file.take(max_bytes as u64).read_to_end(&mut head)?;
    let valid = match std::str::from_utf8(&head) {
        Ok(text) => text.len(),
        // Cut inside a character: drop it.
        Err(error) if error.error_len().is_none() => error.valid_up_to(),
        Err(error) => return Err(io::Error::new(io::ErrorKind::InvalidData, error)),
    };
    head.truncate(valid);
    String::from_utf8(head)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Rewrites the time line of the entry at `path` in place, when its ETag line is `etag` and
/// its time as wide as `fetch_time`; whether it did.
///
/// In place rather than through a temporary file and a rename, because the write is a few
/// bytes at the start of the file and every state it can leave is a valid entry: the time
/// has the same width and stays digits even if a crash tears the write (old and new digits
/// mixed are still a time, at worst an older one, which costs one conditional download), and
/// the ETag and the config are not touched. A concurrent `set` renames a new file over the
/// entry: this write then lands in the old file, which nobody reads any more, or in the new
/// one after the check on the new one. Nothing is flushed to disk: a lost time costs one
/// conditional request, not a config.
fn touch_in_place(path: &Path, etag: &str, fetch_time: &str) -> io::Result<bool> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error),
    };
    if !file.metadata()?.is_file() {
        // Not an entry this cache wrote (a FIFO would block the read below).
        return Ok(false);
    }
    let mut head = Vec::with_capacity(fetch_time.len() + etag.len() + 2);
    (&file)
        .take((fetch_time.len() + etag.len() + 2) as u64)
        .read_to_end(&mut head)?;
    if !touchable(&head, etag, fetch_time) {
        return Ok(false);
    }
    file.seek(io::SeekFrom::Start(0))?;
    file.write_all(fetch_time.as_bytes())?;
    Ok(true)
}

/// Reads the entry at `path`: what is there but is no usable entry (a link, a FIFO, a device,
/// too large, not UTF-8) is an invalid entry, which the next write replaces; other errors
/// (a directory, no permission) mean the cache is failing.
fn read(path: &Path) -> Result<Option<String>, CacheError> {
    let failed = |error: io::Error| {
        let invalid = matches!(
            error.kind(),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData
        );
        let error = CacheError::with_source(format!("reading {}", path.display()), error);
        if invalid {
            error.into_invalid_entry()
        } else {
            error
        }
    };
    match local_file::read_bounded(path, Links::Refuse, local_file::MAX_FILE_BYTES) {
        Ok(bytes) => entry_text(bytes)
            .map(Some)
            .map_err(|e| CacheError::invalid_entry(format!("reading {}: {e}", path.display()))),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(failed(error)),
    }
}

/// The name of a temporary file of `key`: unique to one write (process id, write number, and
/// the time for processes on other machines sharing the directory whose ids may collide). It
/// starts with a dot, so it is never a cache key.
fn temporary_name(key: &str) -> String {
    format!(
        ".{key}.{}.{}.{}.tmp",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    )
}

/// Whether `name` is exactly what [`temporary_name`] makes: nothing else in the directory is
/// ever removed.
fn is_temporary_name(name: &str) -> bool {
    let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let mut parts = inner.rsplitn(4, '.');
    let numbers = [parts.next(), parts.next(), parts.next()];
    let key = parts.next();
    numbers
        .iter()
        .all(|n| n.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
        && key.is_some_and(is_key)
}

/// Removes the temporary files in `directory` that no writer holds a lock on: their writers
/// died. Best effort: what cannot be listed, opened or removed is left for the next sweep.
fn remove_dead_writers_files(directory: &Path) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_str().is_some_and(is_temporary_name) {
            continue;
        }
        let path = entry.path();
        // Gone already: renamed over its entry, or removed by another sweeper. Or not a
        // regular file: a FIFO or a link planted under such a name is not a writer's, and
        // opening it must not block.
        let Ok(file) = local_file::open_regular(&path, Links::Refuse) else {
            continue;
        };
        // Removed while still locked, so no writer can take it in between. If its writer
        // renamed it since it was opened, the name is gone and the removal fails harmlessly:
        // the entry has another name.
        if file.try_lock().is_ok() {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// A temporary file being written, locked; removed when dropped while its name is ours.
struct Temporary {
    path: PathBuf,
    file: File,
    remove: bool,
}

impl Drop for Temporary {
    fn drop(&mut self) {
        // Before `file` is closed, which releases the lock: no sweeper races this.
        if self.remove {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Creates a temporary file for `key` and locks it, or `None` when a sweeper took it first.
fn create_locked(directory: &Path, key: &str, mode: u32) -> io::Result<Option<Temporary>> {
    let path = directory.join(temporary_name(key));
    let mut options = OpenOptions::new();
    // `create_new` never opens what is there already (a link, a FIFO): the name is ours.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let file = options.open(&path)?;
    let mut temporary = Temporary {
        path,
        file,
        remove: true,
    };
    match temporary.file.try_lock() {
        Ok(()) => {}
        // A sweeper is looking at it and will remove it.
        Err(TryLockError::WouldBlock) => {
            temporary.remove = false; // The sweeper's to remove now.
            return Ok(None);
        }
        // No locks on this file system: no sweeper removes anything either, so writing
        // unlocked is safe (only dead writers' files are then left).
        Err(TryLockError::Error(_)) => return Ok(Some(temporary)),
    }
    // A sweeper may have locked and removed the file between its creation and our lock; once
    // we hold the lock, none can. So the file is ours if its name still leads to it.
    if is_still_at(&temporary.file, &temporary.path)? {
        Ok(Some(temporary))
    } else {
        temporary.remove = false; // Its name is gone, or another file's.
        Ok(None)
    }
}

#[cfg(unix)]
fn is_still_at(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata()?;
    match std::fs::metadata(path) {
        Ok(named) => Ok(named.dev() == open.dev() && named.ino() == open.ino()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(not(unix))]
fn is_still_at(_: &File, path: &Path) -> io::Result<bool> {
    // Names are unique to one write, so the name leads to no other file.
    match std::fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

fn write(
    directory: &Path,
    key: &str,
    path: &Path,
    value: &[u8],
    mode: u32,
) -> Result<(), CacheError> {
    let failed = |what: &str, error: io::Error| {
        CacheError::with_source(format!("{what} {}", path.display()), error)
    };
    std::fs::create_dir_all(directory).map_err(|e| failed("creating the directory of", e))?;
    remove_dead_writers_files(directory);
    let mut temporary = None;
    for _ in 0..ATTEMPTS {
        temporary = create_locked(directory, key, mode)
            .map_err(|e| failed("creating a temporary file for", e))?;
        if temporary.is_some() {
            break;
        }
    }
    let Some(mut temporary) = temporary else {
        return Err(CacheError::new(format!(
            "creating a temporary file for {}: taken by another process {ATTEMPTS} times",
            path.display()
        )));
    };
    temporary
        .file
        .write_all(value)
        .and_then(|()| temporary.file.sync_all())
        .map_err(|e| failed("writing", e))?;
    std::fs::rename(&temporary.path, path).map_err(|e| failed("replacing", e))?;
    temporary.remove = false;
    sync_directory(directory).map_err(|e| failed("flushing the directory of", e))
}

/// Makes the rename itself durable: until the directory is flushed, a power loss can bring
/// back the old entry, or none.
#[cfg(unix)]
fn sync_directory(directory: &Path) -> io::Result<()> {
    match File::open(directory).and_then(|d| d.sync_all()) {
        // Some file systems cannot flush a directory; the rename is then as durable as they
        // make it.
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        outcome => outcome,
    }
}

#[cfg(not(unix))]
fn sync_directory(_: &Path) -> io::Result<()> {
    // Windows cannot open a directory as a file to flush it; NTFS journals the rename.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_temporary_names_are_taken_for_temporary_files() {
        let key = "f83ba5d45bceb4bb704410f51b704fb6dfa19942";
        let name = temporary_name(key);
        assert!(is_temporary_name(&name), "{name}");
        assert!(is_temporary_name(&format!(".{key}.1.2.3.tmp")));
        for other in [
            key.to_owned(),
            format!("{key}.1.2.3.tmp"),
            format!(".{key}.1.2.tmp"),
            format!(".{key}.1.2.x.tmp"),
            format!(".{key}.1..3.tmp"),
            format!(".{key}.1.2.3.tmp.bak"),
            ".1.2.3.tmp".to_owned(),
            ".a/b.1.2.3.tmp".to_owned(),
            ".a.b.1.2.3.tmp".to_owned(),
            ".bashrc".to_owned(),
            "notes.tmp".to_owned(),
        ] {
            assert!(!is_temporary_name(&other), "{other}");
        }
    }
}
