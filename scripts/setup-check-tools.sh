#!/usr/bin/env bash
# Checkers the enrichment tests run against generated pages: the Nu HTML checker (Java), Lighthouse (Chromium)
# and xmllint (sitemap XSDs). Idempotent: installs only what is missing.
set -euo pipefail

need=()
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)

if [ "${#need[@]}" -eq 0 ]; then
  echo "check tools: java, chromium and xmllint already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
