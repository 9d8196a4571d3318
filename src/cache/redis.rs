//! A cache in Redis (cargo feature `redis`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::MultiplexedConnection;

use super::{CacheError, ConfigCache};

/// How long a connection attempt or a command may take: a Redis that is down costs this much at
/// most, and the client goes on with its in-memory config.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Keeps the entry in Redis, under exactly the shared cache key, so that every instance of an
/// application, and the official ConfigCat SDKs configured with the same Redis, share one
/// download.
///
/// The connection is made on first use and made again after a failure; nothing blocks the
/// arbiter.
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
        let client =
            redis::Client::open(url).map_err(|e| CacheError(format!("invalid Redis URL: {e}")))?;
        Ok(RedisCache {
            client,
            connection: Arc::default(),
        })
    }

    async fn connection(
        client: redis::Client,
        shared: Arc<Mutex<Option<MultiplexedConnection>>>,
    ) -> Result<MultiplexedConnection, CacheError> {
        if let Some(connection) = shared.lock().ok().and_then(|c| c.clone()) {
            return Ok(connection);
        }
        let connection = tokio::time::timeout(TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| CacheError("connecting to Redis timed out".into()))?
            .map_err(|e| CacheError(format!("connecting to Redis: {e}")))?;
        if let Ok(mut shared) = shared.lock() {
            *shared = Some(connection.clone());
        }
        Ok(connection)
    }

    /// Runs a command; a failure drops the connection so that the next command reconnects.
    fn run<T: redis::FromRedisValue + Send + 'static>(
        &self,
        command: redis::Cmd,
    ) -> BoxFuture<'static, Result<T, CacheError>> {
        let client = self.client.clone();
        let shared = self.connection.clone();
        Box::pin(async move {
            let mut connection = RedisCache::connection(client, shared.clone()).await?;
            let result = tokio::time::timeout(TIMEOUT, command.query_async::<T>(&mut connection))
                .await
                .map_err(|_| CacheError("the Redis command timed out".into()))
                .and_then(|r| r.map_err(|e| CacheError(format!("Redis: {e}"))));
            if result.is_err()
                && let Ok(mut shared) = shared.lock()
            {
                *shared = None;
            }
            result
        })
    }
}

impl ConfigCache for RedisCache {
    fn get(&self, key: &str) -> BoxFuture<'static, Result<Option<String>, CacheError>> {
        let mut command = redis::cmd("GET");
        command.arg(key);
        self.run(command)
    }

    fn set(&self, key: &str, value: String) -> BoxFuture<'static, Result<(), CacheError>> {
        let mut command = redis::cmd("SET");
        command.arg(key).arg(value);
        self.run(command)
    }
}
