#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (Debian's postgresql-15, no container).
#
#   scripts/pg_test_server.sh start DIR   make a cluster in DIR, start it, print its URL
#   scripts/pg_test_server.sh stop DIR    stop it and remove DIR
#   scripts/pg_test_server.sh down DIR    stop it, keeping DIR (a server that goes away)
#   scripts/pg_test_server.sh up DIR      start it again on the same socket
#   scripts/pg_test_server.sh run CMD...  start one in a temporary folder, run CMD with
#                                         ATELIER_TEST_PG set to its URL, stop it on exit
#                                         (even when CMD fails); CMD's exit status
#
# The server listens only on a unix socket inside DIR (no port to collide with), trusts
# local connections and skips fsync: it holds nothing worth keeping. As root, initdb and
# the server run as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail

bin=${PG_BIN:-/usr/lib/postgresql/15/bin}

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  local dir=$1
  if [ ! -x "$bin/initdb" ]; then
    echo "no PostgreSQL server in $bin (apt-get install postgresql-15, or set PG_BIN)" >&2
    return 1
  fi
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if ! as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync \
      >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    return 1
  fi
  # One role signs in with a password (the others are trusted), so that a test can
  # give a wrong one.
  as_pg sed -i '1i local all atelier_pw scram-sha-256' "$dir/data/pg_hba.conf"
  up "$dir"
  # The socket folder is the URL's host, percent-encoded.
  echo "postgres://postgres@$(printf %s "$dir" | sed 's:/:%2F:g')/postgres"
}

up() {
  local dir=$1
  if ! as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-k $dir -c listen_addresses= -c fsync=off -c max_connections=300" start >/dev/null; then
    cat "$dir/server.log" >&2
    return 1
  fi
}

down() {
  # Fast: its clients' connections are cut, as when a server restarts.
  as_pg "$bin/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null
}

stop() {
  local dir=$1
  if [ -d "$dir/data" ]; then
    as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case ${1:-} in
  start) start "${2:?usage: $0 start DIR}" ;;
  stop) stop "${2:?usage: $0 stop DIR}" ;;
  down) down "${2:?usage: $0 down DIR}" ;;
  up) up "${2:?usage: $0 up DIR}" ;;
  run)
    shift
    if [ -n "${ATELIER_TEST_PG:-}" ]; then
      exec "$@"
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/atelier-pg.XXXXXX")
    trap 'stop "$dir"' EXIT
    if url=$(start "$dir"); then
      echo "==> PostgreSQL test server: $url"
      export ATELIER_TEST_PG=$url
    else
      # The PostgreSQL tests then fail under CI=true and say they skipped elsewhere.
      echo "warning: no PostgreSQL test server; its tests will not run" >&2
    fi
    status=0
    "$@" || status=$?
    exit $status
    ;;
  *)
    echo "usage: $0 start DIR | stop DIR | down DIR | up DIR | run CMD..." >&2
    exit 2
    ;;
esac
