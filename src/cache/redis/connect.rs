//! Connecting to Redis in each topology: one node, a Cluster, the master a Sentinel names.
//!
//! Every connection to a node that holds the entry (one node, each node of a Cluster, the
//! master a Sentinel names) is made here on a stream of our own, TCP or TLS with the HTTP
//! client's roots, read through [`Guarded`], so that no reply larger than the entry limit is
//! ever buffered. A Cluster's slots are routed in [`cluster`](super::cluster) over such
//! connections, and a Sentinel's master is looked up over them too: every byte read from every
//! server is bounded.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{AsyncStream, MultiplexedConnection};
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, FromRedisValue,
    IntoConnectionInfo, RedisError, RedisResult, Value,
};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::cluster::{Address, Cluster};
use super::guard::{Guarded, REPLY_OVERHEAD};
use crate::cache::CacheError;

/// Where the entry lives.
pub(super) enum Topology {
    /// One node (`redis://`, `rediss://`, `unix://`).
    Node(ConnectionInfo),
    /// A Redis Cluster, mapped from its seed nodes (credentials, database and TLS from the
    /// first), or from the nodes of the last map when no seed answers.
    Cluster {
        seeds: Vec<ConnectionInfo>,
        known: Mutex<Vec<Address>>,
    },
    /// The master of `service`, as the sentinels name it.
    Sentinel {
        service: String,
        sentinels: Vec<ConnectionInfo>,
        /// Credentials, database and TLS for the master; its address is the sentinels'.
        master: ConnectionInfo,
    },
}

/// What every connection is made with.
pub(super) struct Settings {
    /// Bounds connecting (TCP, TLS, AUTH) and each command.
    pub timeout: Duration,
    /// The largest entry read.
    pub max_entry_bytes: usize,
    /// The HTTP client's root store plus the extra roots (no ALPN: Redis speaks none).
    pub tls: Arc<ClientConfig>,
}

/// A connection to the node or cluster that holds the entry; clones share it.
#[derive(Clone)]
pub(super) enum Connection {
    Node(MultiplexedConnection),
    Cluster(Arc<Cluster>),
}

impl Connection {
    /// Sends `command`, whose key is `key` (a Cluster routes by it), and converts its reply.
    pub(super) async fn query<T: FromRedisValue>(
        &mut self,
        key: &str,
        command: &Cmd,
        settings: &Settings,
    ) -> RedisResult<T> {
        match self {
            Connection::Node(connection) => command.query_async(connection).await,
            Connection::Cluster(cluster) => cluster.query(key.as_bytes(), command, settings).await,
        }
    }
}

impl Topology {
    /// One node at `url`.
    pub(super) fn node(url: &str) -> RedisResult<Topology> {
        Ok(Topology::Node(verified(url.into_connection_info()?)?))
    }

    /// A cluster reached through `urls` (credentials, TLS and database from the first; the
    /// others may not differ in credentials or TLS, and none is a Unix socket).
    pub(super) fn cluster(urls: &[String]) -> RedisResult<Topology> {
        let seeds = urls
            .iter()
            .map(|url| verified(url.as_str().into_connection_info()?))
            .collect::<RedisResult<Vec<_>>>()?;
        let invalid =
            |why: &'static str| RedisError::from((redis::ErrorKind::InvalidClientConfig, why));
        let first = seeds
            .first()
            .ok_or_else(|| invalid("no cluster node given"))?;
        let tls = |info: &ConnectionInfo| matches!(info.addr(), ConnectionAddr::TcpTls { .. });
        for seed in &seeds {
            if Address::of(seed).is_none() {
                return Err(invalid(
                    "a cluster node is reached by host and port, not a socket",
                ));
            }
            let (a, b) = (seed.redis_settings(), first.redis_settings());
            if a.username() != b.username() || a.password() != b.password() {
                return Err(invalid(
                    "the cluster's nodes are given different credentials",
                ));
            }
            if tls(seed) != tls(first) {
                return Err(invalid("the cluster's nodes are given different TLS modes"));
            }
        }
        Ok(Topology::Cluster {
            seeds,
            known: Mutex::default(),
        })
    }

    /// The master of `service`, found through `sentinels`, spoken to as `master` says.
    pub(super) fn sentinel(
        service: &str,
        sentinels: &[String],
        master: &str,
    ) -> RedisResult<Topology> {
        let sentinels = sentinels
            .iter()
            .map(|url| verified(url.as_str().into_connection_info()?))
            .collect::<RedisResult<Vec<_>>>()?;
        if sentinels.is_empty() {
            return Err(RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "no sentinel given",
            )));
        }
        Ok(Topology::Sentinel {
            service: service.to_owned(),
            sentinels,
            master: verified(master.into_connection_info()?)?,
        })
    }

    /// A new connection, within the settings' timeout.
    pub(super) async fn connect(&self, settings: &Settings) -> Result<Connection, CacheError> {
        let connecting = async {
            match self {
                Topology::Node(info) => node(info, settings).await.map(Connection::Node),
                Topology::Cluster { seeds, known } => {
                    let cluster = Cluster::connect(&cluster_seeds(seeds, known), settings).await?;
                    if let Ok(mut known) = known.lock() {
                        *known = cluster.known();
                    }
                    Ok(Connection::Cluster(Arc::new(cluster)))
                }
                Topology::Sentinel {
                    service,
                    sentinels,
                    master,
                } => master_of(service, sentinels, master, settings)
                    .await
                    .map(Connection::Node),
            }
        };
        tokio::time::timeout(settings.timeout, connecting)
            .await
            .map_err(|_| CacheError::new("connecting to Redis timed out"))?
            .map_err(|e| CacheError::with_source("connecting to Redis", e))
    }
}

