//! Connecting to Redis in each topology: one node, a Cluster, the master a Sentinel names.
//!
//! Every connection to a node that holds the entry (one node, each node of a Cluster, the
//! master a Sentinel names) is made here on a stream of our own, TCP or TLS with the HTTP
//! client's roots, read through [`Guarded`], so that no reply larger than the entry limit is
//! ever buffered. A Cluster's slots are routed in [`cluster`](super::cluster) over such
//! connections. Only the look-up of a Sentinel's master is made by the `redis` crate, whose
//! TLS is given the same roots as PEM.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use redis::aio::{AsyncStream, MultiplexedConnection};
use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionAddr, ConnectionInfo, FromRedisValue, IntoConnectionInfo,
    RedisError, RedisResult, TlsCertificates, TlsMode,
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
    /// The extra roots, DER, for the `redis` crate's own TLS connections (a Sentinel's).
    pub root_certificates: Vec<Vec<u8>>,
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
                } => {
                    let info = master_of(service, sentinels, master, settings).await?;
                    node(&info, settings).await.map(Connection::Node)
                }
            }
        };
        tokio::time::timeout(settings.timeout, connecting)
            .await
            .map_err(|_| CacheError::new("connecting to Redis timed out"))?
            .map_err(|e| CacheError::with_source("connecting to Redis", e))
    }
}

/// The address the sentinels give for `service`'s master (checked to be a master), with the
/// credentials, database and TLS of `master`.
async fn master_of(
    service: &str,
    sentinels: &[ConnectionInfo],
    master: &ConnectionInfo,
    settings: &Settings,
) -> RedisResult<ConnectionInfo> {
    let addresses = sentinels.iter().map(|s| s.addr().clone());
    let mut builder = SentinelClientBuilder::new(addresses, service, SentinelServerType::Master)?;
    // The sentinels' own credentials are those of the first sentinel URL.
    let first = sentinels[0].redis_settings();
    if let Some(username) = first.username() {
        builder = builder.set_client_to_sentinel_username(username);
    }
    if let Some(password) = first.password() {
        builder = builder.set_client_to_sentinel_password(password);
    }
    if matches!(sentinels[0].addr(), ConnectionAddr::TcpTls { .. }) {
        ensure_crypto_provider();
        builder = builder
            .set_client_to_sentinel_tls_mode(TlsMode::Secure)
            .set_client_to_sentinel_certificates(certificates(settings));
    }
    let data = master.redis_settings();
    if let Some(username) = data.username() {
        builder = builder.set_client_to_redis_username(username);
    }
    if let Some(password) = data.password() {
        builder = builder.set_client_to_redis_password(password);
    }
    builder = builder.set_client_to_redis_db(data.db());
    if matches!(master.addr(), ConnectionAddr::TcpTls { .. }) {
        ensure_crypto_provider();
        builder = builder
            .set_client_to_redis_tls_mode(TlsMode::Secure)
            .set_client_to_redis_certificates(certificates(settings));
    }
    let client = builder.build()?.async_get_client().await?;
    Ok(client.get_connection_info().clone())
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
        .map(|address| Cluster::info_for(first, address));
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

/// The roots for the `redis` crate's TLS: the webpki roots as certificates, and the extras, as
/// one PEM bundle (the only form it takes; given roots replace its own).
fn certificates(settings: &Settings) -> TlsCertificates {
    let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| der.as_ref())
        .chain(settings.root_certificates.iter().map(Vec::as_slice));
    let mut pem = String::new();
    for der in roots {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let text = base64::engine::general_purpose::STANDARD.encode(der);
        for line in text.as_bytes().chunks(64) {
            // Base64 is ASCII.
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    TlsCertificates {
        client_tls: None,
        root_cert: Some(pem.into_bytes()),
    }
}

/// The `redis` crate builds its rustls configuration with the process's default crypto
/// provider, which rustls cannot choose (and panics) when an application enables two; this
/// crate's is ring, installed unless the application installed one. Only for the `redis`
/// crate's TLS connections (a Sentinel's with `rediss://`): the ones made here name their
/// provider.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err: another thread installed one meanwhile, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
