#!/usr/bin/env bash
# Real services for mailplane's integration tests (Debian 12, as root, no systemd).
#
#   scripts/services.sh install   apt-get the packages (skipped when all are installed)
#   scripts/services.sh start     (re)start MariaDB, Redis, memcached, slapd, nsd and the OpenID
#                                 Connect provider from a clean state
#   scripts/services.sh stop      stop what `start` started (by saved pid)
#   scripts/services.sh env       print the MAILPLANE_TEST_* exports for the tests
#   scripts/services.sh dns-start DIR PORT ORIGIN ZONEFILE [ORIGIN ZONEFILE...]
#                                 an authoritative nsd on 127.0.0.1:PORT (UDP+TCP) for these
#                                 zones, state and pid (DIR/nsd.pid) in DIR; `start` runs one for
#                                 tests/fixtures/dns/ and tests start their own for zones they write
#   scripts/services.sh dns-stop DIR   stop the nsd started with that DIR
#   scripts/services.sh oidc-start  only the OpenID Connect provider (for working on `idp test`)
#   scripts/services.sh oidc-stop   stop it
#
# Everything lives under $MAILPLANE_SERVICES_DIR (default /tmp/mailplane-services) and listens
# on 127.0.0.1 only, on non-default ports so that a developer's own services don't clash.
#
# Sharing between tests (they run in parallel): every test creates its own MariaDB database
# (the mailplane user may create anything) and loads tests/fixtures/mailcow-schema/schema.sql
# itself. Redis and memcached are ONE instance for all tests: a test must use its own Redis db
# number (0..63 here) and must not FLUSHALL / flush_all what other tests may be using.
# Dovecot and Rspamd are not started; tests run doveadm/doveconf/rspamadm as plain commands.
# The OpenID Connect provider is django-oidc-provider (scripts/oidc/) under gunicorn, laid out
# like a Keycloak realm `mailplane`; tests only read from it (client_credentials tokens aside).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${MAILPLANE_SERVICES_DIR:-/tmp/mailplane-services}
FIX=$ROOT/tests/fixtures

# Overridable so that a second set (e.g. a local run of .ci/run) can run beside a developer's.
MYSQL_PORT=${MAILPLANE_MYSQL_PORT:-13306}
REDIS_PORT=${MAILPLANE_REDIS_PORT:-16379}
MEMCACHED_PORT=${MAILPLANE_MEMCACHED_PORT:-11311}
LDAP_PORT=${MAILPLANE_LDAP_PORT:-13389}
DNS_PORT=${MAILPLANE_DNS_PORT:-15353}
OIDC_PORT=${MAILPLANE_OIDC_PORT:-18080}
DB_USER=mailplane DB_PASS=mailplane
LDAP_SUFFIX=dc=example,dc=org
LDAP_BIND_DN=cn=admin,dc=example,dc=org LDAP_BIND_PW=adminpass

PACKAGES=(mariadb-server mariadb-client redis-server memcached slapd ldap-utils
  postfix postfix-mysql postfix-sqlite postfix-pcre dovecot-core dovecot-mysql dovecot-sqlite dovecot-sieve rspamd sqlite3 openssl nsd)
# The OpenID Connect provider, from PyPI (Debian has no OP); pinned so the tests' output holds.
PY_PACKAGES=(django-oidc-provider==0.9.0 'Django>=5.2,<5.3' 'gunicorn>=23,<28')

