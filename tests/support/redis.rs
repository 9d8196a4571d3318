//! The Redis the tests share: `CONFIGCAT_TEST_REDIS_URL`, default `redis://127.0.0.1:6390`
//! (`.ci/run` starts one there).

use std::io::Write;
use std::time::Duration;

/// The URL of the test Redis.
pub fn redis_url() -> String {
    std::env::var("CONFIGCAT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6390".into())
}

/// A plain (synchronous) connection to the test Redis, standing in for another process or an
/// official SDK. `None`, after saying how to start a server, when Redis is unreachable outside
/// CI; under CI an unreachable Redis fails the test.
pub fn redis_connection() -> Option<redis::Connection> {
    let url = redis_url();
    let connection = redis::Client::open(url.as_str()).and_then(|client| {
        let mut connection = client.get_connection_with_timeout(Duration::from_secs(2))?;
        redis::cmd("PING").query::<String>(&mut connection)?;
        Ok(connection)
    });
    match connection {
        Ok(connection) => Some(connection),
        Err(error) if std::env::var_os("CI").is_some() => panic!(
            "Redis at {url} is unreachable under CI ({error}): .ci/run starts one with \
             `redis-server --port 6390 --save '' --appendonly no --daemonize yes`"
        ),
        Err(error) => {
            // libtest captures println!; the stderr handle is shown.
            let _ = std::io::stderr().write_all(
                format!(
                    "    skipped: Redis at {url} is unreachable ({error}).\n    Start one with \
                     `redis-server --port 6390 --save '' --appendonly no --daemonize yes` \
                     (or set CONFIGCAT_TEST_REDIS_URL).\n"
                )
                .as_bytes(),
            );
            None
        }
    }
}
