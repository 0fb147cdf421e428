#!/usr/bin/env bash
# Builds the siteloom image the container tests use, on a machine that reaches no container registry: the base
# images are made here from Debian (debootstrap --variant=minbase bookworm, from the mirror apt already uses) with
# this machine's Node copied in, then the repository's Dockerfile is built on them with --build-arg; beside it a
# PostgreSQL 15 image for the Compose test (localhost/siteloom-postgres:test). Prints the siteloom image's tag on its
# last line.
#   bash scripts/container-image.sh            (scripts/test.sh starts it in the background during the Node 20 run;
#                                               test/containers/ runs it again and finds everything cached)
# Cache: the two base images are tagged by a key of (mirror, Node version, Node binary); podman's layer cache keeps
# the Dockerfile's steps. The build context is a copy of the repository with canary credentials planted where a
# careless image would pick them up (.env, .siteloom/, a secrets file); the CA bundle passed as a build secret carries
# a canary line too. test/containers/image.test.ts scans every layer for them (the canaries file beside the cache).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${SITELOOM_CONTAINER_CACHE:-/var/tmp/siteloom-containers}"
TAG="${SITELOOM_TEST_IMAGE:-localhost/siteloom:test}"
mkdir -p "$CACHE"
exec 9>"$CACHE/build.lock"
flock 9

# Measured on these machines: crun fails on the cgroup mode (runc works); rootful podman must not ask for more than
# these limits.
cat >"$CACHE/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$CACHE/containers.conf"

mirror() {
  local uri
  uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  [ -n "$uri" ] || uri="$(awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

NODE_BIN="$(readlink -f "$(command -v node)")"
NODE_PREFIX="$(dirname "$(dirname "$NODE_BIN")")"
NPM_DIR="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
MIRROR="$(mirror)"
KEY="$( (echo "bookworm $MIRROR $(node --version)"; sha256sum "$NODE_BIN") | sha256sum | cut -c1-12)"
DEBIAN_IMAGE="localhost/siteloom-debian:$KEY"
NODE_IMAGE="localhost/siteloom-node:$KEY"

if ! podman image exists "$NODE_IMAGE" || ! podman image exists "$DEBIAN_IMAGE"; then
  WORK="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
  echo "container-image: debootstrap bookworm from $MIRROR"
  debootstrap --variant=minbase bookworm "$WORK/root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  R="$WORK/root"
  # what debian:bookworm-slim leaves out too
  rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/usr/share/doc/* "$R"/usr/share/man/* \
    "$R"/usr/share/locale/* "$R"/usr/share/info/*
  tar -C "$R" --exclude=./proc --exclude=./sys --exclude=./dev -c . | podman import - "$DEBIAN_IMAGE" >/dev/null
  # the layout of the official node images: /usr/local/{bin/node,bin/npm,lib/node_modules/npm,include/node}
  mkdir -p "$R/usr/local/bin" "$R/usr/local/lib/node_modules" "$R/usr/local/include"
  cp "$NODE_BIN" "$R/usr/local/bin/node"
  cp -a "$NPM_DIR" "$R/usr/local/lib/node_modules/npm"
  cp -a "$NODE_PREFIX/include/node" "$R/usr/local/include/node"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$R/usr/local/bin/npx"
  tar -C "$R" --exclude=./proc --exclude=./sys --exclude=./dev -c . |
    podman import --change 'CMD ["node"]' - "$NODE_IMAGE" >/dev/null
  rm -rf "$WORK"
  trap - EXIT
fi

# The build context: the repository as committed or edited (no node_modules, .git, dist), plus the canaries.
CONTEXT="$CACHE/context"
rm -rf "$CONTEXT"
mkdir -p "$CONTEXT"
tar -C "$ROOT" --exclude=./node_modules --exclude=./.git --exclude=./dist --exclude='./dist-*' --exclude=./coverage \
  --exclude=./bench/results -cf - . | tar -C "$CONTEXT" -xf -
CANARIES="$CACHE/canaries.txt"
printf '%s\n' SITELOOM-CANARY-DOTENV-5e1f0c SITELOOM-CANARY-STATE-9a7d42 SITELOOM-CANARY-SECRET-3c88b1 \
  SITELOOM-CANARY-CA-71d0e6 >"$CANARIES"
echo "SITELOOM_SECRET_GLOBAL__FTP_PASSWORD=SITELOOM-CANARY-DOTENV-5e1f0c" >"$CONTEXT/.env"
echo "OPENAI_API_KEY=SITELOOM-CANARY-DOTENV-5e1f0c" >"$CONTEXT/examples/workspace/.env"
mkdir -p "$CONTEXT/.siteloom" "$CONTEXT/examples/workspace/.siteloom"
echo "SITELOOM-CANARY-STATE-9a7d42" >"$CONTEXT/.siteloom/token"
echo "SITELOOM-CANARY-SECRET-3c88b1" >"$CONTEXT/examples/workspace/.siteloom/secrets.production.age"
# npm reaches the registry through this machine's CA bundle: a build secret, with a canary comment PEM ignores
CA="$CACHE/ca-bundle.pem"
cat "${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}" >"$CA"
printf '# SITELOOM-CANARY-CA-71d0e6\n' >>"$CA"

# PostgreSQL 15 for the Compose test: Debian's postgresql-15 on the same base (cached by podman's layer cache)
PG_TAG="${SITELOOM_TEST_POSTGRES_IMAGE:-localhost/siteloom-postgres:test}"
echo "container-image: building $PG_TAG"
podman build --format docker --build-arg RUNTIME_IMAGE="$DEBIAN_IMAGE" -t "$PG_TAG" \
  -f "$ROOT/test/containers/support/postgres.Containerfile" "$ROOT/test/containers/support" >"$CACHE/postgres.log" 2>&1 ||
  { tail -40 "$CACHE/postgres.log" >&2; exit 1; }

echo "container-image: building $TAG on $NODE_IMAGE"
podman build --format docker --jobs 2 \
  --build-arg BASE_IMAGE="$NODE_IMAGE" --build-arg RUNTIME_IMAGE="$DEBIAN_IMAGE" \
  --secret id=ca_bundle,src="$CA" -t "$TAG" "$CONTEXT" >"$CACHE/build.log" 2>&1 ||
  { tail -40 "$CACHE/build.log" >&2; exit 1; }
rm -f "$CA"
echo "$TAG"
