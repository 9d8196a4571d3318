//! A cache in Redis (cargo feature `redis`): one node, a Redis Cluster, or the master a
//! Sentinel names; plain or TLS (`rediss://`, rustls); reads bounded by an entry size limit.

mod cluster;
mod connect;
mod guard;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use self::connect::{Connection, Settings, Topology};
use super::external::entry_text;
use super::{CacheError, CacheFuture, ConfigCache};
use crate::defaults::{DEFAULT_CACHE_TIMEOUT, DEFAULT_MAX_BODY_BYTES};

/// Keeps the entry in Redis, under exactly the shared cache key, so that every instance of an
/// application, and the official ConfigCat SDKs configured with the same Redis, share one
/// download.
///
/// [`RedisCache::new`] takes one node's URL; [`RedisCache::builder`],
/// [`cluster_builder`](RedisCache::cluster_builder) and
/// [`sentinel_builder`](RedisCache::sentinel_builder) also set the timeout, the largest entry
/// read and extra TLS roots. `rediss://` URLs connect over TLS (rustls, the webpki roots plus
/// any [`root_certificate`](RedisCacheBuilder::root_certificate)); an ACL user and password go
/// in the URL (`redis://user:password@host:6379`).
///
/// The connection is made on first use and kept. When Redis closed it (a restart, an idle
/// timeout, `CLIENT KILL`, a Sentinel failover), the command is sent once more on a new
/// connection, so a Redis that came back, or a new master, is used again without an error;
/// when Redis is down, `get` and `set` fail within the [timeout](RedisCacheBuilder::timeout)
/// (2 s by default) for connecting plus as much for the command. Nothing blocks the arbiter.
///
/// A read never buffers more than the [largest entry](RedisCacheBuilder::max_entry_size)
/// (16 MiB by default, the HTTP body limit's default): the entry is read as a range, and a
/// larger one is an error whose [source](std::error::Error::source) is [`EntryTooLarge`]. The
/// bound holds for every byte read from every server, in every topology (one node, each node
/// of a Cluster and its slot map, the sentinels and the master they name): a server that sends
/// more than it was asked, or streams garbage, is disconnected once its reply passes the limit
/// (plus 4 KiB of framing).
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
    inner: Arc<Inner>,
}

struct Inner {
    topology: Topology,
    settings: Settings,
    connection: Mutex<Option<Connection>>,
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No URL: it may hold a password.
        f.debug_struct("RedisCache")
            .field("timeout", &self.inner.settings.timeout)
            .field("max_entry_bytes", &self.inner.settings.max_entry_bytes)
            .finish_non_exhaustive()
    }
}

/// Which servers a [`RedisCacheBuilder`] connects to.
#[derive(Clone)]
enum Servers {
    Node(String),
    Cluster(Vec<String>),
    Sentinel {
        service: String,
        sentinels: Vec<String>,
        master: String,
    },
}

/// Sets up a [`RedisCache`]: its servers, timeout, largest entry and extra TLS roots.
///
/// Made by [`RedisCache::builder`], [`RedisCache::cluster_builder`] or
/// [`RedisCache::sentinel_builder`]; nothing connects before the first use.
///
/// A private CA (a self-hosted Redis with TLS, or a cloud's own CA) is trusted by giving its
/// certificate, DER-encoded, to [`root_certificate`](RedisCacheBuilder::root_certificate), the
/// same certificates the client's
/// [`ConfigCatBuilder::root_certificate`](crate::ConfigCatBuilder::root_certificate) takes:
///
/// ```no_run
/// use std::time::Duration;
/// use configcat_actix::cache::RedisCache;
/// # fn build() -> Result<(), Box<dyn std::error::Error>> {
/// let ca_der: Vec<u8> = std::fs::read("/etc/ssl/private-ca.der")?;
/// let cache = RedisCache::builder("rediss://app:secret@redis.internal:6380")
///     .root_certificate(ca_der)
///     .timeout(Duration::from_secs(1))
///     .max_entry_size(4 * 1024 * 1024)
///     .build()?;
/// # let _ = cache; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCacheBuilder {
    servers: Servers,
    timeout: Duration,
    max_entry_bytes: usize,
    root_certificates: Vec<Vec<u8>>,
}

