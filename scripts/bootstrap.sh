#!/usr/bin/env bash
# Installs what building, serving and testing need, skipping whatever is already there.
# Everything comes from the package registries (apt, crates.io, npm); nothing downloads a
# prebuilt binary. Safe to run again: each step checks first.
#
# On a fresh machine the two Rust tools are most of the wait, so: the browser and the npm
# packages download in the background meanwhile; both tools share one target folder (their
# common crates are built once); and they are built with opt-level 1 (they orchestrate
# cargo and rewrite one WASM file: full optimisation buys nothing a person would notice).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.130 # must equal the wasm-bindgen pin in Cargo.toml

started=$SECONDS
step() { printf '\n==> [%ss] %s\n' "$((SECONDS - started))" "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

logs=$(mktemp -d)
background=()
in_background() { # name, command...: runs it with its output in $logs/name
  local name=$1
  shift
  step "$name (in the background)"
  "$@" >"$logs/$name" 2>&1 &
  background+=("$!:$name")
}

install_chromium() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
}
if [ "${1:-}" != "--no-browser" ] && ! command -v chromium >/dev/null 2>&1; then
  in_background "installing Debian's chromium (Playwright's own browser download is not used)" \
    install_chromium
fi

if [ -f end2end/package-lock.json ]; then
  if [ ! -d end2end/node_modules ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    in_background "installing end2end npm packages (Playwright, binaryen's wasm-opt)" \
      env -C end2end PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
  fi
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The tool builds only: a light release profile and one shared target folder.
export CARGO_TARGET_DIR="$PWD/target/tools" CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 \
  CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_INCREMENTAL=false

if ! cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION"; then
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION (one-time)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (one-time)"
  # Not --locked: its lock file names a webpki-roots release the registry doesn't serve.
  # No default features: TLS is only for its test runner's downloads, which nothing here uses.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --no-default-features
fi

failed=0
for job in "${background[@]}"; do
  if ! wait "${job%%:*}"; then
    echo "error: ${job#*:} failed:" >&2
    tail -n 30 "$logs/${job#*:}" >&2
    failed=1
  fi
done
rm -rf "$logs"
[ "$failed" = 0 ] || exit 1
step "tools ready"
