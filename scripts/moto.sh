#!/usr/bin/env bash
# moto's S3 server on loopback, for the S3 slices of CI and manual runs (docs/s3.md).
#
#   scripts/moto.sh start DIR   starts moto_server on 127.0.0.1 at a free port, keeps its
#                               pid and log in DIR (created), prints http://127.0.0.1:PORT
#   scripts/moto.sh stop DIR    stops the server started with DIR (nothing if none)
#   scripts/moto.sh bucket ENDPOINT NAME   creates bucket NAME (moto checks no signature)
#
# moto is installed by scripts/install-deps.sh (moto[server] 5.2.1). It binds port 0 itself
# and logs the port it got, so no other listener can take a port picked here first.
set -euo pipefail
command=${1:-}
dir=${2:-}
if [ -z "$command" ] || [ -z "$dir" ]; then
    echo "usage: $0 start|stop DIR" >&2
    exit 2
fi
case "$command" in
bucket)
    name=${3:-}
    [ -n "$name" ] || { echo "usage: $0 bucket ENDPOINT NAME" >&2; exit 2; }
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/" + sys.argv[2], method="PUT"), timeout=30)' \
        "$dir" "$name"
    ;;
start)
    mkdir -p "$dir"
    if [ -f "$dir/moto.pid" ] && kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null; then
        echo "moto.sh: a server started with $dir is running already (pid $(cat "$dir/moto.pid"))" >&2
        exit 1
    fi
    python3 -c 'import moto.server' 2>/dev/null || {
        echo "moto.sh: python3 cannot import moto.server; install it with scripts/install-deps.sh" >&2
        exit 1
    }
    : > "$dir/moto.log"
    nohup python3 -c 'import sys; from moto.server import main; main(["-H", "127.0.0.1", "-p", "0"])' \
        > "$dir/moto.log" 2>&1 < /dev/null &
    echo $! > "$dir/moto.pid"
    for _ in $(seq 1 600); do
        port=$(sed -n 's|.*Running on http://127.0.0.1:\([0-9]*\).*|\1|p' "$dir/moto.log" | head -n 1)
        if [ -n "$port" ]; then
            echo "http://127.0.0.1:$port"
            exit 0
        fi
        if ! kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null; then
            echo "moto.sh: moto_server exited:" >&2
            tail -n 20 "$dir/moto.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "moto.sh: moto_server did not report listening within 60 s" >&2
    kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
    exit 1
    ;;
stop)
    if [ -f "$dir/moto.pid" ]; then
        pid=$(cat "$dir/moto.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$dir/moto.pid"
    fi
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
