//! The test kit (cargo feature `testing`): flags built in words, a client serving them in one
//! line, and a fake CDN.
//!
//! * [`TestConfig`] and [`Flag`] build a config with values, targeting rules on named
//!   comparators ([`when`]`("Email").contains_any_of([..])`), segments ([`in_segment`]),
//!   prerequisite flags ([`prerequisite`]) and percentage options; [`TestConfig::build`] gives
//!   the [`Config`](crate::Config), [`TestConfig::to_json`] its config_v6 text.
//! * [`TestConfig::start_client`] starts a client that serves those flags with no network and
//!   no log output (local-only [flag overrides](crate::overrides), the [`NoLog`]
//!   sink, a fresh SDK key so that every call starts its own client);
//!   [`TestConfig::client_builder`] is the same builder, for adding options first.
//! * [`FakeCdn`] serves configs over HTTP on 127.0.0.1, with ETags and 304s, injected
//!   failures and a record of the requests: for tests of polling, refreshes and fleets.
//!
//! Enable it for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! configcat-actix = { version = "0.1", features = ["testing"] }
//! ```
//!
//! ```
//! use configcat_actix::testing::{Flag, TestConfig, when};
//! use configcat_actix::{GetValue, User};
//!
//! #[actix::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let client = TestConfig::new()
//!         .flag("beta", Flag::new(false).rule(when("Email").ends_with_any_of(["@example.com"]).then(true)))
//!         .start_client()?;
//!     let staff = User::new("u1").email("kim@example.com");
//!     assert!(client.send(GetValue::new("beta", false).user(staff)).await?);
//!     assert!(!client.send(GetValue::new("beta", false).user(User::new("u2"))).await?);
//!     Ok(())
//! }
//! ```

mod cdn;
mod flags;

use std::sync::atomic::{AtomicU64, Ordering};

use actix::Addr;

pub use cdn::{CdnRequest, Failure, FakeCdn};
pub use flags::{
    Attribute, Check, Conditions, Confidential, Flag, Prerequisite, Rule, TestConfig, in_segment,
    not_in_segment, prerequisite, when,
};

use crate::builder::ConfigCatBuilder;
use crate::error::Error;
use crate::evaluator::ConfigCat;
use crate::log::NoLog;
use crate::overrides::OverrideBehaviour;

/// A new SDK key of the valid form (`configcat-sdk-1/<22>/<22>`), different at each call: one
/// client runs per SDK key in an actix System, so every test client needs its own.
///
/// ```
/// let (a, b) = (configcat_actix::testing::sdk_key(), configcat_actix::testing::sdk_key());
/// assert_ne!(a, b);
/// assert!(a.starts_with("configcat-sdk-1/") && a.len() == 16 + 22 + 1 + 22);
/// ```
pub fn sdk_key() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("configcat-sdk-1/testkit-{:014}/{n:022}", std::process::id())
}

/// Lower-case hex, as ETags and hashed comparison values are written.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TestConfig {
    /// A builder for a client serving these flags and nothing else: local-only overrides (no
    /// network, ready at once), the [`NoLog`] sink, a fresh [`sdk_key`]. Add options (a
    /// default user, hooks, a [`MemoryLog`](crate::MemoryLog) sink to assert on events),
    /// then `start()`.
    pub fn client_builder(&self) -> ConfigCatBuilder {
        ConfigCat::builder(sdk_key())
            .flag_overrides(self.overrides(OverrideBehaviour::LocalOnly))
            .log_sink(NoLog)
    }

    /// Starts a client serving these flags, with no network and no log output: see
    /// [`client_builder`](Self::client_builder).
    ///
    /// # Errors
    /// [`Error::NoRunningSystem`] outside a running actix System.
    pub fn start_client(&self) -> Result<Addr<ConfigCat>, Error> {
        self.client_builder().start()
    }
}
