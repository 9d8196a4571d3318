//! Scale: `GetValue` throughput from many sender actors on one and two arbiters, memory per
//! client holding a 1 MB config, and what an auto-poll client costs while idle between polls.
//!
//! Run with `cargo bench --bench scale` (about 30 s). It prints one table per measurement; the
//! figures in dev/performance-history.md come from one run of it.
//!
//! `cargo bench --bench scale -- --round-trips <n> [spawned|block-on|echo]` only runs `n`
//! round trips of one kind (default: all three): the workload profiled with callgrind in
//! dev/performance-history.md. `-- --throughput` runs only the throughput table: its figures
//! differ from one process to the next (dev/performance-history.md), so run it several times.

#[path = "support/bench_config.rs"]
mod bench_config;
#[path = "support/big_config.rs"]
mod big_config;
#[path = "../examples/support/local_cdn.rs"]
#[allow(dead_code)] // `stop` is for the examples
mod local_cdn;
#[path = "support/started_client.rs"]
mod started_client;
use started_client::started_client;

use std::alloc::{GlobalAlloc, Layout, System as SystemAllocator};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use configcat_actix::{
    Close, Config, ConfigCat, ConfigCatHandle, GetHandle, GetSnapshot, GetValue, NoLog,
    PollingMode, Snapshot, User,
};

