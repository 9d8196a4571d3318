//! A cache in Redis (cargo feature `redis`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

use super::external::entry_text;
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
        // Read as bytes: an entry that is not UTF-8 is an invalid entry in a working cache,
        // not a failing Redis.
        let read = self.run::<Option<Vec<u8>>>(command);
        Box::pin(async move { read.await?.map(entry_text).transpose() })
    }

    fn set(&self, key: &str, value: String) -> CacheFuture<()> {
        let mut command = redis::cmd("SET");
        command.arg(key).arg(value);
        self.run(command)
    }
}
