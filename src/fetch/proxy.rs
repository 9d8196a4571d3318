//! HTTP proxies: awc has no proxy support, so this module provides the TCP connector service
//! awc uses to open its connections, which tunnels each one through the proxy with `CONNECT`
//! (or, for a proxy chosen from the environment, connects directly when no proxy applies to
//! the target).
//!
//! awc then speaks TLS (for `https://` targets) or plain HTTP (for `http://` targets) over the
//! tunnel exactly as it would over a direct connection; the proxy only ever sees the target's
//! host and port.

use std::fmt;
use std::io;
use std::rc::Rc;

use actix_rt::net::TcpStream;
use actix_service::Service;
use actix_tls::connect::{
    ConnectError as TcpConnectError, ConnectInfo, Connection, Connector as TcpConnector,
    ConnectorService, Resolver,
};
use awc::http::Uri;
use base64::Engine as _;
use futures_util::future::LocalBoxFuture;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::FetchConfigError;
use super::env_proxy::EnvProxy;

/// The longest proxy answer to a `CONNECT` that is read before giving up.
const MAX_CONNECT_RESPONSE: usize = 16 * 1024;

/// An HTTP proxy that tunnels connections with `CONNECT host:port HTTP/1.1`, optionally with
/// Basic credentials.
///
/// ```
/// use configcat_actix::Proxy;
/// let proxy = Proxy::new("http://proxy.internal:3128")?.credentials("user", "secret");
/// assert_eq!(proxy.host(), "proxy.internal");
/// assert_eq!(proxy.port(), 3128);
/// # Ok::<(), configcat_actix::FetchConfigError>(())
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
    /// than `http` (TLS to the proxy itself is not supported), or has a path. The error quotes
    /// the URL without its user and password (`http://***@host:port`).
    pub fn new(url: &str) -> Result<Proxy, FetchConfigError> {
        Proxy::parse(url).map_err(|why| {
            // The URL may hold a password: the error shows it without its user information.
            let shown = super::env_proxy::redact_userinfo(url);
            FetchConfigError::InvalidProxy(format!("`{shown}`: {why}"))
        })
    }

    /// A proxy from the value of a proxy environment variable: as [`Proxy::new`], except that
    /// the credentials are percent-decoded, as curl does.
    ///
    /// The error does not repeat the value, which may hold a password.
    pub(super) fn from_env_value(value: &str) -> Result<Proxy, String> {
        let mut proxy = Proxy::parse(value)?;
        if let Some((user, password)) = &proxy.credentials {
            let decoded = (percent_decode(user)?, percent_decode(password)?);
            proxy.credentials = Some(decoded);
        }
        Ok(proxy)
    }

    /// Parses a proxy URL; the error says why, without the URL.
    fn parse(url: &str) -> Result<Proxy, String> {
        let trimmed = url.trim();
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        let uri: Uri = with_scheme
            .parse()
            .map_err(|e: awc::http::uri::InvalidUri| e.to_string())?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => return Err(format!("unsupported scheme `{other}`")),
            None => return Err("missing scheme".to_owned()),
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err("a proxy URL has no path".to_owned());
        }
        let authority = uri.authority().ok_or("missing host")?;
        let host = authority.host();
        if host.is_empty() {
            return Err("missing host".to_owned());
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

/// Which connections go through which proxy.
pub(crate) enum Route {
    /// Every connection, through this proxy.
    Always(Proxy),
    /// Each connection through the proxy the environment names for its target, if any.
    Env(EnvProxy),
}

/// Decodes the `%XX` escapes of a URL's user or password.
///
/// Written out rather than taken from the percent-encoding crate only because this branch may
/// add optional dependencies only; the function is tested below.
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a `%` in the credentials is not followed by two hex digits")?;
            decoded.push(hex);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).map_err(|_| "the decoded credentials are not UTF-8".to_owned())
}

/// The awc TCP connector service that tunnels through a [`Proxy`], or opens the connection
/// directly when the [`Route`] names none for the target.
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    route: Rc<Route>,
    /// awc's own TCP connector (the default resolver), for direct connections.
    direct: ConnectorService,
}

struct ProxyTarget {
    /// The host to open TCP to, without IPv6 brackets.
    host: String,
    port: u16,
    authorization: Option<String>,
}

impl ProxyTarget {
    fn new(proxy: &Proxy) -> ProxyTarget {
        let host = proxy
            .host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&proxy.host)
            .to_owned();
        ProxyTarget {
            host,
            port: proxy.port,
            authorization: proxy.authorization(),
        }
    }
}

impl ProxyConnector {
    pub(crate) fn new(route: Route) -> ProxyConnector {
        ProxyConnector {
            route: Rc::new(route),
            direct: TcpConnector::new(Resolver::default()).service(),
        }
    }
}

impl Service<ConnectInfo<Uri>> for ProxyConnector {
    type Response = Connection<Uri, TcpStream>;
    type Error = TcpConnectError;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_service::always_ready!();

    fn call(&self, req: ConnectInfo<Uri>) -> Self::Future {
        let proxy = match &*self.route {
            Route::Always(proxy) => Some(proxy),
            Route::Env(env) => env.proxy_for_uri(req.request()),
        };
        let Some(proxy) = proxy else {
            return Box::pin(self.direct.call(req));
        };
        let proxy = ProxyTarget::new(proxy);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_the_environment_are_percent_decoded() {
        let proxy = Proxy::from_env_value("http://us%65r:p%40ss%3Aw%C3%B6rd@proxy:3128").unwrap();
        assert_eq!(
            proxy.credentials,
            Some(("user".to_owned(), "p@ss:wörd".to_owned()))
        );
        assert_eq!((proxy.host(), proxy.port()), ("proxy", 3128));
        // `Proxy::new` keeps them verbatim, as documented.
        let verbatim = Proxy::new("http://us%65r:pw@proxy:3128").unwrap();
        assert_eq!(
            verbatim.credentials,
            Some(("us%65r".to_owned(), "pw".to_owned()))
        );
    }

    #[test]
    fn proxy_errors_and_debug_never_show_the_password() {
        for url in [
            "socks5://user:s3cret-pw@proxy:1080",
            "http://user:s3cret-pw@proxy:1080/path",
            "http://user:s3cret-pw@proxy:1080?query",
            "user:s3cret-pw@proxy:1080/x",
        ] {
            let error = Proxy::new(url).unwrap_err();
            for text in [error.to_string(), format!("{error:?}")] {
                assert!(!text.contains("s3cret"), "{text}");
                assert!(text.contains("***@proxy"), "{text}");
            }
        }
        let proxy = Proxy::new("http://user:s3cret-pw@proxy:3128")
            .unwrap()
            .credentials("other", "s3cret-2");
        assert!(!format!("{proxy:?}").contains("s3cret"), "{proxy:?}");
    }

    #[test]
    fn bad_escapes_are_errors_that_do_not_repeat_the_value() {
        for value in [
            "http://user:secret%4@proxy:1",
            "http://user:secret%zz@proxy:1",
            "http://user:secret%ff@proxy:1",
        ] {
            let error = Proxy::from_env_value(value).unwrap_err();
            assert!(!error.contains("secret"), "{error}");
        }
        let error = Proxy::from_env_value("socks5://user:secret@proxy:1080").unwrap_err();
        assert_eq!(error, "unsupported scheme `socks5`");
    }
}
