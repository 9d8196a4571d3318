//! Memory: where the bytes of a parsed config go, and what a running client holding it costs.
//!
//! Run with `cargo bench --bench memory` (a few seconds). It parses the generated 2,000-flag
//! config of `support/big_config.rs` (the one the parse and scale benches use) and prints:
//!
//! * the live heap of the parsed `Config` (bytes requested and not yet freed);
//! * those bytes by kind: texts are the only allocations aligned to 1 byte, hash tables (the
//!   settings map, the indexes of long lists) the only ones aligned to 16; conditions, rules
//!   and percentage options are counted through the public model and charged their size;
//!   the other allocations are the rest;
//! * the live heap of one running client holding the same config (fetched from a local CDN),
//!   which also keeps the JSON text for a shared cache.
//!
//! Live heap counts what the allocator was asked for, not what `malloc` rounds it up to.

#[path = "support/big_config.rs"]
mod big_config;
#[path = "../examples/support/local_cdn.rs"]
#[allow(dead_code)] // `stop` is for the examples
mod local_cdn;
#[path = "support/started_client.rs"]
mod started_client;
use started_client::started_client;

use std::alloc::{GlobalAlloc, Layout, System as SystemAllocator};
use std::mem::size_of;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use actix::prelude::*;
use configcat_actix::model::{Condition, PercentageOption, TargetingRule};
use configcat_actix::{Close, Config, Setting, Value};
use smol_str::SmolStr;

/// Alignment classes: 1 (texts), 2 to 8 (structs, slices of them), 16 and more (hash tables).
const CLASSES: usize = 3;

/// Live bytes and live allocations per alignment class, updated on every call, so the
/// difference of two snapshots is what was allocated in between and is still alive.
struct Histogram;

static LIVE_COUNT: [AtomicI64; CLASSES] = [AtomicI64::new(0), AtomicI64::new(0), AtomicI64::new(0)];
static LIVE_BYTES: [AtomicI64; CLASSES] = [AtomicI64::new(0), AtomicI64::new(0), AtomicI64::new(0)];
static TOTAL: AtomicI64 = AtomicI64::new(0);
/// Allocations made (`alloc`, `alloc_zeroed`, `realloc`), live or not: what parsing costs in
/// calls to the allocator, a count that a loaded machine does not change.
static CALLS: AtomicI64 = AtomicI64::new(0);

fn class(align: usize) -> usize {
    match align {
        1 => 0,
        2..=8 => 1,
        _ => 2,
    }
}

