//! An actor-based ConfigCat feature-flag client for actix applications.
//!
//! Start a [`ConfigCat`] client in an actix System, send it [`GetValue`] messages, and
//! [`Subscribe`] actors of your own to [`ConfigChanged`]. The evaluation is conformant with the
//! official cross-SDK suites; the [guides](guide) cover each part.
//!
//! ```
//! use configcat_actix::{ConfigCat, FlagOverrides, GetValue, OverrideBehaviour, User};
//!
//! #[actix::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Local flags so that this example needs no network; a real client takes only the key.
//!     let flags = FlagOverrides::from_map([("isAwesomeFeatureEnabled", true)], OverrideBehaviour::LocalOnly);
//!     let client = ConfigCat::builder("configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYYYYY")
//!         .flag_overrides(flags)
//!         .start()?;
//!     let user = User::new("user-42").email("a@example.com");
//!     let on = client.send(GetValue::new("isAwesomeFeatureEnabled", false).user(user)).await?;
//!     assert!(on);
//!     Ok(())
//! }
//! ```
//!
//! The pure evaluator works without actors, on a parsed [`Config`]:
//!
//! ```
//! use configcat_actix::{Config, NoLog, User, eval};
//! let config = Config::parse(r#"{"p":{"s":"salt"},"f":{"isAwesome":{"t":0,"v":{"b":false},
//!     "r":[{"c":[{"u":{"a":"Country","c":0,"l":["Hungary"]}}],"s":{"v":{"b":true}}}]}}}"#)?;
//! let user = User::new("user-42").country("Hungary");
//! assert!(eval::evaluate_value(&config, "isAwesome", false, Some(&user), &NoLog));
//! # Ok::<(), configcat_actix::ParseError>(())
//! ```
//!
//! # Evaluating: one set of verbs, four ways
//!
//! The same verbs, with the same names, arguments and answers, run on one implementation
//! whichever way a flag is read:
//!
//! | verb | message to [`ConfigCat`] | [`ConfigCatHandle`], [`Snapshot`] | `web::Flags` (feature `actix-web`) |
//! |---|---|---|---|
//! | a value, `default` on any error | [`GetValue`] → `T` | `get_value(key, default, user)` | `get_value(key, default)` |
//! | the value with how it was chosen | [`GetValueDetails`] → [`EvaluationDetails<T>`] | `get_value_details(key, default, user)` | `get_value_details(key, default)` |
//! | the setting keys, sorted | [`GetAllKeys`] → `Vec<String>` | `get_all_keys()` | `get_all_keys()` |
//! | every value (failed flags left out) | [`GetAllValues`] → `HashMap<String, Value>` | `get_all_values(user)` | `get_all_values()` |
//! | every flag's details, sorted by key | [`GetAllValueDetails`] → `Vec<EvaluationDetails<Value>>` | `get_all_value_details(user)` | `get_all_value_details()` |
//! | the key and value of a variation id | [`GetKeyAndValue`] → `Option<(String, Value)>` | `get_key_and_value(id)` | `get_key_and_value(id)` |
//!
//! Everywhere a `None` user means the default user; `on_flag_evaluated` hooks, the evaluation
//! log (INFO 5000) and the errors are the same. What differs is only when and from what they
//! answer:
//!
//! * **A message waits for readiness**: one mailbox hop; a request made before the client is
//!   ready waits for it (at most the polling mode's `max_init_wait`), as does a lazy-load
//!   request the mode says must wait for a refresh; the others are answered at once.
//! * **A handle never waits**: it evaluates on the caller's thread from the newest config, and
//!   before the client is ready answers from what is there (await `wait_for_ready` first where
//!   that matters). `web::Flags` is a handle with the request's user in place of the `user`
//!   argument.
//! * **A snapshot is frozen**: it answers from the config and default user it was taken with,
//!   even after the client changed or closed.
//!
//! After [`Close`], handles and `Flags` (and messages still queued at the client) answer as
//! with no config, [`EvaluationError::ClientClosed`] in the details, and log WARNING 3201.
//!
//! # Layout
//!
//! Three actors exchange the messages of one module; around them, a pure core that knows
//! nothing of actix. ARCHITECTURE.md draws the data flow.
//!
//! * The actors, one module each, knowing each other only as `Recipient`s:
//!   * `evaluator`: [`ConfigCat`], the actor users address. It answers every evaluation from
//!     the published state in one mailbox hop, holds requests made before the client is ready,
//!     and forwards control messages.
//!   * `poller`: downloads through a small `Fetch` trait; restarts itself after a panic.
//!   * `store`: the config store, sole writer of the published state (`state`): applies
//!     downloads, keeps the external cache in step (a user's cache behind a panic guard, its
//!     failures logged quietly), merges overrides, decides readiness, notifies subscribers.
//! * `policy`: each [`PollingMode`] as a policy type (auto poll, lazy load, manual poll) that
//!   the three actors consult.
//! * `protocol`: the internal messages; `messages`: the public ones.
//! * `builder` and `options`: [`ConfigCatBuilder`] fills one comparable `Options` value, then
//!   starts and wires the actors; `defaults`: the default of every option.
//! * `error`: the runtime's errors, one type per job ([`Error`] to start and address a client,
//!   [`RefreshError`], [`FetchError`]).
//! * `handle`: the read side the evaluator shares with [`ConfigCatHandle`], the live handle that
//!   evaluates on the caller's thread; `snapshot`: [`Snapshot`], a frozen config taken from the
//!   client.
//! * `fetch`: the HTTP protocol over awc (ETag, redirects, TLS, HTTP/2 where offered); the
//!   [`Proxy`] type and the connector that tunnels through it.
//! * `stream`: an actor that turns a ConfigCat Proxy's change stream ([`ProxyStream`]) into
//!   refresh requests to the poller.
//! * The pure core: [`model`] (config_v6 parsing; `model/shared.rs`: a config's rules, conditions
//!   and options, one block each), `user` ([`User`]), [`eval`] (the evaluation
//!   API, the rule engine in `eval/rules.rs`, and the evaluation log), `text` (JavaScript number and date formatting), [`overrides`]
//!   (sources and the merge), [`log`] (levels, sinks, [event ids](log::event)).
//! * `local_file`: reading a file others may have planted (regular files only, no symbolic
//!   link followed, bounded), for the file cache and the overrides file.
//! * [`cache`]: the [`ConfigCache`](cache::ConfigCache) plugin trait, the ready caches
//!   (file, Redis, in-memory), and the cross-SDK entry format ([`ConfigEntry`]).
//! * `openfeature` (feature `openfeature`): an OpenFeature provider.
//! * `web` (feature `actix-web`): the `Flags` extractor (the handle and the request's user) and
//!   readiness handlers for actix-web apps; `webhook`: the ConfigCat webhook receiver
//!   (`web::Webhook`), which verifies signed calls and asks the poller for a fetch.
//! * `redact`: the SDK key masked and error texts bounded before any log line or error carries
//!   them; `hooks`: the user's hooks, the events they receive, and the sink every event
//!   passes through.
//! * `telemetry` (feature `opentelemetry`): evaluations, fetches and cache failures recorded
//!   through OpenTelemetry, on the client's hooks.
//! * `testing` (feature `testing`): the test kit, flags built in words, a one-line test
//!   client and a fake CDN.
//! * [`guide`]: the guides, one page each.
#![deny(missing_docs)]