impl fmt::Debug for RedisCacheBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCacheBuilder")
            .field("timeout", &self.timeout)
            .field("max_entry_bytes", &self.max_entry_bytes)
            .field("root_certificates", &self.root_certificates.len())
            .finish_non_exhaustive()
    }
}

impl RedisCacheBuilder {
    fn new(servers: Servers) -> RedisCacheBuilder {
        RedisCacheBuilder {
            servers,
            timeout: DEFAULT_CACHE_TIMEOUT,
            max_entry_bytes: DEFAULT_MAX_BODY_BYTES,
            root_certificates: Vec::new(),
        }
    }

    /// The longest connecting (TCP, TLS and authentication) may take, and then each command
    /// (default 2 s, the default of
    /// [`ConfigCatBuilder::cache_timeout`](crate::ConfigCatBuilder::cache_timeout), which
    /// bounds each cache call as a whole: set both when changing one).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> RedisCacheBuilder {
        self.timeout = timeout;
        self
    }

    /// The largest entry read (default 16 MiB, the default of
    /// [`ConfigCatBuilder::max_body_size`](crate::ConfigCatBuilder::max_body_size)): a larger
    /// one is an error, read no further than the limit, and a server whose reply exceeds it
    /// (with a few KB for the protocol's framing) is disconnected before more is buffered.
    #[must_use]
    pub fn max_entry_size(mut self, bytes: usize) -> RedisCacheBuilder {
        self.max_entry_bytes = bytes;
        self
    }

    /// Trusts this DER-encoded certificate for `rediss://` connections, besides the webpki
    /// roots (the ones the client's HTTP connections trust).
    #[must_use]
    pub fn root_certificate(mut self, der: Vec<u8>) -> RedisCacheBuilder {
        self.root_certificates.push(der);
        self
    }

    /// The cache. Nothing connects yet.
    ///
    /// # Errors
    /// A [`CacheError`] when a URL is not a Redis URL, a cluster mixes credentials or TLS
    /// modes, no sentinel is given, or a root certificate is not a valid certificate.
    pub fn build(self) -> Result<RedisCache, CacheError> {
        let tls = crate::fetch::tls::client_config(&self.root_certificates)
            .map_err(|e| CacheError::with_source("invalid root certificate", e))?;
        let mut tls = (*tls).clone();
        // The HTTP client's protocols: Redis negotiates none.
        tls.alpn_protocols.clear();
        let settings = Settings {
            timeout: self.timeout,
            max_entry_bytes: self.max_entry_bytes,
            tls: Arc::new(tls),
        };
        let topology = match &self.servers {
            Servers::Node(url) => Topology::node(url),
            Servers::Cluster(urls) => Topology::cluster(urls),
            Servers::Sentinel {
                service,
                sentinels,
                master,
            } => Topology::sentinel(service, sentinels, master),
        }
        .map_err(|e| CacheError::with_source("invalid Redis URL", e))?;
        Ok(RedisCache {
            inner: Arc::new(Inner {
                topology,
                settings,
                connection: Mutex::default(),
            }),
        })
    }
}

/// The source of the [`CacheError`] of a read whose entry is larger than the limit set with
/// [`RedisCacheBuilder::max_entry_size`]: nothing of the entry was kept.
///
/// ```
/// use configcat_actix::cache::EntryTooLarge;
/// let error = EntryTooLarge { limit: 1024 };
/// assert_eq!(error.to_string(), "the entry is larger than the limit of 1024 bytes");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryTooLarge {
    /// The limit, in bytes.
    pub limit: usize,
}

impl fmt::Display for EntryTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the entry is larger than the limit of {} bytes",
            self.limit
        )
    }
}

impl std::error::Error for EntryTooLarge {}

impl RedisCache {
    /// A cache in the Redis at `url` (`redis://[user:password@]host[:port][/db]`, `rediss://`
    /// for TLS, `unix:///path`), with the default timeout and entry limit. Only the URL is
    /// checked here; the connection is made on first use.
    ///
    /// # Errors
    /// A [`CacheError`] when the URL is not a Redis URL.
    pub fn new(url: &str) -> Result<RedisCache, CacheError> {
        RedisCache::builder(url).build()
    }

    /// A builder for a cache on the one Redis node at `url` (see [`new`](RedisCache::new)).
    pub fn builder(url: &str) -> RedisCacheBuilder {
        RedisCacheBuilder::new(Servers::Node(url.to_owned()))
    }

