#!/usr/bin/env bash
# Hardware-in-the-loop suite: SoftHSM2 + emulated drives + real clavisd processes by
# default; real drives and HSM when CLAVIS_HIL_* say so (see hil/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_rust
apt_install softhsm2 postgresql
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi
. scripts/pg.sh
start_private_pg
cargo build --workspace --locked --bins
cargo nextest run --workspace --locked -p clavis-agent --test e2e "$@"