mod builder;
pub mod cache;
mod defaults;
mod error;
pub mod eval;
mod evaluator;
mod fetch;
pub mod guide;
mod handle;
mod hooks;
mod local_file;
pub mod log;
mod messages;
pub mod model;
#[cfg(feature = "openfeature")]
pub mod openfeature;
mod options;
pub mod overrides;
mod policy;
mod poller;
mod protocol;
mod redact;
mod snapshot;
mod state;
mod store;
mod stream;
#[cfg(feature = "opentelemetry")]
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
mod text;
mod user;
#[cfg(feature = "actix-web")]
pub mod web;
#[cfg(feature = "actix-web")]
mod webhook;

pub use builder::ConfigCatBuilder;
pub use cache::ConfigEntry;
pub use error::{Error, FetchError, RefreshError, RefreshErrorKind};
pub use eval::{EvaluationDetails, EvaluationError, FlagValue};
pub use evaluator::ConfigCat;
pub use fetch::{DataGovernance, Proxy};
pub use handle::ConfigCatHandle;
pub use hooks::{ConfigFetched, FetchResult, FetchTrigger, StreamState};
#[cfg(feature = "log")]
pub use log::LogCrateSink;
#[cfg(feature = "tracing")]
pub use log::TracingSink;
pub use log::{LogEvent, LogLevel, LogSink, MemoryLog, NoLog, SlogSink};
pub use messages::*;
pub use model::{Config, ParseError, Setting, SettingType, Settings, Value};
pub use overrides::{FlagOverrides, OverrideBehaviour};
pub use policy::PollingMode;
/// The string type of [`EvaluationDetails::key`] and [`EvaluationDetails::variation_id`] and of
/// the [`Settings`] keys: inline up to 23 bytes, reference-counted beyond, so details share
/// the config's strings instead of copying them. Re-exported from [`smol_str`] 0.3.
pub use smol_str::SmolStr;
pub use snapshot::Snapshot;
pub use state::ClientCacheState;

pub use stream::ProxyStream;
pub use user::{User, UserValue};
