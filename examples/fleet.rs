//! What a fleet costs: N processes of an app sharing one Redis and one CDN, measured from outside.
//!
//! The parent starts a stand-in for the ConfigCat CDN on 127.0.0.1 (ETag and 304, counting its
//! requests), then N copies of this same program as children. Each child runs a client the way an
//! app would, through the public API only: `RedisCache::new(url)`, a custom base URL, auto poll,
//! and a `GetValue` of one text flag every few milliseconds; it prints the wall-clock time at which
//! it first serves each new value. While they run, the parent changes the config at the CDN, and
//! it reads Redis's own counters (`INFO stats`, `INFO commandstats`) before and after, and over a
//! window while the config does not change (from 5 s to just before the first change). It prints
//! what the run cost (CDN requests, Redis bytes and commands per process per second), what the
//! steady window cost, and how long a change took to reach the first and the last process.
//!
//! ```text
//! cargo run --release --features redis --example fleet -- [flags]
//!
//!   --processes N           child processes (default 8)
//!   --seconds S             length of the run, from starting the children (default 20)
//!   --poll-interval-secs P  auto-poll interval of every child (default 2)
//!   --eval-every-ms E       each child evaluates the watched flag every E ms (default 10)
//!   --flags F               text flags in the generated config, one rule each; 2000 make
//!                           about 2.4 MB (default 2000)
//!   --redis URL             the Redis to share (default redis://127.0.0.1:6379)
//!   --change-at SECS        the first change at the CDN, SECS after start (default 11: mid-way
//!                           between two 2 s polls, as a change made at any moment is on average)
//!   --changes K             how many changes (default 1)
//!   --change-every SECS     seconds between changes (default 5)
//! ```
//!
//! Use a disposable Redis: the bench counts every command and byte the server handles while it
//! runs, so other clients of it would be counted too. It deletes only the keys it uses (the cache
//! entry of an SDK key made up for the run, and any key starting with that entry's name) before
//! and after the run (a run killed before its end leaves its entry, under a key no later run
//! uses). Everything stays on loopback, and the children exit with the parent: they
//! are killed when it finishes, and each one exits by itself when its stdin closes (the parent
//! ended, however it ended) or when the run's time is well over.
//!
//! The figures measured with it, and what they mean, are in `docs/fleets.md`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};

use configcat_actix::cache::{RedisCache, cache_key};
use configcat_actix::{ConfigCat, GetValue, PollingMode, User, WaitForReady};

/// The flag every child evaluates; its default value names the config's generation.
const WATCHED: &str = "flag_0000";

/// Comparison values per flag: with them a flag is about 1,200 bytes of JSON, so 2,000 flags
/// make the 2.4 MB config of the fleet issue.
const VALUES_PER_FLAG: usize = 37;

/// A child outlives the run by at most this much, should the parent fail to end it.
const CHILD_GRACE: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", usage());
        return ExitCode::SUCCESS;
    }
    if args.first().is_some_and(|a| a == "--child") {
        return match ChildArgs::parse(&args[1..]) {
            Ok(child) => run_child(child),
            Err(error) => fail(&error),
        };
    }
    let args = match Args::parse(&args) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("{}", usage());
            return fail(&error);
        }
    };
    match run_parent(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

fn fail(error: &str) -> ExitCode {
    eprintln!("fleet: {error}");
    ExitCode::FAILURE
}

fn usage() -> &'static str {
    "usage: fleet [--processes N] [--seconds S] [--poll-interval-secs P] [--eval-every-ms E] \
     [--flags F] [--redis URL] [--change-at SECS] [--changes K] [--change-every SECS]\n\
     (needs a disposable Redis: every command it handles during the run is counted)"
}

// ---------------------------------------------------------------------------------------------
// Flags

/// The parent's flags.
#[derive(Debug, Clone, PartialEq)]
struct Args {
    processes: usize,
    seconds: u64,
    poll_interval_secs: u64,
    eval_every_ms: u64,
    flags: usize,
    redis: String,
    change_at: u64,
    changes: usize,
    change_every: u64,
}

impl Default for Args {
    fn default() -> Args {
        Args {
            processes: 8,
            seconds: 20,
            poll_interval_secs: 2,
            eval_every_ms: 10,
            flags: 2000,
            redis: "redis://127.0.0.1:6379".to_owned(),
            change_at: 11,
            changes: 1,
            change_every: 5,
        }
    }
}

