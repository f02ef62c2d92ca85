#!/usr/bin/env bash
# The scale benchmark (issue 5). For each data set (S, M, L) and each target (the embedded
# SQLite, and the real MariaDB + Redis from scripts/services.sh), it measures:
#   validate · full apply from empty · no-op plan · 1 % change: plan, apply of that plan file,
#   and the same change as one `apply DIR` run (plan and apply together)
# with wall time and peak RSS of each, next to the floor: reading the same YAML bytes, and
# reading the same tables raw (`mariadb -e 'SELECT * …'` / `sqlite3`, plus Redis HGETALL).
# Prints a Markdown table and writes it, with the machine's description, to bench/results.md.
#
#   bench/run.sh                 all sizes, both targets
#   BENCH_SIZES="S M" BENCH_TARGETS=sqlite bench/run.sh
#   BENCH_RUNS=5 bench/run.sh     runs per repeated step (default 3; the median is reported)
#
# Needs the services running for the MariaDB target: scripts/services.sh start.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SIZES=${BENCH_SIZES:-S M L}
TARGETS=${BENCH_TARGETS:-sqlite mariadb}
WORK=${BENCH_DIR:-/tmp/mailplane-bench}
OUT=${BENCH_OUT:-$ROOT/bench/results.md}
RUNS=${BENCH_RUNS:-3}
MYSQL_PORT=${MAILPLANE_MYSQL_PORT:-13306}
REDIS_PORT=${MAILPLANE_REDIS_PORT:-16379}
REDIS_DB=30
MARIADB=(mariadb -h127.0.0.1 -P"$MYSQL_PORT" -umailplane -pmailplane)
# The tables and Redis hashes a plan reads (each kind's KindSpec: kinds::queries, kinds::hashes).
TABLES="domain tags_domain alias_domain mailbox user_acl tags_mailbox sender_acl quota2 alias bcc_maps recipient_maps
  tls_policy_override transports relayhosts templates identity_provider mta_sts domain_wide_footer filterconf app_passwd sieve_filters
  imapsync pushover mailplane_inventory mailplane_password_cache"
HASHES="DOMAIN_MAP RL_VALUE RCPT_WANTS_SUBJECT_TAG RCPT_WANTS_SUBFOLDER_TAG DKIM_SELECTORS DKIM_PUB_KEYS WHITELISTED_FWD_HOST KEEP_SPAM QW_BCC"

cargo build --release --quiet
BIN=$ROOT/target/release/mailplane
mkdir -p "$WORK"
ROWS=()

# measure NAME CMD... → sets SECS and RSS_MB; the command's output goes to $WORK/last.log.
measure() {
  local name=$1; shift
  local t0=$EPOCHREALTIME
  /usr/bin/time -f "%M" -o "$WORK/rss" "$@" >"$WORK/last.log" 2>&1 || {
    local rc=$?
    # plan --detailed-exitcode: 2 means "changes", not failure.
    if [ "$rc" != 2 ]; then echo "bench: $name failed ($rc):" >&2; tail -20 "$WORK/last.log" >&2; exit 1; fi
  }
  SECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  RSS_MB=$(awk '{ printf "%.0f", $1 / 1024 }' "$WORK/rss")
}

# repeat SETUP NAME CMD... → SECS = the median of $RUNS timed runs (SETUP, untimed, runs before
# each) and RSS_MB = the largest peak: single runs of the same command vary by up to ±30 % here.
repeat() {
  local setup=$1 name=$2 times=() rss=0 i
  shift 2
  for ((i = 0; i < RUNS; i++)); do
    $setup
    measure "$name" "$@"
    times+=("$SECS")
    if ((RSS_MB > rss)); then rss=$RSS_MB; fi
  done
  SECS=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }')
  RSS_MB=$rss
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f×", a / b; else print "–" }'; }

row() {  # size target step secs floor rss
  ROWS+=("| $1 | $2 | $3 | $4 | $5 | $(ratio "$4" "$5") | $6 |")
  printf '%-2s %-8s %-22s %8ss  floor %6ss  %6s MB\n' "$1" "$2" "$3" "$4" "$5" "$6" >&2
}

floor_yaml() {
  local t0=$EPOCHREALTIME
  find "$1" -name '*.yaml' -exec cat {} + >/dev/null
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

floor_db() {  # target url
  local t0=$EPOCHREALTIME t
  for t in $TABLES; do
    case $1 in
      sqlite) sqlite3 "${2#sqlite://}" "SELECT * FROM $t" >/dev/null 2>&1 || true ;;
      mariadb) "${MARIADB[@]}" "${2##*/}" -e "SELECT * FROM $t" >/dev/null 2>&1 || true ;;
    esac
  done
  case $1 in
    sqlite) sqlite3 "${2#sqlite://}" "SELECT * FROM mailplane_kv" >/dev/null ;;
    mariadb) for t in $HASHES; do redis-cli -p "$REDIS_PORT" -n "$REDIS_DB" HGETALL "$t" >/dev/null; done ;;
  esac
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

