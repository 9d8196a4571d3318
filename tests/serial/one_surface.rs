//! The one evaluation surface behind a paused Redis: evaluations never wait on external-cache
//! I/O. (The rest of the `one_surface` tests are in `tests/it/one_surface.rs`.) Here because
//! the pause stops the shared test Redis for every client of the process.

use std::time::Duration;

use configcat_actix::*;

use crate::support::{self, MockCdn, sdk_key, targeting_config};

mod behind_a_paused_redis {
    use std::time::Instant;

    use configcat_actix::cache::RedisCache;

    use super::*;
    use support::{redis_connection, redis_url};

    /// `SetDefaultUser` and the evaluations after it are answered while the config store waits
    /// for a write to a Redis that does not answer: the default user does not go through the
    /// config store. The Redis is paused with `CLIENT PAUSE` for 2 s (as `DEBUG SLEEP 2` would,
    /// but `DEBUG` is off by default).
    #[actix_rt::test]
    async fn the_default_user_and_evaluations_do_not_wait_for_a_cache_write() {
        let _alone = crate::alone().await;
        let Some(mut redis) = redis_connection() else {
            return;
        };
        let cdn = MockCdn::start();
        // Unique per run: the cache key is derived from the SDK key.
        let key = sdk_key(&format!("paused-redis-{}", std::process::id()));
        cdn.set_config(&key, targeting_config());
        let cache = RedisCache::builder(&redis_url())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let client = ConfigCat::builder(&key)
            .base_url(cdn.base_url())
            .polling_mode(PollingMode::manual_poll())
            .cache(cache)
            .cache_timeout(Duration::from_secs(10))
            // The refresh below does not re-read the cache first: its write is the first
            // thing that meets the paused Redis.
            .cache_sync_interval(Duration::from_secs(600))
            .log_sink(NoLog)
            .start()
            .unwrap();
        client.send(ForceRefresh).await.unwrap().unwrap();
        let greeting = || GetValue::new("greeting", String::new());
        assert_eq!(client.send(greeting()).await.unwrap(), "hello");

        cdn.set_config(
            &key,
            targeting_config().replace("hi, colleague", "hi again"),
        );
        // The download takes 500 ms: Redis is paused while it is under way (after the lease
        // was taken), so that its write meets the pause.
        cdn.set_delay(Duration::from_millis(500));
        let requests = cdn.requests().len();
        let asked = Instant::now();
        let refresh = actix_rt::spawn(client.send(ForceRefresh));
        while cdn.requests().len() == requests {
            assert!(
                asked.elapsed() < Duration::from_secs(5),
                "the refresh never fetched"
            );
            support::sleep(5).await;
        }
        let paused_at = Instant::now();
        redis::cmd("CLIENT")
            .arg(&["PAUSE", "2000", "ALL"])
            .query::<()>(&mut redis)
            .unwrap();
        let pause = Duration::from_millis(2000);
        // The download is in: its store now waits for the write to the paused Redis.
        support::sleep(800).await;

        client.do_send(SetDefaultUser(User::new("u1").email("a@example.com")));
        let sent = Instant::now();
        let answers: Vec<_> = (0..100)
            .map(|_| {
                let answer = client.send(greeting());
                async move {
                    let value = answer.await.unwrap();
                    (value, sent.elapsed())
                }
            })
            .collect();
        let answers = futures_util::future::join_all(answers).await;
        let batch_over = paused_at.elapsed();
        for (value, took) in &answers {
            // The old config (its successor is still being written), for the new user.
            assert_eq!(value, "hi, colleague");
            assert!(
                *took < Duration::from_millis(500),
                "answered after {took:?}"
            );
        }
        assert!(
            batch_over < pause,
            "the batch ended {batch_over:?} after the pause began"
        );
        assert!(
            !refresh.is_finished(),
            "the refresh is still waiting for its write"
        );

        // Once Redis answers, the download is written and served, for the same default user.
        refresh.await.unwrap().unwrap().unwrap();
        cdn.clear_delay();
        assert!(paused_at.elapsed() >= pause / 2);
        assert_eq!(client.send(greeting()).await.unwrap(), "hi again");
        client.send(Close).await.unwrap();
        let _ = redis::cmd("DEL")
            .arg(configcat_actix::cache::cache_key(&key))
            .query::<i64>(&mut redis);
    }
}
