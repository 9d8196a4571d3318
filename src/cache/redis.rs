//! A cache in Redis (cargo feature `redis`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

use super::{CacheError, CacheFuture, ConfigCache};

/// How long a connection attempt or a command may take: a Redis that is down costs this much at
/// most, and the client goes on with its in-memory config. (The `redis` crate's own defaults,
/// 1 s to connect and 0.5 s per response, are replaced by this.)
const TIMEOUT: Duration = Duration::from_secs(2);

/// Keeps the entry in Redis, under exactly the shared cache key, so that every instance of an
/// application, and the official ConfigCat SDKs configured with the same Redis, share one
/// download.
///
/// The connection is made on first use and kept. When Redis closed it (a restart, an idle
/// timeout, `CLIENT KILL`), the command is sent once more on a new connection, so a Redis that
/// came back is used again without an error; when Redis is down, `get` and `set` fail within
/// about 2 s. Nothing blocks the arbiter.
///
/// ```no_run
/// use configcat_actix::ConfigCat;
/// use configcat_actix::cache::RedisCache;
/// # fn start() -> Result<(), Box<dyn std::error::Error>> {
/// let client = ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYYYYY")
///     .cache(RedisCache::new("redis://127.0.0.1:6379")?)
///     .start()?;
/// # let _ = client; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCache {
    client: redis::Client,
    connection: Arc<Mutex<Option<MultiplexedConnection>>>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache").finish_non_exhaustive()
    }
}

impl RedisCache {
    /// A cache in the Redis at `url` (`redis://[user:password@]host[:port][/db]`). Only the URL is
    /// checked here; the connection is made on first use.
    ///
    /// # Errors
    /// A [`CacheError`] when the URL is not a Redis URL.
    pub fn new(url: &str) -> Result<RedisCache, CacheError> {
        let client = redis::Client::open(url)
            .map_err(|e| CacheError::with_source("invalid Redis URL", e))?;
        Ok(RedisCache {
            client,
            connection: Arc::default(),
        })
    }

    /// The kept connection (`true`: it was already used), or a new one.
    async fn connection(
        client: &redis::Client,
        shared: &Mutex<Option<MultiplexedConnection>>,
    ) -> Result<(MultiplexedConnection, bool), CacheError> {
        if let Some(connection) = shared.lock().ok().and_then(|c| c.clone()) {
            return Ok((connection, true));
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let connection = tokio::time::timeout(
            TIMEOUT,
            client.get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| CacheError::new("connecting to Redis timed out"))?
        .map_err(|e| CacheError::with_source("connecting to Redis", e))?;
        if let Ok(mut shared) = shared.lock() {
            *shared = Some(connection.clone());
        }
        Ok((connection, false))
    }

    /// Runs a command. A failure of the connection drops it, so that the next command
    /// reconnects; if the connection was an old one that Redis closed meanwhile, the command is
    /// sent once more on a new connection at once.
    fn run<T: redis::FromRedisValue + Send + 'static>(
        &self,
        command: redis::Cmd,
    ) -> CacheFuture<T> {
        let client = self.client.clone();
        let shared = self.connection.clone();
        let forget = move |shared: &Mutex<Option<MultiplexedConnection>>| {
            if let Ok(mut shared) = shared.lock() {
                *shared = None;
            }
        };
        Box::pin(async move {
            let mut retried = false;
            loop {
                let (mut connection, reused) = RedisCache::connection(&client, &shared).await?;
                let error =
                    match tokio::time::timeout(TIMEOUT, command.query_async::<T>(&mut connection))
                        .await
                    {
                        Ok(Ok(value)) => return Ok(value),
                        Ok(Err(error)) => error,
                        Err(_) => {
                            forget(&shared);
                            return Err(CacheError::new("the Redis command timed out"));
                        }
                    };
                // A server error (a wrong type, a missing permission) leaves the connection usable.
                let broken = error.is_io_error()
                    || error.is_connection_dropped()
                    || error.is_unrecoverable_error();
                if broken {
                    forget(&shared);
                }
                // Not after a timeout: a Redis that hangs must not cost twice the time.
                if broken && reused && !retried && !error.is_timeout() {
                    retried = true;
                    continue;
                }
                return Err(CacheError::with_source("Redis", error));
            }
        })
    }
}

impl ConfigCache for RedisCache {
    fn get(&self, key: &str) -> CacheFuture<Option<String>> {
        let mut command = redis::cmd("GET");
        command.arg(key);
        self.run(command)
    }

