# syntax=docker/dockerfile:1
# An ingest worker (ingest/) for the production layout (docker-compose.yml); several read one Redis Stream
# as one consumer group, each with its own INGEST_ID. From the repository root:
#   docker build -f deploy/ingest.Dockerfile -t citytel-ingest .

FROM node:20-bookworm-slim AS deps
WORKDIR /app
# better-sqlite3 compiles when no prebuilt binary fits; the compilers stay in this stage.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY contract/package.json contract/
COPY store/package.json store/
COPY broker/package.json broker/
COPY ingest/package.json ingest/
COPY api/package.json api/
COPY dashboard/package.json dashboard/
COPY firmware-sim/package.json firmware-sim/
RUN npm ci --no-audit --no-fund

FROM deps AS runtime-deps
# Production dependencies only, plus tsx and its esbuild: the services run their TypeScript through tsx,
# as `npm start` and the tests do (no second, compiled form of the code to keep in step).
RUN mkdir /keep && cp -a node_modules/tsx node_modules/esbuild node_modules/@esbuild /keep/ \
 && npm prune --omit=dev --no-audit --no-fund \
 && cp -a /keep/. node_modules/ && rm -rf /keep

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production DATA_DIR=/data
# Files stay root's: the process, running as `node`, can read its code but not change it.
COPY --from=runtime-deps /app /app
COPY tsconfig.json tsconfig.base.json ./
COPY contract contract
COPY store store
COPY ingest ingest
COPY deploy/healthcheck.mjs deploy/
RUN mkdir -p /data && chown node:node /data
USER node
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "deploy/healthcheck.mjs", "ingest"]
CMD ["node", "--import", "tsx", "ingest/src/main.ts"]
