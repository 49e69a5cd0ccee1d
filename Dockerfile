# syntax=docker/dockerfile:1
# The Node.js major version: 20 is what the tests run on here, and it is past its end of life
# (April 2026). Build on a newer one with `docker build --build-arg NODE_VERSION=22 .` (or 24).
ARG NODE_VERSION=20

# Stage 1: production dependencies only (tsx runs the TypeScript sources; no build output).
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# Stage 2: the runtime image, as a non-root user.
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production PORT=8080
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY config ./config
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node is PID 1's direct child of nothing: exec form, so SIGTERM reaches node and the drain runs.
# --heap-growing-percent: see docs/capacity.md (fewer full GCs under load; same flag as `npm start`)
CMD ["node", "--heap-growing-percent=300", "--import", "tsx", "src/main.ts", "serve"]
