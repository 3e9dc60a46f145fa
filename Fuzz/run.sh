#!/usr/bin/env bash
# Builds the libFuzzer targets (every module instrumented, with AddressSanitizer)
# and runs each for SECONDS (default 30), seeded with objects of a small real store.
# Usage: bash Fuzz/run.sh [SECONDS]   — exits non-zero if any target finds a crash.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-30}
bash ../scripts/install-deps.sh
swift build -c release --build-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
(cd .. && swift build -c release --product floe)
work=$(mktemp -d /tmp/floe-fuzz-XXXXXX)
../.build/release/floe bench --num 20000 --epoch-keys 2000 --reads 100 --path "$work/store" > /dev/null
mkdir -p "$work/seeds-sst" "$work/seeds-manifest"
cp "$work"/store/data/*.sst "$work/seeds-sst/"
cp "$work"/store/manifest/* "$work/seeds-manifest/"
status=0
for t in Block Sst Manifest; do
    seeds="$work/seeds-sst"
    [ "$t" = Manifest ] && seeds="$work/seeds-manifest"
    mkdir -p "$work/corpus-$t"
    echo "== Fuzz$t for ${secs}s"
    if ! ../.build-fuzz/release/Fuzz$t -max_total_time="$secs" -rss_limit_mb=4096 -artifact_prefix="$work/crash-$t-" \
        "$work/corpus-$t" "$seeds" 2>&1 | grep -E "^#[0-9]+ +DONE|ERROR|SUMMARY|Done"; then
        status=1
    fi
    if ls "$work"/crash-$t-* > /dev/null 2>&1; then
        echo "Fuzz$t found a crash: $(ls "$work"/crash-$t-*)"
        status=1
    fi
done
[ $status -eq 0 ] && rm -rf "$work"
exit $status
