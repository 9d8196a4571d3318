//! The Markdown guides under docs/, compiled and run as doctests so that every code block in
//! them stays true. Only built for `cargo test --doc`.

/// docs/polling-modes.md
#[doc = include_str!("../docs/polling-modes.md")]
pub struct PollingModesDoc;

/// docs/user-and-targeting.md
#[doc = include_str!("../docs/user-and-targeting.md")]
pub struct UserAndTargetingDoc;

/// docs/overrides.md
#[doc = include_str!("../docs/overrides.md")]
pub struct OverridesDoc;

/// docs/logging.md
#[doc = include_str!("../docs/logging.md")]
pub struct LoggingDoc;

/// docs/proxy-and-tls.md
#[doc = include_str!("../docs/proxy-and-tls.md")]
pub struct ProxyAndTlsDoc;

/// docs/actix-web.md
#[doc = include_str!("../docs/actix-web.md")]
pub struct ActixWebDoc;

/// docs/subscribers-and-hooks.md
#[doc = include_str!("../docs/subscribers-and-hooks.md")]
pub struct SubscribersAndHooksDoc;

/// docs/migrating.md
#[doc = include_str!("../docs/migrating.md")]
pub struct MigratingDoc;
