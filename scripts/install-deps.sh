#!/usr/bin/env bash
# Installs the Debian packages Floe builds against, only when a header is missing,
# and moto's S3 server (PyPI moto[server]), which the FloeS3 tests start themselves,
# only when python3 cannot import it.
set -euo pipefail
need=()
[ -f /usr/include/zstd.h ] || need+=(libzstd-dev)
[ -f /usr/include/lz4.h ] || need+=(liblz4-dev)
[ -f /usr/include/xxhash.h ] || need+=(libxxhash-dev)
[ -f /usr/include/sqlite3.h ] || need+=(libsqlite3-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
moto=0
python3 -c "import moto.server" >/dev/null 2>&1 || moto=1
if [ "$moto" -eq 1 ] && ! python3 -m pip --version >/dev/null 2>&1; then
    command -v python3 >/dev/null 2>&1 || need+=(python3)
    need+=(python3-pip)
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
if [ "$moto" -eq 1 ]; then
    # The version whose behaviour the tests rely on (412 on a second If-None-Match put, 206 ranges).
    echo "installing: moto[server] 5.2.1 (pip)"
    pip=(python3 -m pip install -q --disable-pip-version-check 'moto[server]==5.2.1')
    "${pip[@]}" 2>/dev/null || "${pip[@]}" --break-system-packages
fi
