//! A user's cache is user code: a panic in it must not take the config store down with it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use crate::cache::{CacheError, CacheFuture, ConfigCache};
use futures_util::FutureExt;

/// Turns a panic of the wrapped cache, when called or while its future runs, into a
/// [`CacheError`]: the client logs it like any cache failure (2200/2201) and goes on.
pub(crate) struct PanicGuard(Arc<dyn ConfigCache>);

impl PanicGuard {
    pub(crate) fn wrap(cache: Arc<dyn ConfigCache>) -> Arc<dyn ConfigCache> {
        Arc::new(PanicGuard(cache))
    }
}

fn guarded<T: Send + 'static>(
    operation: &'static str,
    start: impl FnOnce() -> CacheFuture<T>,
) -> CacheFuture<T> {
    let panicked = move || CacheError::new(format!("the cache panicked in `{operation}`"));
    match catch_unwind(AssertUnwindSafe(start)) {
        Ok(future) => Box::pin(
            AssertUnwindSafe(future)
                .catch_unwind()
                .map(move |outcome| outcome.unwrap_or_else(|_| Err(panicked()))),
        ),
        Err(_) => Box::pin(async move { Err(panicked()) }),
    }
}

impl ConfigCache for PanicGuard {
    fn get(&self, key: &str) -> CacheFuture<Option<String>> {
        guarded("get", || self.0.get(key))
    }

    fn set(&self, key: &str, value: String) -> CacheFuture<()> {
        guarded("set", || self.0.set(key, value))
    }

    fn get_head(&self, key: &str, max_bytes: usize) -> CacheFuture<Option<String>> {
        guarded("get_head", || self.0.get_head(key, max_bytes))
    }

    fn touch(&self, key: &str, etag: &str, fetch_time: &str) -> CacheFuture<bool> {
        guarded("touch", || self.0.touch(key, etag, fetch_time))
    }

    fn try_lease(&self, key: &str, holder: &str, ttl: Duration) -> CacheFuture<bool> {
        guarded("try_lease", || self.0.try_lease(key, holder, ttl))
    }

    fn release_lease(&self, key: &str, holder: &str) -> CacheFuture<()> {
        guarded("release_lease", || self.0.release_lease(key, holder))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Panicking {
        when_called: bool,
    }

    impl ConfigCache for Panicking {
        fn get(&self, _: &str) -> CacheFuture<Option<String>> {
            if self.when_called {
                panic!("get: a bug in a user's cache");
            }
            Box::pin(async { panic!("get: a bug in a user's cache future") })
        }

        fn set(&self, _: &str, _: String) -> CacheFuture<()> {
            if self.when_called {
                panic!("set: a bug in a user's cache");
            }
            Box::pin(async { panic!("set: a bug in a user's cache future") })
        }
    }

    #[actix_rt::test]
    async fn panics_become_cache_errors() {
        for when_called in [true, false] {
            let cache = PanicGuard::wrap(Arc::new(Panicking { when_called }));
            assert_eq!(
                cache.get("key").await,
                Err(CacheError::new("the cache panicked in `get`"))
            );
            assert_eq!(
                cache.set("key", "value".into()).await,
                Err(CacheError::new("the cache panicked in `set`"))
            );
            assert_eq!(
                cache.get_head("key", 10).await,
                Err(CacheError::new("the cache panicked in `get_head`"))
            );
        }
    }

    #[actix_rt::test]
    async fn answers_of_a_working_cache_pass_through() {
        let cache = PanicGuard::wrap(Arc::new(crate::cache::InMemoryCache::default()));
        assert_eq!(cache.get("key").await, Ok(None));
        assert_eq!(cache.set("key", "value".into()).await, Ok(()));
        assert_eq!(cache.get("key").await, Ok(Some("value".into())));
        // The optional methods reach the cache too, not their defaults.
        cache.set("key", "1\ne\n{}".into()).await.unwrap();
        assert_eq!(cache.get_head("key", 3).await, Ok(Some("1\ne".into())));
        assert_eq!(cache.touch("key", "e", "2").await, Ok(true));
        assert_eq!(cache.get("key").await, Ok(Some("2\ne\n{}".into())));
        let ttl = Duration::from_secs(60);
        assert_eq!(cache.try_lease("key", "a", ttl).await, Ok(true));
        assert_eq!(cache.try_lease("key", "b", ttl).await, Ok(false));
        cache.release_lease("key", "a").await.unwrap();
        assert_eq!(cache.try_lease("key", "b", ttl).await, Ok(true));
    }
}
