# The meshplane control-plane image of docker-compose.yml: `meshplane serve`, `meshplane bootstrap`
# and the demo's sample apps (examples/demo/run-app.ts). It holds code only: the CA root, the xDS
# token key and every bootstrap are made at start-up in named volumes, never baked in.
FROM node:20-bookworm-slim

# curl: the compose healthcheck and `docker-compose exec meshplane curl ...` (the demo's listeners
# are on loopback inside the shared network namespace); netcat-openbsd: the TCP echo (`nc -q1`).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl netcat-openbsd \
 && rm -rf /var/lib/apt/lists/*

# A fixed non-root uid: docker-compose.yml runs the Envoy containers as the same uid, so they can
# read the 0600 bootstraps this user writes.
RUN groupadd --gid 10001 meshplane \
 && useradd --uid 10001 --gid meshplane --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin meshplane

WORKDIR /app
# tsx is a runtime dependency (bin/meshplane runs the TypeScript sources), so no build step.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY bin/ bin/
COPY protos/ protos/
COPY src/ src/
# The demo config and sample apps, and the plugins a Mesh config may list (../plugins/*.ts).
COPY examples/ examples/

# Empty, owned by the runtime user and 0700 (meshplane refuses a state dir others may write):
# a named volume mounted here starts with this owner and mode.
RUN install -d -o meshplane -g meshplane -m 0700 /var/lib/meshplane/state /var/lib/meshplane/bootstraps

USER 10001:10001
ENV NODE_ENV=production
ENTRYPOINT ["/app/bin/meshplane"]
CMD ["help"]
