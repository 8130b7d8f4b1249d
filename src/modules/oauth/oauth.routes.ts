import { Router, type Request, type Response } from 'express';
import { AppError } from '../../lib/errors';
import { parse, publicOrigin } from '../../lib/http';
import { ok, type Operation } from '../../openapi/operation';
import { principalOf, scopeOrganization } from '../auth';
import { authorizeQuery, callbackQuery, providerParams } from './oauth.schemas';
import { OAuthReturnError, type CallbackOutcome, type OAuthService } from './oauth.service';

const origin = (req: Request) => publicOrigin(req, undefined);

export const oauthOperations: Operation[] = [
  {
    method: 'get',
    path: '/:provider/authorize',
    tag: 'OAuth',
    summary: "Redirects (302) to the provider's consent page; organizationId with an admin key",
    auth: 'apiKey',
    params: providerParams,
    query: authorizeQuery,
    responses: { 302: "To the provider's consent page", 409: 'OAuth for this provider is not configured (names the variables)' },
  },
  {
    method: 'post',
    path: '/:provider/authorize',
    tag: 'OAuth',
    summary: 'The consent page URL and its state, for an app that redirects its user itself',
    auth: 'apiKey',
    params: providerParams,
    query: authorizeQuery,
    responses: ok('{ data: { url, state, expiresAt } }'),
  },
];

export const oauthCallbackOperations: Operation[] = [
  {
    method: 'get',
    path: '/:provider/callback',
    tag: 'OAuth',
    summary: 'Where the provider sends the person back (no API key: the state is the credential)',
    auth: 'none',
    params: providerParams,
    query: callbackQuery,
    responses: {
      200: '{ data: { integrationId, status, created, test } } when no returnTo was given',
      302: 'To returnTo with integrationId and status; or, when it failed after the state checked out (denied consent, a refused code), with error and error_description',
      400: 'Denied consent, an unknown, expired or reused state, or a refused code: nothing is created',
    },
  },
];

/** Behind the API key: starting an authorization for the caller's organization. */
export function oauthRouter(service: OAuthService): Router {
  const router = Router();
  const start = async (req: Request, res: Response) => {
    const { provider } = parse(providerParams, req.params, 'params');
    const q = parse(authorizeQuery, req.query, 'query');
    const organizationId = scopeOrganization(principalOf(res), q.organizationId);
    if (organizationId === undefined) {
      throw new AppError('invalid_data', 'validation_failed', 'Request validation failed', [
        { path: 'query.organizationId', message: 'required with an admin key' },
      ]);
    }
    return service.authorize(provider, organizationId, { name: q.name, returnTo: q.returnTo, requestOrigin: origin(req) });
  };
  router.get('/:provider/authorize', async (req, res) => {
    res.redirect(302, (await start(req, res)).url);
  });
  router.post('/:provider/authorize', async (req, res) => {
    res.json({ data: await start(req, res) });
  });
  return router;
}

/** Public: the provider's redirect back. */
export function oauthCallbackRouter(service: OAuthService): Router {
  const router = Router();
  router.get('/:provider/callback', async (req, res) => {
    const { provider } = parse(providerParams, req.params, 'params');
    const q = parse(callbackQuery, req.query, 'query');
    let done: CallbackOutcome;
    try {
      done = await service.callback(provider, q, origin(req));
    } catch (err) {
      if (!(err instanceof OAuthReturnError)) throw err;
      // Back to the app that started it (the console), saying why, rather than a JSON page.
      const to = new URL(err.returnTo);
      to.searchParams.set('error', err.code);
      to.searchParams.set('error_description', err.message);
      res.redirect(302, to.toString());
      return;
    }
    if (done.returnTo) {
      const to = new URL(done.returnTo);
      to.searchParams.set('integrationId', String(done.integrationId));
      to.searchParams.set('status', done.status);
      res.redirect(302, to.toString());
      return;
    }
    res.json({ data: { integrationId: done.integrationId, status: done.status, created: done.created, test: done.test } });
  });
  return router;
}
