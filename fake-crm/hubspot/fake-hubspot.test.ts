import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios, { type AxiosResponse } from 'axios';
import express from 'express';
import { FakeHubSpot, hubspotSignatureV1, hubspotSignatureV3, hubspotV3Uri, type HubSpotWebhookEvent } from './fake-hubspot';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const http = axios.create({ validateStatus: () => true, timeout: 5000 });

function client(fake: FakeHubSpot, token: string | null = fake.token) {
  const headers: Record<string, string> = token === null ? {} : { Authorization: `Bearer ${token}` };
  return {
    get: (path: string, params?: Record<string, unknown>): Promise<AxiosResponse<Json>> => http.get(fake.url + path, { headers, params }),
    post: (path: string, body: unknown, params?: Record<string, unknown>): Promise<AxiosResponse<Json>> =>
      http.post(fake.url + path, body, { headers: { ...headers, 'Content-Type': 'application/json' }, params }),
  };
}

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('FakeHubSpot: auth and connection test', () => {
  let fake: FakeHubSpot;
  beforeAll(async () => {
    fake = await new FakeHubSpot({ contacts: 5, portalId: 8675309 }).start();
  });
  afterAll(() => fake.stop());

  it('when the token is missing or wrong, then 401 with HubSpot INVALID_AUTHENTICATION body', async () => {
    for (const token of [null, 'not-a-token']) {
      const res = await client(fake, token).get('/crm/v3/objects/contacts');
      expect(res.status).toBe(401);
      expect(res.data).toEqual({
        status: 'error',
        message: expect.stringMatching(/^Authentication credentials not found\./),
        correlationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        category: 'INVALID_AUTHENTICATION',
      });
    }
  });

  it('when a token is expired, then 401 EXPIRED_AUTHENTICATION; a token added later (a refresh) works', async () => {
    const f = await new FakeHubSpot({ token: 'old' }).start();
    try {
      f.expireToken('old');
      const res = await client(f, 'old').get('/crm/v3/objects/contacts');
      expect(res.status).toBe(401);
      expect(res.data.category).toBe('EXPIRED_AUTHENTICATION');
      expect(res.data.message).toMatch(/^The OAuth token used to make this call expired \d+ second\(s\) ago\.$/);
      f.addToken('new');
      expect((await client(f, 'new').get('/crm/v3/objects/contacts')).status).toBe(200);
    } finally {
      await f.stop();
    }
  });

  it('when the connection is tested, then account-info and token info reveal the portal id', async () => {
    const details = await client(fake).get('/account-info/v3/details');
    expect(details.status).toBe(200);
    expect(details.data).toMatchObject({
      portalId: 8675309,
      accountType: 'STANDARD',
      timeZone: expect.any(String),
      uiDomain: expect.any(String),
    });
    const info = await client(fake, null).get(`/oauth/v1/access-tokens/${fake.token}`);
    expect(info.data).toMatchObject({
      hub_id: 8675309,
      app_id: fake.appId,
      token: fake.token,
      scopes: expect.arrayContaining(['crm.objects.contacts.read']),
    });
    expect((await client(fake, null).get('/oauth/v1/access-tokens/nope')).status).toBe(404);
  });
});

