#!/usr/bin/env bash
# Installs the real servers the transfer tests start on loopback: vsftpd (FTP + explicit FTPS), OpenSSH's sshd
# (SFTP), openssl (certificates, password hashes), pure-ftpd and ProFTPD. pure-ftpd conflicts with vsftpd as a Debian package
# (both provide ftp-server), so it is unpacked with `apt-get download` + `dpkg-deb -x` into a private folder instead.
# Idempotent: reruns only check. Runs as root on a fresh Debian machine (CI).
set -euo pipefail

PURE_DIR="${SITELOOM_PURE_FTPD_DIR:-/opt/siteloom-test-servers/pure-ftpd}"
PROFTPD_DIR="${SITELOOM_PROFTPD_DIR:-/opt/siteloom-test-servers/proftpd}"
SUDO=""
# _missing_libs FILE...: whether the loader finds a shared library missing for one of them. ldd's output is read whole
# first: `ldd | grep -q` under pipefail fails when grep leaves early and ldd dies of SIGPIPE, and the check then says
# nothing is missing (a fresh machine got ProFTPD without libhiredis that way).
_missing_libs() {
  local out
  out="$(ldd "$@" 2>&1 || true)"
  grep -q "not found" <<<"$out"
}
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
  if _missing_libs "$PURE_DIR/usr/sbin/pure-ftpd"; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libsodium23 libcap2 libpam0g libssl3 >/dev/null
  fi
fi

# ProFTPD (proftpd-core, and proftpd-mod-crypto for mod_tls) conflicts with vsftpd like pure-ftpd: unpacked too.
if [ ! -x "$PROFTPD_DIR/usr/sbin/proftpd" ] || [ ! -f "$PROFTPD_DIR/usr/lib/proftpd/mod_tls.so" ]; then
  echo "setup-test-servers: unpacking proftpd into $PROFTPD_DIR"
  if [ "$updated" = "0" ]; then $SUDO apt-get update -qq; updated=1; fi
  tmp="$(mktemp -d)"
  chmod 777 "$tmp"
  (cd "$tmp" && apt-get download proftpd-core proftpd-mod-crypto >/dev/null)
  $SUDO mkdir -p "$PROFTPD_DIR"
  for deb in "$tmp"/*.deb; do $SUDO dpkg-deb -x "$deb" "$PROFTPD_DIR"; done
  rm -rf "$tmp"
fi
# its runtime libraries are ordinary Debian packages without conflicts
if _missing_libs "$PROFTPD_DIR/usr/sbin/proftpd" "$PROFTPD_DIR/usr/lib/proftpd/mod_tls.so"; then
  if [ "$updated" = "0" ]; then $SUDO apt-get update -qq; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3 libsodium23 libssl3 libacl1 libcap2 >/dev/null
fi

echo "setup-test-servers: vsftpd $(dpkg-query -W -f '${Version}' vsftpd 2>/dev/null || echo '?'), sshd $(dpkg-query -W -f '${Version}' openssh-server 2>/dev/null || echo '?'), pure-ftpd in $PURE_DIR, proftpd in $PROFTPD_DIR"
