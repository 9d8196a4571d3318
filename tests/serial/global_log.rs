//! One test at a time ([`alone`]), and the process's one `log` logger and one `tracing`
//! subscriber: each is installed once and routed to the capture of the test that runs.
//!
//! A process can install a global logger or subscriber only once, and the tests here each
//! install their own. So the installed logger forwards to the running test's capture, and
//! between tests logging is off as if nothing were installed: the `log` max level is `Off`, the
//! subscriber's layer is `None` (its level hint `OFF`), which is what a client sees before an
//! application installs its logger.

use tokio::sync::{Mutex, MutexGuard};

static ALONE: Mutex<()> = Mutex::const_new(());

/// This test has the process to itself while it holds this; logging is off again when dropped.
pub struct Alone {
    _turn: MutexGuard<'static, ()>,
}

impl Drop for Alone {
    fn drop(&mut self) {
        unroute();
    }
}

/// Waits for the tests before this one; logging starts off (nothing installed, as far as a
/// client can tell).
pub async fn alone() -> Alone {
    let turn = ALONE.lock().await;
    unroute();
    Alone { _turn: turn }
}

fn unroute() {
    #[cfg(feature = "log")]
    log_route::unroute();
    #[cfg(feature = "tracing")]
    tracing_route::unroute();
}

/// The global `log` logger: a switch to the running test's capture.
#[cfg(feature = "log")]
pub mod log_route {
    use std::sync::{Once, RwLock};

    type Tap = Option<&'static dyn ::log::Log>;

    static TAP: RwLock<Tap> = RwLock::new(None);

    fn tap() -> Tap {
        *TAP.read().unwrap_or_else(|e| e.into_inner())
    }

    struct Switch;

    impl ::log::Log for Switch {
        fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
            tap().is_some_and(|capture| capture.enabled(metadata))
        }
        fn log(&self, record: &::log::Record<'_>) {
            if let Some(capture) = tap() {
                capture.log(record);
            }
        }
        fn flush(&self) {}
    }

    static SWITCH: Switch = Switch;

    /// Installs the switch (once per process) and sends every record to `capture`, TRACE
    /// included, as a logger installed by the application would get them.
    pub fn route(capture: &'static dyn ::log::Log) {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| ::log::set_logger(&SWITCH).expect("the only logger"));
        *TAP.write().unwrap_or_else(|e| e.into_inner()) = Some(capture);
        ::log::set_max_level(::log::LevelFilter::Trace);
    }

    /// Nothing is logged: the max level of a process without a logger.
    pub(super) fn unroute() {
        ::log::set_max_level(::log::LevelFilter::Off);
        *TAP.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// The global `tracing` subscriber: a registry with one reloadable layer, the running test's.
#[cfg(feature = "tracing")]
pub mod tracing_route {
    use std::sync::OnceLock;

    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::{Layer, Registry, reload};

    type Boxed = Box<dyn Layer<Registry> + Send + Sync>;

    static HANDLE: OnceLock<reload::Handle<Option<Boxed>, Registry>> = OnceLock::new();

    fn handle() -> &'static reload::Handle<Option<Boxed>, Registry> {
        HANDLE.get_or_init(|| {
            let (layer, handle) = reload::Layer::new(None);
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
                .expect("the only subscriber");
            handle
        })
    }

    /// Installs the subscriber (once per process) with `layer` as its only layer; the reload
    /// rebuilds every callsite's interest, as installing a subscriber does.
    pub fn route(layer: impl Layer<Registry> + Send + Sync + 'static) {
        handle()
            .reload(Some(Box::new(layer) as Boxed))
            .expect("the subscriber is installed");
    }

    /// No layer: the level hint `OFF`, as without a subscriber.
    pub(super) fn unroute() {
        if let Some(handle) = HANDLE.get() {
            handle
                .reload(None::<Boxed>)
                .expect("the subscriber is installed");
        }
    }
}