log() { echo "[services] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- install
cmd_install() {
  if python3 -c 'import oidc_provider, django, gunicorn' 2>/dev/null; then
    log "python packages already installed"
  else
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "${PY_PACKAGES[@]}"
  fi
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "all packages already installed"; return 0; fi
  log "missing: ${missing[*]}"
  # Without this, Debian's init scripts would start every daemon on its default port.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # `apt-get purge` drops these answers too, so always preseed right before installing.
  debconf-set-selections <<'EOF'
slapd slapd/no_configuration boolean false
slapd slapd/domain string example.org
slapd shared/organization string Example Org
slapd slapd/password1 password adminpass
slapd slapd/password2 password adminpass
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string mail.example.org
EOF
  # One call: about twice as fast as one call per service.
  apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
}

# ---------------------------------------------------------------- helpers
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# A zombie counts as gone: pid 1 here may reap orphans only seconds later.
alive() { local st; st=$(cat "/proc/$1/stat" 2>/dev/null) && st=${st##*) } && [ "${st%% *}" != Z ]; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Daemons run in the foreground under `&` so that $! is the daemon itself; they delete their
# own pidfiles on exit, so we keep our own copy.
spawn() {  # spawn <name> <logfile> <cmd...>
  local name=$1 logf=$2; shift 2
  "$@" </dev/null >"$logf" 2>&1 &
  echo $! >"$DIR/pids/$name.pid"
}

ready_or_die() {  # ready_or_die <name> <logfile> <cmd...>
  local name=$1 logf=$2 pid i; shift 2
  pid=$(cat "$DIR/pids/$name.pid")
  for ((i = 0; i < 300; i++)); do  # 60 s
    if "$@" >/dev/null 2>&1; then log "$name ready on 127.0.0.1 (pid $pid)"; return 0; fi
    alive "$pid" || break
    sleep 0.2
  done
  log "$name (pid $pid) did not become ready; its log $logf:"
  cat "$logf" >&2 || true
  alive "$pid" || log "$name has exited"
  die "$name failed to start"
}

stop_pid() {  # stop_pid <name> <pidfile>: TERM, wait up to 30 s, then KILL
  local name=$1 f=$2 pid i
  pid=$(cat "$f" 2>/dev/null || true)
  rm -f "$f"
  [ -n "$pid" ] && alive "$pid" || return 0
  # A pidfile that outlived its daemon (reboot) may name an unrelated process by now.
  case $(readlink "/proc/$pid/exe" 2>/dev/null) in
    */mariadbd | */redis-server | */redis-check-rdb | */memcached | */slapd | */nsd | */python3*) ;;
    *) log "$name: pid $pid is not one of our daemons; not touching it"; return 0 ;;
  esac
  local t0=$EPOCHREALTIME
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    log "$name (pid $pid) did not stop in 30 s: killed"
  fi
  log "$name stopped in $(elapsed "$t0") s"
}

root_sql() { mariadb --no-defaults --socket="$DIR/mariadb/mysqld.sock" -uroot "$@"; }

# ---------------------------------------------------------------- start
start_mariadb() {
  local M=$DIR/mariadb
  install -d -o mysql -g mysql "$M"
  mariadb-install-db --no-defaults --user=mysql --datadir="$M/data" \
    --auth-root-authentication-method=socket --skip-test-db >"$M/install-db.log" 2>&1 \
    || { cat "$M/install-db.log" >&2; die "mariadb-install-db failed"; }
  # mariadbd refuses to run as root, hence --user. The charset/collation/handshake/strict/packet
  # options are mailcow's my.cnf; the innodb durability options only make the many per-test
  # CREATE DATABASE + schema loads fast (data is throwaway).
  spawn mariadb "$M/stdout.log" /usr/sbin/mariadbd --no-defaults --user=mysql \
    --datadir="$M/data" --socket="$M/mysqld.sock" --pid-file="$M/mysqld.pid" \
    --bind-address=127.0.0.1 --port=$MYSQL_PORT --log-error="$M/error.log" \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --character-set-client-handshake=FALSE --innodb-strict-mode=0 \
    --max-allowed-packet=192M --skip-name-resolve --default-time-zone=+00:00 \
    --max-connections=500 \
    --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --innodb-flush-method=nosync
  ready_or_die mariadb "$M/error.log" \
    mariadb-admin --no-defaults --socket="$M/mysqld.sock" -uroot ping
  # With skip-name-resolve, TCP from 127.0.0.1 matches only the '127.0.0.1' host entry and
  # the socket only 'localhost', so create both. The mailcow user is the one in the
  # tests/fixtures/mailcow-schema/postfix-sql/*.cf files.
  root_sql <<SQL
CREATE USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost' WITH GRANT OPTION;
CREATE USER 'mailcow'@'127.0.0.1' IDENTIFIED BY 'mailcowpass';
CREATE USER 'mailcow'@'localhost' IDENTIFIED BY 'mailcowpass';
GRANT ALL PRIVILEGES ON *.* TO 'mailcow'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'mailcow'@'localhost';
CREATE DATABASE mailcow;
SQL
  root_sql mailcow <"$FIX/mailcow-schema/schema.sql"
  root_sql mailcow <"$FIX/mailcow-schema/seed.sql"
}

start_redis() {
  local R=$DIR/redis; mkdir -p "$R"
  # 64 databases so that parallel tests can each take their own db number.
  spawn redis "$R/redis.log" /usr/bin/redis-server --bind 127.0.0.1 --port $REDIS_PORT \
    --daemonize no --save '' --appendonly no --dir "$R" --databases 64
  ready_or_die redis "$R/redis.log" redis-cli -h 127.0.0.1 -p $REDIS_PORT ping
}

memcached_version() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$MEMCACHED_PORT" || return 1
  printf 'version\r\n' >&3
  read -r -t 2 reply <&3 || true
  exec 3<&- 3>&-
  [[ $reply == VERSION* ]]
}

