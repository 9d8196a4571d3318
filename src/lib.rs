//! An actor-based ConfigCat feature-flag client for actix applications.
//!
//! This release holds the evaluation core: the config_v6 [model](Config), the [`User`] object
//! and the pure [evaluator](eval), conformant with the official cross-SDK test suites.
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

pub mod eval;
pub mod log;
pub mod model;
pub mod user;

pub use eval::{EvaluationDetails, EvaluationError, FlagValue};
pub use log::{LogEvent, LogLevel, LogSink, MemoryLog, NoLog, SlogSink};
pub use model::{Config, ParseError, Setting, SettingType, Value};
pub use user::{User, UserValue};

/// The README's examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