impl Args {
    fn parse(args: &[String]) -> Result<Args, String> {
        let mut parsed = Args::default();
        for (name, value) in pairs(args)? {
            match name {
                "--processes" => parsed.processes = number(name, value, 1, 1000)?,
                "--seconds" => parsed.seconds = number(name, value, 1, 86_400)?,
                "--poll-interval-secs" => parsed.poll_interval_secs = number(name, value, 1, 3600)?,
                "--eval-every-ms" => parsed.eval_every_ms = number(name, value, 1, 60_000)?,
                "--flags" => parsed.flags = number(name, value, 1, 100_000)?,
                "--redis" => parsed.redis = value.to_owned(),
                "--change-at" => parsed.change_at = number(name, value, 0, 86_400)?,
                "--changes" => parsed.changes = number(name, value, 0, 10_000)?,
                "--change-every" => parsed.change_every = number(name, value, 1, 86_400)?,
                _ => return Err(format!("unknown flag {name}")),
            }
        }
        if parsed.changes > 0 && parsed.change_time(parsed.changes) >= parsed.seconds {
            return Err(format!(
                "the last change (at {} s) must come before the end of the run (--seconds {})",
                parsed.change_time(parsed.changes),
                parsed.seconds
            ));
        }
        Ok(parsed)
    }

    /// When change `generation` (1-based) is made, in seconds from the start.
    fn change_time(&self, generation: usize) -> u64 {
        self.change_at + (generation as u64 - 1) * self.change_every
    }
}

/// What the parent tells each child.
#[derive(Debug, Clone, PartialEq)]
struct ChildArgs {
    sdk_key: String,
    base_url: String,
    redis: String,
    poll_interval_secs: u64,
    eval_every_ms: u64,
    lifetime_secs: u64,
    /// Room for the generated config, which may be larger than the default limit.
    max_body_bytes: usize,
}

impl ChildArgs {
    fn parse(args: &[String]) -> Result<ChildArgs, String> {
        let mut parsed = ChildArgs {
            sdk_key: String::new(),
            base_url: String::new(),
            redis: String::new(),
            poll_interval_secs: 2,
            eval_every_ms: 10,
            lifetime_secs: 60,
            max_body_bytes: 16 << 20,
        };
        for (name, value) in pairs(args)? {
            match name {
                "--sdk-key" => parsed.sdk_key = value.to_owned(),
                "--base-url" => parsed.base_url = value.to_owned(),
                "--redis" => parsed.redis = value.to_owned(),
                "--poll-interval-secs" => parsed.poll_interval_secs = number(name, value, 1, 3600)?,
                "--eval-every-ms" => parsed.eval_every_ms = number(name, value, 1, 60_000)?,
                "--lifetime-secs" => parsed.lifetime_secs = number(name, value, 1, 100_000)?,
                "--max-body-bytes" => parsed.max_body_bytes = number(name, value, 1, 1 << 30)?,
                _ => return Err(format!("unknown child flag {name}")),
            }
        }
        Ok(parsed)
    }

    fn to_args(&self) -> Vec<String> {
        let pairs = [
            ("--sdk-key", self.sdk_key.clone()),
            ("--base-url", self.base_url.clone()),
            ("--redis", self.redis.clone()),
            ("--poll-interval-secs", self.poll_interval_secs.to_string()),
            ("--eval-every-ms", self.eval_every_ms.to_string()),
            ("--lifetime-secs", self.lifetime_secs.to_string()),
            ("--max-body-bytes", self.max_body_bytes.to_string()),
        ];
        let mut args = vec!["--child".to_owned()];
        for (name, value) in pairs {
            args.push(name.to_owned());
            args.push(value);
        }
        args
    }
}

