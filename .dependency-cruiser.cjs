// The module structure, checked by `npm run lint` (depcruise src). A module is a folder:
// src/modules/<name>, src/providers/<name>, and src/jobs, src/providers, src/lib, src/db,
// src/config, src/openapi.

// The module a file belongs to: a feature folder, or a top folder of src.
const MODULE = '^(src/modules/[^/]+|src/providers/[^/]+|src/[^/]+)/';
// The composition root wires modules' insides together; nothing else may.
const COMPOSITION_ROOT = '^src/(app|server)\\.ts$';
// Files of src/providers itself (the interfaces, the registry, the list of providers).
const PROVIDERS_ROOT = '^src/providers/[^/]+$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-module-cycle',
      comment: 'Modules (folders) depend one way. Move what both sides need into a module of its own (as outbox/ and people/).',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-file-cycle',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-module-internals',
      comment:
        'A feature module (src/modules/<name>, src/providers/<name>) is used through its index.ts; the rest is its own. Export what others need from there, as a small interface where you can.',
      severity: 'error',
      from: { path: MODULE, pathNot: [COMPOSITION_ROOT, PROVIDERS_ROOT] },
      to: {
        path: '^src/(modules|providers)/[^/]+/',
        pathNot: ['^$1/', '^src/(modules|providers)/[^/]+/index\\.ts$'],
      },
    },
    {
      name: 'no-module-internals-from-providers',
      comment: "src/providers' own files (the list, the registry) see each provider folder through its index.ts too.",
      severity: 'error',
      from: { path: PROVIDERS_ROOT },
      to: { path: '^src/(modules|providers)/[^/]+/', pathNot: '^src/(modules|providers)/[^/]+/index\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/generated/' },
    // Type-only imports are dependencies too: a cycle through types is still a cycle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    skipAnalysisNotInRules: true,
  },
};
