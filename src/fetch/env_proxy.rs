//! The proxy of a target URL chosen from the environment, as curl chooses it.
//!
//! * The target's scheme picks the variable: `https_proxy` then `HTTPS_PROXY` for `https://`,
//!   `http_proxy` for `http://` (lower case only: curl ignores `HTTP_PROXY` because CGI servers
//!   put a request's `Proxy:` header there, the "httpoxy" attack); then `all_proxy`, `ALL_PROXY`.
//!   The first variable that is set, non-empty and valid is used; an invalid one is reported and
//!   skipped, so that a bad value never panics and never stops the client.
//! * `no_proxy` (or, when it is not set at all, `NO_PROXY`) lists the targets reached directly: comma-separated host names
//!   (matching the name and its subdomains; a leading `.` or `*.` is the same), IP addresses,
//!   CIDR blocks (`10.0.0.0/8`), each optionally with `:port` (then only that port matches;
//!   curl ignores ports, Go and reqwest honour them), or `*` for every target. Host names are
//!   compared without resolving them, case-insensitively.
//!
//! The environment is read through a lookup closure so that tests never touch the process
//! environment (mutating it races with every other thread that reads it).

use std::fmt;
use std::net::IpAddr;

use awc::http::Uri;

use super::Proxy;

/// The proxies named by the environment, read once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EnvProxy {
    http: Option<Proxy>,
    https: Option<Proxy>,
    all: Option<Proxy>,
    no_proxy: Vec<NoProxyEntry>,
}

/// A proxy variable (or a `no_proxy` entry) that is set but cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvProxyError {
    /// The variable's name.
    pub(crate) variable: &'static str,
    /// Why, without the variable's value when it may hold a password.
    pub(crate) reason: String,
}

impl fmt::Display for EnvProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "The environment variable {} cannot be used: {}",
            self.variable, self.reason
        )
    }
}

impl EnvProxy {
    /// Reads the proxy variables through `lookup` (`|name| std::env::var(name).ok()` in
    /// production); also returns what could not be used, for the caller to log.
    pub(crate) fn read(lookup: impl Fn(&str) -> Option<String>) -> (EnvProxy, Vec<EnvProxyError>) {
        let mut errors = Vec::new();
        let mut first_proxy = |names: &[&'static str]| {
            names.iter().find_map(|&name| {
                let value = lookup(name).filter(|v| !v.trim().is_empty())?;
                Proxy::from_env_value(&value)
                    .map_err(|reason| {
                        errors.push(EnvProxyError {
                            variable: name,
                            reason: format!("`{}`: {reason}", redact_userinfo(&value)),
                        })
                    })
                    .ok()
            })
        };
        let http = first_proxy(&["http_proxy"]);
        let https = first_proxy(&["https_proxy", "HTTPS_PROXY"]);
        let all = first_proxy(&["all_proxy", "ALL_PROXY"]);
        let mut no_proxy = Vec::new();
        if let Some((variable, value)) = ["no_proxy", "NO_PROXY"]
            .into_iter()
            .find_map(|name| lookup(name).map(|v| (name, v)))
        {
            for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                match NoProxyEntry::parse(entry) {
                    Ok(entry) => no_proxy.push(entry),
                    Err(reason) => errors.push(EnvProxyError {
                        variable,
                        reason: format!("the entry `{entry}` {reason}"),
                    }),
                }
            }
        }
        let env = EnvProxy {
            http,
            https,
            all,
            no_proxy,
        };
        (env, errors)
    }

    /// The proxy for a connection to `uri`, or `None` to connect directly.
    pub(crate) fn proxy_for_uri(&self, uri: &Uri) -> Option<&Proxy> {
        let scheme = uri.scheme_str().unwrap_or("http");
        let host = uri.host()?;
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        self.proxy_for(scheme, host, port)
    }

    /// The proxy for a connection to `host:port` for a `scheme` URL, or `None` to connect
    /// directly.
    fn proxy_for(&self, scheme: &str, host: &str, port: u16) -> Option<&Proxy> {
        let proxy = match scheme {
            "https" => self.https.as_ref(),
            "http" => self.http.as_ref(),
            _ => None,
        }
        .or(self.all.as_ref())?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        let direct = self
            .no_proxy
            .iter()
            .any(|entry| entry.matches(&host, ip, port));
        (!direct).then_some(proxy)
    }
}

/// One entry of `no_proxy`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NoProxyEntry {
    pattern: Pattern,
    /// Only this port matches, when set.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `*`: every target.
    Any,
    /// A host name (lower case, no leading or trailing dot) and its subdomains.
    Domain(String),
    /// An address block; a single address is a block of its full length.
    Net(IpAddr, u8),
}