    /// A builder for a cache in a Redis Cluster, found from the nodes at `urls` (one is
    /// enough; credentials, database and TLS are taken from the first). The entry's key hashes
    /// to one slot, sent to the node that `CLUSTER SLOTS` names for it, and the cluster's MOVED
    /// and ASK redirections are followed. Every node is spoken to over a connection of this
    /// crate's, bounded by the [largest entry](RedisCacheBuilder::max_entry_size) as one
    /// node's is (the slot map's reply included). When a node's connection fails, the next
    /// command maps the cluster again, from the seeds or the nodes of the last map.
    ///
    /// ```no_run
    /// use configcat_actix::cache::RedisCache;
    /// # fn build() -> Result<(), configcat_actix::cache::CacheError> {
    /// let cache = RedisCache::cluster_builder([
    ///     "rediss://app:secret@node-1.cache.example:6379",
    ///     "rediss://app:secret@node-2.cache.example:6379",
    /// ])
    /// .build()?;
    /// # let _ = cache; Ok(()) }
    /// ```
    pub fn cluster_builder<I, S>(urls: I) -> RedisCacheBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let urls = urls.into_iter().map(|u| u.as_ref().to_owned()).collect();
        RedisCacheBuilder::new(Servers::Cluster(urls))
    }

    /// A builder for a cache on the master of `service`, as the sentinels at `sentinel_urls`
    /// name it (their credentials and TLS taken from the first URL). `master_url` says how to
    /// speak to the master: scheme (`rediss://` for TLS), user, password and database; its
    /// host and port are replaced by the address the sentinels give. The sentinels are asked
    /// in order (`SENTINEL GET-MASTER-ADDR-BY-NAME`), and the server named is checked with
    /// `ROLE` to be a master, over connections bounded like the master's. After a failover the
    /// connection to the old master breaks, and the next command asks the sentinels again.
    ///
    /// ```no_run
    /// use configcat_actix::cache::RedisCache;
    /// # fn build() -> Result<(), configcat_actix::cache::CacheError> {
    /// let cache = RedisCache::sentinel_builder(
    ///     "mymaster",
    ///     ["redis://sentinel-1:26379", "redis://sentinel-2:26379"],
    ///     "redis://app:secret@master/0",
    /// )
    /// .build()?;
    /// # let _ = cache; Ok(()) }
    /// ```
    pub fn sentinel_builder<I, S>(
        service: &str,
        sentinel_urls: I,
        master_url: &str,
    ) -> RedisCacheBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        RedisCacheBuilder::new(Servers::Sentinel {
            service: service.to_owned(),
            sentinels: sentinel_urls
                .into_iter()
                .map(|u| u.as_ref().to_owned())
                .collect(),
            master: master_url.to_owned(),
        })
    }

    /// The kept connection (`true`: it was already used), or a new one.
    async fn connection(inner: &Inner) -> Result<(Connection, bool), CacheError> {
        if let Some(connection) = inner.connection.lock().ok().and_then(|c| c.clone()) {
            return Ok((connection, true));
        }
        let connection = inner.topology.connect(&inner.settings).await?;
        if let Ok(mut shared) = inner.connection.lock() {
            *shared = Some(connection.clone());
        }
        Ok((connection, false))
    }

    /// Forgets the kept connection, so that the next command connects anew.
    fn forget(inner: &Inner) {
        if let Ok(mut shared) = inner.connection.lock() {
            *shared = None;
        }
    }

    /// Runs a command about `key` (its only key: a Cluster routes by it), in every topology.
    /// A failure of the connection drops it, so that the next command reconnects; if the
    /// connection was an old one that Redis closed meanwhile (or a master that a failover
    /// demoted), the command is sent once more on a new connection at once.
    fn run<T: redis::FromRedisValue + Send + 'static>(
        &self,
        key: &str,
        command: redis::Cmd,
    ) -> CacheFuture<T> {
        let inner = self.inner.clone();
        let key = key.to_owned();
        Box::pin(async move {
            let timeout = inner.settings.timeout;
            let mut retried = false;
            loop {
                let (mut connection, reused) = RedisCache::connection(&inner).await?;
                let query = connection.query::<T>(&key, &command, &inner.settings);
                let error = match tokio::time::timeout(timeout, query).await {
                    Ok(Ok(value)) => return Ok(value),
                    Ok(Err(error)) => error,
                    Err(_) => {
                        RedisCache::forget(&inner);
                        return Err(CacheError::new("the Redis command timed out"));
                    }
                };
                // A server error (a wrong type, a missing permission) leaves the connection
                // usable; a demoted master (READONLY) is left for the new one, and a Cluster
                // whose map serves the slot nowhere (CLUSTERDOWN) is mapped again.
                let broken = error.is_io_error()
                    || error.is_connection_dropped()
                    || error.is_unrecoverable_error()
                    || error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
                    || error.kind()
                        == redis::ErrorKind::Server(redis::ServerErrorKind::ClusterDown);
                if broken {
                    RedisCache::forget(&inner);
                }
                // Not after a timeout: a Redis that hangs must not cost twice the time.
                if broken && reused && !retried && !error.is_timeout() {
                    retried = true;
                    continue;
                }
                // The redis crate's text of a reply of an unexpected type quotes the reply,
                // which may be anything another party stored: not repeated.
                if error.kind() == redis::ErrorKind::UnexpectedReturnType {
                    return Err(CacheError::new("an unexpected type of reply from Redis"));
                }
                return Err(CacheError::with_source("Redis", error));
            }
        })
    }
}

