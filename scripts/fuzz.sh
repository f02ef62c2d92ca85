#!/usr/bin/env bash
# Fuzzes the loader (fuzz/): the fast YAML path against serde-saphyr, and the whole directory
# loader, with libFuzzer on stable Rust (the same instrumentation `cargo fuzz` adds, without its
# sanitizer, which needs nightly).
#
#   scripts/fuzz.sh [SECONDS per target, default 60] [TARGET ...]   (targets: yaml_fast loader)
#
# New inputs go to fuzz/corpus/<target>/ (only the seed-* files are in git); a crash is saved
# in fuzz/artifacts/<target>/ and makes this exit non-zero. Rerun one with
#   fuzz/target/<host triple>/release/<target> fuzz/artifacts/<target>/crash-…
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"
command -v cargo >/dev/null || PATH=$HOME/.cargo/bin:$PATH

seconds=${1:-60}; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(yaml_fast loader)

export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# With an explicit --target, RUSTFLAGS leave build scripts and proc macros uninstrumented.
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --locked --bins --target "$host"
bin=target/$host/release

for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "=== fuzz $t for $seconds s"
  # -rss_limit_mb and -timeout: a hang or a memory blow-up is a finding too.
  rc=0
  "$bin/$t" "corpus/$t" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 > "artifacts/$t/log" 2>&1 || rc=$?
  grep -E "^(stat::number_of_executed_units|stat::peak_rss|==[0-9]+==|SUMMARY|thread '|.*panicked)" "artifacts/$t/log" || true
  [ $rc -eq 0 ] || { tail -40 "artifacts/$t/log"; echo "fuzz $t found a crash (exit $rc): see fuzz/artifacts/$t/"; exit 1; }
done