/// Counts live heap bytes and allocations of the whole process.
struct Counting;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { SystemAllocator.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { SystemAllocator.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { SystemAllocator.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        unsafe { SystemAllocator.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Lets the System run its tasks for `duration` (the sleep is made inside the runtime, which
/// its timer needs).
fn pause(system: &SystemRunner, duration: Duration) {
    system.block_on(async { actix_rt::time::sleep(duration).await });
}

fn live_bytes() -> i64 {
    LIVE_BYTES.load(Ordering::Relaxed)
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

const SDK_KEY: &str = "configcat-sdk-1/BENCH-SCALE-0123456789/BENCH-SCALE-0123456789";

/// A valid SDK key of its own for each client of the bench: its last part (22 characters)
/// ends with `name`.
fn sdk_key(name: &str) -> String {
    format!("configcat-sdk-1/BENCH-SCALE-0123456789/{name:->22}")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--round-trips") {
        let n = args
            .get(at + 1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000);
        let which = args.get(at + 2).map_or("all", String::as_str);
        round_trips(n, which);
        return;
    }
    if args.iter().any(|a| a == "--throughput") {
        throughput();
        return;
    }
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // Throughput first: after the idle measurement (whose local CDN keeps its threads until
    // the process ends), it ran at a third of its rate in 3 runs of 4. The idle client runs
    // on a thread named `client` (its System's), the CDN on `local-cdn` and its worker (an
    // arbiter), so that the table tells whose wakeups are whose.
    throughput();
    std::thread::Builder::new()
        .name("client".into())
        .spawn(idle_auto_poll_client)
        .expect("the client's thread")
        .join()
        .expect("the idle measurement");
    memory_per_client();
}

// ---------------------------------------------------------------------------------------------
// Throughput
// ---------------------------------------------------------------------------------------------

const SENDERS: usize = 64;
/// Runs per measurement: the message rate is bimodal (see dev/performance-history.md), so one run,
/// or the best of a few, would hide half of the picture.
const RUNS: usize = 7;
const PER_SENDER: usize = 5_000;

struct Sender {
    client: Addr<ConfigCat>,
    user: User,
}

impl Actor for Sender {
    type Context = Context<Self>;
}

struct Run;

impl Message for Run {
    type Result = usize;
}

impl Handler<Run> for Sender {
    type Result = ResponseFuture<usize>;

    fn handle(&mut self, _: Run, _: &mut Context<Self>) -> Self::Result {
        let (client, user) = (self.client.clone(), self.user.clone());
        Box::pin(async move {
            let mut on = 0;
            for _ in 0..PER_SENDER {
                // One message in flight per sender: at most SENDERS messages queue anywhere.
                let message = GetValue::new("percentage", false).user(user.clone());
                on += usize::from(client.send(message).await.expect("reply"));
            }
            on
        })
    }
}

fn throughput() {
    let system = System::new();
    let cdn = system
        .block_on(async { local_cdn::LocalCdn::start(&bench_config::bench_config_json()) })
        .expect("local CDN");
    let client = system.block_on(started_client(&cdn, SDK_KEY));
    let snapshot = system.block_on(async { client.send(GetSnapshot).await.expect("snapshot") });
    let handle = system.block_on(async { client.send(GetHandle).await.expect("handle") });
    let user = User::new("user-42")
        .email("a@example.com")
        .country("Hungary");

    println!("\n## Handle reads from plain threads (the percentage flag, a user), {RUNS} runs");
    println!(
        "| threads | handle reads/s: median (min-max) | snapshot evaluations/s: median (min-max) |"
    );
    println!("|---:|---:|---:|");
    for threads in [1, 2] {
        let handle_rates: Vec<f64> = (0..RUNS)
            .map(|_| handle_reads_per_second(&handle, &user, threads))
            .collect();
        let snapshot_rates: Vec<f64> = (0..RUNS)
            .map(|_| snapshot_evaluations_per_second(&snapshot, &user, threads))
            .collect();
        println!(
            "| {threads} | {} | {} |",
            spread(handle_rates),
            spread(snapshot_rates)
        );
    }

    println!(
        "\n## GetValue throughput: {SENDERS} sender actors, {PER_SENDER} messages each, {RUNS} runs"
    );
    println!(
        "| sender arbiters | messages/s: median (min-max) | context switches per 1,000 messages, by run | snapshot evaluations/s, one loop per arbiter: median (min-max) |"
    );
    println!("|---:|---:|---|---:|");
    for arbiters in [1, 2] {
        let runs: Vec<(f64, f64)> = (0..RUNS)
            .map(|_| system.block_on(messages_per_second(&client, &user, arbiters)))
            .collect();
        let messages: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let switches: Vec<String> = runs.iter().map(|r| format!("{:.0}", r.1)).collect();
        let evaluations: Vec<f64> = (0..RUNS)
            .map(|_| snapshot_evaluations_per_second(&snapshot, &user, arbiters))
            .collect();
        println!(
            "| {arbiters} | {} | {} | {} |",
            spread(messages),
            switches.join(", "),
            spread(evaluations)
        );
    }
    system.block_on(async { client.send(Close).await.expect("close") });
}

/// Messages per second, and context switches (all threads) per 1,000 messages.
async fn messages_per_second(client: &Addr<ConfigCat>, user: &User, arbiters: usize) -> (f64, f64) {
    let switches = || thread_cpu().values().map(|(_, s)| s).sum::<u64>();
    let switches_before = switches();
    let arbiters: Vec<Arbiter> = (0..arbiters).map(|_| Arbiter::new()).collect();
    let senders: Vec<Addr<Sender>> = (0..SENDERS)
        .map(|i| {
            let (client, user) = (client.clone(), user.clone());
            Sender::start_in_arbiter(&arbiters[i % arbiters.len()].handle(), move |_| Sender {
                client,
                user,
            })
        })
        .collect();
    let started = Instant::now();
    let runs = senders.iter().map(|s| s.send(Run));
    let answered: usize = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .map(|r| r.expect("sender"))
        .sum();
    let elapsed = started.elapsed();
    // Before the arbiters stop: the switches of a thread that has ended are not counted.
    let switched = switches().saturating_sub(switches_before);
    black_box(answered);
    for arbiter in arbiters {
        arbiter.stop();
    }
    let messages = (SENDERS * PER_SENDER) as f64;
    (
        messages / elapsed.as_secs_f64(),
        switched as f64 * 1000.0 / messages,
    )
}

/// "median (min-max)" of rates, in thousands per second.
fn spread(mut rates: Vec<f64>) -> String {
    rates.sort_by(f64::total_cmp);
    let k = |r: f64| format!("{:.0} k", r / 1e3);
    format!(
        "{} ({}-{})",
        k(rates[rates.len() / 2]),
        k(rates[0]),
        k(rates[rates.len() - 1])
    )
}

fn snapshot_evaluations_per_second(snapshot: &Snapshot, user: &User, threads: usize) -> f64 {
    const PER_THREAD: usize = 2_000_000;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut on = 0usize;
                for _ in 0..PER_THREAD {
                    on +=
                        usize::from(snapshot.get_value(black_box("percentage"), false, Some(user)));
                }
                black_box(on)
            });
        }
    });
    (threads * PER_THREAD) as f64 / started.elapsed().as_secs_f64()
}

fn handle_reads_per_second(handle: &ConfigCatHandle, user: &User, threads: usize) -> f64 {
    const PER_THREAD: usize = 2_000_000;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let handle = handle.clone();
            scope.spawn(move || {
                let mut on = 0usize;
                for _ in 0..PER_THREAD {
                    on += usize::from(handle.get_value(black_box("percentage"), false, Some(user)));
                }
                black_box(on)
            });
        }
    });
    (threads * PER_THREAD) as f64 / started.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

