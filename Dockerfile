# llmwatch's own image: one CLI for every part (gateway, responder, exporter, simulator, generate).
# Node 20 running the built JavaScript (dist/, built by tsc in the first stage); no sources, no tsx.
#   docker build -t llmwatch:0.1.0 .
#   docker run --rm llmwatch:0.1.0 --help
# The compose stack (deploy/compose) and the Kubernetes manifests (deploy/k8s) run it; see docs/deploy.md.

FROM node:20-slim AS deps
WORKDIR /app
# better-sqlite3 is a native module: npm fetches its prebuilt binary, and compiles it with these
# when there is none for the platform. They stay in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# npm ci runs `prepare`, which builds dist/; then the dev dependencies (typescript, tsx) go.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/dist ./dist
COPY package.json package-lock.json ./
COPY bin ./bin
COPY config ./config
# The responder's audit log: a volume in compose, a PersistentVolumeClaim in Kubernetes.
RUN mkdir -p /var/lib/llmwatch && chown node:node /var/lib/llmwatch
# The image's own unprivileged user (uid 1000); the Kubernetes manifests run as the same uid.
USER node
EXPOSE 8000 9095 9835 3000
ENTRYPOINT ["node", "bin/llmwatch.js"]
CMD ["--help"]
