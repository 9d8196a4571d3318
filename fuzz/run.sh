#!/usr/bin/env bash
# Runs one fuzz target for a while: ./fuzz/run.sh <config_eval|cache_entry> [seconds, default 600]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain (`rustup toolchain
# install nightly`). The grown corpus goes to fuzz/corpus/<target>/ (kept between runs, not
# committed); the seeds are fuzz/seeds/<target>/ and, for config_eval, the conformance configs
# of tests/data/configs/. A crash lands in fuzz/artifacts/<target>/: copy it to
# tests/data/fuzz_regressions/<target>/ so that `cargo test --test fuzz_regressions` replays it.
set -euo pipefail
cd "$(dirname "$0")"

target=${1:?usage: fuzz/run.sh <config_eval|cache_entry> [seconds]}
seconds=${2:-600}

case "$target" in
  config_eval) extra_seeds=(../tests/data/configs/by-sdk-key) ;;
  cache_entry) extra_seeds=() ;;
  *) echo "unknown target: $target" >&2; exit 2 ;;
esac

mkdir -p "corpus/$target"
# --debug-assertions: overflow checks and debug_assert! on, as in a debug build of an application
#   (an arithmetic overflow there is a panic the release build would hide).
# -timeout: an input that takes 10 s is a hang worth reporting, not a slow machine.
# -max_len: configs are small documents; 64 KiB leaves room for many flags.
cargo +nightly fuzz run --debug-assertions "$target" "corpus/$target" "seeds/$target" "${extra_seeds[@]}" -- \
  -max_total_time="$seconds" -timeout=10 -max_len=65536 -rss_limit_mb=4096 \
  -dict=config.dict -print_final_stats=1
