#!/usr/bin/env bash
# Runs spdy 4.0.2's own test suite (mocha, test/server-test.js and test/client-test.js)
# against this project's spdy compatibility layer, installed before the suite loads.
# The suite is fetched at run time into a temporary folder (from the spdy-fixes
# package, which ships spdy's test files; see restore-4.0.2.mjs) and never committed.
#
#   bash test/spdy-upstream/run.sh [path/to/node ...]   (default: the node on PATH)
#
# Exits non-zero if any test fails on any of the given Node binaries.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
nodes=("$@")
[ ${#nodes[@]} -gt 0 ] || nodes=("$(command -v node)")

work="$(mktemp -d "${TMPDIR:-/tmp}/spdy-upstream.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent spdy-fixes@4.0.5 >/dev/null
tar xzf spdy-fixes-4.0.5.tgz
mkdir test
cp package/test/client-test.js package/test/server-test.js package/test/fixtures.js test/
node "$here/restore-4.0.2.mjs" "$work/test"

echo '{ "name": "spdy-upstream-suite", "private": true }' > package.json
npm install --silent --no-save --no-package-lock --no-audit --no-fund mocha@10.8.2 >/dev/null
# The suite requires spdy as `require('../')` and spdy-transport by name: the project's copies.
spdy_dir="$(cd "$root" && node -p "require('node:path').dirname(require.resolve('spdy/package.json'))")"
echo "module.exports = require($(node -p "JSON.stringify(process.argv[1])" "$spdy_dir"))" > index.js
ln -s "$(cd "$spdy_dir" && node -p "require('node:path').dirname(require.resolve('spdy-transport/package.json'))")" node_modules/spdy-transport
cat > install-layer.mjs <<JS
import { installSpdyCompat } from '$root/src/compat/spdy/index.ts'
installSpdyCompat()
JS
tsx="$root/node_modules/tsx/dist/esm/index.mjs"

failed=()
for node in "${nodes[@]}"; do
  echo "spdy-upstream: node $("$node" --version)"
  # No --exit: the run must also end by itself once the suite is done (no handle left open).
  if ! timeout 300 "$node" --import "$tsx" node_modules/mocha/bin/mocha.js --require ./install-layer.mjs --reporter dot test/*-test.js; then
    failed+=("$("$node" --version)")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "spdy-upstream: failed on ${failed[*]}"
  exit 1
fi