impl ConfigCache for RedisCache {
    fn get(&self, key: &str) -> CacheFuture<Option<String>> {
        let limit = self.inner.settings.max_entry_bytes;
        // One byte past the limit (the end is inclusive) tells a larger entry from one of
        // exactly the limit, without reading more.
        let mut range = redis::cmd("GETRANGE");
        range
            .arg(key)
            .arg(0)
            .arg(i64::try_from(limit).unwrap_or(i64::MAX));
        let read = self.run::<Vec<u8>>(key, range);
        let mut exists = redis::cmd("EXISTS");
        exists.arg(key);
        let (this, key) = (self.clone(), key.to_owned());
        Box::pin(async move {
            let bytes = read.await?;
            if bytes.len() > limit {
                return Err(CacheError::with_source(
                    "reading the Redis entry",
                    EntryTooLarge { limit },
                ));
            }
            // A missing key reads as empty: only then is a second command needed.
            if bytes.is_empty() && !this.run::<bool>(&key, exists).await? {
                return Ok(None);
            }
            // An entry that is not UTF-8 is an invalid entry in a working cache, not a
            // failing Redis.
            entry_text(bytes).map(Some)
        })
    }

    fn set(&self, key: &str, value: String) -> CacheFuture<()> {
        let mut command = redis::cmd("SET");
        command.arg(key).arg(value);
        self.run(key, command)
    }

    /// `GETRANGE key 0 <max_bytes - 1>`: the entry's first lines, not the config.
    fn get_head(&self, key: &str, max_bytes: usize) -> CacheFuture<Option<String>> {
        if max_bytes == 0 {
            // `GETRANGE key 0 -1` would be the whole value.
            return Box::pin(async { Ok(None) });
        }
        let mut command = redis::cmd("GETRANGE");
        command.arg(key).arg(0).arg(max_bytes - 1);
        let head = self.run::<Vec<u8>>(key, command);
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
        let touched = self.run::<i64>(key, command);
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
        let set = self.run::<Option<String>>(&lease_key, command);
        let mut command = redis::cmd("GET");
        command.arg(&lease_key);
        let (cache, holder) = (self.clone(), holder.to_owned());
        Box::pin(async move {
            if set.await?.is_some() {
                return Ok(true);
            }
            let owner = cache.run::<Option<String>>(&lease_key, command).await?;
            Ok(owner.is_some_and(|owner| owner == holder))
        })
    }

    /// Deletes the lease key if it still names `holder` (one `EVAL`): a lease that expired and
    /// was taken by another process meanwhile is left to it.
    fn release_lease(&self, key: &str, holder: &str) -> CacheFuture<()> {
        let lease_key = lease_key(key);
        let mut command = redis::cmd("EVAL");
        command
            .arg(RELEASE_SCRIPT)
            .arg(1)
            .arg(&lease_key)
            .arg(holder);
        let released = self.run::<i64>(&lease_key, command);
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
        Err(error) => entry_text(error.into_bytes()),
    }
}
