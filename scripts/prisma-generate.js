#!/usr/bin/env node
// Runs `prisma generate`. The Prisma CLI insists on its native schema engine before any
// command, and downloads it when absent; machines without access to Prisma's binary host
// cannot do that. `generate` never runs the engine, so when the real engine is missing we
// point PRISMA_SCHEMA_ENGINE_BINARY at a harmless existing executable (node itself).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
const enginesDir = path.join(root, 'node_modules', '@prisma', 'engines');
const hasRealEngine = fs.existsSync(enginesDir) && fs.readdirSync(enginesDir).some((f) => f.startsWith('schema-engine'));
if (!env.PRISMA_SCHEMA_ENGINE_BINARY && !hasRealEngine) {
  env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;
}
const cli = path.join(root, 'node_modules', 'prisma', 'build', 'index.js');
if (!fs.existsSync(cli)) {
  // A production install (npm ci --omit=dev) has no Prisma CLI; the client was generated
  // and compiled at build time (see Dockerfile).
  console.log('prisma CLI not installed; skipping prisma generate');
  process.exit(0);
}
const result = spawnSync(process.execPath, [cli, 'generate'], { cwd: root, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
