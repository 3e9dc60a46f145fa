#!/usr/bin/env bash
# Nexmark on Floe and on Apache Flink (RocksDB and heap state backends), side by
# side, in one command. See README.md.
#
#   ./run.sh [--events N] [--queries "q0 q3 ..."] [--repeat R] [--out DIR]
#            [--skip-recovery] [--engines "flink-rocksdb flink-hashmap floe"]
#            [--data DIR] [--seed S] [--kill-after K] [--seeds] [--flink-read-all]
#            [--floe-lateness-ms MS]   (Floe cleans closed windows' state as Flink's
#                                       windows do; Flink's watermark lags 4 s)
#
# Environment: FLOE (path of the floe binary, default ../../.build/release/floe),
# FLOE_BUILD=0 to not build it when missing, PYTHON (python3 for the venv).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

events=1000000
queries="q0 q1 q2 q3 q4 q5 q7 q8 q9"
repeat=3
out=""
skip_recovery=0
engines="flink-rocksdb flink-hashmap floe"
data=""
seed=1
kill_after=3
seeds=0
flink_flags=()
floe_flags=()
while [ $# -gt 0 ]; do
    case "$1" in
        --events) events="$2"; shift 2 ;;
        --queries) queries="${2//,/ }"; shift 2 ;;
        --repeat) repeat="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --skip-recovery) skip_recovery=1; shift ;;
        --engines) engines="${2//,/ }"; shift 2 ;;
        --data) data="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --kill-after) kill_after="$2"; shift 2 ;;
        --seeds) seeds=1; shift ;;
        --flink-read-all) flink_flags+=(--read-all); shift ;;
        --floe-lateness-ms) floe_flags+=(--lateness-ms "$2"); shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
[ -n "$out" ] || out="$here/results/$(date -u +%Y%m%dT%H%M%SZ)"
[ -n "$data" ] || data="$here/data/events-$events-seed-$seed"
mkdir -p "$out/logs" "$out/work"
out="$(cd "$out" && pwd)"
runs="$out/runs.jsonl"
note() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# ---- Python venv with PyFlink
py="$here/.venv/bin/python"
if ! [ -x "$py" ] || ! "$py" -c "import pyflink" 2>/dev/null; then
    note "creating $here/.venv and installing apache-flink (PyPI)"
    "${PYTHON:-python3}" -m venv "$here/.venv"
    "$here/.venv/bin/pip" install -q apache-flink
fi
flink_version="$("$py" -c 'import importlib.metadata as m; print(m.version("apache-flink"))')"

# ---- Floe binary
FLOE="${FLOE:-$root/.build/release/floe}"
has_floe=0
if [[ " $engines " == *" floe "* ]]; then
    if ! [ -x "$FLOE" ] && [ "${FLOE_BUILD:-1}" != 0 ]; then
        note "building floe (swift build -c release --product floe)"
        (cd "$root" && swift build -c release --product floe >&2) || note "floe build failed"
    fi
    if [ -x "$FLOE" ] && "$FLOE" nexmark run --help >/dev/null 2>&1; then
        has_floe=1
    else
        note "SKIPPING the Floe column: $FLOE is missing or has no 'nexmark run' command"
    fi
fi

# ---- events, generated once
if ! [ -f "$data/bid.csv" ]; then
    mkdir -p "$data"
    if [ "$has_floe" = 1 ] && "$FLOE" nexmark generate --help >/dev/null 2>&1; then
        note "generating $events events with floe nexmark generate"
        "$FLOE" nexmark generate --events "$events" --seed "$seed" --out "$data" >&2
        echo floe >"$data/GENERATOR"
    else
        note "floe nexmark generate is unavailable: using the FALLBACK generator gen_fallback.py"
        python3 "$here/gen_fallback.py" --events "$events" --seed "$seed" --out "$data" >&2
        echo fallback >"$data/GENERATOR"
    fi
fi
if [ "$seeds" = 1 ] && ! [ -f "$data/orders.csv" ]; then
    if [ -x "$FLOE" ]; then
        "$FLOE" log generate --stream orders --events "$events" --seed "$seed" --out "$data/orders.csv" >&2
        "$FLOE" log generate --stream payments --events "$events" --seed "$seed" --out "$data/payments.csv" >&2
    else
        note "no floe binary: cannot generate the seeds' orders/payments; skipping the eo_* views"
        seeds=0
    fi