impl NoProxyEntry {
    /// Parses one trimmed, non-empty entry; the error completes "the entry `…` ".
    fn parse(entry: &str) -> Result<NoProxyEntry, String> {
        let entry = entry.to_ascii_lowercase();
        if entry == "*" {
            return Ok(NoProxyEntry {
                pattern: Pattern::Any,
                port: None,
            });
        }
        // A bare IPv6 address has colons that are no port separator.
        if let Ok(ip) = entry.parse::<IpAddr>() {
            return Ok(NoProxyEntry {
                pattern: Pattern::Net(ip, full_length(ip)),
                port: None,
            });
        }
        if let Some((net, prefix)) = entry.split_once('/') {
            let net = net.trim_start_matches('[').trim_end_matches(']');
            let ip: IpAddr = net
                .parse()
                .map_err(|_| format!("is not a CIDR block: `{net}` is not an IP address"))?;
            let prefix: u8 = prefix
                .parse()
                .ok()
                .filter(|p| *p <= full_length(ip))
                .ok_or_else(|| {
                    format!("is not a CIDR block: `{prefix}` is not a prefix length for {ip}")
                })?;
            return Ok(NoProxyEntry {
                pattern: Pattern::Net(ip, prefix),
                port: None,
            });
        }
        let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
            let (ip, after) = rest.split_once(']').ok_or("has a `[` without its `]`")?;
            (ip, after.strip_prefix(':'))
        } else {
            match entry.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (entry.as_str(), None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| format!("has `{p}` where a port number should be"))
            })
            .transpose()?;
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(NoProxyEntry {
                pattern: Pattern::Net(ip, full_length(ip)),
                port,
            });
        }
        let domain = host
            .strip_prefix("*.")
            .or_else(|| host.strip_prefix('.'))
            .unwrap_or(host)
            .trim_end_matches('.');
        if domain.is_empty() || domain.contains(['*', '/', '@', '[', ']']) {
            return Err("is not a host name, an IP address or a CIDR block".to_owned());
        }
        Ok(NoProxyEntry {
            pattern: Pattern::Domain(domain.to_owned()),
            port,
        })
    }

    /// Whether a connection to `host` (lower case, no brackets or trailing dot; `ip` when it is
    /// an address) on `port` goes direct.
    fn matches(&self, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match &self.pattern {
            Pattern::Any => true,
            Pattern::Domain(domain) => {
                host == domain
                    || host
                        .strip_suffix(domain.as_str())
                        .is_some_and(|head| head.ends_with('.'))
            }
            Pattern::Net(net, prefix) => ip.is_some_and(|ip| in_block(ip, *net, *prefix)),
        }
    }
}

