#!/usr/bin/env bash
# Installs what the alert and metrics tests start on loopback: an SMTP server with STARTTLS and AUTH (Debian's
# python3-aiosmtpd, driven by test/support/smtp-server.py) and a real Prometheus that scrapes `siteloom serve`.
# Idempotent: reruns only check. Runs as root on a fresh Debian machine (CI).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

need=()
/usr/bin/python3 -c "import aiosmtpd" >/dev/null 2>&1 || need+=(python3-aiosmtpd)
[ -x /usr/bin/prometheus ] || need+=(prometheus)
command -v openssl >/dev/null 2>&1 || need+=(openssl)

if [ "${#need[@]}" -gt 0 ]; then
  echo "setup-alerts: installing ${need[*]}"
  $SUDO apt-get update -qq
  # the package's own Prometheus service is not used (tests start one on a free port, in a temp folder)
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "setup-alerts: aiosmtpd $(/usr/bin/python3 -c 'import aiosmtpd; print(aiosmtpd.__version__)'), $(/usr/bin/prometheus --version 2>&1 | head -1)"
