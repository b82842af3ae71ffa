#!/usr/bin/env bash
# Quick start on a fresh Debian machine: builds Clavis, initializes a node on the
# embedded defaults (SQLite + the SOFTWARE root of trust: development only), starts it,
# then creates a key and fetches it back through the `clavis` CLI.
#
# With a terminal attached the node keeps running until Ctrl-C; otherwise (CI, pipes)
# it is stopped after the demonstration. Data lives in ./quickstart-data.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_rust
apt_install ca-certificates
echo "== building clavisd and clavis (release)" >&2
cargo build --release --locked --bins -q
bin=target/release
config=examples/quickstart.toml
data=quickstart-data

if [ ! -f "$data/node.json" ]; then
    echo "== clavisd init" >&2
    mkdir -p "$data"
    "$bin/clavisd" init --config "$config" --admin-token-out "$data/admin.token"
fi

echo "== clavisd run" >&2
"$bin/clavisd" run --config "$config" >"$data/clavisd.out" 2>"$data/clavisd.log" &
node_pid=$!
trap 'kill $node_pid 2>/dev/null || true; wait $node_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    grep -q "serving API" "$data/clavisd.out" 2>/dev/null && break
    kill -0 "$node_pid" 2>/dev/null || { cat "$data/clavisd.log" >&2; exit 1; }
    sleep 0.1
done
grep "serving API" "$data/clavisd.out" >&2 || { echo "clavisd did not start; see $data/clavisd.log" >&2; exit 1; }

export CLAVIS_SERVER=https://127.0.0.1:8443 CLAVIS_CA="$data/ca.pem" CLAVIS_TOKEN_FILE="$data/admin.token"
echo "== clavis status" >&2
"$bin/clavis" status
echo "== clavis key create --name quickstart-key --activate" >&2
id=$("$bin/clavis" key create --name quickstart-key --activate --json | sed -n 's/^  "id": "\([^"]*\)".*/\1/p')
[ -n "$id" ] || { echo "key creation failed" >&2; exit 1; }
"$bin/clavis" key get "$id"
echo "== clavis key material $id" >&2
"$bin/clavis" key material "$id"
echo "== clavis audit verify (every step above is in the hash-chained audit trail)" >&2
"$bin/clavis" audit verify

if [ -t 0 ] && [ -t 1 ]; then
    echo >&2
    echo "The node is serving on $CLAVIS_SERVER. Try, in another shell:" >&2
    echo "  export CLAVIS_SERVER=$CLAVIS_SERVER CLAVIS_CA=$PWD/$data/ca.pem CLAVIS_TOKEN_FILE=$PWD/$data/admin.token" >&2
    echo "  $PWD/$bin/clavis key list" >&2
    echo "Press Ctrl-C to stop it." >&2
    wait "$node_pid"
fi