fi
fdata="$data/flink"
if ! [ -f "$fdata/counts.json" ] || [ "$fdata/counts.json" -ot "$data/bid.csv" ] ||
   { [ -f "$data/orders.csv" ] && ! grep -q orders "$fdata/counts.json"; }; then
    note "preparing the CSVs for Flink (header stripped, 2 parts per stream)"
    "$py" "$here/flink_nexmark.py" prepare --csv "$data" --out "$fdata" >&2
fi
[ "$seeds" = 1 ] && queries="$queries eo_order_revenue eo_payment_match eo_order_windows"

nevents="$("$py" -c 'import json,sys; c=json.load(open(sys.argv[1])); print(sum(c.get(s,0) for s in ("person","auction","bid")))' "$fdata/counts.json")"
cat >"$out/meta.json" <<EOF
{"events": $nevents, "seed": $seed, "generator": "$(cat "$data/GENERATOR" 2>/dev/null || echo unknown)",
 "data": "$data", "queries": "$queries", "repeat": $repeat, "engines": "$engines",
 "flink_version": "$flink_version", "flink_read_all": $([ ${#flink_flags[@]} -gt 0 ] && echo true || echo false), "floe_flags": "${floe_flags[*]-}", "floe": "$FLOE", "floe_available": $has_floe,
 "floe_commit": "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)",
 "cores": $(nproc), "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "loadavg_start": "$(cut -d' ' -f1-3 /proc/loadavg)"}
EOF

# Appends one JSON object (a file or a line) with extra fields to runs.jsonl.
append() { # json extra-json
    "$py" - "$1" "$2" >>"$runs" <<'EOF'
import json, sys
src, extra = sys.argv[1], json.loads(sys.argv[2])
try:
    obj = json.load(open(src)) if not src.lstrip().startswith("{") else json.loads(src)
except Exception as e:
    obj = {"error": "unreadable result: %s" % e}
obj.update(extra)
print(json.dumps(obj))
EOF
}

flink_run() { # query backend rep
    local q="$1" b="$2" r="$3" ck="$out/work/ck-$1-$2-$3" log="$out/logs/$1-flink-$2-$3.log" line
    rm -rf "$ck"
    note "$q flink-$b rep $r"
    line="$("$py" "$here/flink_nexmark.py" run --query "$q" --data "$fdata" --backend "$b" --ckpt-dir "$ck" ${flink_flags[@]+"${flink_flags[@]}"} 2>"$log" |
            grep '"event": "result"' || true)"
    rm -rf "$ck"
    if [ -n "$line" ]; then
        append "$line" "{\"rep\": $r, \"kind\": \"run\"}"
    else
        note "  failed: see $log"
        append "{}" "{\"engine\": \"flink-$b\", \"query\": \"$q\", \"rep\": $r, \"kind\": \"run\", \"error\": \"see $log\"}"
    fi
}

# The command that runs query $1 in Floe over the same CSVs into store $2, writing JSON $3:
# `floe nexmark run` for Nexmark (it loads the CSVs into a log next to the store); for the
# seeds' views, `floe pipeline run` over a log loaded once from orders.csv and payments.csv.
floe_cmd() { # query store json
    if [[ "$1" == eo_* ]]; then
        local eolog="$out/work/eo.log"
        if ! [ -f "$out/work/eo.loaded" ]; then
            rm -rf "$eolog"
            "$FLOE" log load --log "$eolog" --topic orders --partitions 2 "$data/orders.csv" >&2
            "$FLOE" log load --log "$eolog" --topic payments --partitions 2 "$data/payments.csv" >&2
            touch "$out/work/eo.loaded"
        fi
        floe_argv=("$FLOE" pipeline run --log "$eolog" --query "$1" --path "$2" --parallelism 2
                   --barrier-interval-ms 1000 --until-end --json "$3")
    else
        floe_argv=("$FLOE" nexmark run --query "$1" --csv "$data" --path "$2" --parallelism 2
                   --barrier-interval-ms 1000 --json "$3" ${floe_flags[@]+"${floe_flags[@]}"})
    fi
}

floe_run() { # query rep
    local q="$1" r="$2" store="$out/work/floe-$1-$2" log="$out/logs/$1-floe-$2.log" js="$out/work/floe-$1-$2.json"
    rm -rf "$store" "$store.log" "$js"
    note "$q floe rep $r"
    floe_cmd "$q" "$store" "$js"
    if "${floe_argv[@]}" >"$log" 2>&1 && [ -f "$js" ]; then
        # `floe pipeline run` names its fields apart from `floe nexmark run`: map them.
        [[ "$q" == eo_* ]] && "$py" - "$js" <<'EOF'
import json, sys
o = json.load(open(sys.argv[1]))
o.update({"events_per_sec": o.get("events_per_second"), "run_seconds": o.get("seconds"),
          "latency_p50_ms": o.get("p50_commit_ms"), "latency_p99_ms": o.get("p99_commit_ms")})
json.dump(o, open(sys.argv[1], "w"))
EOF
        append "$js" "{\"engine\": \"floe\", \"rep\": $r, \"kind\": \"run\"}"
    else
        note "  failed: see $log"
        append "{}" "{\"engine\": \"floe\", \"query\": \"$q\", \"rep\": $r, \"kind\": \"run\", \"error\": \"see $log\"}"
    fi
    rm -rf "$store" "$store.log"
}

flink_recovery() { # query backend
    local q="$1" b="$2" ck="$out/work/rck-$1-$2" log="$out/logs/$1-flink-$2-recovery.log" line
    rm -rf "$ck"
    note "$q flink-$b recovery (kill -9 after $kill_after checkpoints)"
    line="$("$py" "$here/flink_nexmark.py" recover --query "$q" --data "$fdata" --backend "$b" --ckpt-dir "$ck" \
            --kill-after "$kill_after" --log "$log" ${flink_flags[@]+"${flink_flags[@]}"} | tail -1)"
    rm -rf "$ck"
    [ -n "$line" ] || line="{\"error\": \"see $log\"}"
    append "$line" "{\"kind\": \"recovery\", \"engine\": \"flink-$b\", \"query\": \"$q\"}"
}

floe_recovery() { # query
    local q="$1" store="$out/work/rfloe-$1" log="$out/logs/$1-floe-recovery.log" js="$out/work/rfloe-$1.json"
    local kill_at pid t0 t1 status
    rm -rf "$store" "$store.log" "$js"
    # Kill mid-run: after the first measured run's load and half of its run, at least 1 s.
    kill_at="$("$py" - "$runs" "$q" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o.get("engine") == "floe" and o.get("query") == sys.argv[2] and o.get("kind") == "run" and o.get("run_seconds"):
        print(max(1.0, (o.get("load_seconds") or 0) + 0.5 * o["run_seconds"])); break
else:
    print(3.0)
EOF
)"
    note "$q floe recovery (kill -9 after ${kill_at}s)"
    floe_cmd "$q" "$store" "$js"
    local cmd=("${floe_argv[@]}")
    setsid "${cmd[@]}" >"$log" 2>&1 &
    pid=$!
    sleep "$kill_at"
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid"
        wait "$pid" 2>/dev/null || true
        status=killed
    else
        wait "$pid" 2>/dev/null || true
        status=finished-before-kill
    fi
    echo "---- restart" >>"$log"
    t0="$(date +%s.%N)"
    "${cmd[@]}" >>"$log" 2>&1 || true
    t1="$(date +%s.%N)"
    # The restarted run's first new commit, seconds after it opened the store (its JSON).
    first="$("$py" -c 'import json,sys; o=json.load(open(sys.argv[1])); v=o.get("open_to_first_commit_seconds", o.get("first_commit_seconds", -1)); print(v if v is not None and v >= 0 else "")' "$js" 2>/dev/null || true)"
    append "{}" "{\"kind\": \"recovery\", \"engine\": \"floe\", \"query\": \"$q\", \"status\": \"$status\",
        \"killed_at_seconds\": $kill_at, \"restart_total_seconds\": $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'),
        \"restart_to_first_commit_raw\": \"${first}\",
        \"note\": \"restart total: wall time of the whole rerun; first commit: from opening the store\"}"
    rm -rf "$store" "$store.log"
}

for r in $(seq 1 "$repeat"); do
    for q in $queries; do
        for e in $engines; do
            case "$e" in
                flink-rocksdb) flink_run "$q" rocksdb "$r" ;;
                flink-hashmap) flink_run "$q" hashmap "$r" ;;
                floe) if [ "$has_floe" = 1 ]; then floe_run "$q" "$r"; fi ;;
                *) note "unknown engine $e" ;;
            esac
        done
    done
done
if [ "$skip_recovery" = 0 ]; then
    for q in $queries; do
        for e in $engines; do
            case "$e" in
                flink-rocksdb) flink_recovery "$q" rocksdb ;;
                flink-hashmap) flink_recovery "$q" hashmap ;;
                floe) if [ "$has_floe" = 1 ]; then floe_recovery "$q"; fi ;;
            esac
        done
    done
fi
rm -rf "$out/work"
"$py" "$here/report.py" "$out"
