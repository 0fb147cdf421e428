#!/usr/bin/env bash
# Installs what the credential manager's tests need: the `age` command-line tool (Debian package `age`), used by the
# interoperability test (a store written by siteloom is decrypted by `age`, and a file encrypted by `age` is read back).
# Idempotent; runs as root on a fresh Debian machine in CI.
set -euo pipefail
if command -v age >/dev/null 2>&1 && command -v age-keygen >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if [ ! -f /tmp/.siteloom-apt-updated ]; then
  $SUDO apt-get update -qq
  touch /tmp/.siteloom-apt-updated || true
fi
$SUDO apt-get install -y -qq --no-install-recommends age >/dev/null
command -v age >/dev/null
