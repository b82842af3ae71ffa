#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/) and runs each for SECONDS (default 60) with libFuzzer.
# Exits non-zero if any target crashed, hung or ran out of memory; the input that did it
# is in fuzz/artifacts/TARGET/ and the log in fuzz/logs/TARGET.log.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Works on stable Rust: cargo-fuzz needs nightly only for sanitizers (-Zsanitizer), so
# the targets are built with `--sanitizer none`. Coverage instrumentation
# (-Cpasses=sancov-module), libFuzzer and `--cfg fuzzing` are all stable; debug
# assertions and overflow checks stay on. The crate forbids unsafe code, so what
# AddressSanitizer would add is checking of dependencies' C and unsafe code.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-60}"
shift || true
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=(ttlv_decode kmip_dispatch okm_soap)
fi
case "$secs" in
'' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
    exit 2
    ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cargo fuzz build --sanitizer none

# kmip_dispatch keeps a node (SQLite, software root of trust) in a temporary directory
# for the whole run. libFuzzer leaves through exit(), which skips the cleanup, so give
# the runs a directory of their own and remove it here. Memory-backed when possible:
# SQLite's syncs on a disk would dominate the run.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    state="$(mktemp -d -p /dev/shm clavis-fuzz.XXXXXX)"
else
    state="$(mktemp -d -t clavis-fuzz.XXXXXX)"
fi
trap 'rm -rf "$state"' EXIT

mkdir -p fuzz/logs
failed=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    log="fuzz/logs/$t.log"
    echo "== $t: ${secs}s (corpus fuzz/corpus/$t, seeds fuzz/seeds, log $log)"
    # The first directory receives new inputs; fuzz/seeds is only read.
    if TMPDIR="$state" cargo fuzz run --sanitizer none "$t" "fuzz/corpus/$t" fuzz/seeds -- \
        -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$t")
    fi
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    corpus="$(find "fuzz/corpus/$t" -type f | wc -l)"
    echo "   $status: ${execs:-?} executions, corpus $corpus inputs"
    if [ "$status" = FAILED ]; then
        grep -E '^(==[0-9]+== ERROR|thread .* panicked|SUMMARY|Test unit written|artifact_prefix)' "$log" | head -20 || true
        tail -40 "$log"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzzing: no crash in ${targets[*]}"
