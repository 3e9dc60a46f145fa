#!/usr/bin/env bash
# Side-by-side benchmark: installs RocksDB and LevelDB (and Floe's own Debian
# libraries) when their headers are missing, builds floe-compare in release mode
# and runs it. Arguments go to floe-compare, e.g. --num 200000 --reps 1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

bash "$root/scripts/install-deps.sh"
need=()
[ -f /usr/include/rocksdb/c.h ] || need+=(librocksdb-dev)
[ -f /usr/include/leveldb/c.h ] || need+=(libleveldb-dev)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

cd "$here"
swift build -c release --product floe-compare >&2
# Versions the binary cannot see by itself, printed in its report.
FLOE_COMMIT="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
FLOE_SWIFT_VERSION="$(swift --version 2>/dev/null | grep -o 'Swift version [0-9.]*' | head -1 || echo unknown)"
export FLOE_COMMIT FLOE_SWIFT_VERSION
exec "$here/.build/release/floe-compare" "$@"