/// `--name value` pairs.
fn pairs(args: &[String]) -> Result<Vec<(&str, &str)>, String> {
    args.chunks(2)
        .map(|pair| match pair {
            [name, value] if name.starts_with("--") => Ok((name.as_str(), value.as_str())),
            [name] => Err(format!("{name} needs a value")),
            _ => Err(format!("expected a --flag, found {:?}", pair[0])),
        })
        .collect()
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    name: &str,
    value: &str,
    min: T,
    max: T,
) -> Result<T, String> {
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "{name} takes a number from {min} to {max}, not {value:?}"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// The config

/// A config_v6 document of `flags` text flags, each with one `Email CONTAINS ANY OF` rule. The
/// watched flag's default value is `gen-<generation>`; every other byte is the same in every
/// generation, so a change costs what a one-flag edit costs.
fn fleet_config(flags: usize, generation: usize) -> String {
    let mut out = String::with_capacity(flags * 1300 + 100);
    out.push_str(r#"{"p":{"u":"https://cdn-global.configcat.com","r":0,"s":"fleet-salt"},"f":{"#);
    for i in 0..flags {
        if i > 0 {
            out.push(',');
        }
        let default = if i == 0 {
            format!("gen-{generation}")
        } else {
            format!("off-{i}")
        };
        let values: Vec<String> = (0..VALUES_PER_FLAG)
            .map(|v| format!(r#""@team-{i:05}-{v:02}.example.com""#))
            .collect();
        out.push_str(&format!(
            r#""flag_{i:04}":{{"t":1,"v":{{"s":"{default}"}},"i":"v{i}-d","r":[{{"c":[{{"u":{{"a":"Email","c":2,"l":[{}]}}}}],"s":{{"v":{{"s":"on-{i}"}},"i":"v{i}-r"}}}}]}}"#,
            values.join(",")
        ));
    }
    out.push_str("}}");
    out
}

// ---------------------------------------------------------------------------------------------
// The CDN stand-in

/// What the CDN serves, and what it was asked.
struct Cdn {
    current: RwLock<(Bytes, String)>,
    requests: AtomicU64,
    full: AtomicU64,
    not_modified: AtomicU64,
}

impl Cdn {
    fn new(body: String, etag: String) -> Cdn {
        Cdn {
            current: RwLock::new((Bytes::from(body), etag)),
            requests: AtomicU64::new(0),
            full: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
        }
    }

    fn publish(&self, body: String, etag: String) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = (Bytes::from(body), etag);
    }

    /// Requests, 200s and 304s so far.
    fn counts(&self) -> (u64, u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.full.load(Ordering::Relaxed),
            self.not_modified.load(Ordering::Relaxed),
        )
    }
}

/// `GET /configuration-files/<sdk key>/config_v6.json`: 304 when `If-None-Match` names the
/// current ETag, the config otherwise.
async fn serve_config(cdn: web::Data<Cdn>, request: HttpRequest) -> HttpResponse {
    cdn.requests.fetch_add(1, Ordering::Relaxed);
    let (body, etag) = cdn
        .current
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    if matches {
        cdn.not_modified.fetch_add(1, Ordering::Relaxed);
        HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish()
    } else {
        cdn.full.fetch_add(1, Ordering::Relaxed);
        HttpResponse::Ok()
            .content_type("application/json")
            .insert_header((header::ETAG, etag))
            .body(body)
    }
}

fn cdn_routes(config: &mut web::ServiceConfig) {
    config.route(
        "/configuration-files/{tail:.*}",
        web::get().to(serve_config),
    );
}

/// Serves `cdn` on a listener of 127.0.0.1, on a thread of its own, until the process ends.
fn start_cdn(cdn: web::Data<Cdn>) -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding the CDN: {e}"))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("the CDN's address: {e}"))?;
    std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        let served = system.block_on(async move {
            HttpServer::new(move || App::new().app_data(cdn.clone()).configure(cdn_routes))
                .workers(1)
                .listen(listener)?
                .run()
                .await
        });
        if let Err(error) = served {
            eprintln!("fleet: the CDN stopped: {error}");
        }
    });
    Ok(format!("http://{address}"))
}

// ---------------------------------------------------------------------------------------------
// Redis's counters

/// `INFO <section>` as its `name:value` lines.
fn info(
    connection: &mut redis::Connection,
    section: &str,
) -> Result<BTreeMap<String, String>, String> {
    let text: String = redis::cmd("INFO")
        .arg(section)
        .query(connection)
        .map_err(|e| format!("INFO {section}: {e}"))?;
    Ok(parse_info(&text))
}

fn parse_info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
        .collect()
}