    fn set(&self, key: &str, value: String) -> CacheFuture<()> {
        let mut command = redis::cmd("SET");
        command.arg(key).arg(value);
        self.run(command)
    }

    /// `GETRANGE key 0 <max_bytes - 1>`: the entry's first lines, not the config.
    fn get_head(&self, key: &str, max_bytes: usize) -> CacheFuture<Option<String>> {
        if max_bytes == 0 {
            // `GETRANGE key 0 -1` would be the whole value.
            return Box::pin(async { Ok(None) });
        }
        let mut command = redis::cmd("GETRANGE");
        command.arg(key).arg(0).arg(max_bytes - 1);
        let head = self.run::<Vec<u8>>(command);
        Box::pin(async move {
            let head = head.await?;
            // A missing key reads as empty, and an empty entry is no entry.
            if head.is_empty() {
                return Ok(None);
            }
            utf8_head(head).map(Some)
        })
    }

    /// One `EVAL` of a script that checks the ETag line and the width of the time with
    /// `GETRANGE` and rewrites the time with `SETRANGE`: atomic, and a few dozen bytes.
    fn touch(&self, key: &str, etag: &str, fetch_time: &str) -> CacheFuture<bool> {
        let mut command = redis::cmd("EVAL");
        command
            .arg(TOUCH_SCRIPT)
            .arg(1)
            .arg(key)
            .arg(etag)
            .arg(fetch_time);
        let touched = self.run::<i64>(command);
        Box::pin(async move { Ok(touched.await? == 1) })
    }

    /// `SET <lease key> <holder> NX PX <ttl>`, under a key of its own beside the entry
    /// (`configcat-actix-lease:<key>`); refused, a `GET` of it tells whether the lease is
    /// `holder`'s already. No script: a user who may not run scripts can take leases.
    fn try_lease(&self, key: &str, holder: &str, ttl: Duration) -> CacheFuture<bool> {
        let lease_key = lease_key(key);
        let mut command = redis::cmd("SET");
        command
            .arg(&lease_key)
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().clamp(1, u128::from(u32::MAX)) as u64);
        let set = self.run::<Option<String>>(command);
        let mut command = redis::cmd("GET");
        command.arg(lease_key);
        let (cache, holder) = (self.clone(), holder.to_owned());
        Box::pin(async move {
            if set.await?.is_some() {
                return Ok(true);
            }
            let owner = cache.run::<Option<String>>(command).await?;
            Ok(owner.is_some_and(|owner| owner == holder))
        })
    }

    /// Deletes the lease key if it still names `holder` (one `EVAL`): a lease that expired and
    /// was taken by another process meanwhile is left to it.
    fn release_lease(&self, key: &str, holder: &str) -> CacheFuture<()> {
        let mut command = redis::cmd("EVAL");
        command
            .arg(RELEASE_SCRIPT)
            .arg(1)
            .arg(lease_key(key))
            .arg(holder);
        let released = self.run::<i64>(command);
        Box::pin(async move { released.await.map(drop) })
    }
}

/// Replaces the time line (`ARGV[2]`, same width) of the entry in `KEYS[1]` when its ETag line
/// is `ARGV[1]`; 1 if it did.
const TOUCH_SCRIPT: &str = r"
local width = string.len(ARGV[2])
local head = redis.call('GETRANGE', KEYS[1], 0, width + string.len(ARGV[1]) + 1)
if string.sub(head, width + 1) ~= '\n' .. ARGV[1] .. '\n' then return 0 end
if string.find(string.sub(head, 1, width), '\n', 1, true) then return 0 end
redis.call('SETRANGE', KEYS[1], 0, ARGV[2])
return 1
";

/// Deletes `KEYS[1]` if it holds `ARGV[1]`.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// The key of the download lease of the entry under `key`: `configcat-actix-lease:<key>`,
/// never an entry key (those are hex digests) and clearly this crate's.
fn lease_key(key: &str) -> String {
    format!("configcat-actix-lease:{key}")
}

/// A head cut at a byte count may end inside a character: that character is dropped. Any
/// other invalid UTF-8 is an error, as it is for `get`.
fn utf8_head(head: Vec<u8>) -> Result<String, CacheError> {
    match String::from_utf8(head) {
        Ok(head) => Ok(head),
        Err(error) if error.utf8_error().error_len().is_none() => {
            let valid = error.utf8_error().valid_up_to();
            let mut head = error.into_bytes();
            head.truncate(valid);
            // Only valid UTF-8 is left.
            String::from_utf8(head).map_err(|e| CacheError::with_source("Redis", e))
        }
        Err(error) => Err(CacheError::with_source("the entry in Redis", error)),
    }
}
