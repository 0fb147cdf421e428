# syntax=docker/dockerfile:1
# siteloom container image: one image, two commands (`serve` for the API, `worker` for queued runs).
# See docs/deploy.md. Build:
#   docker build -t siteloom .
#   podman build --format docker -t siteloom .          (podman: --format docker keeps HEALTHCHECK)
# Behind a TLS-intercepting proxy, pass its CA bundle as a build secret (never COPY it):
#   --secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt
# BASE_IMAGE is any Debian bookworm image with Node >= 20 in /usr/local (bin/node, bin/npm, include/node);
# RUNTIME_IMAGE is the Debian bookworm the runtime stage starts from (Node is copied in from BASE_IMAGE, so the
# final image carries neither npm nor Node's C headers).
ARG BASE_IMAGE=node:20-bookworm-slim
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS node

# --- build: dev dependencies, compile TypeScript to dist/ (no install scripts: no native build needed here) ---
FROM node AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca_bundle; fi; \
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn
COPY tsconfig.json tsdown.config.ts ./
COPY src ./src
RUN npm run build

# --- deps: production dependencies only, native addons compiled from source against BASE_IMAGE's Node ---
FROM node AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# better-sqlite3 is built from source (no prebuilt download), with the headers the Node install carries
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca_bundle; fi; \
    export npm_config_nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")" \
           npm_config_build_from_source=true; \
    npm ci --omit=dev --no-audit --no-fund --loglevel=warn \
 && node -e 'new (require("better-sqlite3"))(":memory:").close()' \
 # native build trees and sources: only the built .node files are needed at run time
 && for d in node_modules/better-sqlite3 node_modules/ssh2/lib/protocol/crypto node_modules/cpu-features; do \
      [ -d "$d/build" ] || continue; \
      find "$d/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +; \
      find "$d/build/Release" -mindepth 1 ! -name '*.node' -exec rm -rf {} +; \
      rm -f "$d/build/Release/test_extension.node"; \
    done \
 && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
 && npm cache clean --force 2>/dev/null; rm -rf /root/.npm /root/.cache
# what Node never loads: source maps, type declarations, Markdown, the browser and React Native builds of the Azure
# SDK (about 80 MB of the 200 MB)
RUN find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.md' \) -delete \
 && rm -rf node_modules/@azure/*/dist/browser node_modules/@azure/*/dist/react-native

# --- runtime ---
FROM ${RUNTIME_IMAGE}
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=deps /usr/bin/tini-static /usr/bin/tini
RUN groupadd --system --gid 10001 siteloom \
 && useradd --system --uid 10001 --gid siteloom --home-dir /home/siteloom --create-home --shell /usr/sbin/nologin siteloom \
 # /data: where runs write when SITELOOM_DATA_DIR=/data (Compose, Kubernetes); owned by the user so that a fresh
 # named volume mounted there starts with this owner (Docker and podman copy a mount point's owner into a new volume)
 && mkdir -p /workspace /data && chown siteloom:siteloom /workspace /data
WORKDIR /opt/siteloom
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY schema ./schema
COPY examples/workspace ./examples/workspace
COPY src/console/assets ./src/console/assets
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
RUN ln -s /opt/siteloom/dist/cli/main.js /usr/local/bin/siteloom && chmod 0755 dist/cli/main.js
ENV NODE_ENV=production \
    SITELOOM_WORKSPACE=/workspace \
    SITELOOM_SECRETS_BACKEND=env \
    SITELOOM_SERVER__HOST=0.0.0.0 \
    SITELOOM_HEALTHCHECK_URL=http://127.0.0.1:8088/health
USER siteloom:siteloom
WORKDIR /workspace
EXPOSE 8088
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/opt/siteloom/deploy/healthcheck.mjs"]
# tini is PID 1: it forwards SIGTERM/SIGINT to siteloom (which stops cleanly on both) and reaps zombies
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/siteloom/dist/cli/main.js"]
CMD ["serve"]
