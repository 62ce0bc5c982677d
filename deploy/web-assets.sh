#!/usr/bin/env bash
# Browser dependencies of the web verifier (api/web/static/custody-verify.js).  Installs the npm
# packages pinned by web/package-lock.json and copies the exact builds the page imports into
# api/web/static/vendor/, which is generated (not committed).  The verifier is served as plain static
# files, with no bundler, so these are self-contained ES modules:
#   hash-wasm.esm.min.js  BLAKE3, SHA-256, SHA-512 in WebAssembly (hash-wasm's ESM build, no imports)
#   noble-ed25519.js      Ed25519 verification (@noble/ed25519 v2, one dependency-free ES module)
# Idempotent: npm runs only when node_modules is missing or package-lock.json is newer than the last
# install, and a vendor file is rewritten only when its content changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "web-assets: node and npm are needed to fetch the verifier's browser libraries;" \
         "install them (e.g. 'apt-get install nodejs npm') and run again" >&2
    exit 1
fi

# The stamp lives inside node_modules, so deleting node_modules also forces a fresh install.
stamp=web/node_modules/.custody-installed
if [ ! -f "$stamp" ] || [ web/package-lock.json -nt "$stamp" ]; then
    (cd web && npm ci --no-audit --no-fund)
    touch "$stamp"
fi

vendor=api/web/static/vendor
mkdir -p "$vendor"
# Replace a file only when it differs (atomically, so a running server never serves half a file);
# unchanged files keep their mtime, and with it the browsers' cached copies.
install_file() {
    if ! cmp -s "$1" "$2"; then
        cp "$1" "$2.tmp"
        mv "$2.tmp" "$2"
        echo "web-assets: updated $2"
    fi
}
install_file web/node_modules/hash-wasm/dist/index.esm.min.js "$vendor/hash-wasm.esm.min.js"
install_file web/node_modules/hash-wasm/LICENSE "$vendor/hash-wasm.LICENSE"
install_file web/node_modules/@noble/ed25519/index.js "$vendor/noble-ed25519.js"
install_file web/node_modules/@noble/ed25519/LICENSE "$vendor/noble-ed25519.LICENSE"
echo "web-assets: $vendor is up to date"
