//! The read side of a client, shared by the evaluator actor and [`ConfigCatHandle`]s.
//!
//! [`Shared`] is everything an evaluation needs: the published state (the default user is a
//! part of it), the sink and hooks, and what an access must set in motion (a background
//! refresh, a re-read of the external cache). The evaluator actor answers messages from it; a
//! [`ConfigCatHandle`] evaluates from it on the caller's thread, with no mailbox.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::Recipient;

#[cfg(feature = "openfeature")]
use crate::eval::Reason;
use crate::eval::{EvaluationDetails, FlagValue};
use crate::hooks::Hooks;
use crate::log::{LogLevel, LogSink, event};
use crate::model::Value;
use crate::policy::{Access, PollingMode};
use crate::protocol::{Need, Refresh, SyncExternal};
use crate::snapshot::{Snapshot, View};
use crate::state::ClientCacheState;
use crate::state::{Current, Published, SyncThrottle};
use crate::user::User;

/// Re-reads of the external cache driven by accesses, under the throttle the config store
/// shares.
pub(crate) struct AccessSync {
    pub(crate) recipient: Recipient<SyncExternal>,
    pub(crate) throttle: Arc<SyncThrottle>,
}

impl AccessSync {
    /// Asks the config store for a re-read when the throttle grants one; never waits for it (an
    /// evaluation does not wait on the external cache).
    #[inline]
    fn poke(&self) {
        if self.throttle.claim() {
            let _ = self.recipient.try_send(SyncExternal { claimed: true });
        }
    }
}

/// What answering an evaluation needs.
pub(crate) struct Shared {
    /// The published state and the client's switches (offline, local-only, closed).
    pub(crate) published: Arc<Published>,
    pub(crate) mode: PollingMode,
    pub(crate) read_timeout: Duration,
    pub(crate) sink: Arc<dyn LogSink>,
    pub(crate) hooks: Arc<Hooks>,
    /// Whether `hooks` has `on_flag_evaluated` hooks (they never change after the build): kept
    /// here so that an evaluation does not read the hooks' allocation to find none.
    pub(crate) report_evaluations: bool,
    pub(crate) refresh: Recipient<Refresh>,
    pub(crate) access_sync: Option<AccessSync>,
}

/// What an access must wait for before it is answered.
pub(crate) enum Wait {
    /// The client to become ready, at most this long; then the access is looked at again.
    Ready(Duration),
    /// A refresh, at most this long.
    Refresh(Duration),
}

impl Shared {
    /// Looks at an access: `None` when it can be answered from `current` now, after starting
    /// what the polling mode asks for.
    #[inline]
    pub(crate) fn access(&self, current: &Current) -> Option<Wait> {
        if let Some(sync) = &self.access_sync {
            sync.poke();
        }
        if current.ready.is_none() {
            return Some(Wait::Ready(self.mode.ready_wait()));
        }
        let access = self.mode.on_access(current.fetch_time(), self.read_timeout);
        if access == Access::Serve || self.published.local_only() || self.published.offline() {
            return None;
        }
        match access {
            Access::RefreshAndWait(bound) => Some(Wait::Refresh(bound)),
            _ => {
                self.refresh_in_background();
                None
            }
        }
    }

    /// An access that cannot wait (a handle): what it would have waited for is started, and it
    /// is answered from what is there.
    #[inline]
    fn access_now(&self, current: &Current) {
        if let Some(Wait::Refresh(_)) = self.access(current) {
            self.refresh_in_background();
        }
    }

    fn refresh_in_background(&self) {
        let _ = self.refresh.try_send(Refresh(Need::IfDue));
    }

    /// Waits as an access must, then returns (the caller answers from what is there).
    pub(crate) async fn settle(self: Arc<Self>, wait: Wait) {
        let wait = match wait {
            Wait::Ready(bound) => {
                let _ = tokio::time::timeout(bound, self.published.ready()).await;
                let current = self.published.load_full();
                match self.access(&current) {
                    Some(Wait::Refresh(bound)) => bound,
                    _ => return,
                }
            }
            Wait::Refresh(bound) => bound,
        };
        let _ = tokio::time::timeout(wait, self.refresh.send(Refresh(Need::IfDue))).await;
    }

    /// Waits until the client is ready, at most `timeout` (then WARNING 4200).
    pub(crate) async fn wait_for_ready(&self, timeout: Duration) -> ClientCacheState {
        match tokio::time::timeout(timeout, self.published.ready()).await {
            Ok(state) => state,
            Err(_) => {
                self.sink.log(
                    LogLevel::Warn,
                    event::CLIENT_INIT_TIMED_OUT,
                    format_args!(
                        "Client initialization timed out after {}s.",
                        timeout.as_secs_f64()
                    ),
                );
                self.mode.state_of_current(&self.published.load())
            }
        }
    }

    /// A view of `current`, borrowed without reference counting: what every verb of the
    /// messages and the handle runs on.
    #[inline]
    pub(crate) fn view<'a>(&'a self, current: &'a Current) -> View<'a> {
        View {
            config: current.config.as_deref(),
            fetch_time: current.fetch_time(),
            default_user: current.default_user.as_ref(),
            sink: &*self.sink,
            hooks: &self.hooks,
            report_evaluations: self.report_evaluations,
            closed: self.published.closed(),
        }
    }

    pub(crate) fn snapshot(&self, current: &Current) -> Snapshot {
        Snapshot::new(current, self.sink.clone(), self.hooks.clone())
    }
}