/// Calls per command from `INFO commandstats` (`cmdstat_get:calls=12,usec=…`).
fn command_calls(stats: &BTreeMap<String, String>) -> BTreeMap<String, u64> {
    stats
        .iter()
        .filter_map(|(name, value)| {
            let command = name.strip_prefix("cmdstat_")?;
            let calls = value
                .split(',')
                .find_map(|field| field.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((command.to_owned(), calls))
        })
        .collect()
}

fn counter(stats: &BTreeMap<String, String>, name: &str) -> u64 {
    stats.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Redis's counters at one moment.
struct RedisCounters {
    sent: u64,
    received: u64,
    calls: BTreeMap<String, u64>,
}

impl RedisCounters {
    fn read(connection: &mut redis::Connection) -> Result<RedisCounters, String> {
        let stats = info(connection, "stats")?;
        let calls = command_calls(&info(connection, "commandstats")?);
        Ok(RedisCounters {
            sent: counter(&stats, "total_net_output_bytes"),
            received: counter(&stats, "total_net_input_bytes"),
            calls,
        })
    }

    /// Calls per command since `before`, without the bench's own `INFO`s.
    fn calls_since(&self, before: &RedisCounters) -> BTreeMap<String, u64> {
        self.calls
            .iter()
            .filter(|(command, _)| command.as_str() != "info")
            .map(|(command, calls)| {
                let earlier = before.calls.get(command).copied().unwrap_or(0);
                (command.clone(), calls.saturating_sub(earlier))
            })
            .filter(|(_, calls)| *calls > 0)
            .collect()
    }
}

/// Deletes the run's keys: the entry and anything named after it (a lease, say).
fn delete_keys(connection: &mut redis::Connection, entry: &str) -> Result<(), String> {
    let mut cursor = 0_u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{entry}*"))
            .arg("COUNT")
            .arg(1000)
            .query(connection)
            .map_err(|e| format!("SCAN: {e}"))?;
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(&keys)
                .query::<u64>(connection)
                .map_err(|e| format!("DEL: {e}"))?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

// ---------------------------------------------------------------------------------------------
// The parent

/// The children, killed when dropped however the parent leaves.
struct Children(Vec<Child>);

impl Children {
    fn running(&mut self) -> usize {
        self.0
            .iter_mut()
            .filter_map(|child| child.try_wait().ok())
            .filter(Option::is_none)
            .count()
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A line a child printed: `ready <ms>` or `serve <value> <ms>`, wall-clock ms since the epoch.
enum Report {
    Ready,
    Serve { generation: usize, at_ms: u64 },
}

fn parse_report(line: &str) -> Option<Report> {
    let mut words = line.split_whitespace();
    match (words.next()?, words.next()?, words.next()) {
        ("ready", _, None) => Some(Report::Ready),
        ("serve", value, Some(at)) => Some(Report::Serve {
            generation: value.strip_prefix("gen-")?.parse().ok()?,
            at_ms: at.parse().ok()?,
        }),
        _ => None,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// An SDK key of the right shape that no other run uses, so that no entry is left over.
fn run_sdk_key() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "configcat-sdk-1/fleet-bench-{:010}/{:022}",
        std::process::id(),
        nanos % 10_u128.pow(22)
    )
}

fn etag(generation: usize) -> String {
    format!("\"fleet-{generation}\"")
}

fn run_parent(args: &Args) -> Result<(), String> {
    let client =
        redis::Client::open(args.redis.as_str()).map_err(|e| format!("the Redis URL: {e}"))?;
    let mut redis = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .map_err(|e| format!("connecting to Redis: {e}"))?;
    let sdk_key = run_sdk_key();
    let entry = cache_key(&sdk_key);
    delete_keys(&mut redis, &entry)?;

    let config = fleet_config(args.flags, 0);
    let config_bytes = config.len();
    let cdn = web::Data::new(Cdn::new(config, etag(0)));
    let base_url = start_cdn(cdn.clone())?;
    let child = ChildArgs {
        sdk_key,
        base_url,
        redis: args.redis.clone(),
        poll_interval_secs: args.poll_interval_secs,
        eval_every_ms: args.eval_every_ms,
        lifetime_secs: args.seconds + CHILD_GRACE.as_secs(),
        max_body_bytes: (config_bytes * 2).max(16 << 20),
    };
    let before = RedisCounters::read(&mut redis)?;
    let cdn_before = cdn.counts();
    let (mut children, reports) = spawn_children(args.processes, &child)?;
    let started = Instant::now();
    let steady = sample_steady_window(args, client.clone(), started);
    let timeline = follow(args, &cdn, &reports, started);
    let elapsed = started.elapsed();
    let after = RedisCounters::read(&mut redis)?;
    let cdn_after = cdn.counts();
    let running = children.running();
    drop(children);
    delete_keys(&mut redis, &entry)?;

    let run = Run {
        args: args.clone(),
        config_bytes,
        seconds: elapsed.as_secs_f64(),
        cdn: (
            cdn_after.0 - cdn_before.0,
            cdn_after.1 - cdn_before.1,
            cdn_after.2 - cdn_before.2,
        ),
        redis_sent: after.sent.saturating_sub(before.sent),
        redis_received: after.received.saturating_sub(before.received),
        calls: after.calls_since(&before),
        running,
        timeline,
    };
    print!("{}", run.report());
    match steady.join() {
        Ok(Ok(Some(window))) => print!("{}", window.report(args.processes)),
        Ok(Ok(None)) => {}
        Ok(Err(error)) => eprintln!("the steady window could not be measured: {error}"),
        Err(_) => eprintln!("the steady window's thread panicked"),
    }
    Ok(())
}

/// When the steady window starts: the children have started and read the entry by then.
const STEADY_FROM: Duration = Duration::from_secs(5);

/// Redis traffic while the config does not change: from [`STEADY_FROM`] to just before the
/// first change (or the end of the run), where every process only follows an entry that stays
/// the same. Start-up reads and the reads of a changed entry fall outside it.
struct SteadyWindow {
    seconds: f64,
    sent: u64,
    commands: u64,
}

impl SteadyWindow {
    fn report(&self, processes: usize) -> String {
        let rate = |total: u64| total as f64 / processes as f64 / self.seconds;
        format!(
            "While the config was unchanged ({:.1} s from {} s): Redis KB sent /process/s {:.2}, \
             Redis commands /process/s {:.1}\n",
            self.seconds,
            STEADY_FROM.as_secs(),
            rate(self.sent) / 1000.0,
            rate(self.commands),
        )
    }
}

/// Measures the [`SteadyWindow`] on a thread of its own, beside the run; `None` when the
/// window would be shorter than a second.
fn sample_steady_window(
    args: &Args,
    client: redis::Client,
    started: Instant,
) -> std::thread::JoinHandle<Result<Option<SteadyWindow>, String>> {
    let until = if args.changes > 0 {
        Duration::from_secs(args.change_time(1)).saturating_sub(Duration::from_millis(200))
    } else {
        Duration::from_secs(args.seconds)
    };
    std::thread::spawn(move || {
        if until < STEADY_FROM + Duration::from_secs(1) {
            return Ok(None);
        }
        let mut redis = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .map_err(|e| format!("connecting to Redis: {e}"))?;
        std::thread::sleep((started + STEADY_FROM).saturating_duration_since(Instant::now()));
        let (from, before) = (Instant::now(), RedisCounters::read(&mut redis)?);
        std::thread::sleep((started + until).saturating_duration_since(Instant::now()));
        let after = RedisCounters::read(&mut redis)?;
        Ok(Some(SteadyWindow {
            seconds: from.elapsed().as_secs_f64(),
            sent: after.sent.saturating_sub(before.sent),
            commands: after.calls_since(&before).values().sum(),
        }))
    })
}

/// Starts the children, each with a thread passing its lines on as `(child, line)`.
fn spawn_children(
    processes: usize,
    child: &ChildArgs,
) -> Result<(Children, mpsc::Receiver<(usize, String)>), String> {
    let program = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let (send, receive) = mpsc::channel();
    let mut children = Children(Vec::with_capacity(processes));
    for index in 0..processes {
        let mut process = Command::new(&program)
            .args(child.to_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting child {index}: {e}"))?;
        let stdout = process.stdout.take();
        children.0.push(process);
        let send = send.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout?).lines() {
                send.send((index, line.ok()?)).ok()?;
            }
            Some(())
        });
    }
    Ok((children, receive))
}

/// What the children reported: when each change was made, and when each child served it.
#[derive(Default)]
struct Timeline {
    ready: usize,
    /// Wall-clock ms of each change at the CDN, by generation (index 0: generation 1).
    changed_at: Vec<u64>,
    /// `served[g][child]`: when the child first served generation g + 1.
    served: Vec<Vec<Option<u64>>>,
}

impl Timeline {
    /// A child serves `generation` from `at_ms`: it serves every earlier change from then on
    /// too (one it skipped, when two changes came within one of its polls, is served late, not
    /// never).
    fn serve(&mut self, child: usize, generation: usize, at_ms: u64) {
        for by_child in self.served.iter_mut().take(generation) {
            if let Some(slot @ None) = by_child.get_mut(child) {
                *slot = Some(at_ms);
            }
        }
    }
}

/// Runs the schedule of changes until the end of the run, collecting the children's lines.
fn follow(
    args: &Args,
    cdn: &Cdn,
    reports: &mpsc::Receiver<(usize, String)>,
    started: Instant,
) -> Timeline {
    let mut timeline = Timeline {
        served: vec![vec![None; args.processes]; args.changes],
        ..Timeline::default()
    };
    let end = started + Duration::from_secs(args.seconds);
    loop {
        let generation = timeline.changed_at.len() + 1;
        let next_change = (generation <= args.changes)
            .then(|| started + Duration::from_secs(args.change_time(generation)));
        let next = next_change.map_or(end, |at| at.min(end));
        let now = Instant::now();
        if now >= end {
            return timeline;
        }
        if now >= next {
            cdn.publish(fleet_config(args.flags, generation), etag(generation));
            timeline.changed_at.push(now_ms());
            continue;
        }
        match reports.recv_timeout(next - now) {
            Ok((child, line)) => match parse_report(&line) {
                Some(Report::Ready) => timeline.ready += 1,
                Some(Report::Serve { generation, at_ms }) => {
                    timeline.serve(child, generation, at_ms);
                }
                _ => {}
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Every child is gone: wait out the run for the counters all the same.
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(next - now),
        }
    }
}

/// One run's figures.
struct Run {
    args: Args,
    config_bytes: usize,
    seconds: f64,
    /// Requests, 200s and 304s.
    cdn: (u64, u64, u64),
    redis_sent: u64,
    redis_received: u64,
    calls: BTreeMap<String, u64>,
    /// Children still running at the end (one that failed says why on stderr).
    running: usize,
    timeline: Timeline,
}

impl Run {
    /// Per process per second.
    fn rate(&self, total: u64) -> f64 {
        total as f64 / self.args.processes as f64 / self.seconds
    }

    fn report(&self) -> String {
        let a = &self.args;
        let mut out = format!(
            "fleet: {} processes, {:.1} s, auto poll every {} s, GetValue every {} ms, {} flags \
             ({} bytes of config), {} change(s) from {} s every {} s; {} of {} ready, {} running at the end\n\n",
            a.processes,
            self.seconds,
            a.poll_interval_secs,
            a.eval_every_ms,
            a.flags,
            self.config_bytes,
            a.changes,
            a.change_at,
            a.change_every,
            self.timeline.ready,
            a.processes,
            self.running
        );
        let (first, last, follow) = self.first_and_last();
        let get = self.calls.get("get").copied().unwrap_or(0);
        let commands = self.calls.values().sum();
        out.push_str(
            "| processes | CDN requests (200 / 304) | Redis KB sent /process/s | Redis KB received /process/s | Redis commands /process/s | Redis GETs /process/s | change → first serves | change → last serves | first → last serves |\n\
             |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        out.push_str(&format!(
            "| {} | {} ({} / {}) | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} |\n\n",
            a.processes,
            self.cdn.0,
            self.cdn.1,
            self.cdn.2,
            self.rate(self.redis_sent) / 1000.0,
            self.rate(self.redis_received) / 1000.0,
            self.rate(commands),
            self.rate(get),
            first,
            last,
            follow
        ));
        let per_command: Vec<String> = self
            .calls
            .iter()
            .map(|(command, calls)| format!("{command} {:.2}", self.rate(*calls)))
            .collect();
        out.push_str(&format!(
            "Redis commands per process per second, by command: {}\n",
            per_command.join(", ")
        ));
        out.push_str(&self.latency());
        out
    }

    /// For the first change: from the change to the first and to the last process serving it,
    /// and from the first to the last (how fast the fleet follows the one that fetched).
    fn first_and_last(&self) -> (String, String, String) {
        let none = || "no change".to_owned();
        let Some(served) = self.timeline.served.first() else {
            return (none(), none(), none());
        };
        let changed = self.timeline.changed_at.first().copied().unwrap_or(0);
        let times: Vec<u64> = served.iter().flatten().copied().collect();
        let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else {
            return ("never".to_owned(), "never".to_owned(), "never".to_owned());
        };
        let ms = |ms: u64| format!("{ms} ms");
        if times.len() < served.len() {
            let never = format!("{} of {} never", served.len() - times.len(), served.len());
            return (ms(first.saturating_sub(changed)), never.clone(), never);
        }
        (
            ms(first.saturating_sub(changed)),
            ms(last.saturating_sub(changed)),
            ms(last - first),
        )
    }

    /// Change-to-serve times over every change and process, and of the last process per change.
    fn latency(&self) -> String {
        let mut every = Vec::new();
        let mut last = Vec::new();
        let mut missed = 0;
        for (served, changed) in self.timeline.served.iter().zip(&self.timeline.changed_at) {
            let times: Vec<u64> = served
                .iter()
                .flatten()
                .map(|at| at.saturating_sub(*changed))
                .collect();
            missed += served.len() - times.len();
            if times.len() == served.len() {
                last.extend(times.iter().max());
            }
            every.extend(times);
        }
        if self.timeline.changed_at.is_empty() {
            return String::new();
        }
        format!(
            "change → serve over {} change(s): every process {}; last process per change {}; \
             {missed} process-change(s) never served\n",
            self.timeline.changed_at.len(),
            distribution(&mut every),
            distribution(&mut last)
        )
    }
}

/// `p50 … ms, p99 … ms, max … ms (n …)`, nearest rank.
fn distribution(samples: &mut [u64]) -> String {
    samples.sort_unstable();
    match samples {
        [] => "no samples".to_owned(),
        _ => format!(
            "p50 {} ms, p99 {} ms, max {} ms (n {})",
            percentile(samples, 50),
            percentile(samples, 99),
            samples[samples.len() - 1],
            samples.len()
        ),
    }
}

/// The nearest-rank percentile of sorted, non-empty samples.
fn percentile(sorted: &[u64], p: usize) -> u64 {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

// ---------------------------------------------------------------------------------------------
// A child

fn run_child(args: ChildArgs) -> ExitCode {
    // The parent holds the other end of stdin: when it ends, however it ends, so does this.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        std::process::exit(0);
    });
    let lifetime = Duration::from_secs(args.lifetime_secs);
    std::thread::spawn(move || {
        std::thread::sleep(lifetime);
        std::process::exit(0);
    });
    let system = actix::System::new();
    match system.block_on(child_loop(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// Runs a client as an app would and evaluates the watched flag until the process is ended.
async fn child_loop(args: ChildArgs) -> Result<(), String> {
    let cache = RedisCache::new(&args.redis).map_err(|e| e.to_string())?;
    let client = ConfigCat::builder(args.sdk_key.as_str())
        .base_url(args.base_url.as_str())
        .cache(cache)
        .polling_mode(PollingMode::auto_poll(Duration::from_secs(
            args.poll_interval_secs,
        )))
        .default_user(User::new("fleet-user").email("someone@example.org"))
        .max_body_size(args.max_body_bytes)
        .start()
        .map_err(|e| e.to_string())?;
    let _ = client.send(WaitForReady(Duration::from_secs(30))).await;
    println!("ready {}", now_ms());
    let mut ticks = tokio::time::interval(Duration::from_millis(args.eval_every_ms));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut serving = String::new();
    loop {
        ticks.tick().await;
        let value = client
            .send(GetValue::from_static(WATCHED, String::new()))
            .await
            .map_err(|e| e.to_string())?;
        if value != serving {
            println!("serve {value} {}", now_ms());
            serving = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn the_generated_config_parses_with_every_flag_at_the_issues_size() {
        let json = fleet_config(2000, 3);
        let config = configcat_actix::Config::parse(&json).expect("the generated config parses");
        assert_eq!(config.settings().len(), 2000);
        assert!(
            (2_200_000..2_600_000).contains(&json.len()),
            "2,000 flags make about 2.4 MB, not {} bytes",
            json.len()
        );
        let watched = config.settings().get(WATCHED).expect("the watched flag");
        assert_eq!(watched.targeting_rules().len(), 1);
        assert_eq!(
            watched.default_value(),
            Some(&configcat_actix::Value::String("gen-3".into()))
        );
    }

    #[test]
    fn the_watched_flag_serves_its_generation_to_the_childrens_user() {
        let snapshot = configcat_actix::Snapshot::from_config(
            configcat_actix::Config::parse(&fleet_config(5, 7)).unwrap(),
        );
        let user = User::new("fleet-user").email("someone@example.org");
        assert_eq!(
            snapshot.get_value(WATCHED, String::new(), Some(&user)),
            "gen-7"
        );
    }

    #[actix_web::test]
    async fn the_cdn_answers_304_to_its_current_etag_and_200_otherwise() {
        let cdn = web::Data::new(Cdn::new(fleet_config(3, 0), etag(0)));
        let app =
            actix_web::test::init_service(App::new().app_data(cdn.clone()).configure(cdn_routes))
                .await;
        let path = "/configuration-files/configcat-sdk-1/a/b/config_v6.json";
        let get = |tag: Option<String>| {
            let request = actix_web::test::TestRequest::get().uri(path);
            match tag {
                Some(tag) => request.insert_header((header::IF_NONE_MATCH, tag)),
                None => request,
            }
            .to_request()
        };
        let first = actix_web::test::call_service(&app, get(None)).await;
        assert_eq!(first.status(), 200);
        assert_eq!(first.headers().get(header::ETAG).unwrap(), &etag(0));
        let again = actix_web::test::call_service(&app, get(Some(etag(0)))).await;
        assert_eq!(again.status(), 304);
        cdn.publish(fleet_config(3, 1), etag(1));
        let changed = actix_web::test::call_service(&app, get(Some(etag(0)))).await;
        assert_eq!(changed.status(), 200);
        let body = actix_web::test::read_body(changed).await;
        assert!(std::str::from_utf8(&body).unwrap().contains("gen-1"));
        assert_eq!(cdn.counts(), (3, 2, 1));
    }

    #[test]
    fn flags_have_the_documented_defaults_and_bad_ones_are_refused() {
        assert_eq!(Args::parse(&[]).unwrap(), Args::default());
        let args = Args::parse(&strings(&[
            "--processes",
            "1",
            "--changes",
            "3",
            "--change-every",
            "2",
        ]))
        .unwrap();
        assert_eq!(
            (args.processes, args.changes, args.change_time(3)),
            (1, 3, 15)
        );
        for bad in [
            &["--processes"][..],
            &["--processes", "0"],
            &["--processes", "x"],
            &["--bogus", "1"],
            &["8"],
            &["--changes", "3", "--change-every", "5"],
        ] {
            assert!(Args::parse(&strings(bad)).is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn the_child_reads_back_what_the_parent_writes() {
        let child = ChildArgs {
            sdk_key: run_sdk_key(),
            base_url: "http://127.0.0.1:1".to_owned(),
            redis: "redis://127.0.0.1:2".to_owned(),
            poll_interval_secs: 3,
            eval_every_ms: 4,
            lifetime_secs: 5,
            max_body_bytes: 6,
        };
        let args = child.to_args();
        assert_eq!(args[0], "--child");
        assert_eq!(ChildArgs::parse(&args[1..]).unwrap(), child);
        assert_eq!(
            child.sdk_key.split('/').map(str::len).collect::<Vec<_>>(),
            [15, 22, 22]
        );
    }

    #[test]
    fn redis_counters_are_read_from_info() {
        let stats =
            parse_info("# Stats\r\ntotal_commands_processed:42\r\ntotal_net_output_bytes:1000\r\n");
        assert_eq!(counter(&stats, "total_commands_processed"), 42);
        assert_eq!(counter(&stats, "total_net_output_bytes"), 1000);
        let calls = command_calls(&parse_info(
            "# Commandstats\r\ncmdstat_get:calls=12,usec=30,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\ncmdstat_set:calls=3,usec=9\r\n",
        ));
        assert_eq!(calls.get("get"), Some(&12));
        assert_eq!(calls.get("set"), Some(&3));
    }

    #[test]
    fn a_skipped_change_counts_as_served_with_the_next_one() {
        let mut timeline = Timeline {
            served: vec![vec![None; 2]; 3],
            ..Timeline::default()
        };
        timeline.serve(0, 1, 100);
        timeline.serve(0, 3, 300);
        timeline.serve(1, 2, 250);
        timeline.serve(1, 0, 50);
        assert_eq!(
            timeline.served,
            [
                [Some(100), Some(250)],
                [Some(300), Some(250)],
                [Some(300), None]
            ]
        );
    }

    #[test]
    fn children_lines_and_percentiles() {
        assert!(matches!(parse_report("ready 12"), Some(Report::Ready)));
        assert!(matches!(
            parse_report("serve gen-2 1234"),
            Some(Report::Serve {
                generation: 2,
                at_ms: 1234
            })
        ));
        assert!(parse_report("serve other 1234").is_none());
        let mut samples: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(
            distribution(&mut samples),
            "p50 50 ms, p99 99 ms, max 100 ms (n 100)"
        );
        assert_eq!(percentile(&[7], 99), 7);
    }
}