start_memcached() {
  local C=$DIR/memcached user=nobody; mkdir -p "$C"
  id memcache >/dev/null 2>&1 && user=memcache
  # memcached refuses to run as root without -u.
  spawn memcached "$C/memcached.log" /usr/bin/memcached -l 127.0.0.1 -p $MEMCACHED_PORT \
    -U 0 -u "$user" -m 64 -v
  ready_or_die memcached "$C/memcached.log" memcached_version
}

start_slapd() {
  local L=$DIR/ldap; mkdir -p "$L/db"
  cat >"$L/slapd.conf" <<EOF
include    /etc/ldap/schema/core.schema
include    /etc/ldap/schema/cosine.schema
include    /etc/ldap/schema/nis.schema
include    /etc/ldap/schema/inetorgperson.schema
# Debian builds back_mdb as a module.
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile    $L/slapd.pid
argsfile   $L/slapd.args
database   mdb
maxsize    104857600
suffix     "$LDAP_SUFFIX"
rootdn     "$LDAP_BIND_DN"
rootpw     $(slappasswd -s "$LDAP_BIND_PW")
directory  $L/db
index      objectClass,uid,mail eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
EOF
  slapadd -q -f "$L/slapd.conf" -l "$FIX/ldap/seed.ldif" >"$L/slapadd.log" 2>&1 \
    || { cat "$L/slapadd.log" >&2; die "slapadd of seed.ldif failed"; }
  # -d keeps slapd in the foreground (so $! is slapd); level 256 also logs startup errors.
  spawn slapd "$L/slapd.log" /usr/sbin/slapd -d 256 -h "ldap://127.0.0.1:$LDAP_PORT/" -f "$L/slapd.conf"
  ready_or_die slapd "$L/slapd.log" \
    ldapsearch -x -H "ldap://127.0.0.1:$LDAP_PORT" -s base -b "$LDAP_SUFFIX" 1.1
}

# django-oidc-provider under gunicorn (its master in the foreground, so $! is gunicorn; one worker,
# because two writing tokens to its SQLite database at once get "database is locked"), with a
# fresh SQLite database holding the client `mailcow` / `mailcow-secret` (scripts/oidc/).
start_oidc() {
  local O=$DIR/oidc src=$ROOT/scripts/oidc url
  rm -rf "$O"; mkdir -p "$O" "$DIR/pids"
  ! port_open "$OIDC_PORT" || die "127.0.0.1:$OIDC_PORT is already in use"
  export MAILPLANE_OIDC_DB=$O/db.sqlite3
  (cd "$src" && python3 manage.py migrate -v0 && python3 manage.py seed) >"$O/setup.log" 2>&1 \
    || { cat "$O/setup.log" >&2; die "setting up the OpenID Connect provider failed"; }
  spawn oidc "$O/gunicorn.log" python3 -m gunicorn --chdir "$src" --bind "127.0.0.1:$OIDC_PORT" \
    --workers 1 --access-logfile - oidc_site.wsgi:application
  url=http://127.0.0.1:$OIDC_PORT/realms/mailplane/.well-known/openid-configuration
  ready_or_die oidc "$O/gunicorn.log" curl -sf -o /dev/null "$url"
}