describe('FakeHubSpot: contacts list, archive and batch read', () => {
  let fake: FakeHubSpot;
  beforeAll(async () => {
    fake = await new FakeHubSpot({ contacts: 250, seed: 7 }).start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => fake.clearFaults());

  async function listAll(params: Record<string, unknown>): Promise<{ results: Json[]; pages: Json[] }> {
    const results: Json[] = [];
    const pages: Json[] = [];
    let after: string | undefined;
    do {
      const res = await client(fake).get('/crm/v3/objects/contacts', { ...params, after });
      expect(res.status).toBe(200);
      pages.push(res.data);
      results.push(...res.data.results);
      after = res.data.paging?.next?.after;
    } while (after);
    return { results, pages };
  }

  it('when paged to the end with limit 100, then every contact comes once and the last page has no paging', async () => {
    const { results, pages } = await listAll({ limit: 100 });
    const ids = results.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual([...fake.contacts.keys()].sort());
    expect(pages).toHaveLength(3);
    expect(pages[2].paging).toBeUndefined();
    const next = pages[0].paging.next;
    expect(ids).not.toContain(next.after); // opaque, not an id
    expect(next.link).toContain(`after=${next.after}`);
    // Following the link as given reaches the same page as passing `after`.
    const viaLink = await http.get(next.link, { headers: { Authorization: `Bearer ${fake.token}` } });
    expect(viaLink.data.results.map((r: Json) => r.id)).toEqual(pages[1].results.map((r: Json) => r.id));
  });

  it('when limit is over 100 or absent, then 100 or 10 come back', async () => {
    expect((await client(fake).get('/crm/v3/objects/contacts', { limit: 500 })).data.results).toHaveLength(100);
    expect((await client(fake).get('/crm/v3/objects/contacts')).data.results).toHaveLength(10);
  });

  it('when no properties are asked, then the defaults come; asked ones come with the three always there, all strings or null', async () => {
    const plain = (await client(fake).get('/crm/v3/objects/contacts', { limit: 1 })).data.results[0];
    expect(Object.keys(plain.properties)).toEqual(['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname']);
    expect(plain).toMatchObject({ id: expect.stringMatching(/^\d+$/), archived: false });
    expect(plain.createdAt).toMatch(ISO_MS);
    expect(plain.updatedAt).toMatch(ISO_MS);
    expect(plain.properties.hs_object_id).toBe(plain.id);
    const asked = await client(fake).get('/crm/v3/objects/contacts', {
      limit: 100,
      properties: 'email,phone,company,jobtitle,nonexistent',
    });
    for (const r of asked.data.results) {
      expect(Object.keys(r.properties)).toEqual([
        'company',
        'createdate',
        'email',
        'hs_object_id',
        'jobtitle',
        'lastmodifieddate',
        'phone',
      ]);
      for (const v of Object.values(r.properties)) expect(v === null || typeof v === 'string').toBe(true);
    }
    expect(asked.data.results.some((r: Json) => r.properties.phone === null)).toBe(true);
  });

  it('when a contact is archived, then it leaves the list and appears with archived=true and archivedAt', async () => {
    const [victim] = [...fake.contacts.keys()].slice(10, 11);
    fake.archiveContact(victim);
    const live = await listAll({ limit: 100 });
    expect(live.results.map((r) => r.id)).not.toContain(victim);
    const archived = await listAll({ limit: 100, archived: true });
    expect(archived.results).toEqual([expect.objectContaining({ id: victim, archived: true, archivedAt: expect.stringMatching(ISO_MS) })]);
  });

  it('when a batch read names a missing id, then 207 with the found ones and an OBJECT_NOT_FOUND error', async () => {
    const ids = [...fake.contacts.values()].filter((c) => !c.archivedAt).map((c) => c.id);
    const res = await client(fake).post('/crm/v3/objects/contacts/batch/read', {
      inputs: [{ id: ids[0] }, { id: '999999999' }, { id: ids[1] }],
      properties: ['email'],
    });
    expect(res.status).toBe(207);
    expect(res.data).toEqual({
      status: 'COMPLETE',
      results: [expect.objectContaining({ id: ids[0] }), expect.objectContaining({ id: ids[1] })],
      numErrors: 1,
      errors: [
        {
          status: 'error',
          category: 'OBJECT_NOT_FOUND',
          message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
          context: { ids: ['999999999'] },
        },
      ],
      startedAt: expect.stringMatching(ISO_MS),
      completedAt: expect.stringMatching(ISO_MS),
    });
    expect(Object.keys(res.data.results[0].properties)).toEqual(['createdate', 'email', 'hs_object_id', 'lastmodifieddate']);

    const ok = await client(fake).post('/crm/v3/objects/contacts/batch/read', { inputs: ids.slice(0, 100).map((id) => ({ id })) });
    expect(ok.status).toBe(200);
    expect(ok.data.results).toHaveLength(100);
    expect(ok.data.errors).toBeUndefined();

    const tooMany = await client(fake).post('/crm/v3/objects/contacts/batch/read', { inputs: ids.slice(0, 101).map((id) => ({ id })) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.data.category).toBe('VALIDATION_ERROR');

    const email = fake.contact(ids[2]).properties.email ?? fake.contact(ids[3]).properties.email;
    const byEmail = await client(fake).post('/crm/v3/objects/contacts/batch/read', { idProperty: 'email', inputs: [{ id: email }] });
    expect(byEmail.status).toBe(200);
    expect(byEmail.data.results[0].properties.email).toBe(email);
  });
});

describe('FakeHubSpot: search', () => {
  let fake: FakeHubSpot;
  beforeAll(async () => {
    fake = await new FakeHubSpot({ contacts: 10_500, searchPerSecond: 0, epoch: new Date('2025-01-01T00:00:00Z') }).start();
  });
  afterAll(() => fake.stop());

  const since = (ms: number, after?: string) => ({
    filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: String(ms) }] }],
    sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
    properties: ['email', 'lastmodifieddate'],
    limit: 200,
    ...(after === undefined ? {} : { after }),
  });

  it('when paging a GTE + ascending search past 10,000, then HubSpot 400; restarting from the last value reaches every contact', async () => {
    const seen = new Map<string, number>();
    let cursor = Date.parse('2025-01-01T00:00:00Z');
    let hitCap = false;
    let queries = 0;
    let lastTotal = 0;
    while (queries < 5) {
      queries++;
      let after: string | undefined;
      let previous = -Infinity;
      for (;;) {
        const res = await client(fake).post('/crm/v3/objects/contacts/search', since(cursor, after));
        if (res.status === 400) {
          expect(Number(after)).toBeGreaterThanOrEqual(10_000);
          expect(res.data).toMatchObject({
            status: 'error',
            category: 'VALIDATION_ERROR',
            correlationId: expect.any(String),
            message: expect.any(String),
          });
          hitCap = true;
          break;
        }
        expect(res.status).toBe(200);
        if (after === undefined) lastTotal = res.data.total;
        for (const r of res.data.results) {
          const t = Date.parse(r.properties.lastmodifieddate);
          expect(t).toBeGreaterThanOrEqual(previous); // ascending
          previous = t;
          seen.set(r.id, t);
        }
        after = res.data.paging?.next?.after;
        if (!after) break;
      }
      if (!after) break; // reached the end of this query without the cap
      cursor = previous; // restart from the last value seen (GTE: ties come again, deduped by id)
    }
    expect(hitCap).toBe(true);
    expect(queries).toBe(2);
    expect(lastTotal).toBeLessThan(10_500);
    expect([...seen.keys()].sort()).toEqual([...fake.contacts.keys()].sort());
  });

  it('when the first page is asked, then total counts every match, beyond the cap', async () => {
    const res = await client(fake).post('/crm/v3/objects/contacts/search', since(0));
    expect(res.data.total).toBe(10_500);
    expect(res.data.results).toHaveLength(200);
    expect(res.data.paging.next.after).toBe('200');
    expect(Object.keys(res.data.results[0].properties)).toEqual(['createdate', 'email', 'hs_object_id', 'lastmodifieddate']);
  });

  it('when filtered on hs_object_id with EQ/NEQ/GT/LT, ISO dates, OR groups and DESC sort, then HubSpot semantics hold', async () => {
    const ids = [...fake.contacts.keys()].slice(0, 3);
    const post = (body: unknown) =>
      client(fake)
        .post('/crm/v3/objects/contacts/search', body)
        .then((r) => r.data);
    const eq = await post({ filterGroups: [{ filters: [{ propertyName: 'hs_object_id', operator: 'EQ', value: ids[1] }] }] });
    expect(eq.total).toBe(1);
    expect(eq.results[0].id).toBe(ids[1]);
    const neq = await post({ filterGroups: [{ filters: [{ propertyName: 'hs_object_id', operator: 'NEQ', value: ids[1] }] }], limit: 1 });
    expect(neq.total).toBe(10_499);
    const range = await post({
      filterGroups: [
        {
          filters: [
            { propertyName: 'hs_object_id', operator: 'GT', value: ids[0] },
            { propertyName: 'hs_object_id', operator: 'LTE', value: ids[2] },
          ],
        },
      ],
      sorts: [{ propertyName: 'hs_object_id', direction: 'DESCENDING' }],
    });
    expect(range.results.map((r: Json) => r.id)).toEqual([ids[2], ids[1]]);
    const orGroups = await post({
      filterGroups: [
        { filters: [{ propertyName: 'hs_object_id', operator: 'EQ', value: ids[0] }] },
        { filters: [{ propertyName: 'hs_object_id', operator: 'EQ', value: ids[2] }] },
      ],
    });
    expect(orGroups.results.map((r: Json) => r.id)).toEqual([ids[0], ids[2]]);
    const t = fake.contact(ids[1]).updatedAt;
    const asMs = await post({
      filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'LT', value: String(t.getTime()) }] }],
    });
    const asIso = await post({
      filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'LT', value: t.toISOString() }] }],
    });
    expect(asMs.total).toBe(1);
    expect(asIso.total).toBe(1);
  });

  it('when a contact is updated, then lastmodifieddate and updatedAt move and a GT search finds it', async () => {
    const id = [...fake.contacts.keys()][42];
    const before = Date.now() - 1;
    fake.updateContact(id, { jobtitle: 'CTO' });
    const res = await client(fake).post('/crm/v3/objects/contacts/search', {
      filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GT', value: String(before) }] }],
      properties: ['jobtitle'],
    });
    expect(res.data.total).toBe(1);
    expect(res.data.results[0]).toMatchObject({ id, properties: { jobtitle: 'CTO' } });
    expect(res.data.results[0].updatedAt).toBe(res.data.results[0].properties.lastmodifieddate);
    expect(Date.parse(res.data.results[0].updatedAt)).toBeGreaterThan(Date.parse(res.data.results[0].createdAt));
  });

  it('when the body is malformed, then 400 with HubSpot validation errors', async () => {
    const raw = await http.post(`${fake.url}/crm/v3/objects/contacts/search`, '{"filterGroups": [', {
      headers: { Authorization: `Bearer ${fake.token}`, 'Content-Type': 'application/json' },
    });
    expect(raw.status).toBe(400);
    expect(raw.data).toMatchObject({
      status: 'error',
      category: 'VALIDATION_ERROR',
      correlationId: expect.any(String),
      message: expect.stringMatching(/^Invalid input JSON/),
    });
    const bad = [
      { filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'AFTER', value: '1' }] }] },
      { filterGroups: [{ filters: [{ propertyName: 'no_such_property', operator: 'EQ', value: '1' }] }] },
      { filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: 'yesterday' }] }] },
      { filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE' }] }] },
      { filterGroups: {} },
      { limit: 201 },
      { after: 'abc' },
      { sorts: [{ propertyName: 'lastmodifieddate', direction: 'UP' }] },
      { filterGroups: Array.from({ length: 6 }, () => ({ filters: [] })) },
    ];
    for (const body of bad) {
      const res = await client(fake).post('/crm/v3/objects/contacts/search', body);
      expect([res.status, res.data.category]).toEqual([400, 'VALIDATION_ERROR']);
    }
  });
});

