//! The messages the client's actors send each other. None is public: users talk to
//! [`ConfigCat`](crate::ConfigCat) only.
//!
//! ```text
//! ConfigCat ── Refresh, OfflineChanged, Shutdown ──► Poller
//! ConfigCat ── SyncExternal, Subscribe, Unsubscribe, Shutdown ──► Cache
//! Poller ───── SyncExternal, TakeLease, Store, ReleaseLease ──► Cache
//! ```
//!
//! Each actor holds the others as `Recipient`s of these messages, which the builder hands it;
//! no actor names another's type.

use actix::Message;

use crate::error::RefreshError;
use crate::fetch::FetchOutcome;
use crate::hooks::FetchTrigger;

/// When a refresh cycle fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Whatever the age of the config (`ForceRefresh`).
    Always,
    /// When the polling mode says the config is due (a tick, a lazy-load access).
    IfDue,
    /// The config changed upstream (a webhook, a change stream message): a fetch that starts
    /// after this request. Such requests arriving while a cycle runs do not join it (its fetch
    /// may predate the change); they coalesce into one cycle after it.
    Changed(FetchTrigger),
}

impl Need {
    /// What a cycle started for this need reports to `on_config_fetched`.
    pub(crate) fn trigger(self) -> FetchTrigger {
        match self {
            Need::Always => FetchTrigger::ForceRefresh,
            Need::IfDue => FetchTrigger::Policy,
            Need::Changed(trigger) => trigger,
        }
    }
}

/// Asks the poller for a refresh cycle; replies when it is over and its outcome is stored.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RefreshError>")]
pub(crate) struct Refresh(pub Need);

/// The client went offline or online: the poller looks at the switch in the published state
/// (the one place it is kept) and stops or starts polling.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct OfflineChanged;

/// A fetch finished: the config store stores what it brought, writes it to the external cache,
/// and replies once evaluations see it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Store(pub FetchOutcome);

/// Re-read the external cache unless the sync throttle says one was made within the sync
/// interval; replies when the read (a running one is joined) is over.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct SyncExternal {
    /// The read was claimed from the throttle already (by an access): it is made.
    pub(crate) claimed: bool,
}

/// Asks the config store for the download lease of the shared entry before a download; replies
/// whether this client may download now (also when the cache has no leases, or failed).
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub(crate) struct TakeLease;

/// Gives the download lease back once the download is stored.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct ReleaseLease;

/// Stops an actor as part of `Close`; replies once the actor's work in flight is finished (a
/// cache write) or cancelled (a fetch).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown;

/// Makes the poller fail as a bug would (tests only).
#[cfg(test)]
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub(crate) enum Sabotage {
    /// It fails, as if a handler had panicked: it restarts.
    Stop,
    /// A handler panics.
    PanicInHandler,
    /// A refresh cycle panics.
    PanicInCycle,
}
