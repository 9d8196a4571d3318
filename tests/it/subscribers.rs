//! Subscribers: the changed keys of each `ConfigChanged`, a late subscriber caught up at once,
//! subscribers registered on the builder, and a subscriber whose mailbox is full.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use configcat_actix::log::event;
use configcat_actix::*;
use support::{MockCdn, sdk_key, sleep, text, wait_for};

/// The changed keys of each `ConfigChanged` a subscriber got, in order.
type Seen = Arc<Mutex<Vec<Vec<String>>>>;

/// Records the changed keys of every change it gets.
struct Recorder {
    seen: Seen,
    /// How long each change takes to handle (a slow subscriber).
    pause: Duration,
    capacity: usize,
}

impl Actor for Recorder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.capacity);
    }
}

impl Handler<ConfigChanged> for Recorder {
    type Result = ();

    fn handle(&mut self, changed: ConfigChanged, _: &mut Context<Self>) {
        // On an arbiter of its own: blocking here stands for a subscriber that is busy.
        std::thread::sleep(self.pause);
        self.seen
            .lock()
            .unwrap()
            .push(changed.changed_keys.to_vec());
    }
}

fn recorder(pause: Duration, capacity: usize) -> (Recipient<ConfigChanged>, Seen) {
    let seen = Seen::default();
    let for_actor = seen.clone();
    let arbiter = Arbiter::new();
    let addr = Recorder::start_in_arbiter(&arbiter.handle(), move |_| Recorder {
        seen: for_actor,
        pause,
        capacity,
    });
    (addr.recipient(), seen)
}

fn config(settings: &[(&str, &str)]) -> String {
    let flags: Vec<String> = settings
        .iter()
        .map(|(key, value)| format!(r#""{key}":{{"t":1,"v":{{"s":"{value}"}}}}"#))
        .collect();
    format!(r#"{{"f":{{{}}}}}"#, flags.join(","))
}

#[actix_rt::test]
async fn each_change_carries_the_keys_that_changed() {
    let cdn = MockCdn::start();
    let key = sdk_key("changed-keys");
    cdn.set_config(&key, config(&[("a", "1"), ("b", "1"), ("greeting", "v1")]));
    let (subscriber, seen) = recorder(Duration::ZERO, 16);
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .subscribe(subscriber)
        .log_sink(NoLog)
        .start()
        .unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(
        wait_for(&seen, 1).await,
        vec![vec!["a", "b", "greeting"]],
        "the first config: every key, to a subscriber registered on the builder"
    );
    // `a` changes, `b` stays, `c` is added, `greeting` is removed.
    cdn.set_config(&key, config(&[("a", "2"), ("b", "1"), ("c", "1")]));
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(wait_for(&seen, 2).await[1], vec!["a", "c", "greeting"]);
    // A new download whose settings are the same (only the JSON's layout differs): no change.
    cdn.set_config(
        &key,
        config(&[("a", "2"), ("b", "1"), ("c", "1")]).replace(',', ", "),
    );
    client.send(ForceRefresh).await.unwrap().unwrap();
    sleep(200).await;
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "no ConfigChanged without a changed setting"
    );
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_late_subscriber_gets_the_current_config_at_once() {
    let cdn = MockCdn::start();
    let key = sdk_key("late-subscriber");
    cdn.set_config(&key, config(&[("greeting", "hello"), ("other", "x")]));
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .log_sink(NoLog)
        .start()
        .unwrap();
    assert_eq!(text(&client, "greeting").await, "hello");
    let (subscriber, seen) = recorder(Duration::ZERO, 16);
    client.send(Subscribe(subscriber.clone())).await.unwrap();
    assert_eq!(wait_for(&seen, 1).await, vec![vec!["greeting", "other"]]);
    // Subscribing again registers once and sends nothing more.
    client.send(Subscribe(subscriber)).await.unwrap();
    sleep(200).await;
    assert_eq!(seen.lock().unwrap().len(), 1);
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn a_subscriber_with_a_full_mailbox_misses_changes_without_stalling_the_client() {
    let cdn = MockCdn::start();
    let key = sdk_key("full-mailbox");
    let log = Arc::new(MemoryLog::new(LogLevel::Warn));
    cdn.set_config(&key, config(&[("greeting", "v0")]));
    let (subscriber, seen) = recorder(Duration::from_millis(300), 1);
    let client = ConfigCat::builder(&key)
        .base_url(cdn.base_url())
        .polling_mode(PollingMode::manual_poll())
        .subscribe(subscriber)
        .log_sink(log.clone())
        .start()
        .unwrap();
    let burst = Instant::now();
    for version in 0..6 {
        cdn.set_config(&key, config(&[("greeting", &format!("v{version}"))]));
        client.send(ForceRefresh).await.unwrap().unwrap();
        assert_eq!(text(&client, "greeting").await, format!("v{version}"));
    }
    assert!(
        burst.elapsed() < Duration::from_millis(1500),
        "the slow subscriber did not slow the client: {:?}",
        burst.elapsed()
    );
    let busy = log
        .take()
        .into_iter()
        .filter(|e| e.event_id == event::SUBSCRIBER_BUSY)
        .count();
    assert!(busy >= 1, "a missed change is logged as 9001");
    sleep(1200).await;
    let delivered = seen.lock().unwrap().len();
    assert!(
        (1..6).contains(&delivered),
        "it got some changes, not all: {delivered}"
    );
    // Once it has room again it gets the next change.
    cdn.set_config(&key, config(&[("greeting", "after")]));
    client.send(ForceRefresh).await.unwrap().unwrap();
    assert_eq!(wait_for(&seen, delivered + 1).await.len(), delivered + 1);
    client.send(Close).await.unwrap();
}
