#!/usr/bin/env bash
# The one command for all tests: install + start the real services, run cargo test against
# them, stop the services again (also on failure or Ctrl-C).
#
#   scripts/test.sh [cargo test options] [-- test-binary options]
#   e.g. scripts/test.sh --test it -- --nocapture scenarios::
#
# MAILPLANE_KEEP_SERVICES=1 leaves the services running afterwards (for re-running tests by
# hand with `eval "$(scripts/services.sh env)"`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# rustup's cargo is not on PATH in every non-login shell.
command -v cargo >/dev/null || PATH=$HOME/.cargo/bin:$PATH

TIMES=()
phase() {  # phase <label> <cmd...>
  local label=$1 t0=$EPOCHREALTIME rc=0; shift
  echo "=== $label"
  "$@" || rc=$?
  TIMES+=("$label: $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }')")
  return $rc
}

cargo_args=() harness_args=()
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then shift; harness_args=("$@"); break; fi
  cargo_args+=("$1"); shift
done

phase "services install" bash scripts/services.sh install
[ "${MAILPLANE_KEEP_SERVICES:-}" = 1 ] || trap 'bash scripts/services.sh stop' EXIT
phase "services start" bash scripts/services.sh start
eval "$(bash scripts/services.sh env)"

# 2 threads: the machine has 2 cores, and every test also keeps MariaDB busy.
rc=0
if [ ${#cargo_args[@]} -eq 0 ]; then
  phase "fmt" cargo fmt --all --check || rc=$?
  phase "clippy" cargo clippy --all-targets --locked -- -D warnings || rc=$?
fi
[ $rc -eq 0 ] && phase "cargo test" cargo test --all-targets "${cargo_args[@]}" -- --test-threads=2 "${harness_args[@]}" || rc=$?
# The loader's fuzz targets, for a bounded time (issue 16); only on a full run.
fuzz_seconds=${MAILPLANE_FUZZ_SECONDS:-60}
if [ $rc -eq 0 ] && [ ${#cargo_args[@]} -eq 0 ] && [ "$fuzz_seconds" != 0 ]; then
  phase "fuzz" bash scripts/fuzz.sh "$fuzz_seconds" || rc=$?
fi

printf '%s\n' "${TIMES[@]}"
[ $rc -eq 0 ] || echo "a phase failed (exit $rc)"
exit $rc
