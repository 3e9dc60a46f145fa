#!/usr/bin/env bash
# The S3 slice of CI (docs/s3.md, docs/testing.md): moto's S3 server and `floe s3 proxy`
# (seeded faults on a share of the requests) started on loopback, then a `floe crashtest`
# and a `floe eotest` slice whose stores are on moto through the proxy; moto and the proxy
# are stopped on exit, whatever happens.
#
#   scripts/s3-slice.sh [FLOE] [SEED]     FLOE: the floe binary (default .build/release/floe)
#
# Environment: S3_SLICE_ITERATIONS (crashtest iterations, 10), S3_SLICE_SCHEDULES (eotest
# schedules, 10: one inconclusive schedule still meets eotest's 90% rule), S3_SLICE_KILLS (3), S3_SLICE_EVENTS (events per stream, 100000:
# with 20000 an idle machine's pipelines finished before the kills landed, 2 of 10 inconclusive),
# S3_SLICE_FAULT_RATE (0.05). Exits non-zero if a slice fails or the proxy injected nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
floe=${1:-.build/release/floe}
seed=${2:-$(( $(date +%s) % 100000 ))}
iterations=${S3_SLICE_ITERATIONS:-10}
schedules=${S3_SLICE_SCHEDULES:-10}
kills=${S3_SLICE_KILLS:-3}
events=${S3_SLICE_EVENTS:-100000}
rate=${S3_SLICE_FAULT_RATE:-0.05}
echo "s3 slice seed $seed"

work=$(mktemp -d /tmp/floe-s3-XXXXXX)
proxy_pid=""
stop_all() {
    status=$?
    if [ -n "$proxy_pid" ]; then kill -TERM "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true; fi
    scripts/moto.sh stop "$work/moto"
    if [ "$status" -eq 0 ]; then rm -rf "$work"; else echo "s3 slice failed (seed $seed); kept $work"; fi
}
trap stop_all EXIT

moto=$(scripts/moto.sh start "$work/moto")
bucket=floe-ci-$seed
scripts/moto.sh bucket "$moto" "$bucket"

"$floe" s3 proxy --upstream "$moto" --seed "$seed" --fault-rate "$rate" > "$work/proxy.out" &
proxy_pid=$!
for _ in $(seq 1 200); do [ -s "$work/proxy.out" ] && break; sleep 0.05; done
proxy=$(head -n 1 "$work/proxy.out")
case "$proxy" in http://127.0.0.1:*) ;; *) echo "floe s3 proxy did not start: $proxy"; exit 1 ;; esac

# moto checks no signature; any fixed keys do.
export AWS_ACCESS_KEY_ID=floe-ci AWS_SECRET_ACCESS_KEY=floe-ci-secret
unset AWS_SESSION_TOKEN AWS_PROFILE
query="endpoint=$proxy&region=us-east-1&path-style=1"
# Workers run 0.4 to 2 s before the kill (not 0.1 to 0.6 s as on a local store): opening a store
# through the proxy takes a few hundred milliseconds, and each iteration should commit epochs.
"$floe" crashtest --path "$work/ct" --store-url "s3://$bucket/crashtest?$query" --iterations "$iterations" --seed "$seed" \
    --min-run-ms 400 --max-run-ms 2000
"$floe" eotest --schedules "$schedules" --kills "$kills" --query eo --events "$events" --seed "$seed" \
    --store-url "s3://$bucket/eotest?$query"

kill -TERM "$proxy_pid"
wait "$proxy_pid"
proxy_pid=""
totals=$(tail -n 1 "$work/proxy.out")
echo "$totals"
injected=$(echo "$totals" | sed -n 's/.*injected \([0-9]*\):.*/\1/p')
if [ "${injected:-0}" -eq 0 ]; then echo "the proxy injected no fault: the slice tested nothing"; exit 1; fi
