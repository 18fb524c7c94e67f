#!/usr/bin/env bash
# A local PostgreSQL server for the tests (the storage layer runs against
# SQLite and PostgreSQL). Not for production: fsync is off, local socket
# connections are trusted.
#
#   scripts/postgres.sh start    install (apt-get) when missing, create the cluster,
#                                start it, create role + database; prints the URL
#   scripts/postgres.sh stop     stop it (no-op when it is not running)
#   scripts/postgres.sh status   exit 0 when this data folder's server runs, else 3
#   scripts/postgres.sh url      print the SQLAlchemy URL of the test database
#
# Idempotent: `start` on a running server only checks the role and database
# and prints the URL.
#
# Environment:
#   ADAPTERS_UI_PG_PORT   TCP port, on 127.0.0.1 only              (54329)
#   PGDATA_DIR            cluster folder                           ($PWD/.cache/postgres)
#   PG_BINDIR             folder with initdb, pg_ctl, postgres     (found on PATH or
#                                                                   in /usr/lib/postgresql/*/bin)
#
# PostgreSQL refuses to run as root: as root the cluster belongs to the
# `postgres` system user (created by Debian's package) and every server
# command runs through runuser (or su). That user must reach the data folder:
# when the default folder is not reachable by it (a clone under /root, mode
# 700), the cluster goes to /tmp/adapters_ui-postgres-$PORT instead; an
# explicit PGDATA_DIR that it cannot reach is an error.
# Not root: everything runs as the current user.
#
# The role `adapters_ui` (password `adapters_ui`, LOGIN CREATEDB, member of
# pg_signal_backend) owns the database `adapters_ui_test`; the tests create and
# drop their own databases on that server (tests/conftest.py: database_url).
# `DROP DATABASE ... WITH (FORCE)` ends every other connection to the database,
# an autovacuum worker's too, which needs pg_signal_backend; autovacuum is off
# as well (ALTER SYSTEM). `start` applies both to a cluster made before, too.
# The role `adapters_ui_bystander` (password the same, LOGIN only) lets a test
# hold a connection that belongs to another role (tests/test_database_fixture.py).
set -euo pipefail

PORT="${ADAPTERS_UI_PG_PORT:-54329}"
ROLE=adapters_ui
BYSTANDER=adapters_ui_bystander
PASSWORD=adapters_ui
DATABASE=adapters_ui_test
URL="postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
DEFAULT_DATA="$PWD/.cache/postgres"
FALLBACK_DATA="/tmp/adapters_ui-postgres-$PORT"