fn memory_per_client() {
    const CLIENTS: usize = 4;
    let json = big_config::big_config_json(2_000);
    let system = System::new();
    let cdn = system
        .block_on(async { local_cdn::LocalCdn::start(&json) })
        .expect("local CDN");

    let before_parse = live_bytes();
    let parsed = Config::parse(&json).expect("the generated config parses");
    let parsed_bytes = live_bytes() - before_parse;
    drop(parsed);

    // Warm up what the first client of a process allocates once (the HTTP client's TLS roots,
    // thread-locals of the runtime), so that it is not charged to each client.
    let warm_up = system.block_on(started_client(&cdn, &sdk_key("warm-up")));
    system.block_on(async { warm_up.send(Close).await.expect("close") });
    pause(&system, Duration::from_millis(200));

    let baseline = live_bytes();
    let clients: Vec<Addr<ConfigCat>> = (0..CLIENTS)
        .map(|i| system.block_on(started_client(&cdn, &sdk_key(&format!("client-{i}")))))
        .collect();
    pause(&system, Duration::from_millis(200));
    let with_clients = live_bytes();
    for client in &clients {
        system.block_on(async { client.send(Close).await.expect("close") });
    }
    drop(clients);
    pause(&system, Duration::from_millis(500));
    let after_close = live_bytes();

    println!(
        "\n## Memory: {CLIENTS} clients, each holding the same generated config ({} bytes of JSON, 2,000 flags)",
        json.len()
    );
    println!("| what | live heap |");
    println!("|---|---:|");
    println!(
        "| `Config::parse` result alone | {:.2} MiB |",
        mib(parsed_bytes)
    );
    println!(
        "| per running client (config, its JSON text kept for the shared cache, actors, HTTP client) | {:.2} MiB |",
        mib((with_clients - baseline) / CLIENTS as i64)
    );
    println!(
        "| left after `Close` of all {CLIENTS} (vs before they started) | {:.3} MiB |",
        mib(after_close - baseline)
    );
}

// ---------------------------------------------------------------------------------------------
// Idle CPU
// ---------------------------------------------------------------------------------------------

