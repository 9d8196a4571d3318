//! Heap allocations per call, for each crate's `get_value` and our snapshot, on the cases of
//! `compare.rs`. Not a criterion bench: it prints a table. A counting global allocator counts
//! `alloc`, `alloc_zeroed` and `realloc` on the calling thread, for one call after a warm-up
//! call. The user clone that both `get_value` APIs need (they take the user by value) is made
//! before counting starts, so the counts are the calls' own.
//!
//! Then the live heap each crate holds for the parsed 1 MB / 2,000-flag config of the parse
//! bench: our `Config::parse` against the official crate's `Config` as serde builds it (the
//! official client adds to that at runtime; this is its lower bound).

#[path = "compare.rs"]
#[allow(dead_code)]
mod compare;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, Ordering};

use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour};
use configcat_actix::{ConfigCat, GetSnapshot, GetValue, NoLog, PollingMode};

struct Counting;
thread_local!(static COUNT: Cell<u64> = const { Cell::new(0) });
/// Bytes live on the heap, all threads.
static LIVE: AtomicI64 = AtomicI64::new(0);
fn bump() {
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
}
fn live(delta: i64) {
    LIVE.fetch_add(delta, Ordering::Relaxed);
}
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 { bump(); live(l.size() as i64); unsafe { System.alloc(l) } }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 { bump(); live(l.size() as i64); unsafe { System.alloc_zeroed(l) } }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        bump();
        live(n as i64 - l.size() as i64);
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) { live(-(l.size() as i64)); unsafe { System.dealloc(p, l) } }
}
#[global_allocator]
static GLOBAL: Counting = Counting;
fn count() -> u64 { COUNT.with(Cell::get) }

fn main() {
    let json = compare::bench_config_json();
    let path = std::env::temp_dir().join(format!("configcat-allocs-{}.json", std::process::id()));
    std::fs::write(&path, &json).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let theirs = rt.block_on(async {
        configcat::Client::builder("local-only-bench")
            .polling_mode(configcat::PollingMode::Manual)
            .overrides(Box::new(configcat::FileDataSource::new(path.to_str().unwrap()).unwrap()),
                configcat::OverrideBehavior::LocalOnly)
            .build().unwrap()
    });
    let system = actix::System::new();
    let ours = system.block_on(async {
        ConfigCat::builder("local-only-bench")
            .polling_mode(PollingMode::manual_poll())
            .flag_overrides(FlagOverrides::from_file(&path, OverrideBehaviour::LocalOnly))
            .log_sink(NoLog)
            .start().unwrap()
    });
    let snapshot = system.block_on(async { ours.send(GetSnapshot).await.unwrap() });
    let (ouser, tuser) = (compare::our_user(), compare::their_user());

    println!("| case | user | official get_value | ours snapshot | ours GetValue |");
    println!("|---|---|---:|---:|---:|");
    for &(name, key, _, _) in compare::CASES {
        for has_user in [false, true] {
            let official = rt.block_on(async {
                let mut n = 0;
                for _ in 0..2 {
                    let u = has_user.then(|| tuser.clone());
                    let before = count();
                    std::hint::black_box(theirs.get_value(key, false, u).await);
                    n = count() - before;
                }
                n
            });
            let mut snap = 0;
            for _ in 0..2 {
                let before = count();
                std::hint::black_box(snapshot.get_value(key, false, has_user.then_some(&ouser)));
                snap = count() - before;
            }
            let message = system.block_on(async {
                let mut n = 0;
                for _ in 0..2 {
                    let mut m = GetValue::new(key, false);
                    if has_user { m = m.user(ouser.clone()); }
                    let before = count();
                    std::hint::black_box(ours.send(m).await.unwrap());
                    n = count() - before;
                }
                n
            });
            let u = if has_user { "with" } else { "without" };
            println!("| {name} | {u} | {official} | {snap} | {message} |");
        }
    }
    let before = count();
    std::hint::black_box(tuser.clone());
    let t = count() - before;
    let before = count();
    std::hint::black_box(ouser.clone());
    let o = count() - before;
    println!("\nuser clone: official {t} allocations, ours {o}");

    let json = compare::big_config_json(2_000);
    let mib = |bytes: i64| bytes as f64 / (1024.0 * 1024.0);
    let before = LIVE.load(Ordering::Relaxed);
    let config = configcat_actix::Config::parse(&json).expect("ours parses");
    let ours_bytes = LIVE.load(Ordering::Relaxed) - before;
    drop(std::hint::black_box(config));
    let before = LIVE.load(Ordering::Relaxed);
    let config: configcat::Config = serde_json::from_str(&json).expect("official parses");
    let official_bytes = LIVE.load(Ordering::Relaxed) - before;
    drop(std::hint::black_box(config));
    println!(
        "\nlive heap of the parsed config ({} bytes of JSON, 2,000 flags): ours {:.2} MiB, official (serde) {:.2} MiB",
        json.len(),
        mib(ours_bytes),
        mib(official_bytes)
    );
    let _ = std::fs::remove_file(&path);
}
