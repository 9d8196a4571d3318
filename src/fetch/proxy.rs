//! An HTTP proxy as the user names it: its URL parsed, its credentials kept out of every error
//! and `Debug` text. `connector.rs` tunnels connections through it.

use std::fmt;

use awc::http::Uri;
use base64::Engine as _;

use crate::error::Error;

/// An HTTP proxy that tunnels connections with `CONNECT host:port HTTP/1.1`, optionally with
/// Basic credentials.
///
/// ```
/// use configcat_actix::Proxy;
/// let proxy = Proxy::new("http://proxy.internal:3128")?.credentials("user", "secret");
/// assert_eq!(proxy.host(), "proxy.internal");
/// assert_eq!(proxy.port(), 3128);
/// # Ok::<(), configcat_actix::Error>(())
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
    /// [`Error::InvalidProxy`] when the URL cannot be read, names another scheme
    /// than `http` (TLS to the proxy itself is not supported), or has a path. The error quotes
    /// the URL without its user and password (`http://***@host:port`).
    pub fn new(url: &str) -> Result<Proxy, Error> {
        Proxy::parse(url).map_err(|why| {
            // The URL may hold a password: the error shows it without its user information.
            let shown = super::env_proxy::redact_userinfo(url);
            Error::InvalidProxy(format!("`{shown}`: {why}"))
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
    pub(super) fn authorization(&self) -> Option<String> {
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