fn record(align: usize, size: usize, sign: i64) {
    if sign > 0 {
        CALLS.fetch_add(1, Ordering::Relaxed);
    }
    let c = class(align);
    LIVE_COUNT[c].fetch_add(sign, Ordering::Relaxed);
    LIVE_BYTES[c].fetch_add(sign * size as i64, Ordering::Relaxed);
    TOTAL.fetch_add(sign * size as i64, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches no heap.
unsafe impl GlobalAlloc for Histogram {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.align(), layout.size().max(1), 1);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { SystemAllocator.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.align(), layout.size().max(1), 1);
        // SAFETY: as for `alloc`.
        unsafe { SystemAllocator.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(layout.align(), layout.size().max(1), -1);
        record(layout.align(), new_size.max(1), 1);
        // SAFETY: as for `alloc`; `ptr` and `layout` come from this allocator.
        unsafe { SystemAllocator.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record(layout.align(), layout.size().max(1), -1);
        // SAFETY: as for `realloc`.
        unsafe { SystemAllocator.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Histogram = Histogram;

/// (count, bytes) per class at one moment.
type Snapshot = [(i64, i64); CLASSES];

fn take_snapshot() -> Snapshot {
    std::array::from_fn(|c| {
        (
            LIVE_COUNT[c].load(Ordering::Relaxed),
            LIVE_BYTES[c].load(Ordering::Relaxed),
        )
    })
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// How many targeting rules, conditions and percentage options `config` holds.
fn counts(config: &Config) -> (usize, usize, usize) {
    let (mut rules, mut conditions, mut options) = (0, 0, 0);
    for (_, setting) in config.settings() {
        rules += setting.targeting_rules().len();
        options += setting.percentage_options().len();
        for rule in setting.targeting_rules() {
            conditions += rule.conditions().len();
            options += rule.percentage_options().len();
        }
    }
    (rules, conditions, options)
}

fn main() {
    let json = big_config::big_config_json(2_000);
    println!(
        "# Memory of the generated config: {} bytes of JSON, 2,000 flags",
        json.len()
    );
    println!(
        "\nsize_of: Setting {} B, TargetingRule {} B, Condition {} B, PercentageOption {} B, Value {} B, SmolStr {} B",
        size_of::<Setting>(),
        size_of::<TargetingRule>(),
        size_of::<Condition>(),
        size_of::<PercentageOption>(),
        size_of::<Value>(),
        size_of::<SmolStr>(),
    );

    // Parse once first, so that what the first parse of a process sets up once is not counted.
    drop(Config::parse(&json).expect("the generated config parses"));
    let total_before = TOTAL.load(Ordering::Relaxed);
    let calls_before = CALLS.load(Ordering::Relaxed);
    let before = take_snapshot();
    let parsed = Config::parse(&json).expect("the generated config parses");
    let after = take_snapshot();
    let calls = CALLS.load(Ordering::Relaxed) - calls_before;
    let parsed_bytes = TOTAL.load(Ordering::Relaxed) - total_before;
    breakdown(&before, &after, parsed_bytes, counts(&parsed));
    println!(
        "\n| **`Config::parse` result** | | **{:.2} MiB** ({:.2} × the JSON) |",
        mib(parsed_bytes),
        parsed_bytes as f64 / json.len() as f64
    );
    drop(parsed);
    println!("| allocations made while parsing (freed or not) | | {calls} |");

    let client_bytes = running_client(&json);
    println!(
        "| **one running client holding it** (config, JSON text kept for a shared cache, actors, HTTP client) | | **{:.2} MiB** |",
        mib(client_bytes)
    );
}

/// Prints the live allocations made between `before` and `after` by kind: texts and hash
/// tables by their alignment, rules, conditions and options by their count times their size
/// (their arrays have no spare capacity, or the rest shows it), and the other allocations
/// aligned to 2 to 8 bytes as the rest.
fn breakdown(before: &Snapshot, after: &Snapshot, total: i64, counts: (usize, usize, usize)) {
    let class_total = |c: usize| (after[c].0 - before[c].0, after[c].1 - before[c].1);
    let (rules, conditions, options) = counts;
    let rule_bytes = (rules * size_of::<TargetingRule>()) as i64;
    let condition_bytes = (conditions * size_of::<Condition>()) as i64;
    let option_bytes = (options * size_of::<PercentageOption>()) as i64;
    let (texts, text_bytes) = class_total(0);
    let (tables, table_bytes) = class_total(2);
    let (_, other_bytes) = class_total(1);
    let rest = other_bytes - rule_bytes - condition_bytes - option_bytes;
    let rows = [
        (
            format!(
                "hash tables: the settings map ({} B per bucket), indexes of long lists",
                size_of::<SmolStr>() + size_of::<Setting>()
            ),
            format!("{tables} tables"),
            table_bytes,
        ),
        (
            format!(
                "conditions ({} B each, one block per config)",
                size_of::<Condition>()
            ),
            format!("{conditions}"),
            condition_bytes,
        ),
        (
            format!(
                "targeting rules ({} B each, one block per config)",
                size_of::<TargetingRule>()
            ),
            format!("{rules}"),
            rule_bytes,
        ),
        (
            format!(
                "percentage options ({} B each, one block per config)",
                size_of::<PercentageOption>()
            ),
            format!("{options}"),
            option_bytes,
        ),
        (
            "texts: attribute names, comparison lists and texts, text values, keys over 23 bytes"
                .to_owned(),
            format!("{texts} allocations"),
            text_bytes,
        ),
        (
            "the rest: versions, digests, segments, spare capacity".to_owned(),
            String::new(),
            rest,
        ),
    ];
    println!("\n## Where the parsed config's bytes go");
    println!("| what | how many | live heap |");
    println!("|---|---:|---:|");
    for (what, count, bytes) in rows {
        println!(
            "| {what} | {count} | {:.2} MiB ({:.0} %) |",
            mib(bytes),
            100.0 * bytes as f64 / total as f64
        );
    }
}

/// The live heap of one manual-polling client that fetched `json` from a local CDN, against
/// the same process after a first client (which sets up what a process does once) closed.
fn running_client(json: &str) -> i64 {
    let system = System::new();
    let cdn = system
        .block_on(async { local_cdn::LocalCdn::start(json) })
        .expect("local CDN");
    let start = |name: &str| {
        let key = format!("configcat-sdk-1/BENCH-MEMORY-012345678/{name:->22}");
        system.block_on(started_client(&cdn, &key))
    };
    let pause =
        |ms| system.block_on(async { actix_rt::time::sleep(Duration::from_millis(ms)).await });
    let warm_up = start("warm-up");
    system.block_on(async { warm_up.send(Close).await.expect("close") });
    drop(warm_up);
    pause(200);
    let baseline = TOTAL.load(Ordering::Relaxed);
    let client = start("measured");
    pause(200);
    let held = TOTAL.load(Ordering::Relaxed) - baseline;
    system.block_on(async { client.send(Close).await.expect("close") });
    held
}
