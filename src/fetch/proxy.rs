//! HTTP proxies: awc has no proxy support, so this module provides the TCP connector service
//! awc uses to open its connections, which tunnels each one through the proxy with `CONNECT`.
//!
//! awc then speaks TLS (for `https://` targets) or plain HTTP (for `http://` targets) over the
//! tunnel exactly as it would over a direct connection; the proxy only ever sees the target's
//! host and port.

use std::fmt;
use std::io;
use std::rc::Rc;

use actix_rt::net::TcpStream;
use actix_service::Service;
use actix_tls::connect::{ConnectError as TcpConnectError, ConnectInfo, Connection};
use awc::http::Uri;
use base64::Engine as _;
use futures_util::future::LocalBoxFuture;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::FetchConfigError;

/// The longest proxy answer to a `CONNECT` that is read before giving up.
const MAX_CONNECT_RESPONSE: usize = 16 * 1024;

/// An HTTP proxy that tunnels connections with `CONNECT host:port HTTP/1.1`, optionally with
/// Basic credentials.
///
/// ```
/// use configcat_actix::fetch::Proxy;
/// let proxy = Proxy::new("http://proxy.internal:3128")?.credentials("user", "secret");
/// assert_eq!(proxy.host(), "proxy.internal");
/// assert_eq!(proxy.port(), 3128);
/// # Ok::<(), configcat_actix::fetch::FetchConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

impl Proxy {
    /// A proxy at `url`: `http://host[:port]` (port 80 when absent), `host:port`, or
    /// `http://user:password@host:port` (credentials are taken verbatim, not percent-decoded;
    /// use [`Proxy::credentials`] for passwords with special characters).
    ///
    /// # Errors
    /// [`FetchConfigError::InvalidProxy`] when the URL cannot be read, names another scheme
    /// than `http` (TLS to the proxy itself is not supported), or has a path.
    pub fn new(url: &str) -> Result<Proxy, FetchConfigError> {
        let invalid = |why: &str| FetchConfigError::InvalidProxy(format!("`{url}`: {why}"));
        let trimmed = url.trim();
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        let uri: Uri = with_scheme
            .parse()
            .map_err(|e: awc::http::uri::InvalidUri| invalid(&e.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => return Err(invalid(&format!("unsupported scheme `{other}`"))),
            None => return Err(invalid("missing scheme")),
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(invalid("a proxy URL has no path"));
        }
        let authority = uri.authority().ok_or_else(|| invalid("missing host"))?;
        let host = authority.host();
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        let credentials = authority.as_str().rsplit_once('@').map(|(userinfo, _)| {
            match userinfo.split_once(':') {
                Some((user, password)) => (user.to_owned(), password.to_owned()),
                None => (userinfo.to_owned(), String::new()),
            }
        });
        Ok(Proxy {
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(80),
            credentials,
        })
    }

    /// Sends `Proxy-Authorization: Basic base64(user:password)` with every `CONNECT`.
    pub fn credentials(mut self, user: &str, password: &str) -> Proxy {
        self.credentials = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// The proxy's host name or address (an IPv6 address in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `Proxy-Authorization` header value, when credentials are set.
    fn authorization(&self) -> Option<String> {
        self.credentials.as_ref().map(|(user, password)| {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            format!("Basic {token}")
        })
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|(user, _)| (user, "<redacted>")),
            )
            .finish()
    }
}

/// The awc TCP connector service that tunnels through a [`Proxy`].
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    proxy: Rc<ProxyTarget>,
}

struct ProxyTarget {
    /// The host to open TCP to, without IPv6 brackets.
    host: String,
    port: u16,
    authorization: Option<String>,
}

impl ProxyConnector {
    pub(crate) fn new(proxy: &Proxy) -> ProxyConnector {
        let host = proxy
            .host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&proxy.host)
            .to_owned();
        ProxyConnector {
            proxy: Rc::new(ProxyTarget {
                host,
                port: proxy.port,
                authorization: proxy.authorization(),
            }),
        }
    }
}

impl Service<ConnectInfo<Uri>> for ProxyConnector {
    type Response = Connection<Uri, TcpStream>;
    type Error = TcpConnectError;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_service::always_ready!();

    fn call(&self, req: ConnectInfo<Uri>) -> Self::Future {
        let proxy = self.proxy.clone();
        let target = format!("{}:{}", req.hostname(), req.port());
        let uri = req.request().clone();
        Box::pin(async move {
            let stream = tunnel(&proxy, &target).await.map_err(TcpConnectError::Io)?;
            Ok(Connection::new(uri, stream))
        })
    }
}

/// Opens TCP to the proxy and asks it for a tunnel to `target` (`host:port`).
///
/// The awc connector's timeout bounds the whole exchange.
async fn tunnel(proxy: &ProxyTarget, target: &str) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect((proxy.host.as_str(), proxy.port))
        .await
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot connect to the proxy {}:{}: {e}",
                    proxy.host, proxy.port
                ),
            )
        })?;
    let _ = stream.set_nodelay(true);

    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(authorization) = &proxy.authorization {
        request.push_str("Proxy-Authorization: ");
        request.push_str(authorization);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;

    // Read the answer byte by byte up to the blank line, so that nothing of the tunnelled
    // stream is consumed here.
    let mut head = Vec::with_capacity(128);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_CONNECT_RESPONSE {
            return Err(io::Error::other(
                "the proxy's answer to CONNECT is too long",
            ));
        }
        let byte = stream.read_u8().await.map_err(|e| {
            io::Error::new(e.kind(), format!("the proxy closed the connection: {e}"))
        })?;
        head.push(byte);
    }
    let status_line = head
        .split(|b| *b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(l).trim().to_owned())
        .unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or("");
    let status = parts.next().and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(status) if version.starts_with("HTTP/1.") && (200..300).contains(&status) => {
            Ok(stream)
        }
        Some(407) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the proxy refused the tunnel to {target}: {status_line} (check the proxy credentials)"
            ),
        )),
        Some(_) => Err(io::Error::other(format!(
            "the proxy refused the tunnel to {target}: {status_line}"
        ))),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the proxy answered CONNECT with `{status_line}`"),
        )),
    }
}