/// A connection to the master of `service`: the address the first sentinel that knows it
/// gives, checked with `ROLE` to be a master, spoken to with the credentials, database and TLS
/// of `master`. The sentinels are asked over guarded connections too, with the credentials and
/// TLS of the first sentinel URL.
async fn master_of(
    service: &str,
    sentinels: &[ConnectionInfo],
    master: &ConnectionInfo,
    settings: &Settings,
) -> RedisResult<MultiplexedConnection> {
    let mut last = RedisError::from((ErrorKind::EmptySentinelList, "no sentinel given"));
    for sentinel in sentinels {
        let named = async {
            let info = as_first(sentinel, &sentinels[0]);
            let mut connection = node(&info, settings).await?;
            let address: Option<(String, String)> = redis::cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(service)
                .query_async(&mut connection)
                .await?;
            let not_found = || {
                RedisError::from((
                    ErrorKind::MasterNameNotFoundBySentinel,
                    "the sentinel knows no master of that name",
                ))
            };
            let (host, port) = address.ok_or_else(not_found)?;
            let port = port.parse().map_err(|_| not_found())?;
            let mut connection = node(&at(master, &host, port), settings).await?;
            // A sentinel may still name a master that a failover demoted.
            let role: Vec<Value> = redis::cmd("ROLE").query_async(&mut connection).await?;
            match role.first() {
                Some(Value::BulkString(role)) if role == b"master" => Ok(connection),
                _ => Err(RedisError::from((
                    ErrorKind::Server(redis::ServerErrorKind::ReadOnly),
                    "the server the sentinel named is not a master",
                ))),
            }
        };
        match named.await {
            Ok(connection) => return Ok(connection),
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// `sentinel`'s address, with `first`'s credentials and TLS (and no database: a sentinel has
/// none).
fn as_first(sentinel: &ConnectionInfo, first: &ConnectionInfo) -> ConnectionInfo {
    let info = match sentinel.addr() {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
            at(first, host, *port)
        }
        _ => sentinel.clone(),
    };
    info.set_redis_settings(first.redis_settings().clone().set_db(0))
}

/// `template` (credentials, database, TLS mode) at `host` and `port`.
pub(super) fn at(template: &ConnectionInfo, host: &str, port: u16) -> ConnectionInfo {
    let addr = match template.addr() {
        ConnectionAddr::TcpTls { .. } => ConnectionAddr::TcpTls {
            host: host.to_owned(),
            port,
            insecure: false,
            tls_params: None,
        },
        _ => ConnectionAddr::Tcp(host.to_owned(), port),
    };
    template.clone().set_addr(addr)
}

/// `info`, unless it asks for TLS without verifying the server (`rediss://…/#insecure`).
fn verified(info: ConnectionInfo) -> RedisResult<ConnectionInfo> {
    if let ConnectionAddr::TcpTls { insecure: true, .. } = info.addr() {
        return Err(RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "TLS without verification (#insecure) is not supported; trust the server's CA \
             with RedisCacheBuilder::root_certificate",
        )));
    }
    Ok(info)
}

/// The seeds, then the nodes of the last slot map (in case every seed left the cluster),
/// spoken to with the first seed's credentials, database and TLS.
fn cluster_seeds(seeds: &[ConnectionInfo], known: &Mutex<Vec<Address>>) -> Vec<ConnectionInfo> {
    let Some(first) = seeds.first() else {
        return Vec::new();
    };
    let known = known.lock().map(|k| k.clone()).unwrap_or_default();
    let more = known
        .iter()
        .filter(|address| {
            !seeds
                .iter()
                .any(|s| Address::of(s).as_ref() == Some(*address))
        })
        .map(|address| at(first, &address.host, address.port));
    seeds.iter().cloned().chain(more).collect()
}

/// A connection to one node on a guarded stream of our own.
pub(super) async fn node(
    info: &ConnectionInfo,
    settings: &Settings,
) -> RedisResult<MultiplexedConnection> {
    let stream: Pin<Box<dyn AsyncStream + Send + Sync>> = match info.addr() {
        ConnectionAddr::Tcp(host, port) => Box::pin(tcp(host, *port).await?),
        // `#insecure` was refused when the cache was built (a Sentinel's master is made
        // from the master URL's TLS mode, always verified).
        ConnectionAddr::TcpTls { host, port, .. } => {
            let name = ServerName::try_from(host.clone()).map_err(|e| {
                RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "invalid TLS server name",
                    e.to_string(),
                ))
            })?;
            let tcp = tcp(host, *port).await?;
            Box::pin(
                TlsConnector::from(settings.tls.clone())
                    .connect(name, tcp)
                    .await?,
            )
        }
        #[cfg(unix)]
        ConnectionAddr::Unix(path) => Box::pin(tokio::net::UnixStream::connect(path).await?),
        _ => {
            return Err(RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "an address of a kind this platform cannot connect to",
            )));
        }
    };
    let limit = settings.max_entry_bytes.saturating_add(REPLY_OVERHEAD);
    let config = AsyncConnectionConfig::new().set_response_timeout(Some(settings.timeout));
    let (connection, driver) = MultiplexedConnection::new_with_config(
        info.redis_settings(),
        Guarded::new(stream, limit),
        config,
    )
    .await?;
    // The driver ends when the connection's last clone is dropped, or its stream fails.
    tokio::spawn(driver);
    Ok(connection)
}

async fn tcp(host: &str, port: u16) -> RedisResult<TcpStream> {
    let stream = TcpStream::connect((host, port)).await?;
    // Commands are small and answered one by one: no batching delay.
    stream.set_nodelay(true)?;
    Ok(stream)
}