log() { echo "postgres: $*"; }
die() { echo "postgres: ERROR: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { d = b - a; if (d >= 10) printf "%d", d + 0.5; else printf "%.1f", d }'; }

is_root() { [ "$(id -u)" = 0 ]; }

# Run a command as the cluster's owner (postgres when root, else ourselves),
# from / so that an unreadable current folder does not matter.
as_owner() {
    if is_root; then
        if command -v runuser >/dev/null 2>&1; then
            (cd / && runuser -u postgres -- "$@")
        else
            local cmd
            printf -v cmd '%q ' "$@"
            (cd / && su postgres -s /bin/sh -c "$cmd")
        fi
    else
        "$@"
    fi
}

find_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        [ -x "$PG_BINDIR/initdb" ] && [ -x "$PG_BINDIR/pg_ctl" ] || die "PG_BINDIR=$PG_BINDIR has no initdb/pg_ctl"
        echo "$PG_BINDIR"; return 0
    fi
    local d
    # Debian keeps the server binaries off PATH, one folder per major version: take the newest.
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
        echo "$d"; return 0
    fi
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        d="$(dirname "$(readlink -f "$(command -v initdb)")")"
        [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && { echo "$d"; return 0; }
    fi
    return 1
}

install_postgres() {
    command -v apt-get >/dev/null 2>&1 || die "the PostgreSQL server is not installed and there is no apt-get: install PostgreSQL (initdb, pg_ctl) yourself or set PG_BINDIR"
    local sudo=()
    if ! is_root; then
        command -v sudo >/dev/null 2>&1 || die "the PostgreSQL server is not installed; installing it needs root or sudo: run 'sudo apt-get install postgresql' (or set PG_BINDIR)"
        sudo=(sudo)
    fi
    log "not installed: installing Debian's postgresql package with ${sudo:+sudo }apt-get ..."
    local t0; t0="$(now)"
    "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
        || die "apt-get install postgresql failed"
    log "installed in $(since "$t0") s"
}

# Create the data folder (mode 700, owned by the server's user) and tell
# whether that user can reach it.
prepare_dir() {
    mkdir -p "$1"
    is_root && chown postgres: "$1"
    chmod 700 "$1"
    as_owner test -w "$1" -a -x "$1"
}

# Pick the data folder and make sure its owner can reach it.
choose_data_dir() {
    if [ -n "${PGDATA_DIR:-}" ]; then
        DATA="$PGDATA_DIR"
        prepare_dir "$DATA" \
            || die "PGDATA_DIR=$DATA is not reachable by the postgres user (a parent folder is closed to it, e.g. /root): choose a folder under /tmp"
        return 0
    fi
    DATA="$DEFAULT_DATA"
    if ! prepare_dir "$DATA"; then
        log "$DATA is not reachable by the postgres user; using $FALLBACK_DATA"
        rmdir "$DATA" 2>/dev/null || true
        DATA="$FALLBACK_DATA"
        prepare_dir "$DATA" || die "$DATA is not reachable by the postgres user either: set PGDATA_DIR"
    fi
}

# Without side effects: the folder `stop`/`status` look at.
existing_data_dir() {
    if [ -n "${PGDATA_DIR:-}" ]; then
        echo "$PGDATA_DIR"
    elif [ -f "$DEFAULT_DATA/PG_VERSION" ] || [ ! -f "$FALLBACK_DATA/PG_VERSION" ]; then
        echo "$DEFAULT_DATA"
    else
        echo "$FALLBACK_DATA"
    fi
}

socket_dir() {
    # A unix socket path is limited to ~107 bytes: use /tmp for long data paths.
    if [ "${#DATA}" -le 80 ]; then echo "$DATA"; else echo /tmp; fi
}

running() { [ -n "${BIN:-}" ] && [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }

port_answers() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 2; }

# Role and database, idempotently, as the superuser through the unix socket.
ensure_role_and_database() {
    as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(socket_dir)" -p "$PORT" -U postgres -d postgres >/dev/null <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
    ELSE
        ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$BYSTANDER') THEN
        CREATE ROLE $BYSTANDER LOGIN PASSWORD '$PASSWORD';
    END IF;
    IF NOT pg_has_role('$ROLE', 'pg_signal_backend', 'MEMBER') THEN
        GRANT pg_signal_backend TO $ROLE;
    END IF;
END
\$\$;
ALTER SYSTEM SET autovacuum = off;
SELECT pg_reload_conf();
SELECT 'CREATE DATABASE $DATABASE OWNER $ROLE'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE')\gexec
SQL
}

cmd_start() {
    local t0 total; total="$(now)"
    BIN="$(find_bindir || true)"
    if [ -z "$BIN" ]; then
        install_postgres
        BIN="$(find_bindir)" || die "postgresql installed but initdb/pg_ctl not found under /usr/lib/postgresql/*/bin"
    fi
    is_root && ! id postgres >/dev/null 2>&1 && die "running as root needs a 'postgres' system user to own the server (Debian's postgresql package creates it)"
    choose_data_dir

    if running; then
        ensure_role_and_database
        log "already running on 127.0.0.1:$PORT (data: $DATA)"
        echo "$URL"
        return 0
    fi
    if port_answers; then
        die "another server already answers on 127.0.0.1:$PORT (not the one in $DATA): stop it or choose another ADAPTERS_UI_PG_PORT"
    fi

    if [ ! -f "$DATA/PG_VERSION" ]; then
        t0="$(now)"
        local initdb_log; initdb_log="$(mktemp)"
        as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >"$initdb_log" 2>&1 \
            || { cat "$initdb_log" >&2 || true; rm -f "$initdb_log"; die "initdb failed (output above)"; }
        rm -f "$initdb_log"
        echo "include_if_exists = 'adapters_ui.conf'" | as_owner tee -a "$DATA/postgresql.conf" >/dev/null
        log "cluster created in $(since "$t0") s ($BIN/initdb, data: $DATA)"
    fi

    # Settings of this start (port, socket), rewritten each time.
    as_owner tee "$DATA/adapters_ui.conf" >/dev/null <<CONF
# Written by scripts/postgres.sh start: a throwaway test server.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$(socket_dir)'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF

    t0="$(now)"
    as_owner "$BIN/pg_ctl" start -D "$DATA" -l "$DATA/server.log" -w -t 60 >/dev/null \
        || { tail -n 20 "$DATA/server.log" >&2 || true; die "pg_ctl start failed (end of $DATA/server.log above)"; }
    local i
    for i in $(seq 1 100); do
        "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 1 && break
        [ "$i" = 100 ] && die "server started but 127.0.0.1:$PORT does not answer (see $DATA/server.log)"
        sleep 0.1
    done
    log "started in $(since "$t0") s on 127.0.0.1:$PORT"

    t0="$(now)"
    ensure_role_and_database
    log "role $ROLE and database $DATABASE ready in $(since "$t0") s (total $(since "$total") s)"
    echo "$URL"
}

cmd_stop() {
    BIN="$(find_bindir || true)"
    DATA="$(existing_data_dir)"
    if ! running; then
        log "not running (data: $DATA)"
        return 0
    fi
    local t0; t0="$(now)"
    as_owner "$BIN/pg_ctl" stop -D "$DATA" -m fast -w >/dev/null
    log "stopped in $(since "$t0") s"
}

cmd_status() {
    BIN="$(find_bindir || true)"
    DATA="$(existing_data_dir)"
    if running; then
        log "running on 127.0.0.1:$PORT (data: $DATA)"
    else
        log "not running (data: $DATA)"
        return 3
    fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) echo "$URL" ;;
    *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
