import express, { Router } from 'express';
import swaggerUi from 'swagger-ui-dist';
import type { z } from 'zod';
import { openApiDocument } from './document';
import { ok, type Operation } from './operation';

export const openApiOperations: Operation[] = [
  { method: 'get', path: '/openapi.json', tag: 'Health', summary: 'This document', auth: 'none', responses: ok('OpenAPI 3.1 document') },
  { method: 'get', path: '/docs', tag: 'Health', summary: 'A browsable reference of this document', auth: 'none', responses: ok('HTML') },
];

/**
 * GET /api/openapi.json, and a browsable reference at /api/docs: Swagger UI's own files from
 * swagger-ui-dist (served from node_modules, so it works offline), pointed at the document.
 * Open, like /health: the document describes the API, never data or keys.
 */
export function openApiRouter(
  version: string,
  operations: readonly Operation[],
  outboundEvents: Readonly<Record<string, z.ZodType>>,
): Router {
  const router = Router();
  const document = JSON.stringify(openApiDocument(version, operations, outboundEvents));
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(document);
  });
  router.get('/docs', (req, res, next) => {
    // Swagger UI's page loads its files relative to itself: it must be /api/docs/.
    if (!req.originalUrl.split('?')[0].endsWith('/')) return res.redirect(301, '/api/docs/');
    next();
  });
  router.get('/docs/swagger-initializer.js', (_req, res) => {
    res
      .type('application/javascript')
      .send(
        `window.onload = function () {\n  window.ui = SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#swagger-ui', deepLinking: true, presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });\n};\n`,
      );
  });
  router.use('/docs', express.static(swaggerUi.getAbsoluteFSPath(), { index: 'index.html' }));
  return router;
}