describe('FakeHubSpot: rate limits and faults', () => {
  it('when the ten-second budget is spent, then 429 TEN_SECONDLY_ROLLING with the rate-limit headers', async () => {
    const fake = await new FakeHubSpot({ contacts: 3, rateLimitMax: 5, dailyLimit: 1000 }).start();
    try {
      const remaining: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await client(fake).get('/crm/v3/objects/contacts');
        expect(res.status).toBe(200);
        expect(res.headers['x-hubspot-ratelimit-max']).toBe('5');
        expect(res.headers['x-hubspot-ratelimit-interval-milliseconds']).toBe('10000');
        expect(res.headers['x-hubspot-ratelimit-daily']).toBe('1000');
        remaining.push(res.headers['x-hubspot-ratelimit-remaining']);
      }
      expect(remaining).toEqual(['4', '3', '2', '1', '0']);
      const limited = await client(fake).get('/crm/v3/objects/contacts');
      expect(limited.status).toBe(429);
      expect(limited.headers['x-hubspot-ratelimit-remaining']).toBe('0');
      expect(limited.headers['x-hubspot-ratelimit-daily-remaining']).toBe('995');
      expect(limited.headers['retry-after']).toBeUndefined();
      expect(limited.data).toMatchObject({
        status: 'error',
        message: 'You have reached your ten_secondly_rolling limit.',
        errorType: 'RATE_LIMIT',
        policyName: 'TEN_SECONDLY_ROLLING',
        correlationId: expect.any(String),
      });
      // Another token has its own budget.
      fake.addToken('second');
      expect((await client(fake, 'second').get('/crm/v3/objects/contacts')).status).toBe(200);
    } finally {
      await fake.stop();
    }
  });

  it('when searches come faster than the per-second limit, then 429 with the secondly message', async () => {
    const fake = await new FakeHubSpot({ contacts: 3, searchPerSecond: 2 }).start();
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await client(fake).post('/crm/v3/objects/contacts/search', {})).status);
      expect(statuses).toEqual([200, 200, 429]);
      const res = await client(fake).post('/crm/v3/objects/contacts/search', {});
      expect(res.data.message).toBe('You have reached your secondly limit.');
      // Another token (another account) has its own search budget.
      fake.addToken('second');
      expect((await client(fake, 'second').post('/crm/v3/objects/contacts/search', {})).status).toBe(200);
    } finally {
      await fake.stop();
    }
  });

  it('when faults are switched on, then they happen in order and the log records every request', async () => {
    const fake = await new FakeHubSpot({ contacts: 3 }).start();
    try {
      fake.rateLimitNext(1, 3);
      const limited = await client(fake).get('/crm/v3/objects/contacts');
      expect([limited.status, limited.headers['retry-after'], limited.data.policyName]).toEqual([429, '3', 'TEN_SECONDLY_ROLLING']);
      fake.failNext(2, 503);
      expect((await client(fake).get('/crm/v3/objects/contacts')).status).toBe(503);
      expect((await client(fake).get('/crm/v3/objects/contacts')).status).toBe(503);
      expect((await client(fake).get('/crm/v3/objects/contacts')).status).toBe(200);
      fake.hangNext(1);
      await expect(
        http.get(`${fake.url}/crm/v3/objects/contacts`, { headers: { Authorization: `Bearer ${fake.token}` }, timeout: 200 }),
      ).rejects.toThrow(/timeout/);
      fake.slowDown(150);
      const t0 = Date.now();
      await client(fake).post('/crm/v3/objects/contacts/search', { limit: 1 });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
      fake.clearFaults();
      expect(fake.calls).toBe(6);
      expect(fake.requests.at(-1)).toMatchObject({
        method: 'POST',
        path: '/crm/v3/objects/contacts/search',
        body: { limit: 1 },
        token: fake.token,
      });
      expect(fake.requests[0]).toMatchObject({ method: 'GET', path: '/crm/v3/objects/contacts', query: {} });
    } finally {
      await fake.stop();
    }
  });
});

