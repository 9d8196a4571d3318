//! The guides of docs/, as rustdoc pages: every code block in them is compiled (and, where it
//! needs no network, run) as a doctest, and their links to the API resolve.

#[doc = include_str!("../docs/polling-modes.md")]
pub mod polling_modes {}

#[doc = include_str!("../docs/user-and-targeting.md")]
pub mod user_and_targeting {}

#[doc = include_str!("../docs/caching.md")]
pub mod caching {}

#[doc = include_str!("../docs/overrides.md")]
pub mod overrides {}

#[doc = include_str!("../docs/logging.md")]
pub mod logging {}

#[doc = include_str!("../docs/proxy-and-tls.md")]
pub mod proxy_and_tls {}

#[cfg(feature = "actix-web")]
#[doc = include_str!("../docs/actix-web.md")]
pub mod actix_web {}

#[doc = include_str!("../docs/subscribers-and-hooks.md")]
pub mod subscribers_and_hooks {}

#[doc = include_str!("../docs/fleets.md")]
pub mod fleets {}

#[cfg(feature = "openfeature")]
#[doc = include_str!("../docs/openfeature.md")]
pub mod openfeature {}

#[cfg(feature = "opentelemetry")]
#[doc = include_str!("../docs/opentelemetry.md")]
pub mod opentelemetry {}

#[doc = include_str!("../docs/migrating.md")]
pub mod migrating {}

#[doc = include_str!("../docs/performance.md")]
pub mod performance {}

#[doc = include_str!("../docs/reliability.md")]
pub mod reliability {}

/// The README's examples, compiled and run as doctests so they stay true (its actix-web example
/// needs that feature).
#[doc = include_str!("../README.md")]
#[cfg(all(doctest, feature = "actix-web"))]
pub struct ReadmeDoctests;
