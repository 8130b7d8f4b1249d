# Production image: build with dev dependencies, run with production ones only.
# Node 24, the current LTS (Node 20 reached end of life in April 2026); CI runs the suite on both.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/prisma-generate.js scripts/
COPY prisma ./prisma
COPY prisma.config.ts ./
# npm install rather than npm ci: see .ci/run about lockfiles written without other platforms' optional packages.
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/prisma-generate.js scripts/
# --ignore-scripts: no prisma generate here (the compiled client comes from the build stage).
RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY prisma ./prisma
# The console's files (served at /console as they are: no build step).
COPY console ./console
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
# Migrations are applied by the service at start.
CMD ["node", "dist/src/server.js"]
