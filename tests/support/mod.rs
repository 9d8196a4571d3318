//! Helpers for the crate's client-level tests. The servers listen on 127.0.0.1 with an
//! ephemeral port, each on its own thread and runtime (so they keep serving while a test's actix
//! `System` runs), and stop on drop:
//!
//! * [`MockCdn`]: the ConfigCat CDN (`/configuration-files/<key>/config_v6.json`) over HTTP, or
//!   HTTPS with [`MockCdn::start_tls`]; records requests, fails on demand.
//! * [`ForwardProxy`]: a CONNECT-tunnelling proxy, optionally with Basic credentials.
//! * [`TempDir`]: a scratch directory removed on drop.
//!
//! Use with `mod support;` in a test file.
#![allow(dead_code, unused_imports)]

mod cdn;
mod client;
mod http;
mod proxy;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_servers;
mod server;
mod sse;
mod temp;
mod tls;

pub use cdn::{
    MockCdn, etag_for, example_config, simple_config, targeting_config, test_data_config,
    with_redirect,
};
pub use client::{sdk_key, sleep, text};
pub use http::RecordedRequest;
pub use proxy::ForwardProxy;
#[cfg(feature = "redis")]
pub use redis::{redis_connection, redis_url};
#[cfg(feature = "redis")]
pub use redis_servers::{RedisCluster, RedisProcess, free_port, redis_binaries, tls_arguments};
pub use server::refused_base_url;
pub use sse::MockProxyStream;
pub use temp::TempDir;
pub use tls::TestCertificates;
