#!/usr/bin/env bash
# One-time (and idempotent) set-up on a fresh machine: a virtualenv with Custody and its test tools,
# plus the system programs it needs (ffmpeg; Node.js/npm for the browser verifier's libraries; Debian's
# chromium for the browser tests; Ceph's radosgw, the tests' real S3 server; b3sum, wrk and curl for
# the benchmarks).  Called by `make`.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
want_bench=${WANT_BENCH:-0}

"$PYTHON" - <<'PY' || { echo "bootstrap: Python >= 3.11 is required (set PYTHON=...)" >&2; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

apt_install() {
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "bootstrap: installing $* with apt-get"
        if [ ! -f /var/lib/apt/periodic/custody-updated ]; then
            apt-get update -qq && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/custody-updated
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        echo "bootstrap: please install $* (e.g. 'sudo apt-get install $*') and run again" >&2
        exit 1
    fi
}

command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || apt_install ffmpeg
# openssl: the tests' local RFC 3161 time-stamping authority is `openssl ts -reply`.
command -v openssl >/dev/null || apt_install openssl
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
# A real S3 server with Object Lock for the tests and benchmarks: a throwaway single-node Ceph
# cluster with a RADOS Gateway (tests/rgw.py).  Without root the S3 tests are skipped, loudly.
if [ "${WANT_RGW:-1}" = 1 ] && ! { command -v radosgw >/dev/null && command -v ceph-mon >/dev/null \
        && command -v ceph-osd >/dev/null && command -v radosgw-admin >/dev/null; }; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "bootstrap: installing ceph-mon ceph-osd ceph-common radosgw with apt-get"
        if [ ! -f /var/lib/apt/periodic/custody-updated ]; then
            apt-get update -qq && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/custody-updated
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            ceph-mon ceph-osd ceph-common radosgw >/dev/null
    else
        echo "bootstrap: WARNING: Ceph's radosgw is missing and this is not root: the tests against a real" \
             "S3 server will be SKIPPED (sudo apt-get install --no-install-recommends ceph-mon ceph-osd" \
             "ceph-common radosgw)" >&2
    fi
fi
# The browser tests drive Debian's chromium (never a downloaded browser).  Without root they are
# skipped with a loud reason rather than failing the set-up.
if [ "${WANT_BROWSER:-1}" = 1 ] && [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        apt_install chromium fonts-wqy-microhei  # a CJK font, or Chinese pages render as boxes
    else
        echo "bootstrap: WARNING: /usr/bin/chromium is missing and this is not root: the browser tests" \
             "will be SKIPPED (sudo apt-get install chromium)" >&2
    fi
fi
if [ "$want_bench" = 1 ]; then
    command -v b3sum >/dev/null || apt_install b3sum
    command -v wrk >/dev/null || apt_install wrk
    command -v curl >/dev/null || apt_install curl
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
# Reinstall only when the project's dependencies changed.
stamp="$VENV/.custody-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e '.[test]'
    touch "$stamp"
fi

# The browser verifier's BLAKE3 (WASM) and Ed25519 libraries, from the npm registry.
./deploy/web-assets.sh
