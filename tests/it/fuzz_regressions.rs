//! Replays inputs through the fuzz targets' own code (tests/fuzz_harness, which
//! fuzz/fuzz_targets/ include), so that a plain `cargo test` checks on every run:
//!
//! * every input the fuzzer ever crashed on, kept in `tests/data/fuzz_regressions/<target>/`;
//! * the seed corpora of `fuzz/seeds/<target>/`;
//! * every config of `tests/data/configs/` (the other half of the config_eval seeds), and the
//!   same configs as cache entries.
//!
//! A panic here is the crash the fuzzer saw; the harness's assertions are the properties it
//! checks (logging does not change a result, typed reads agree with the selection, a written
//! cache entry reads back the same).

#[path = "../fuzz_harness/mod.rs"]
mod harness;

use std::fs;
use std::path::{Path, PathBuf};

use harness::{CacheEntryOutcome, ConfigEvalOutcome};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The input files of `dir` (not its README.md or dot files), sorted; none when the directory
/// does not exist.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            p.is_file() && name != "README.md" && !name.starts_with('.')
        })
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn config_files() -> Vec<PathBuf> {
    files_in(&root().join("tests/data/configs/by-sdk-key"))
}

#[test]
fn config_eval_replays_the_kept_crashes_the_seeds_and_the_conformance_configs() {
    let regressions = files_in(&root().join("tests/data/fuzz_regressions/config_eval"));
    let seeds = files_in(&root().join("fuzz/seeds/config_eval"));
    let configs = config_files();
    assert!(!seeds.is_empty(), "fuzz/seeds/config_eval has seeds");
    assert!(
        configs.len() >= 20,
        "tests/data/configs has the conformance configs"
    );

    let mut evaluated = 0;
    for path in regressions.iter().chain(&seeds).chain(&configs) {
        if let ConfigEvalOutcome::Evaluated { evaluated: n, .. } = harness::config_eval(&read(path))
        {
            evaluated += n;
        }
    }
    // The seeds and conformance configs are valid: each must reach evaluation, or the harness
    // would be checking nothing.
    for path in seeds.iter().chain(&configs) {
        let outcome = harness::config_eval(&read(path));
        assert!(
            matches!(outcome, ConfigEvalOutcome::Evaluated { evaluated, .. } if evaluated > 0),
            "{}: {outcome:?}",
            path.display()
        );
    }
    println!(
        "    config_eval: {} kept crashes, {} seeds, {} configs replayed; {evaluated} flags evaluated",
        regressions.len(),
        seeds.len(),
        configs.len()
    );
}

#[test]
fn cache_entry_replays_the_kept_crashes_the_seeds_and_the_configs_as_entries() {
    let regressions = files_in(&root().join("tests/data/fuzz_regressions/cache_entry"));
    let seeds = files_in(&root().join("fuzz/seeds/cache_entry"));
    assert!(!seeds.is_empty(), "fuzz/seeds/cache_entry has seeds");

    let (mut valid, mut invalid) = (0, 0);
    for path in regressions.iter().chain(&seeds) {
        match harness::cache_entry(&read(path)) {
            CacheEntryOutcome::Valid(_) => valid += 1,
            _ => invalid += 1,
        }
    }
    for (i, path) in config_files().iter().enumerate() {
        let mut entry = format!("1686756435844\n\"etag-{i}\"\n").into_bytes();
        entry.extend(read(path));
        let outcome = harness::cache_entry(&entry);
        assert!(
            matches!(outcome, CacheEntryOutcome::Valid(_)),
            "{}: {outcome:?}",
            path.display()
        );
        valid += 1;
    }
    // The seeds hold both kinds on purpose (see fuzz/make_cache_entry_seeds.sh).
    assert!(valid > 0 && invalid > 0, "valid {valid}, invalid {invalid}");
    println!(
        "    cache_entry: {} kept crashes, {} seeds replayed; {valid} valid entries, {invalid} refused",
        regressions.len(),
        seeds.len()
    );
}

#[test]
fn the_harness_refuses_what_it_should() {
    // The outcomes the targets tell apart, so that a harness that accepted everything (or
    // nothing) would fail here.
    assert!(matches!(
        harness::config_eval(b"\xff\xfe"),
        ConfigEvalOutcome::NotUtf8
    ));
    assert!(matches!(
        harness::config_eval(b"{\"f\": 5}"),
        ConfigEvalOutcome::Invalid(_)
    ));
    assert!(matches!(
        harness::config_eval(br#"{"f":{"a":{"t":0,"v":{"b":true}}}}"#),
        ConfigEvalOutcome::Evaluated {
            evaluated: 1,
            failed: 0
        }
    ));
    // A prerequisite on a flag that is not there breaks its flag, with or without a user (1002).
    assert!(matches!(
        harness::config_eval(
            br#"{"f":{"a":{"t":0,"v":{"b":true},"r":[{"c":[{"p":{"f":"gone","c":0,"v":{"b":true}}}],"s":{"v":{"b":false}}}]}}}"#
        ),
        ConfigEvalOutcome::Evaluated {
            evaluated: 1,
            failed: 1
        }
    ));
    assert!(matches!(
        harness::cache_entry(b"12\netag"),
        CacheEntryOutcome::Invalid(_)
    ));
    assert!(matches!(
        harness::cache_entry(b"12\netag\n{\"f\":{}}"),
        CacheEntryOutcome::Valid(_)
    ));
}
