//! Helpers for the crate's client-level tests. The servers listen on 127.0.0.1 with an
//! ephemeral port, each on its own thread and runtime (so they keep serving while a test's actix
//! `System` runs), and stop on drop:
//!
//! * [`MockCdn`]: the ConfigCat CDN (`/configuration-files/<key>/config_v6.json`) over HTTP, or
//!   HTTPS with [`MockCdn::start_tls`]; records requests, fails on demand.
//! * [`ForwardProxy`]: a CONNECT-tunnelling proxy, optionally with Basic credentials.
//! * [`TempDir`]: a scratch directory removed on drop.
//! * the official cross-SDK data of `tests/data` ([`read_data`], [`config_for_sdk_key`], ...).
//!
//! The one support module of the three test binaries (`tests/it`, `tests/heap`,
//! `tests/serial`): each declares it with `#[path = "../support/mod.rs"] mod support;` and its
//! modules `use crate::support::...`. `src/fetch/tests.rs` includes some of its files too.
#![allow(dead_code, unused_imports)]

mod cdn;
mod child;
mod client;
mod data;
mod http;
pub mod override_cases;
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
pub use child::{rerun, test_name};
pub use client::{
    BrokenCache, follows, manual_poll_client, memory_log, millis, sdk_key, sleep, text, wait_for,
};
pub use data::{config_for_sdk_key, data_path, parse_config, read_data, report};
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
