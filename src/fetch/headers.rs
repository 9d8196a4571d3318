//! Custom request headers on the config request (for a ConfigCat Proxy behind an
//! authenticating gateway): validated when the client starts, never logged with their values.
//!
//! The SDK's own headers cannot be replaced: a custom header with one of their names is refused
//! at start ([`RESERVED`]), so that a typo in a deployment cannot silently break the protocol
//! (conditional requests, the user agent ConfigCat counts SDKs by) or the HTTP framing.

use std::fmt;

use awc::http::header::{HeaderName, HeaderValue};

/// Names a custom header may not have (lower case): the SDK's own headers and the ones that
/// frame or route the request.
const RESERVED: &[&str] = &[
    "x-configcat-useragent",
    "user-agent",
    "if-none-match",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "te",
    "upgrade",
    "keep-alive",
    "proxy-connection",
];

/// The custom headers as given to the builder: name and value as text, in order. Comparable (the
/// client's options are), and its `Debug` shows the names only: the values may be tokens.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct RequestHeaders(Vec<(String, String)>);

/// Why a custom request header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderRefusal {
    /// The name is not a valid HTTP header name.
    InvalidName,
    /// The value has characters a header value may not have (control characters, a newline).
    InvalidValue,
    /// The name is one of the SDK's own headers, or one that frames the request.
    Reserved,
}

impl fmt::Display for HeaderRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderRefusal::InvalidName => "not a valid HTTP header name",
            HeaderRefusal::InvalidValue => {
                "the value is not a valid HTTP header value (control characters or a line break)"
            }
            HeaderRefusal::Reserved => {
                "the SDK sets this header itself; it cannot be replaced by a custom one"
            }
        })
    }
}

impl RequestHeaders {
    /// Adds a header; a later one with the same name is sent as well (HTTP allows repeats).
    pub(crate) fn push(&mut self, name: String, value: String) {
        self.0.push((name, value));
    }

    /// The headers as awc takes them, or the name of the first refused one and why (never its
    /// value).
    pub(crate) fn parse(&self) -> Result<Vec<(HeaderName, HeaderValue)>, (String, HeaderRefusal)> {
        self.0
            .iter()
            .map(|(name, value)| {
                let refused = |why| (name.clone(), why);
                let parsed_name = HeaderName::from_bytes(name.trim().as_bytes())
                    .map_err(|_| refused(HeaderRefusal::InvalidName))?;
                if RESERVED.contains(&parsed_name.as_str()) {
                    return Err(refused(HeaderRefusal::Reserved));
                }
                let mut parsed_value = HeaderValue::from_str(value)
                    .map_err(|_| refused(HeaderRefusal::InvalidValue))?;
                // Tells HTTP/2's header compression not to index it, as for credentials.
                parsed_value.set_sensitive(true);
                Ok((parsed_name, parsed_value))
            })
            .collect()
    }
}

impl fmt::Debug for RequestHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name, "<redacted>")))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> RequestHeaders {
        let mut headers = RequestHeaders::default();
        for (name, value) in pairs {
            headers.push((*name).to_owned(), (*value).to_owned());
        }
        headers
    }

    #[test]
    fn valid_headers_parse_in_order_and_are_marked_sensitive() {
        let parsed = headers(&[("Authorization", "Bearer t0ken"), ("X-Gateway", "a")])
            .parse()
            .expect("valid headers");
        assert_eq!(parsed[0].0.as_str(), "authorization");
        assert_eq!(parsed[0].1, "Bearer t0ken");
        assert!(parsed[0].1.is_sensitive());
        assert_eq!(parsed[1].0.as_str(), "x-gateway");
    }

    #[test]
    fn invalid_and_reserved_headers_are_refused_by_name_without_the_value() {
        for (name, value, why) in [
            ("bad name", "v", HeaderRefusal::InvalidName),
            ("", "v", HeaderRefusal::InvalidName),
            (
                "X-Token",
                "secret\r\nInjected: 1",
                HeaderRefusal::InvalidValue,
            ),
            ("X-ConfigCat-UserAgent", "me", HeaderRefusal::Reserved),
            ("user-agent", "me", HeaderRefusal::Reserved),
            ("If-None-Match", "\"x\"", HeaderRefusal::Reserved),
            ("Host", "evil", HeaderRefusal::Reserved),
        ] {
            let error = headers(&[("X-Ok", "1"), (name, value)])
                .parse()
                .unwrap_err();
            assert_eq!(error, (name.to_owned(), why), "{name}");
        }
    }

    #[test]
    fn debug_shows_names_only() {
        let text = format!("{:?}", headers(&[("Authorization", "Bearer t0ken")]));
        assert!(text.contains("Authorization"), "{text}");
        assert!(!text.contains("t0ken"), "{text}");
    }
}
