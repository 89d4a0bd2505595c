# One image for every process of the one-machine layout; docker-compose.single.yml picks the process with
# `command`. The production images, one per process, are deploy/*.Dockerfile (README, "Beyond one machine").
FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY contract/package.json contract/
COPY store/package.json store/
COPY broker/package.json broker/
COPY ingest/package.json ingest/
COPY api/package.json api/
COPY dashboard/package.json dashboard/
COPY firmware-sim/package.json firmware-sim/
RUN npm ci --no-audit --no-fund

FROM deps AS build
COPY . .
RUN if [ -f dashboard/index.html ]; then npm run build -w dashboard; fi

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production DATA_DIR=/data
COPY --from=build /app /app
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
