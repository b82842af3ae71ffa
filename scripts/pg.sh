# A private PostgreSQL server for tests and benchmarks: its own data directory, socket
# directory and loopback port, stopped and removed on exit. Sets CLAVIS_TEST_PG_URL.

start_private_pg() {
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    pg_dir=$(mktemp -d /tmp/clavis-pg.XXXXXX)
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg=()
    if [ "$(id -u)" -eq 0 ]; then
        # PostgreSQL refuses to run as root.
        chown postgres:postgres "$pg_dir"
        as_pg=(runuser -u postgres --)
    fi
    trap stop_private_pg EXIT
    "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U clavis >/dev/null
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
        -o "-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
    export CLAVIS_TEST_PG_URL="postgres://clavis@127.0.0.1:$port/postgres"
    echo "private PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
}

stop_private_pg() {
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
}
