#!/usr/bin/env bash
# Installs the real servers the transfer tests start on loopback: vsftpd (FTP + explicit FTPS), OpenSSH's sshd
# (SFTP), openssl (certificates, password hashes) and pure-ftpd. pure-ftpd conflicts with vsftpd as a Debian package
# (both provide ftp-server), so it is unpacked with `apt-get download` + `dpkg-deb -x` into a private folder instead.
# Idempotent: reruns only check. Runs as root on a fresh Debian machine (CI).
set -euo pipefail

PURE_DIR="${SITELOOM_PURE_FTPD_DIR:-/opt/siteloom-test-servers/pure-ftpd}"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

need=()
command -v vsftpd >/dev/null 2>&1 || [ -x /usr/sbin/vsftpd ] || need+=(vsftpd)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v useradd >/dev/null 2>&1 || need+=(passwd)

updated=0
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup-test-servers: installing ${need[*]}"
  $SUDO apt-get update -qq
  updated=1
  # No daemons started by the package scripts matter: tests start their own on free ports.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -x "$PURE_DIR/usr/sbin/pure-ftpd" ]; then
  echo "setup-test-servers: unpacking pure-ftpd into $PURE_DIR"
  if [ "$updated" = "0" ]; then $SUDO apt-get update -qq; fi
  tmp="$(mktemp -d)"
  chmod 777 "$tmp" # apt-get download writes as the _apt user (else it warns and falls back to root)
  (cd "$tmp" && apt-get download pure-ftpd pure-ftpd-common >/dev/null)
  $SUDO mkdir -p "$PURE_DIR"
  for deb in "$tmp"/*.deb; do $SUDO dpkg-deb -x "$deb" "$PURE_DIR"; done
  rm -rf "$tmp"
  # pure-ftpd's runtime libraries are ordinary Debian packages without conflicts; install any that are missing.
  if ldd "$PURE_DIR/usr/sbin/pure-ftpd" | grep -q "not found"; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libsodium23 libcap2 libpam0g libssl3 >/dev/null
  fi
fi

echo "setup-test-servers: vsftpd $(dpkg-query -W -f '${Version}' vsftpd 2>/dev/null || echo '?'), sshd $(dpkg-query -W -f '${Version}' openssh-server 2>/dev/null || echo '?'), pure-ftpd in $PURE_DIR"