# nsd_start <dir> <port> <origin> <zonefile> [<origin> <zonefile>...]: authoritative only, no
# zone transfers, no remote control; runs as root in the foreground (so $! is nsd), pid in <dir>.
nsd_start() {
  [ $# -ge 4 ] && [ $(($# % 2)) -eq 0 ] || die "usage: dns-start DIR PORT ORIGIN ZONEFILE [ORIGIN ZONEFILE...]"
  local D=$1 port=$2 conf pid i; shift 2
  mkdir -p "$D"; D=$(cd "$D" && pwd); conf=$D/nsd.conf
  ! port_open "$port" || die "127.0.0.1:$port is already in use"
  cat >"$conf" <<EOF
server:
  ip-address: 127.0.0.1@$port
  port: $port
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$D"
  database: ""
  zonelistfile: "$D/zone.list"
  xfrdfile: "$D/xfrd.state"
  pidfile: "$D/nsd.own.pid"
  server-count: 1
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: no
EOF
  while [ $# -gt 0 ]; do
    nsd-checkzone "$1" "$2" >&2 || die "zone $1 in $2 does not load"
    printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "$1" "$(realpath "$2")" >>"$conf"
    shift 2
  done
  nsd-checkconf "$conf" || die "nsd-checkconf $conf failed"
  /usr/sbin/nsd -d -c "$conf" </dev/null >"$D/nsd.log" 2>&1 &
  pid=$!
  echo $pid >"$D/nsd.pid"
  for ((i = 0; i < 150; i++)); do  # 30 s
    if port_open "$port"; then log "nsd ready on 127.0.0.1:$port (pid $pid)"; return 0; fi
    alive "$pid" || break
    sleep 0.2
  done
  cat "$D/nsd.log" >&2 || true
  die "nsd failed to start"
}

# The fixture zone on the shared port (MAILPLANE_TEST_DNS).
start_dns() {
  nsd_start "$DIR/dns" "$DNS_PORT" example.test "$FIX/dns/example.test.zone"
  mv "$DIR/dns/nsd.pid" "$DIR/pids/nsd.pid"
}

# No postfix daemon: `postmap -c $DIR/postfix -q KEY mysql:FILE.cf` only needs a config dir,
# and Debian's "No configuration" install leaves no /etc/postfix/main.cf.
prepare_postfix() {
  local P=$DIR/postfix f
  # Queue and data dirs sit outside the config dir: `postfix check` wants everything under
  # the config dir owned by root, the queue subdirs by postfix.
  mkdir -p "$P/sql" "$DIR/postfix-queue"
  install -d -o postfix -g postfix "$DIR/postfix-data"
  cp /etc/postfix/master.cf "$P/master.cf"
  cat >"$P/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $DIR/postfix-queue
data_directory = $DIR/postfix-data
myhostname = mail.example.org
mydomain = example.org
mydestination = localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
# No syslog here; /dev/stderr is not allowed by maillog_file_prefixes.
maillog_file = /dev/stdout
EOF
  # mailcow's maps pointed at the manual-use `mailcow` database.
  for f in "$FIX"/mailcow-schema/postfix-sql/*.cf; do
    sed "s/^hosts = __HOST__\$/hosts = 127.0.0.1:$MYSQL_PORT/" "$f" >"$P/sql/${f##*/}"
  done
  local warn; warn=$(postconf -c "$P" -n 2>&1 >/dev/null)
  [ -z "$warn" ] || die "postconf -c $P: $warn"
}

cmd_start() {
  cmd_stop
  local sub port
  for sub in mariadb redis memcached ldap postfix postfix-queue postfix-data dns oidc; do rm -rf "${DIR:?}/$sub"; done
  mkdir -p "$DIR/pids"
  # A stray server on our port would answer the readiness checks and fool the tests.
  for port in $MYSQL_PORT $REDIS_PORT $MEMCACHED_PORT $LDAP_PORT $DNS_PORT $OIDC_PORT; do
    ! port_open $port || die "127.0.0.1:$port is already in use by a process not started from $DIR"
  done
  start_mariadb
  start_redis
  start_memcached
  start_slapd
  start_dns
  start_oidc
  prepare_postfix
  local b
  for b in doveadm doveconf rspamadm postmap sqlite3; do
    command -v $b >/dev/null || die "$b not found (run: $0 install)"
  done
  log "all services up; state in $DIR"
}

cmd_stop() {
  local f
  for f in "$DIR"/pids/*.pid; do
    [ -e "$f" ] || continue
    f=${f##*/}
    stop_pid "${f%.pid}" "$DIR/pids/$f"
  done
}

cmd_env() {
  cat <<EOF
export MAILPLANE_TEST_SERVICES=1
export MAILPLANE_TEST_MYSQL_URL=mysql://$DB_USER:$DB_PASS@127.0.0.1:$MYSQL_PORT
export MAILPLANE_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export MAILPLANE_TEST_MEMCACHED=127.0.0.1:$MEMCACHED_PORT
export MAILPLANE_TEST_LDAP_URL=ldap://127.0.0.1:$LDAP_PORT
export MAILPLANE_TEST_LDAP_BIND_DN=$LDAP_BIND_DN
export MAILPLANE_TEST_LDAP_BIND_PW=$LDAP_BIND_PW
export MAILPLANE_TEST_POSTFIX_CONFIG_DIR=$DIR/postfix
export MAILPLANE_TEST_DNS=127.0.0.1:$DNS_PORT
export MAILPLANE_TEST_OIDC_URL=http://127.0.0.1:$OIDC_PORT
EOF
}

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  dns-start) shift; nsd_start "$@" ;;
  dns-stop) [ -n "${2:-}" ] || die "usage: dns-stop DIR"; stop_pid nsd "$2/nsd.pid" ;;
  oidc-start) stop_pid oidc "$DIR/pids/oidc.pid"; start_oidc ;;
  oidc-stop) stop_pid oidc "$DIR/pids/oidc.pid" ;;
  *) echo "usage: $0 install|start|stop|env|dns-start|dns-stop|oidc-start|oidc-stop" >&2; exit 2 ;;
esac