fresh_target() {  # target size → prints the target url
  case $1 in
    sqlite) rm -f "$WORK/$2.db" "$WORK/$2.db.lock"; echo "sqlite://$WORK/$2.db" ;;
    mariadb)
      local db=mailplane_bench_$2
      "${MARIADB[@]}" -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
      for f in schema seed; do grep -v '^/\*M!999999' "tests/fixtures/mailcow-schema/$f.sql" | "${MARIADB[@]}" "$db"; done
      redis-cli -p "$REDIS_PORT" -n "$REDIS_DB" FLUSHDB >/dev/null
      echo "mysql://mailplane:mailplane@127.0.0.1:$MYSQL_PORT/$db" ;;
  esac
}

for size in $SIZES; do
  base=$WORK/$size-base change=$WORK/$size-change
  "$BIN" generate --size "$size" "$base" >/dev/null
  "$BIN" generate --size "$size" --change 1 "$change" >/dev/null
  fy=$(floor_yaml "$base")
  repeat : validate "$BIN" validate "$base"
  row "$size" - validate "$SECS" "$fy" "$RSS_MB"
  for target in $TARGETS; do
    url=$(fresh_target "$target" "$size")
    args=(--target "$url")
    [ "$target" = mariadb ] && args+=(--redis "redis://127.0.0.1:$REDIS_PORT/$REDIS_DB")
    export MAILPLANE_STATE_DIR=$WORK/state-$target
    measure apply "$BIN" apply "$base" "${args[@]}" --auto-approve
    row "$size" "$target" "full apply from empty" "$SECS" "$fy" "$RSS_MB"
    fd=$(for _ in $(seq "$RUNS"); do floor_db "$target" "$url"; echo; done | sort -n | awk 'NF { t[++n] = $1 } END { print t[int((n + 1) / 2)] }')
    floor=$(awk -v a="$fd" -v b="$fy" 'BEGIN { printf "%.2f", a + b }')
    repeat : plan "$BIN" plan "$base" "${args[@]}" --detailed-exitcode
    grep -q "No changes" "$WORK/last.log" || { echo "bench: the no-op plan is not empty:" >&2; tail "$WORK/last.log" >&2; exit 1; }
    row "$size" "$target" "no-op plan" "$SECS" "$floor" "$RSS_MB"
    measure plan1 "$BIN" plan "$change" "${args[@]}" --allow-delete mailbox --out "$WORK/$size-$target.plan"
    row "$size" "$target" "1 % change: plan" "$SECS" "$floor" "$RSS_MB"
    plan_secs=$SECS
    measure apply1 "$BIN" apply "$WORK/$size-$target.plan" "${args[@]}" --auto-approve --allow-delete mailbox
    row "$size" "$target" "1 % change: apply" "$SECS" "$floor" "$RSS_MB"
    both=$(awk -v a="$plan_secs" -v b="$SECS" 'BEGIN { printf "%.2f", a + b }')
    row "$size" "$target" "1 % change: plan, then apply the file" "$both" "$floor" "–"
    grep -E "^Apply complete" "$WORK/last.log" >&2 || true
    # The same change as one `apply DIR` (plan and apply in one run), from the base state again.
    to_base() { "$BIN" apply "$base" "${args[@]}" --auto-approve --allow-delete mailbox >/dev/null; }
    repeat to_base apply1dir "$BIN" apply "$change" "${args[@]}" --auto-approve --allow-delete mailbox
    row "$size" "$target" "1 % change: plan+apply in one run" "$SECS" "$floor" "$RSS_MB"
  done
done

{
  echo "# Benchmark results"
  echo
  echo "Made by \`bench/run.sh\` on $(date -u +%Y-%m-%d) at commit \`$(git rev-parse --short HEAD)\`."
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM;"
  echo "$(. /etc/os-release && echo "$PRETTY_NAME"); $(mariadb --version | awk '{ print $1, $2, $3, $5 }' | tr -d ,); SQLite bundled by sqlx; Redis $(redis-server --version | awk '{ print $3 }' | cut -d= -f2)."
  echo
  echo "Data sets (\`mailplane generate\`): S = 10 domains, 1,000 mailboxes, 2,000 aliases; M = 100 / 10,000 / 20,000;"
  echo "L = 1,000 domains, 100,000 mailboxes, 200,000 aliases, 1,000 alias domains, 5,000 maps, 500 transports."
  echo "The 1 % change updates, deletes and creates mailboxes, aliases, maps and transports (half updates)."
  echo "Floor: reading the YAML bytes (validate, apply) or the YAML plus every table and Redis hash a plan reads, raw (plans)."
  echo "The full apply includes generating one 2048-bit DKIM key per domain, as mailcow does."
  echo "validate, the no-op plan and the 1 % change in one run: the median of $RUNS runs and the largest peak RSS; other steps: one run."
  echo
  echo "| set | target | step | seconds | floor (s) | ratio | peak RSS (MB) |"
  echo "|---|---|---|---:|---:|---:|---:|"
  printf '%s\n' "${ROWS[@]}"
} >"$OUT"
echo "bench: wrote $OUT" >&2
