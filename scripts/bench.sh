#!/usr/bin/env bash
# Runs the benchmarks with a private PostgreSQL (as scripts/test.sh does) and prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_rust
apt_install softhsm2 postgresql python3
. scripts/pg.sh
start_private_pg
cargo bench --locked --bench service "$@"
