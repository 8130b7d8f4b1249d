import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import express, { Router, type Request, type RequestHandler } from 'express';
import { AppError } from '../../lib/errors';
import { idParams, parse, publicOrigin } from '../../lib/http';
import { byId, created, noContent, ok, type Operation } from '../../openapi/operation';
import { principalOf, requireAdminPrincipal } from '../auth';
import { createPortalLinkBody, openSessionBody } from './console.schemas';
import type { PortalService } from './portal.service';

export const consolePageOperations: Operation[] = [
  { method: 'get', path: '/console', tag: 'Console', summary: 'The console in the browser (HTML)', auth: 'none', responses: ok('HTML') },
];

/** Mounted at /api/organizations (admin). */
export const portalLinkOperations: Operation[] = [
  {
    method: 'post',
    path: '/:id/portal-links',
    tag: 'Console',
    summary: 'A short-lived link that opens the console scoped to this organization, once, without a key',
    auth: 'admin',
    ...byId,
    body: createPortalLinkBody,
    responses: created('{ data: { url, expiresAt, organizationId } }'),
  },
];

/** Mounted at /api/console. */
export const consoleSessionOperations: Operation[] = [
  {
    method: 'post',
    path: '/sessions',
    tag: 'Console',
    summary: "Opens a portal link's browser session (the link's token is the credential; it works once)",
    auth: 'none',
    body: openSessionBody,
    responses: { 201: '{ data: { sessionKey, organizationId, organizationName, expiresAt } }', 401: 'Unknown, expired or used link' },
  },
];

/** Mounted at /api (behind the key check). */
export const consoleSignedInOperations: Operation[] = [
  {
    method: 'get',
    path: '/me',
    tag: 'Console',
    summary: 'Who the presented key or portal session is, and which organization it may see',
    auth: 'apiKey',
    responses: ok("{ data: { kind: 'admin' | 'organization', via: 'api_key' | 'portal_session', organization? } }"),
  },
  {
    method: 'delete',
    path: '/console/sessions/current',
    tag: 'Console',
    summary: 'Ends the portal session presented (nothing to do for an API key)',
    auth: 'apiKey',
    responses: noContent,
  },
];

export interface OrganizationNameLookup {
  get(id: number): Promise<{ id: number; name: string }>;
}

/** The base the portal link points at: PUBLIC_BASE_URL, or the request's own origin. */
const baseOf = (req: Request, publicBaseUrl: string | undefined) => publicOrigin(req, publicBaseUrl).replace(/\/+$/, '');

export function portalLinksRouter(service: PortalService, publicBaseUrl: string | undefined): Router {
  const router = Router();
  router.post('/:id/portal-links', async (req, res) => {
    const p = principalOf(res);
    requireAdminPrincipal(p);
    const { id } = parse(idParams, req.params, 'params');
    parse(createPortalLinkBody, req.body ?? {}, 'body');
    const link = await service.createLink(id, p.keyId);
    // In the fragment: browsers never send it to a server, so it stays out of access logs and Referer headers.
    const url = `${baseOf(req, publicBaseUrl)}/console/#portal=${link.token}`;
    res.status(201).json({ data: { url, expiresAt: link.expiresAt, organizationId: id } });
  });
  return router;
}

/** Keyless: the link's token is the credential (rate-limited by address by the caller). */
export function consoleSessionsRouter(service: PortalService): Router {
  const router = Router();
  router.post('/sessions', async (req, res) => {
    const { token } = parse(openSessionBody, req.body, 'body');
    res.status(201).json({ data: await service.openSession(token) });
  });
  return router;
}

export function consoleSignedInRouter(service: PortalService, organizations: OrganizationNameLookup): Router {
  const router = Router();
  router.get('/me', async (_req, res) => {
    const p = principalOf(res);
    if (p.kind === 'admin') {
      res.json({ data: { kind: 'admin', via: 'api_key' } });
      return;
    }
    const org = await organizations.get(p.organizationId);
    res.json({
      data: {
        kind: 'organization',
        via: p.portalSessionId === undefined ? 'api_key' : 'portal_session',
        organization: { id: org.id, name: org.name },
      },
    });
  });
  router.delete('/console/sessions/current', async (_req, res) => {
    const p = principalOf(res);
    if (p.kind === 'organization' && p.portalSessionId !== undefined) await service.end(p.portalSessionId);
    res.status(204).end();
  });
  return router;
}

/** The console's files: console/ at the project root (beside src/ and dist/). */
function consoleDir(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'console');
    if (fs.existsSync(path.join(candidate, 'index.html'))) return candidate;
  }
  throw new Error('console/index.html not found above ' + __dirname);
}

/** A package's file, found from its package.json (exports maps need not list dist files). */
function packageFile(pkg: string, file: string): string {
  for (const base of module.paths) {
    const candidate = path.join(base, pkg, file);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`${pkg}/${file} not found: run npm install`);
}

/**
 * GET /console/: a page of static files (Preact and htm as browser ES modules straight from
 * node_modules, no build step), behind a Content-Security-Policy that allows the console's
 * own files, its one inline import map (by hash), and calls to this origin only.
 */
export function consoleRouter(opts: { frameAncestors: string[] }): Router {
  const dir = consoleDir();
  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1];
  if (importMap === undefined) throw new Error('console/index.html has no import map');
  const mapHash = crypto.createHash('sha256').update(importMap).digest('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'self' 'sha256-${mapHash}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    `frame-ancestors 'self'${opts.frameAncestors.map((o) => ` ${o}`).join('')}`,
  ].join('; ');
  const headers: RequestHandler = (_req, res, next) => {
    res.setHeader('Content-Security-Policy', csp);
    // Listed framers are allowed by CSP; X-Frame-Options cannot name them, so it goes.
    if (opts.frameAncestors.length > 0) res.removeHeader('X-Frame-Options');
    // Revalidated each time (ETag): an upgraded service serves its new console at once.
    res.setHeader('Cache-Control', 'no-cache');
    next();
  };
  const vendor: Record<string, string> = {
    'preact.mjs': packageFile('preact', 'dist/preact.mjs'),
    'hooks.mjs': packageFile('preact', 'hooks/dist/hooks.mjs'),
    'htm.mjs': packageFile('htm', 'dist/htm.mjs'),
  };
  const router = Router();
  router.use(headers);
  router.get('/', (req, res) => {
    // The page's modules load relative to it: it must be /console/.
    if (!req.originalUrl.split('?')[0].endsWith('/')) return res.redirect(301, `${req.baseUrl}/`);
    res.type('html').send(html);
  });
  router.get('/vendor/:file', (req, res, next) => {
    const file = vendor[req.params.file];
    if (!file) return next();
    res.type('text/javascript').sendFile(file);
  });
  router.use(express.static(dir, { index: false, fallthrough: true, dotfiles: 'deny' }));
  router.use(() => {
    throw AppError.notFound('Console file');
  });
  return router;
}
