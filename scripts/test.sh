#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine: installs SoftHSM2, PostgreSQL and
# PyKMIP (in a virtual environment) if missing, starts a private PostgreSQL on its own port and data directory, then runs
# formatting and lint checks and every test (cargo-nextest: one process per test, which
# per-test SoftHSM2 tokens need).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_rust
apt_install softhsm2 postgresql python3 python3-venv openssl ca-certificates
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi

# PyKMIP, the interoperability client, in a virtual environment of its own.
venv=target/pykmip-venv
if ! "$venv/bin/python" -c "import kmip" >/dev/null 2>&1; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q pykmip==0.11.0
fi
export CLAVIS_PYTHON="$PWD/$venv/bin/python"

. scripts/pg.sh
start_private_pg

# --- checks and tests ---------------------------------------------------------------
# Each phase prints its wall time, so a slow CI run says where the time went.
phase() { echo "== phase: $1 (${SECONDS}s since start)"; }
phase fmt
cargo fmt --all -- --check

# A short bounded fuzz run of the KMIP decoder and dispatcher and the OKM SOAP reader
# (longer runs: scripts/fuzz.sh). Its build (instrumented, release, a target directory of
# its own) and the lint and test builds each leave a core idle for long stretches (one
# large crate at a time), so it runs beside them; the tests start only after it ends.
fuzz_pid=
fuzz_log=target/fuzz-ci.log
on_exit() {
    if [ -n "$fuzz_pid" ]; then kill -- "-$fuzz_pid" 2>/dev/null || true; fi
    stop_private_pg
}
trap on_exit EXIT
if [ "$#" -eq 0 ] && [ "${CLAVIS_SKIP_FUZZ:-0}" != 1 ]; then
    phase "fuzz, in the background (log: $fuzz_log)"
    mkdir -p target
    # A session of its own, so that leaving early stops the whole fuzz run.
    setsid bash scripts/fuzz.sh "${CLAVIS_FUZZ_SECONDS:-30}" >"$fuzz_log" 2>&1 &
    fuzz_pid=$!
fi

phase clippy
cargo clippy --workspace --all-targets --locked -- -D warnings
phase "test build"
cargo test --workspace --locked --no-run -q

if [ -n "$fuzz_pid" ]; then
    phase "fuzz results"
    if wait "$fuzz_pid"; then fuzz_status=0; else fuzz_status=$?; fi
    fuzz_pid=
    grep -E '^(== |   (ok|FAILED)|fuzzing)' "$fuzz_log" || true
    if [ "$fuzz_status" -ne 0 ]; then
        tail -60 "$fuzz_log"
        exit "$fuzz_status"
    fi
fi

phase tests
cargo nextest run --workspace --locked --profile ci "$@"
phase done
