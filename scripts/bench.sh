#!/usr/bin/env bash
# Runs the benchmarks and prints figures: `service` with a private PostgreSQL (as
# scripts/test.sh does), then `kmip` (Clavis against PyKMIP's own server, with PyKMIP
# installed in a virtual environment as scripts/test.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_rust
apt_install softhsm2 postgresql python3 python3-venv
. scripts/pg.sh
start_private_pg
cargo bench --locked --bench service "$@"

# PyKMIP, whose server the kmip bench runs next to Clavis.
venv=target/pykmip-venv
if ! "$venv/bin/python" -c "import kmip" >/dev/null 2>&1; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q pykmip==0.11.0
fi
export CLAVIS_PYTHON="$PWD/$venv/bin/python"
cargo bench --locked --bench kmip
