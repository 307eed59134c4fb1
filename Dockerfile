# The data tool (datapath/) for the overlay's Kubernetes Jobs. Its PostgreSQL client must be at
# least as new as the server: production runs PostgreSQL 17, so the image carries client 17.
#   docker build -t ghcr.io/dfe-digital/pg-recovery-data:0.1.0 .
# and set pg-recovery:environment.dataTool.image to the pushed reference.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.datapath.json ./
COPY tools/build.js ./tools/build.js
COPY contract ./contract
COPY datapath ./datapath
# The type gate, then the one-file bundle the image runs (tools/build.js; packages stay in
# node_modules, installed below without dev dependencies).
RUN npx tsc -p tsconfig.datapath.json --noEmit && node tools/build.js pg-recovery-data

FROM node:24-bookworm-slim
ARG PG_MAJOR=17
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-${PG_MAJOR} zstd \
 && apt-get purge -y curl gnupg && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist/pg-recovery-data.js ./dist/pg-recovery-data.js
ENV PG_BIN=/usr/lib/postgresql/${PG_MAJOR}/bin NODE_ENV=production
USER 1000
ENTRYPOINT ["node", "/app/dist/pg-recovery-data.js"]