/// CPU time (ns) and context switches so far of each live thread of this process, by thread
/// id and name.
fn thread_cpu() -> HashMap<(String, String), (u64, u64)> {
    let mut threads = HashMap::new();
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    for task in tasks.flatten() {
        let path = task.path();
        let id = task.file_name().to_string_lossy().into_owned();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let cpu_ns = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        let switches = std::fs::read_to_string(path.join("status"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
        threads.insert((id, name.trim().to_owned()), (cpu_ns, switches));
    }
    threads
}

/// CPU time, context switches and the threads that had any, while `System::block_on` sleeps
/// for `idle`: per-thread differences, so that a thread ending meanwhile subtracts nothing.
fn cpu_while_sleeping(system: &SystemRunner, idle: Duration) -> (u64, u64, Vec<String>) {
    let before = thread_cpu();
    pause(system, idle);
    let mut cpu = 0;
    let mut switches = 0;
    let mut busy = Vec::new();
    for (thread, (cpu_after, switches_after)) in thread_cpu() {
        let (cpu_before, switches_before) = before.get(&thread).copied().unwrap_or((0, 0));
        let (d_cpu, d_switches) = (cpu_after - cpu_before, switches_after - switches_before);
        cpu += d_cpu;
        switches += d_switches;
        if d_switches > 0 {
            busy.push(format!(
                "{} ({d_switches}, {:.0} µs)",
                thread.1,
                d_cpu as f64 / 1e3
            ));
        }
    }
    busy.sort();
    (cpu, switches, busy)
}

/// Serves `json` from a local CDN on a thread (and System) of its own, named `local-cdn`, so
/// that its timers do not wake the client's thread; returns its base URL. The thread runs
/// until the process ends.
fn local_cdn_on_its_own_thread(json: String) -> String {
    let (started, base_url) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("local-cdn".into())
        .spawn(move || {
            let system = System::new();
            let cdn = system
                .block_on(async { local_cdn::LocalCdn::start(&json) })
                .expect("local CDN");
            started.send(cdn.base_url()).expect("base URL");
            system.run().expect("the CDN's System");
        })
        .expect("the CDN's thread");
    base_url.recv().expect("the CDN started")
}

fn idle_auto_poll_client() {
    const IDLE: Duration = Duration::from_secs(5);
    let base_url = local_cdn_on_its_own_thread(bench_config::bench_config_json());
    let system = System::new();
    // The same wait with no client, to subtract what the sleep and the local CDN cost.
    let (baseline_cpu, baseline_switches, baseline_threads) = cpu_while_sleeping(&system, IDLE);

    let client = system.block_on(async {
        let client = ConfigCat::builder(sdk_key("idle"))
            .base_url(base_url)
            .polling_mode(PollingMode::auto_poll(Duration::from_secs(60)))
            .log_sink(NoLog)
            .start()
            .expect("client");
        // Wait for the first config: GetValue waits for it (max init wait).
        assert!(
            client
                .send(GetValue::new("noRules", false))
                .await
                .expect("reply")
        );
        client
    });
    let (idle_cpu, idle_switches, idle_threads) = cpu_while_sleeping(&system, IDLE);
    system.block_on(async { client.send(Close).await.expect("close") });

    println!("\n## An auto-poll client (60 s interval) idle for {IDLE:?} after its first fetch");
    println!("| | CPU time | context switches | threads that woke (switches, CPU time) |");
    println!("|---|---:|---:|---|");
    println!(
        "| process with no client (sleeping System, local CDN) | {:.3} ms | {baseline_switches} | {} |",
        baseline_cpu as f64 / 1e6,
        baseline_threads.join(", ")
    );
    println!(
        "| process with the idle client | {:.3} ms | {idle_switches} | {} |",
        idle_cpu as f64 / 1e6,
        idle_threads.join(", ")
    );
}

// ---------------------------------------------------------------------------------------------
// The profiled workload
// ---------------------------------------------------------------------------------------------

/// `n` round trips of one kind (`spawned`, `block-on`, `echo`) or of all three (`all`).
fn round_trips(n: usize, which: &str) {
    let system = System::new();
    let cdn = system
        .block_on(async { local_cdn::LocalCdn::start(&bench_config::bench_config_json()) })
        .expect("local CDN");
    let client = system.block_on(started_client(&cdn, SDK_KEY));
    let sender = || {
        let client = client.clone();
        async move {
            let mut on = 0usize;
            for _ in 0..n {
                on += usize::from(
                    client
                        .send(GetValue::new("noRules", false))
                        .await
                        .expect("reply"),
                );
            }
            on
        }
    };
    let all = which == "all";
    if all || which == "spawned" {
        // As an actix-web handler or another actor would: a task on the client's arbiter.
        let spawned = measure(n, || {
            let task = sender();
            system.block_on(async { actix_rt::spawn(task).await.expect("sender task") })
        });
        println!(
            "{n} GetValue round trips, from a task spawned on the client's arbiter: {spawned}"
        );
    }
    if all || which == "block-on" {
        // As `System::block_on`'s own future, which the runtime polls apart from its tasks:
        // every wait for a reply parks and unparks the runtime's driver.
        let blocked_on = measure(n, || system.block_on(sender()));
        println!("{n} GetValue round trips, from System::block_on's future: {blocked_on}");
    }
    if all || which == "echo" {
        // The floor: the same round trip to an actor that answers a constant.
        let echo = system.block_on(async { Echo.start() });
        let floor = measure(n, || {
            let echo = echo.clone();
            let task = async move {
                let mut on = 0usize;
                for _ in 0..n {
                    on += usize::from(echo.send(Ping).await.expect("reply"));
                }
                on
            };
            system.block_on(async { actix_rt::spawn(task).await.expect("echo task") })
        });
        println!("{n} round trips to an actor answering a constant, from a spawned task: {floor}");
    }
}

/// An actor that answers `true`: what any actix request-reply costs.
struct Echo;

impl Actor for Echo {
    type Context = Context<Self>;
}

struct Ping;

impl Message for Ping {
    type Result = bool;
}

impl Handler<Ping> for Echo {
    type Result = bool;

    fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> bool {
        true
    }
}

fn measure(n: usize, run: impl FnOnce() -> usize) -> String {
    let allocations_before = ALLOCATIONS.load(Ordering::Relaxed);
    let started = Instant::now();
    let on = run();
    let elapsed = started.elapsed();
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations_before;
    assert_eq!(on, n, "noRules is on");
    format!(
        "{:.1} ns each, {:.2} allocations each",
        elapsed.as_nanos() as f64 / n.max(1) as f64,
        allocations as f64 / n.max(1) as f64
    )
}
