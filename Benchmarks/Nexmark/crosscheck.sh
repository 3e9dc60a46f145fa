#!/usr/bin/env bash
# Cross-check: Floe's Nexmark views against Apache Flink's results of the same SQL,
# over the same generated events (issue 20). See README.md, "Cross-check".
#
#   ./crosscheck.sh [--events N] [--queries "q0 q3 ..."] [--seed S] [--out DIR]
#                   [--data DIR] [--seeds] [--inter-event-micros U]
#                   [--flink-streaming] [--floe-lateness-ms MS]
#
# Defaults: 100000 events, seed 1, all nine queries, out results/crosscheck-<stamp>.
# --seeds: also the seeds' three eo_* views.
# --inter-event-micros: spreads the events over more event time (the generator's
#   default, 100 µs, makes 100000 events 10 s: one q7 window), for more windows.
# --flink-streaming: Flink in streaming mode, its changelog applied (slower),
#   instead of batch mode.
# --floe-lateness-ms: Floe's queries clean state behind that lateness
#   (`floe nexmark run --lateness-ms`); the generator's streams are in order, so
#   no row is late and the views must not change.
# Exit status 1 when a query's results differ beyond its documented difference
# (or a run failed). Environment: FLOE (the floe binary, default
# ../../.build/release/floe).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

events=100000
queries="q0 q1 q2 q3 q4 q5 q7 q8 q9"
seed=1
out=""
data=""
seeds=0
iem=100
fmode=()
floe_flags=()
while [ $# -gt 0 ]; do
    case "$1" in
        --events) events="$2"; shift 2 ;;
        --queries) queries="${2//,/ }"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --data) data="$2"; shift 2 ;;
        --seeds) seeds=1; shift ;;
        --inter-event-micros) iem="$2"; shift 2 ;;
        --flink-streaming) fmode=(--streaming); shift ;;
        --floe-lateness-ms) floe_flags=(--lateness-ms "$2"); shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
[ -n "$out" ] || out="$here/results/crosscheck-$(date -u +%Y%m%dT%H%M%SZ)"
if [ -z "$data" ]; then
    data="$here/data/events-$events-seed-$seed"
    [ "$iem" = 100 ] || data="$data-iem-$iem"
fi
mkdir -p "$out/logs" "$out/work" "$out/floe" "$out/flink"
out="$(cd "$out" && pwd)"
note() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
py="$here/.venv/bin/python"
"$py" -c "import pyflink" 2>/dev/null || { echo "no PyFlink in $here/.venv: run ./run.sh once (it creates it)" >&2; exit 2; }
FLOE="${FLOE:-$root/.build/release/floe}"
[ -x "$FLOE" ] || { echo "no floe binary at $FLOE (swift build -c release --product floe)" >&2; exit 2; }

# ---- the same events for both engines (the layout of run.sh, so its data is reused)
if ! [ -f "$data/bid.csv" ]; then
    mkdir -p "$data"
    note "generating $events events (seed $seed)"
    "$FLOE" nexmark generate --events "$events" --seed "$seed" --inter-event-micros "$iem" --out "$data" >&2
    echo floe >"$data/GENERATOR"
fi
if [ "$seeds" = 1 ] && ! [ -f "$data/orders.csv" ]; then
    "$FLOE" log generate --stream orders --events "$events" --seed "$seed" --out "$data/orders.csv" >&2
    "$FLOE" log generate --stream payments --events "$events" --seed "$seed" --out "$data/payments.csv" >&2
fi
fdata="$data/flink"
if ! [ -f "$fdata/counts.json" ] || [ "$fdata/counts.json" -ot "$data/bid.csv" ] ||
   { [ -f "$data/orders.csv" ] && ! grep -q orders "$fdata/counts.json"; }; then
    note "preparing the CSVs for Flink"
    "$py" "$here/flink_nexmark.py" prepare --csv "$data" --out "$fdata" >&2
fi
[ "$seeds" = 1 ] && queries="$queries eo_order_revenue eo_payment_match eo_order_windows"

# ---- Floe: each query into a fresh store, then its view as CSV and the views' types
: >"$out/floe/types.txt"
for q in $queries; do
    store="$out/work/floe-$q"
    if [[ "$q" == eo_* ]]; then
        view="$q"
        eolog="$out/work/eo.log"
        if ! [ -d "$eolog" ]; then
            "$FLOE" log load --log "$eolog" --topic orders --partitions 2 "$data/orders.csv" >&2
            "$FLOE" log load --log "$eolog" --topic payments --partitions 2 "$data/payments.csv" >&2
        fi
        cmd=("$FLOE" pipeline run --log "$eolog" --query "$q" --path "$store" --parallelism 2
             --barrier-interval-ms 1000 --until-end)
    else
        view="nexmark_$q"
        cmd=("$FLOE" nexmark run --query "$q" --csv "$data" --path "$store" --parallelism 2
             --barrier-interval-ms 1000 ${floe_flags[@]+"${floe_flags[@]}"})
    fi
    note "$q floe"
    if "${cmd[@]}" >"$out/logs/$q-floe.log" 2>&1; then
        "$FLOE" view dump --path "$store" "$view" >"$out/floe/$q.csv"
        "$FLOE" view list --path "$store" | grep "^$view:" >>"$out/floe/types.txt"
    else
        note "  floe failed: see $out/logs/$q-floe.log"
    fi
    rm -rf "$store" "$store.log"
done
rm -rf "$out/work"

# ---- Flink: the same SQL in batch mode, one JVM for all queries
fq="$queries"
[[ " $queries " == *" q4 "* ]] && fq="$fq q4_decimal"
note "flink (${fmode[*]:-batch}): $fq"
"$py" "$here/crosscheck.py" flink --data "$fdata" --out "$out/flink" --queries "$fq" ${fmode[@]+"${fmode[@]}"} \
    >"$out/logs/flink.log" 2>&1 || note "flink failed: see $out/logs/flink.log"

cat >"$out/meta.json" <<EOF
{"events": $events, "seed": $seed, "inter_event_micros": $iem, "flink_mode": "${fmode[*]:-batch}", "floe_flags": "${floe_flags[*]-}", "data": "$data", "queries": "$fq",
 "floe_commit": "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)",
 "flink_version": "$("$py" -c 'import importlib.metadata as m; print(m.version("apache-flink"))')",
 "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"}
EOF
"$py" "$here/crosscheck.py" compare --floe "$out/floe" --flink "$out/flink" --queries "$fq" \
    --json "$out/crosscheck.json" | tee "$out/crosscheck.txt"
exit "${PIPESTATUS[0]}"