fn full_length(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// Whether `ip` is in `net/prefix`; an IPv4-mapped IPv6 address counts as its IPv4 address.
fn in_block(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// `value` with the user and password of a URL masked, for error messages.
///
/// Everything before the last `@` goes: a password may itself hold a `/` (the URL is then
/// invalid, and this is its error message), so the end of the authority cannot be trusted.
pub(super) fn redact_userinfo(value: &str) -> String {
    let value = value.trim();
    let (scheme, rest) = match value.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, value),
    };
    let redacted = match rest.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => rest.to_owned(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{redacted}"),
        None => redacted,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> (EnvProxy, Vec<EnvProxyError>) {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EnvProxy::read(|name| vars.get(name).cloned())
    }

    fn chosen(env: &EnvProxy, url: &str) -> Option<String> {
        let uri: Uri = url.parse().unwrap();
        env.proxy_for_uri(&uri)
            .map(|p| format!("{}:{}", p.host(), p.port()))
    }

    #[test]
    fn the_scheme_of_the_target_picks_the_variable() {
        let (env, errors) = read(&[
            ("https_proxy", "http://secure:1"),
            ("http_proxy", "plain:2"),
            ("ALL_PROXY", "http://all:3"),
        ]);
        assert!(errors.is_empty());
        assert_eq!(
            chosen(&env, "https://cdn.example.com/x").as_deref(),
            Some("secure:1")
        );
        assert_eq!(
            chosen(&env, "http://cdn.example.com/x").as_deref(),
            Some("plain:2")
        );
    }

    #[test]
    fn lower_case_wins_and_upper_case_http_proxy_is_ignored() {
        let (env, _) = read(&[
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
            ("HTTP_PROXY", "http://upper:3"),
        ]);
        assert_eq!(
            chosen(&env, "https://a.example").as_deref(),
            Some("lower:1")
        );
        assert_eq!(chosen(&env, "http://a.example"), None);

        let (env, _) = read(&[("HTTPS_PROXY", "http://upper:2")]);
        assert_eq!(
            chosen(&env, "https://a.example").as_deref(),
            Some("upper:2")
        );
    }

    #[test]
    fn all_proxy_is_the_fallback_and_empty_values_are_unset() {
        let (env, errors) = read(&[("https_proxy", " "), ("all_proxy", "http://all:3")]);
        assert!(errors.is_empty());
        assert_eq!(chosen(&env, "https://a.example").as_deref(), Some("all:3"));
        assert_eq!(chosen(&env, "http://a.example").as_deref(), Some("all:3"));

        let (env, errors) = read(&[]);
        assert!(errors.is_empty());
        assert_eq!(env, EnvProxy::default());
        assert_eq!(chosen(&env, "https://a.example"), None);
    }

    #[test]
    fn an_invalid_value_is_reported_without_its_password_and_skipped() {
        let (env, errors) = read(&[
            ("https_proxy", "https://user:hunter2@tls-proxy:443"),
            ("HTTPS_PROXY", "http://ok:8"),
        ]);
        assert_eq!(chosen(&env, "https://a.example").as_deref(), Some("ok:8"));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].variable, "https_proxy");
        let message = errors[0].to_string();
        assert_eq!(
            message,
            "The environment variable https_proxy cannot be used: \
             `https://***@tls-proxy:443`: unsupported scheme `https`"
        );

        let (env, errors) = read(&[("all_proxy", "http://proxy/path")]);
        assert_eq!(env, EnvProxy::default());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].variable, "all_proxy");
    }

    #[test]
    fn credentials_in_the_url_are_kept_decoded() {
        let (env, _) = read(&[("https_proxy", "http://me:p%40ss@proxy:3128")]);
        let proxy = env.proxy_for("https", "a.example", 443).unwrap();
        assert_eq!(
            proxy,
            &Proxy::new("proxy:3128").unwrap().credentials("me", "p@ss")
        );
    }

    #[test]
    fn no_proxy_matches_hosts_and_their_subdomains() {
        let (env, errors) = read(&[
            ("https_proxy", "http://p:1"),
            ("no_proxy", " example.com, .internal,*.corp.test ,LOCALHOST"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        for direct in [
            "https://example.com/x",
            "https://cdn.EXAMPLE.com./x",
            "https://internal/x",
            "https://a.b.internal/x",
            "https://corp.test/x",
            "https://x.corp.test/x",
            "https://localhost:8443/x",
        ] {
            assert_eq!(chosen(&env, direct), None, "{direct}");
        }
        for proxied in [
            "https://notexample.com/x",
            "https://example.com.evil/x",
            "https://internal.net/x",
            "https://corp.testing/x",
        ] {
            assert_eq!(chosen(&env, proxied).as_deref(), Some("p:1"), "{proxied}");
        }
    }

    #[test]
    fn no_proxy_matches_addresses_blocks_and_ports() {
        let (env, errors) = read(&[
            ("https_proxy", "http://p:1"),
            (
                "NO_PROXY",
                "127.0.0.1:8443,10.0.0.0/8,::1,[fd00::]:443,fe80::/10,cdn.test:444",
            ),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        for direct in [
            "https://127.0.0.1:8443/",
            "https://10.1.2.3/",
            "https://[::1]:9/",
            "https://[fd00::]/",
            "https://[fe80::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://cdn.test:444/",
        ] {
            assert_eq!(chosen(&env, direct), None, "{direct}");
        }
        for proxied in [
            "https://127.0.0.1:8444/",
            "https://11.0.0.1/",
            "https://[fd00::]:8443/",
            "https://[fec0::1]/",
            "https://cdn.test/",
        ] {
            assert_eq!(chosen(&env, proxied).as_deref(), Some("p:1"), "{proxied}");
        }
    }

    #[test]
    fn a_star_sends_everything_direct_and_lower_case_no_proxy_wins() {
        let (env, _) = read(&[("all_proxy", "p:1"), ("no_proxy", "*"), ("NO_PROXY", "")]);
        assert_eq!(chosen(&env, "https://anything.example/"), None);
        let (env, _) = read(&[("all_proxy", "p:1"), ("no_proxy", ""), ("NO_PROXY", "*")]);
        assert_eq!(
            chosen(&env, "https://anything.example/").as_deref(),
            Some("p:1")
        );
    }

    #[test]
    fn bad_no_proxy_entries_are_reported_and_the_others_kept() {
        let (env, errors) = read(&[
            ("https_proxy", "http://p:1"),
            ("no_proxy", "10.0.0.0/33,host:http,ok.test,[::1,a/b,*x"),
        ]);
        let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert!(errors.iter().all(|e| e.variable == "no_proxy"));
        assert!(
            reasons[0].contains("`10.0.0.0/33` is not a CIDR block"),
            "{reasons:?}"
        );
        assert!(reasons[1].contains("has `http` where a port number should be"));
        assert_eq!(chosen(&env, "https://ok.test/"), None);
        assert_eq!(chosen(&env, "https://host/").as_deref(), Some("p:1"));
    }

    #[test]
    fn block_arithmetic_at_the_edges() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_block(ip("1.2.3.4"), ip("0.0.0.0"), 0));
        assert!(in_block(ip("1.2.3.4"), ip("1.2.3.4"), 32));
        assert!(!in_block(ip("1.2.3.5"), ip("1.2.3.4"), 32));
        assert!(in_block(ip("::2"), ip("::"), 0));
        assert!(!in_block(ip("::2"), ip("::1"), 128));
        assert!(!in_block(ip("1.2.3.4"), ip("::"), 0));
    }

    #[test]
    fn redaction_masks_only_the_userinfo() {
        assert_eq!(redact_userinfo("http://u:p@h:1/"), "http://***@h:1/");
        assert_eq!(redact_userinfo("u:p@h:1"), "***@h:1");
        // A `/` in the password leaves nothing of it either.
        assert_eq!(redact_userinfo("http://u:p/w@h:1"), "http://***@h:1");
        assert_eq!(redact_userinfo("http://h:1/a"), "http://h:1/a");
    }
}