/// A live handle on a client: evaluates on the caller's thread, with no mailbox, from the
/// client's newest config (one lock-free load per call).
///
/// Get one with [`GetHandle`](crate::GetHandle). It is `Clone + Send + Sync + 'static`: keep it
/// in application state and read flags from any thread or task, inside the actix System or
/// outside it. Its verbs are those of every other way to evaluate, with the same names and
/// answers (see [the crate's overview](crate#evaluating-one-set-of-verbs-four-ways)); what is
/// its own is that it never waits: before the client is ready it answers from what is there,
/// so await [`wait_for_ready`](Self::wait_for_ready) first where that matters.
///
/// Each thread keeps the state it last read of the first four clients it reads, so that a read
/// costs one relaxed load while the config is unchanged. A replaced config therefore stays in
/// memory until each such thread reads that client again (or ends); the state of a client no
/// longer held anywhere else is let go when the thread next reads a client it keeps nothing of.
///
/// ```
/// use std::time::Duration;
/// use configcat_actix::{ClientCacheState, ConfigCat, FlagOverrides, GetHandle, OverrideBehaviour};
///
/// #[actix::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let flags = FlagOverrides::from_map([("isAwesome", true)], OverrideBehaviour::LocalOnly);
///     let client = ConfigCat::builder("local").flag_overrides(flags).start()?;
///     let handle = client.send(GetHandle).await?;
///     let state = handle.wait_for_ready(Duration::from_secs(5)).await;
///     assert_eq!(state, ClientCacheState::HasLocalOverrideFlagDataOnly);
///     // From a plain thread, no runtime needed.
///     let on = std::thread::spawn(move || handle.get_value("isAwesome", false, None)).join().unwrap();
///     assert!(on);
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct ConfigCatHandle(Arc<Shared>);

impl std::fmt::Debug for ConfigCatHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigCatHandle")
            .field("ready", &self.ready_state())
            .field("closed", &self.0.published.closed())
            .finish()
    }
}

impl ConfigCatHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> ConfigCatHandle {
        ConfigCatHandle(shared)
    }

    /// What the client shares with its handles (the webhook receiver sends its refreshes
    /// through it and logs to its sink).
    #[cfg(feature = "actix-web")]
    pub(crate) fn shared(&self) -> &Shared {
        &self.0
    }

    /// The value of a flag for a user (or the default user), `default` on any error.
    #[inline]
    pub fn get_value<T: FlagValue>(&self, key: &str, default: T, user: Option<&User>) -> T {
        self.read(|view| view.get_value(key, default, user))
    }

    /// The value of a flag with the details of how it was chosen.
    pub fn get_value_details<T: FlagValue>(
        &self,
        key: &str,
        default: T,
        user: Option<&User>,
    ) -> EvaluationDetails<T> {
        self.read(|view| view.get_value_details(key, default, user))
    }

    /// [`get_value_details`](Self::get_value_details) and the reason of the result, judged
    /// by the config the value came from (the OpenFeature provider's one read).
    #[cfg(feature = "openfeature")]
    pub(crate) fn get_value_details_and_reason<T: FlagValue>(
        &self,
        key: &str,
        default: T,
        user: Option<&User>,
    ) -> (EvaluationDetails<T>, Reason) {
        self.read(|view| {
            let details = view.get_value_details(key, default, user);
            let setting = view.config.and_then(|c| c.settings().get(&details.key));
            let reason = Reason::of(&details, setting);
            (details, reason)
        })
    }

    /// The setting keys of the current config, sorted (empty without a config).
    pub fn get_all_keys(&self) -> Vec<String> {
        self.read(|view| view.get_all_keys())
    }

    /// Every flag's value for a user (or the default user); flags that fail are left out.
    pub fn get_all_values(&self, user: Option<&User>) -> HashMap<String, Value> {
        self.read(|view| view.get_all_values(user))
    }

    /// Every flag's evaluation details for a user (or the default user), sorted by key.
    pub fn get_all_value_details(&self, user: Option<&User>) -> Vec<EvaluationDetails<Value>> {
        self.read(|view| view.get_all_value_details(user))
    }

    /// The key and value a variation id belongs to.
    pub fn get_key_and_value(&self, variation_id: &str) -> Option<(String, Value)> {
        self.read(|view| view.get_key_and_value(variation_id))
    }

    /// An immutable [`Snapshot`] of the current config.
    pub fn snapshot(&self) -> Snapshot {
        self.0.published.read(|current| {
            self.0.access_now(current);
            self.0.snapshot(current)
        })
    }

    /// How much flag data the client had when it became ready; `None` until it is.
    pub fn ready_state(&self) -> Option<ClientCacheState> {
        self.0.published.load().ready
    }

    /// Waits until the client is ready (spec §5.1), at most `timeout`; on timeout logs WARNING
    /// 4200 and returns how much flag data there is now. Needs a Tokio runtime (an actix System
    /// is one) only for its timer.
    pub async fn wait_for_ready(&self, timeout: Duration) -> ClientCacheState {
        self.0.wait_for_ready(timeout).await
    }

    /// Runs a verb on the newest state, after starting what the access sets in motion.
    #[inline]
    fn read<R>(&self, verb: impl FnOnce(View<'_>) -> R) -> R {
        let shared = &*self.0;
        shared.published.read(|current| {
            shared.access_now(current);
            verb(shared.view(current))
        })
    }
}
