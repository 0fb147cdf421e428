#!/usr/bin/env bash
# Debian packages for the container tests (test/containers/): podman builds and runs the image (runc: crun fails
# on these machines' cgroup mode), podman-compose runs deploy/compose.yaml, debootstrap makes the local base image
# (no registry is reachable), tini is copied from Debian into the image by the Dockerfile itself. The CNI dnsname
# plugin gives a Compose network its container names (api and worker reach `postgres` by name); without it podman
# creates the network with dns_enabled false and every name lookup fails (ENOTFOUND).
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=""; fi
PKGS=(podman buildah podman-compose runc debootstrap golang-github-containernetworking-plugin-dnsname)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