/** The v3 check as HubSpot's docs describe it, written here independently of the fake. */
function docsVerifyV3(
  secret: string,
  method: string,
  uri: string,
  body: string,
  signature: string,
  timestamp: string,
  now = Date.now(),
): boolean {
  if (now - Number(timestamp) > 300_000) return false;
  const decoded = uri
    .replace(/%3A/g, ':')
    .replace(/%2F/g, '/')
    .replace(/%3F/g, '?')
    .replace(/%40/g, '@')
    .replace(/%21/g, '!')
    .replace(/%24/g, '$')
    .replace(/%27/g, "'")
    .replace(/%28/g, '(')
    .replace(/%29/g, ')')
    .replace(/%2A/g, '*')
    .replace(/%2C/g, ',')
    .replace(/%3B/g, ';');
  const expected = createHmac('sha256', secret).update(`${method}${decoded}${body}${timestamp}`, 'utf8').digest('base64');
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  return a.length === b.length && timingSafeEqual(a, b);
}

describe('FakeHubSpot: webhooks', () => {
  let fake: FakeHubSpot;
  let receiver: Server;
  let target: string;
  const received: { headers: Record<string, string | string[] | undefined>; raw: string; url: string }[] = [];
  beforeAll(async () => {
    fake = await new FakeHubSpot({ contacts: 3, appSecret: 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy', portalId: 62515, appId: 54321 }).start();
    const app = express();
    app.post('/hooks/hubspot', express.text({ type: '*/*' }), (req, res) => {
      received.push({ headers: req.headers, raw: req.body as string, url: req.originalUrl });
      res.status(204).end();
    });
    await new Promise<void>((resolve) => {
      receiver = app.listen(0, '127.0.0.1', () => resolve());
    });
    target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/hubspot`;
  });
  afterAll(async () => {
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
    await fake.stop();
  });

  it('when signed, then the official SDK test vector (v3) and the docs vector (v1) come out', () => {
    // hubspot-api-python tests/spec/utils/test_signature.py and hubspot-api-ruby spec/helpers/signature_spec.rb
    expect(
      hubspotSignatureV3({
        method: 'POST',
        url: 'https://www.example.com/webhook_uri',
        body: "{'example_field':'example_value'}",
        timestamp: 15000000,
        appSecret: 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy',
      }),
    ).toBe('HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=');
    // developers.hubspot.com validating-requests, v1 example
    const docsBody =
      '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]';
    expect(hubspotSignatureV1('yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy', docsBody)).toBe(
      '232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de',
    );
    expect(
      createHash('sha256')
        .update('yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy' + docsBody)
        .digest('hex'),
    ).toBe(hubspotSignatureV1('yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy', docsBody));
  });

  it('when the URI has escapes, then only the twelve listed ones are decoded before signing', () => {
    expect(hubspotV3Uri('https://x.example/h?src=hs%3Aapp%2Fv3&x=%28a%29&sp=a%20b&eq=%3D')).toBe(
      'https://x.example/h?src=hs:app/v3&x=(a)&sp=a%20b&eq=%3D',
    );
    const input = { method: 'POST', url: 'https://x.example/h?src=hs%3Aapp%2Fv3', body: '[]', timestamp: Date.now(), appSecret: 's3cret' };
    const sig = hubspotSignatureV3(input);
    expect(docsVerifyV3('s3cret', 'POST', input.url, '[]', sig, String(input.timestamp))).toBe(true);
    expect(docsVerifyV3('s3cret', 'POST', 'https://x.example/h?src=hs:app/v3', '[]', sig, String(input.timestamp))).toBe(true);
    expect(sig).not.toBe(createHmac('sha256', 's3cret').update(`POST${input.url}[]${input.timestamp}`).digest('base64'));
    expect(docsVerifyV3('s3cret', 'POST', input.url, '[]', sig, String(input.timestamp), input.timestamp + 300_001)).toBe(false);
  });

  it('when changes are delivered, then the body is HubSpot’s event array, signed v3 over method + URL + raw body + timestamp', async () => {
    const [c1, c2] = [...fake.contacts.keys()];
    fake.addContacts(1);
    fake.updateContact(c1, { firstname: 'Renée' });
    fake.archiveContact(c2);
    const events = fake.takeWebhookEvents();
    expect(events.map((e) => e.subscriptionType)).toEqual(['contact.creation', 'contact.propertyChange', 'contact.deletion']);
    expect(events[1]).toEqual({
      eventId: expect.any(Number),
      subscriptionId: expect.any(Number),
      portalId: 62515,
      appId: 54321,
      occurredAt: fake.contact(c1).updatedAt.getTime(),
      subscriptionType: 'contact.propertyChange',
      attemptNumber: 0,
      objectId: Number(c1),
      changeSource: 'CRM',
      propertyName: 'firstname',
      propertyValue: 'Renée',
    });
    expect(events[0]).toMatchObject({ changeFlag: 'NEW' });
    expect(events[2]).toMatchObject({ changeFlag: 'DELETED', objectId: Number(c2) });
    expect(fake.takeWebhookEvents()).toEqual([]);

    const res = await fake.deliver(target, events);
    expect(res.status).toBe(204);
    const got = received.at(-1)!;
    expect(JSON.parse(got.raw)).toEqual(events);
    const sig = got.headers['x-hubspot-signature-v3'] as string;
    const ts = got.headers['x-hubspot-request-timestamp'] as string;
    expect(ts).toMatch(/^\d{13}$/);
    expect(Math.abs(Date.now() - Number(ts))).toBeLessThan(5000);
    expect(docsVerifyV3(fake.appSecret, 'POST', target, got.raw, sig, ts)).toBe(true);
    expect(got.headers['x-hubspot-signature-version']).toBe('v1');
    expect(got.headers['x-hubspot-signature']).toBe(hubspotSignatureV1(fake.appSecret, got.raw));
  });

  it('when a delivery is tampered, signed with another secret or for another URL, then the docs check fails', async () => {
    const events: HubSpotWebhookEvent[] = fake.webhookEvents({ type: 'contact.creation', objectId: 123, occurredAt: 1564113600000 });
    expect(events[0]).toMatchObject({
      subscriptionType: 'contact.creation',
      objectId: 123,
      occurredAt: 1564113600000,
      changeFlag: 'NEW',
      attemptNumber: 0,
    });
    const check = () => {
      const got = received.at(-1)!;
      return docsVerifyV3(
        fake.appSecret,
        'POST',
        target,
        got.raw,
        got.headers['x-hubspot-signature-v3'] as string,
        got.headers['x-hubspot-request-timestamp'] as string,
      );
    };
    await fake.deliver(target, events, { tamperBody: JSON.stringify([{ ...events[0], objectId: 124 }]) });
    expect(check()).toBe(false);
    await fake.deliver(target, events, { appSecret: 'wrong' });
    expect(check()).toBe(false);
    await fake.deliver(target, events, { signedUrl: 'https://public.example/hooks/hubspot' });
    expect(check()).toBe(false);
    const got = received.at(-1)!;
    expect(
      docsVerifyV3(
        fake.appSecret,
        'POST',
        'https://public.example/hooks/hubspot',
        got.raw,
        got.headers['x-hubspot-signature-v3'] as string,
        got.headers['x-hubspot-request-timestamp'] as string,
      ),
    ).toBe(true);
    await fake.deliver(target, events, { timestamp: Date.now() - 301_000 });
    expect(check()).toBe(false);
  });
});
