//! An actor-based ConfigCat feature-flag client for actix applications.
//!
//! Start a [`ConfigCat`] client in an actix System, send it [`GetValue`] messages, and
//! [`Subscribe`] actors of your own to [`ConfigChanged`]. Underneath, separate actors fetch
//! (the poller, whose supervisor policy is the [`PollingMode`]), hold the config (the cache) and
//! evaluate (the evaluator); see ARCHITECTURE.md. The evaluation itself is the pure [`eval`]
//! module over the config_v6 [model](Config), conformant with the official cross-SDK suites.
//!
//! ```
//! use configcat_actix::{Config, NoLog, User, eval};
//! let config = Config::parse(r#"{"p":{"s":"salt"},"f":{"isAwesome":{"t":0,"v":{"b":false},
//!     "r":[{"c":[{"u":{"a":"Country","c":0,"l":["Hungary"]}}],"s":{"v":{"b":true}}}]}}}"#)?;
//! let user = User::new("user-42").country("Hungary");
//! assert!(eval::evaluate_value(&config, "isAwesome", false, Some(&user), &NoLog));
//! # Ok::<(), configcat_actix::ParseError>(())
//! ```
#![deny(missing_docs)]

pub mod cache;
pub mod client;
mod error;
pub mod eval;
pub mod evaluator;
pub mod fetch;
pub mod hooks;
pub mod log;
pub mod messages;
pub mod model;
#[cfg(feature = "openfeature")]
pub mod openfeature;
pub mod overrides;
pub mod poller;
pub mod snapshot;
mod text;
pub mod user;

pub use client::{ConfigCat, ConfigCatBuilder, PollingMode};
pub use error::Error;
pub use eval::{EvaluationDetails, EvaluationError, FlagValue};
pub use fetch::{DataGovernance, Proxy};
pub use hooks::ClientCacheState;
pub use log::{LogEvent, LogLevel, LogSink, MemoryLog, NoLog, SlogSink};
pub use messages::*;
pub use model::{Config, ParseError, Setting, SettingType, Settings, Value};
pub use overrides::{FlagOverrides, OverrideBehaviour};
pub use snapshot::{ConfigEntry, Snapshot};
pub use user::{User, UserValue};

/// The README's examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The examples of docs/caching.md, compiled as doctests.
#[doc = include_str!("../docs/caching.md")]
#[cfg(doctest)]
pub struct CachingDocDoctests;

#[cfg(doctest)]
mod doc_tests;
