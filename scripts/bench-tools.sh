#!/bin/sh
# Installs the reference tools `bench/transfer.bench.ts` compares siteloom with: lftp and rclone from Debian.
# Idempotent. Not named setup-*.sh on purpose: CI runs every setup script, and CI does not run benchmarks.
# The benchmark also needs the test servers (scripts/setup-test-servers.sh) and, for the 50 ms rows, root and
# ../shared/tools/netdelay (which installs its own build tools).
set -eu
missing=""
command -v lftp >/dev/null 2>&1 || missing="$missing lftp"
command -v rclone >/dev/null 2>&1 || missing="$missing rclone"
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench-tools: need root to install:$missing" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
lftp --version | head -1
rclone version | head -1
