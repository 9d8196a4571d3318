//! Every option of a client, in one comparable value.
//!
//! The builder fills an [`Options`] and is its only reader: it hands each actor, when it starts
//! it, the values that actor needs (the actors never see `Options`), and keeps it to compare
//! with a later start. Two starts with the same SDK key are "the same client" exactly when
//! their options are equal (warning 3000 otherwise). Hooks, log sinks and the cache object
//! cannot be compared and are kept beside it.

use std::time::Duration;

use crate::fetch::{DataGovernance, FetchOptions, Proxy, RequestHeaders};
use crate::log::LogLevel;
use crate::overrides::{FlagOverrides, OverrideBehaviour};
use crate::policy::PollingMode;
use crate::stream::ProxyStream;
use crate::user::User;

use crate::defaults::{
    DEFAULT_CACHE_LEASE, DEFAULT_CACHE_SYNC_INTERVAL, DEFAULT_CACHE_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_READ_TIMEOUT,
};

/// What a client was configured with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Options {
    pub(crate) sdk_key: String,
    pub(crate) polling_mode: PollingMode,
    pub(crate) data_governance: DataGovernance,
    pub(crate) base_url: Option<String>,
    pub(crate) proxy: Option<Proxy>,
    pub(crate) proxy_from_env: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) max_body_bytes: usize,
    pub(crate) root_certificates: Vec<Vec<u8>>,
    pub(crate) log_level: LogLevel,
    pub(crate) default_user: Option<User>,
    pub(crate) offline: bool,
    pub(crate) overrides: Option<FlagOverrides>,
    /// Whether an external cache was given (the cache itself cannot be compared).
    pub(crate) has_external_cache: bool,
    pub(crate) cache_timeout: Duration,
    pub(crate) cache_sync_interval: Duration,
    /// Custom headers of the config request (their `Debug` hides the values).
    pub(crate) request_headers: RequestHeaders,
    /// A ConfigCat Proxy change stream that triggers fetches.
    pub(crate) change_stream: Option<ProxyStream>,
    pub(crate) cache_lease: Duration,
}

impl Options {
    pub(crate) fn new(sdk_key: String) -> Options {
        Options {
            sdk_key,
            polling_mode: PollingMode::default(),
            data_governance: DataGovernance::default(),
            base_url: None,
            proxy: None,
            proxy_from_env: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            root_certificates: Vec::new(),
            log_level: LogLevel::Warn,
            default_user: None,
            offline: false,
            overrides: None,
            has_external_cache: false,
            cache_timeout: DEFAULT_CACHE_TIMEOUT,
            cache_sync_interval: DEFAULT_CACHE_SYNC_INTERVAL,
            request_headers: RequestHeaders::default(),
            change_stream: None,
            cache_lease: DEFAULT_CACHE_LEASE,
        }
    }

    /// Local-only flag overrides: nothing is fetched, the SDK key is not checked, the client
    /// never goes online.
    pub(crate) fn local_only(&self) -> bool {
        self.overrides
            .as_ref()
            .is_some_and(|o| o.behaviour() == OverrideBehaviour::LocalOnly)
    }

    /// What the fetcher needs.
    pub(crate) fn fetch_options(&self) -> FetchOptions {
        FetchOptions {
            sdk_key: self.sdk_key.clone(),
            base_url: self.base_url.clone(),
            data_governance: self.data_governance,
            mode_letter: self.polling_mode.letter(),
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            proxy: self.proxy.clone(),
            proxy_from_env: self.proxy_from_env,
            extra_root_certificates: self.root_certificates.clone(),
            max_body_bytes: self.max_body_bytes,
            request_headers: self.request_headers.clone(),
            #[cfg(test)]
            data_governance_url: None,
        }
    }
}
