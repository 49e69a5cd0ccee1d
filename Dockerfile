# syntax=docker/dockerfile:1
# The Node.js major version: 20 is what the tests run on here, and it is past its end of life
# (April 2026). Build on a newer one with `docker build --build-arg NODE_VERSION=22 .` (or 24).
ARG NODE_VERSION=20

# Stage 1: compile src/ to dist/ with the dev dependencies (TypeScript). --ignore-scripts: the
# `prepare` build needs src/, copied after the install so that the install layer stays cached.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json
# The console's HTML/CSS/JS are served from beside the compiled console module (scripts/build.mjs does the same).
RUN cp -r src/console/public dist/console/public

# Stage 2: production dependencies only. --ignore-scripts skips the root `prepare` (no TypeScript
# here; dist/ comes from stage 1); bufferutil, the one dependency with an install script, loads
# its prebuilt binary (linux-x64) without it, and ws works without bufferutil elsewhere.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Stage 3: the runtime image, as a non-root user: compiled JavaScript under plain node, no tsx.
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production PORT=8080
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
# the control plane's SQL migrations, read at start-up when DATABASE_URL is set
COPY migrations ./migrations
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node is PID 1's direct child of nothing: exec form, so SIGTERM reaches node and the drain runs.
# --heap-growing-percent: see docs/capacity.md (fewer full GCs under load; same flag as `npm start`)
CMD ["node", "--heap-growing-percent=300", "dist/main.js", "serve"]
