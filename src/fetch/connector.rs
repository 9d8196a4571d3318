//! The TCP connector awc opens its connections with: awc has no proxy support, so this
//! connector tunnels each connection through a [`Proxy`] with `CONNECT` (or, for a proxy chosen
//! from the environment, connects directly when no proxy applies to the target).
//!
//! awc then speaks TLS (for `https://` targets) or plain HTTP (for `http://` targets) over the
//! tunnel exactly as it would over a direct connection; the proxy only ever sees the target's
//! host and port.

use std::io;
use std::rc::Rc;

use actix_rt::net::TcpStream;
use actix_service::Service;
use actix_tls::connect::{
    ConnectError as TcpConnectError, ConnectInfo, Connection, Connector as TcpConnector,
    ConnectorService, Resolver,
};
use awc::http::Uri;
use futures_util::future::LocalBoxFuture;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::env_proxy::EnvProxy;
use super::proxy::Proxy;

/// The longest proxy answer to a `CONNECT` that is read before giving up.
const MAX_CONNECT_RESPONSE: usize = 16 * 1024;

/// Which connections go through which proxy.
pub(crate) enum Route {
    /// Every connection, through this proxy.
    Always(Proxy),
    /// Each connection through the proxy the environment names for its target, if any.
    Env(EnvProxy),
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
            .host()
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(proxy.host())
            .to_owned();
        ProxyTarget {
            host,
            port: proxy.port(),
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
