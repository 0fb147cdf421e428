#!/usr/bin/env bash
# Installs PostgreSQL 15 (Debian's `postgresql`) for the state-store and cluster tests. The tests never use the
# packaged cluster: test/support/postgres.ts runs `initdb` into a temp folder and starts its own `postgres` on a free
# loopback port. Idempotent: reruns only check. Runs as root on a fresh Debian machine (CI).
set -euo pipefail

BIN_DIR="${SITELOOM_POSTGRES_BIN:-/usr/lib/postgresql/15/bin}"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

if [ ! -x "$BIN_DIR/initdb" ] || [ ! -x "$BIN_DIR/postgres" ]; then
  echo "setup-postgres: installing postgresql"
  $SUDO apt-get update -qq
  # The package starts a cluster on port 5432 through its maintainer scripts; tests do not use it, stop it.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  $SUDO pg_ctlcluster 15 main stop 2>/dev/null || true
fi
command -v useradd >/dev/null 2>&1 || { echo "setup-postgres: useradd (passwd) is missing" >&2; exit 1; }

echo "setup-postgres: $("$BIN_DIR/postgres" --version)"
