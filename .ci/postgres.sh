# shellcheck shell=bash
# Sourced by .ci/run: makes a PostgreSQL available to the tests as NEUROSEQ_TEST_POSTGRES_URL.
#
# Installs Debian's postgresql package when no server binaries are found, starts a throwaway cluster
# (trust auth, user postgres, fsync off) on a free 127.0.0.1 port as the postgres system user, and stops
# it when the sourcing shell exits (chained onto any EXIT trap already set). Idempotent and quiet; on any
# failure it warns and returns 0: tests/pg.py then starts its own cluster, or skips with the reason.

neuroseq_pg_bindir() {
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 0
}

neuroseq_pg_as() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

neuroseq_pg_stop() {
    if [ -n "${NEUROSEQ_PG_DIR:-}" ] && [ -d "$NEUROSEQ_PG_DIR" ]; then
        neuroseq_pg_as "$NEUROSEQ_PG_BINDIR/pg_ctl" -D "$NEUROSEQ_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$NEUROSEQ_PG_DIR"
    fi
    unset NEUROSEQ_PG_DIR
}

neuroseq_pg_start() {
    if [ -n "${NEUROSEQ_TEST_POSTGRES_URL:-}" ]; then
        return 0  # given by the environment, or already started by an earlier source of this file
    fi
    local bindir port previous
    bindir=$(neuroseq_pg_bindir)
    if [ -z "$bindir" ]; then
        echo "postgres.sh: installing postgresql (Debian package)" >&2
        if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql \
                >/dev/null 2>&1; }; then
            echo "postgres.sh: WARNING: could not install postgresql" >&2
            return 0
        fi
        bindir=$(neuroseq_pg_bindir)
        if [ -z "$bindir" ]; then
            echo "postgres.sh: WARNING: postgresql installed but no server binaries found" >&2
            return 0
        fi
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "postgres.sh: WARNING: running as root and there is no postgres user" >&2
        return 0
    fi
    export NEUROSEQ_PG_BINDIR="$bindir"
    NEUROSEQ_PG_DIR=$(mktemp -d /tmp/neuroseq-ci-pg.XXXXXX)
    export NEUROSEQ_PG_DIR
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$NEUROSEQ_PG_DIR"
    fi
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if ! neuroseq_pg_as "$bindir/initdb" -D "$NEUROSEQ_PG_DIR/data" -U postgres -A trust -E UTF8 \
        --no-locale --no-sync >/dev/null 2>&1; then
        echo "postgres.sh: WARNING: initdb failed" >&2
        neuroseq_pg_stop
        return 0
    fi
    if ! neuroseq_pg_as "$bindir/pg_ctl" -D "$NEUROSEQ_PG_DIR/data" -l "$NEUROSEQ_PG_DIR/server.log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $NEUROSEQ_PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null 2>&1; then
        echo "postgres.sh: WARNING: PostgreSQL did not start; its log:" >&2
        tail -n 20 "$NEUROSEQ_PG_DIR/server.log" >&2 2>/dev/null || true
        neuroseq_pg_stop
        return 0
    fi
    export NEUROSEQ_TEST_POSTGRES_URL="postgresql+asyncpg://postgres@127.0.0.1:$port/postgres"
    # Chain onto whatever EXIT trap the caller already set, rather than replacing it.
    previous=$(trap -p EXIT)
    if [ -n "$previous" ]; then
        eval "set -- $previous"
        trap "neuroseq_pg_stop; $3" EXIT
    else
        trap neuroseq_pg_stop EXIT
    fi
    echo "postgres.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
}

neuroseq_pg_start
