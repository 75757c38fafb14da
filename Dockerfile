# Docker is not available where this file was written, so it has never been built: it is kept short and plain
# so it can be checked by reading. Build from the repository root: docker build -t zitadel-operator .
#
# The operator is TypeScript run directly by Node 24 (type stripping): there is no build step, the image carries
# bin/ and src/ as they are in the repository, and the base image's Node 24 runs them.

FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only. This leaves out the `node` devDependency too (the Node 24 that development pins):
# the base image already is Node 24. None of the runtime dependencies needs an install script.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:24-bookworm-slim
# GitSource runs the git binary (simple-git), over HTTPS or SSH. The PostgreSQL backup, restore and verify Jobs
# run this image too, and need pg_dump and pg_restore of at least the server's major version: Debian's own client
# is 15, so the client comes from the PostgreSQL project's apt repository (apt.postgresql.org), at the newest
# major, which dumps and restores every server from 9.2 on. (The CockroachDB Jobs need no client program: they
# speak SQL through node-postgres.)
ARG POSTGRES_CLIENT_MAJOR=18
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates curl git gnupg openssh-client \
  && install -d /usr/share/postgresql-common/pgdg \
  && curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    | gpg --dearmor -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.gpg \
  && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.gpg] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
    > /etc/apt/sources.list.d/pgdg.list \
  && apt-get update \
  && apt-get install -y --no-install-recommends "postgresql-client-${POSTGRES_CLIENT_MAJOR}" \
  && apt-get purge -y curl gnupg && apt-get autoremove -y \
  && rm -rf /var/lib/apt/lists/*
# The uid and gid the Deployment's securityContext runs as. HOME is /tmp, the only writable path in the pod
# (readOnlyRootFilesystem), where git and ssh keep their files.
RUN groupadd --gid 65532 nonroot \
  && useradd --uid 65532 --gid 65532 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin nonroot
ENV NODE_ENV=production HOME=/tmp
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
USER 65532:65532
ENTRYPOINT ["node", "/app/bin/zitadel-operator.js"]
