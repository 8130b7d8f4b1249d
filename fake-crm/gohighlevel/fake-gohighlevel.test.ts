import { createPublicKey, generateKeyPairSync, verify as edVerify } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios, { type AxiosResponse } from 'axios';
import express from 'express';
import {
  FakeGoHighLevel,
  HIGHLEVEL_ED25519_PUBLIC_KEY_PEM,
  HIGHLEVEL_LEGACY_RSA_PUBLIC_KEY_PEM,
  signGhlWebhook,
  verifyGhlWebhook,
  verifyLegacyGhlWebhook,
  type GhlWebhookPayload,
} from './fake-gohighlevel';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const http = axios.create({ validateStatus: () => true, timeout: 5000 });
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const GHL_ID = /^[A-Za-z0-9]{20}$/;

function client(fake: FakeGoHighLevel, token: string | null = fake.token, version: string | null = '2021-07-28') {
  const headers: Record<string, string> = {};
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (version !== null) headers.Version = version;
  return {
    get: (path: string): Promise<AxiosResponse<Json>> => http.get(fake.url + path, { headers }),
    post: (path: string, body: unknown): Promise<AxiosResponse<Json>> =>
      http.post(fake.url + path, body, { headers: { ...headers, 'Content-Type': 'application/json' } }),
  };
}

describe('FakeGoHighLevel: auth, Version header and location binding', () => {
  let fake: FakeGoHighLevel;
  beforeAll(async () => {
    fake = await new FakeGoHighLevel({ contacts: 5 }).start();
  });
  afterAll(() => fake.stop());

  it('when the Version header is missing or unknown, then 401 with HighLevel’s version messages', async () => {
    const none = await client(fake, fake.token, null).get(`/locations/${fake.locationId}`);
    expect(none.status).toBe(401);
    expect(none.data).toEqual({ statusCode: 401, message: 'version header was not found.', error: 'Unauthorized' });
    const bad = await client(fake, fake.token, '2020-01-01').get(`/locations/${fake.locationId}`);
    expect(bad.status).toBe(401);
    expect(bad.data.message).toBe('version header is invalid');
    for (const v of ['2021-07-28', '2021-04-15', '2023-02-21', 'v3']) {
      expect((await client(fake, fake.token, v).get(`/locations/${fake.locationId}`)).status).toBe(200);
    }
  });

  it('when the token is missing or wrong, then 401 {statusCode, message: "Invalid JWT", error}', async () => {
    for (const token of [null, 'pit-wrong']) {
      const res = await client(fake, token).post('/contacts/search', { locationId: fake.locationId, pageLimit: 1 });
      expect(res.status).toBe(401);
      expect(res.data).toEqual({ statusCode: 401, message: 'Invalid JWT', error: 'Unauthorized' });
      expect(res.headers['x-ratelimit-remaining']).toBeUndefined(); // not counted against any location
    }
  });

  it('when a token expires, then 401; a token added later (an OAuth refresh) works', async () => {
    const f = await new FakeGoHighLevel({ token: 'old-access' }).start();
    try {
      f.expireToken('old-access');
      const res = await client(f, 'old-access').get(`/locations/${f.locationId}`);
      expect(res.status).toBe(401);
      expect(res.data).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      f.addToken('new-access', f.locationId);
      expect((await client(f, 'new-access').get(`/locations/${f.locationId}`)).status).toBe(200);
      f.revokeToken('new-access');
      expect((await client(f, 'new-access').get(`/locations/${f.locationId}`)).data.message).toBe('Invalid JWT');
    } finally {
      await f.stop();
    }
  });

  it('when a token of location B reads location A, then 403 "The token does not have access to this location."', async () => {
    const other = fake.addLocation({ name: 'Other Clinic' });
    fake.addToken('pit-other', other.id);
    const [aContact] = fake.contactsIn();
    const asB = client(fake, 'pit-other');
    for (const res of [
      await asB.get(`/locations/${fake.locationId}`),
      await asB.post('/contacts/search', { locationId: fake.locationId, pageLimit: 10 }),
      await asB.get(`/contacts/${aContact.id}`),
    ]) {
      expect(res.status).toBe(403);
      expect(res.data).toEqual({ statusCode: 403, message: 'The token does not have access to this location.', error: 'Forbidden' });
    }
    const own = await asB.get(`/locations/${other.id}`);
    expect(own.status).toBe(200);
    expect(own.data.location).toMatchObject({ id: other.id, name: 'Other Clinic' });
    const ownSearch = await asB.post('/contacts/search', { locationId: other.id, pageLimit: 10 });
    expect(ownSearch.data).toMatchObject({ contacts: [], total: 0 });
  });

  it('when the location is read (the cheap connection test), then {location:{id,name,...}} with the rate-limit headers', async () => {
    const res = await client(fake).get(`/locations/${fake.locationId}`);
    expect(res.status).toBe(200);
    expect(res.data.location).toMatchObject({
      id: fake.locationId,
      companyId: fake.companyId,
      name: 'Fake Dental Studio',
      timezone: expect.any(String),
      business: expect.objectContaining({ name: 'Fake Dental Studio' }),
      settings: expect.any(Object),
    });
    expect(fake.locationId).toMatch(GHL_ID);
    expect(res.headers['x-ratelimit-max']).toBe('100');
    expect(res.headers['x-ratelimit-interval-milliseconds']).toBe('10000');
    expect(res.headers['x-ratelimit-limit-daily']).toBe('200000');
    expect(Number(res.headers['x-ratelimit-remaining'])).toBeLessThan(100);
    expect(Number(res.headers['x-ratelimit-daily-remaining'])).toBeLessThan(200_000);
  });

  it('when a webhook is registered by API (POST /webhooks), then 404: HighLevel sets webhooks in the marketplace app', async () => {
    const res = await client(fake).post('/webhooks', { url: 'https://example.com/hook' });
    expect(res.status).toBe(404);
    expect(res.data).toEqual({ statusCode: 404, message: 'Cannot POST /webhooks', error: 'Not Found' });
  });
});

describe('FakeGoHighLevel: contacts', () => {
  let fake: FakeGoHighLevel;
  beforeAll(async () => {
    fake = await new FakeGoHighLevel({ contacts: 40, seed: 3 }).start();
  });
  afterAll(() => fake.stop());

  it('when a contact is read, then {contact} with E.164 phone, ISO ms dates, lower-cased names and no `name`', async () => {
    const c = fake.contactsIn().find((x) => x.phone && x.email)!;
    const res = await client(fake).get(`/contacts/${c.id}`);
    expect(res.status).toBe(200);
    const contact = res.data.contact;
    expect(contact).toMatchObject({
      id: c.id,
      locationId: fake.locationId,
      firstName: c.firstName,
      lastName: c.lastName,
      firstNameLowerCase: c.firstName!.toLowerCase(),
      lastNameLowerCase: c.lastName!.toLowerCase(),
      fullNameLowerCase: `${c.firstName} ${c.lastName}`.toLowerCase(),
      email: c.email,
      phone: expect.stringMatching(/^\+1\d{10}$/),
      type: expect.stringMatching(/^(lead|customer)$/),
      tags: expect.any(Array),
      customFields: expect.any(Array),
    });
    expect(contact.dateAdded).toMatch(ISO_MS);
    expect(contact.dateUpdated).toMatch(ISO_MS);
    expect(contact).not.toHaveProperty('name');
    expect(c.id).toMatch(GHL_ID);
  });

  it('when a contact is unknown or deleted, then 404; update bumps dateUpdated', async () => {
    expect((await client(fake).get('/contacts/nope0000000000000000')).status).toBe(404);
    const [a, b] = fake.contactsIn();
    const before = a.dateUpdated.getTime();
    fake.updateContact(a.id, { firstName: 'Renamed', tags: ['vip'] });
    const res = await client(fake).get(`/contacts/${a.id}`);
    expect(res.data.contact).toMatchObject({ firstName: 'Renamed', firstNameLowerCase: 'renamed', tags: ['vip'] });
    expect(Date.parse(res.data.contact.dateUpdated)).toBeGreaterThan(before);
    expect(res.data.contact.dateAdded).toBe(a.dateAdded.toISOString());
    fake.deleteContact(b.id);
    const gone = await client(fake).get(`/contacts/${b.id}`);
    expect(gone.status).toBe(404);
    expect(gone.data).toMatchObject({ statusCode: 404, message: 'Contact not found' });
  });

  it('when search is asked without pageLimit or locationId or with pageLimit > 500, then 422 with a message array', async () => {
    for (const body of [{ locationId: fake.locationId }, { pageLimit: 10 }, { locationId: fake.locationId, pageLimit: 501 }]) {
      const res = await client(fake).post('/contacts/search', body);
      expect(res.status).toBe(422);
      expect(res.data).toMatchObject({ statusCode: 422, error: 'Unprocessable Entity', message: expect.any(Array) });
    }
    expect((await client(fake).post('/contacts/search', { locationId: fake.locationId, pageLimit: 500 })).status).toBe(200);
  });

  it('when a filter names an unknown field or operator, then 400 like HighLevel’s "Invalid field x"', async () => {
    const field = await client(fake).post('/contacts/search', {
      locationId: fake.locationId,
      pageLimit: 10,
      filters: [{ field: 'additional_phones', operator: 'eq', value: 'x' }],
    });
    expect(field.status).toBe(400);
    expect(field.data).toMatchObject({
      statusCode: 400,
      message: 'Invalid field additional_phones',
      error: 'Bad Request',
      traceId: expect.any(String),
    });
    const op = await client(fake).post('/contacts/search', {
      locationId: fake.locationId,
      pageLimit: 10,
      filters: [{ field: 'email', operator: 'like', value: 'x' }],
    });
    expect(op.status).toBe(400);
  });

  it('when searched, then each result carries searchAfter [sort value, id], firstName/lastName and lower-cased names, and no name', async () => {
    const res = await client(fake).post('/contacts/search', { locationId: fake.locationId, pageLimit: 5 });
    expect(res.status).toBe(200);
    expect(res.data.total).toBe(fake.contactsIn().length);
    expect(res.data.traceId).toEqual(expect.any(String));
    const [first] = res.data.contacts;
    expect(first).toMatchObject({
      id: expect.stringMatching(GHL_ID),
      locationId: fake.locationId,
      firstNameLowerCase: expect.any(String),
      lastNameLowerCase: expect.any(String),
      firstName: expect.any(String),
      lastName: expect.any(String),
      searchAfter: [Date.parse(first.dateAdded), first.id],
    });
    expect(first).not.toHaveProperty('name');
    expect(first).not.toHaveProperty('contactName');
    // Default order: newest dateAdded first.
    const added = res.data.contacts.map((c: Json) => Date.parse(c.dateAdded));
    expect(added).toEqual([...added].sort((x, y) => y - x));
  });
});

describe('FakeGoHighLevel: search past 10,000 and the dateUpdated filter', () => {
  const N = 10_250;
  let fake: FakeGoHighLevel;
  beforeAll(async () => {
    fake = await new FakeGoHighLevel({ contacts: N, seed: 11, stepMs: 1000 }).start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => fake.clearFaults());

  const search = (body: Json) => client(fake).post('/contacts/search', { locationId: fake.locationId, ...body });

  it('when paged by page to 10,000, then refused past it, and searchAfter from the last contact reaches the rest without duplicates', async () => {
    const ids: string[] = [];
    let last: Json | undefined;
    for (let page = 1; page <= 20; page++) {
      const res = await search({ page, pageLimit: 500 });
      expect(res.status).toBe(200);
      expect(res.data.total).toBe(N);
      expect(res.data.contacts).toHaveLength(500);
      ids.push(...res.data.contacts.map((c: Json) => c.id));
      last = res.data.contacts[res.data.contacts.length - 1];
    }
    const past = await search({ page: 21, pageLimit: 500 });
    expect(past.status).toBe(400);
    expect(past.data).toMatchObject({ statusCode: 400, error: 'Bad Request', message: expect.stringMatching(/10000.*searchAfter/) });
    // A page that only crosses 10,000 (101 * 100) is refused too.
    expect((await search({ page: 101, pageLimit: 100 })).status).toBe(400);

    let after = last!.searchAfter;
    for (;;) {
      const res = await search({ pageLimit: 500, searchAfter: after });
      expect(res.status).toBe(200);
      if (res.data.contacts.length === 0) break;
      ids.push(...res.data.contacts.map((c: Json) => c.id));
      after = res.data.contacts[res.data.contacts.length - 1].searchAfter;
    }
    expect(ids).toHaveLength(N);
    expect(new Set(ids).size).toBe(N);
    expect(new Set(ids)).toEqual(new Set(fake.contactsIn().map((c) => c.id)));
  });

  it('when page and searchAfter come together, then 422 (HighLevel: do not include page with searchAfter)', async () => {
    const first = await search({ pageLimit: 1 });
    const res = await search({ page: 1, pageLimit: 1, searchAfter: first.data.contacts[0].searchAfter });
    expect(res.status).toBe(422);
  });

  it('when filtered by a dateUpdated range and sorted by dateUpdated asc, then exactly the contacts changed in the range, oldest change first', async () => {
    const since = new Date();
    const changed = fake
      .contactsIn()
      .filter((_, i) => i % 1000 === 7)
      .map((c) => fake.updateContact(c.id, { companyName: 'Changed Inc' }).id);
    const until = new Date(Date.now() + 1000);
    const res = await search({
      pageLimit: 100,
      filters: [{ field: 'dateUpdated', operator: 'range', value: { gte: since.toISOString(), lte: until.toISOString() } }],
      sort: [{ field: 'dateUpdated', direction: 'asc' }],
    });
    expect(res.status).toBe(200);
    expect(res.data.total).toBe(changed.length);
    expect(res.data.contacts.map((c: Json) => c.id)).toEqual(changed);
    const updated = res.data.contacts.map((c: Json) => Date.parse(c.dateUpdated));
    expect(updated).toEqual([...updated].sort((x, y) => x - y));
    expect(res.data.contacts[0].searchAfter).toEqual([updated[0], changed[0]]);

    // gt excludes the bound itself; epoch milliseconds work like ISO strings.
    const gt = await search({
      pageLimit: 100,
      filters: [{ field: 'dateUpdated', operator: 'range', value: { gt: updated[0] } }],
      sort: [{ field: 'dateUpdated', direction: 'asc' }],
    });
    expect(gt.data.contacts.map((c: Json) => c.id)).toEqual(changed.slice(1));

    // searchAfter under the dateUpdated sort continues from the first changed contact.
    const next = await search({
      pageLimit: 100,
      filters: [{ field: 'dateUpdated', operator: 'range', value: { gte: since.toISOString() } }],
      sort: [{ field: 'dateUpdated', direction: 'asc' }],
      searchAfter: res.data.contacts[0].searchAfter,
    });
    expect(next.data.contacts.map((c: Json) => c.id)).toEqual(changed.slice(1));
  });

  it('when filtered with eq/exists and OR groups, then the matches follow', async () => {
    const res = await search({
      pageLimit: 500,
      filters: [
        { field: 'tags', operator: 'eq', value: 'vip' },
        {
          group: 'OR',
          filters: [
            { field: 'type', operator: 'eq', value: 'customer' },
            { field: 'email', operator: 'not_exists' },
          ],
        },
      ],
    });
    expect(res.status).toBe(200);
    const expected = fake.contactsIn().filter((c) => c.tags.includes('vip') && (c.type === 'customer' || c.email === null));
    expect(res.data.total).toBe(expected.length);
    for (const c of res.data.contacts) expect(c.tags).toContain('vip');
  });
});

describe('FakeGoHighLevel: rate limits and faults', () => {
  let fake: FakeGoHighLevel;
  beforeAll(async () => {
    fake = await new FakeGoHighLevel({ contacts: 3, burstMax: 3, burstIntervalMs: 1000, dailyLimit: 8 }).start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.clearFaults();
    fake.resetDailyUsage();
  });

  it('when the burst is spent, then 429 with the real headers; another location has its own budget; the window frees up', async () => {
    const path = `/locations/${fake.locationId}`;
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await client(fake).get(path);
      expect(res.status).toBe(200);
      remaining.push(res.headers['x-ratelimit-remaining']);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const limited = await client(fake).get(path);
    expect(limited.status).toBe(429);
    expect(limited.data).toMatchObject({ statusCode: 429, message: expect.any(String) });
    expect(limited.headers).toMatchObject({
      'x-ratelimit-max': '3',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-interval-milliseconds': '1000',
      'x-ratelimit-limit-daily': '8',
      'x-ratelimit-daily-remaining': '5',
    });
    const other = fake.addLocation();
    fake.addToken('pit-b', other.id);
    expect((await client(fake, 'pit-b').get(`/locations/${other.id}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1050));
    expect((await client(fake).get(path)).status).toBe(200);
  });

  it('when the daily budget is spent, then 429 with X-RateLimit-Daily-Remaining 0', async () => {
    const path = `/locations/${fake.locationId}`;
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      if (i % 3 === 0) fake.clearFaults(); // keep the burst out of the way
      statuses.push((await client(fake).get(path)).status);
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    fake.clearFaults();
    const res = await client(fake).get(path);
    expect(res.status).toBe(429);
    expect(res.headers['x-ratelimit-daily-remaining']).toBe('0');
  });

  it('when rateLimitNext is set, then 429 with Retry-After, then normal answers', async () => {
    fake.rateLimitNext(2, 7);
    const a = await client(fake).get(`/locations/${fake.locationId}`);
    expect(a.status).toBe(429);
    expect(a.headers['retry-after']).toBe('7');
    expect(a.headers['x-ratelimit-max']).toBe('3');
    expect((await client(fake).get(`/locations/${fake.locationId}`)).status).toBe(429);
    expect((await client(fake).get(`/locations/${fake.locationId}`)).status).toBe(200);
  });

  it('when failNext, slowDown and hangNext are set, then 5xx, a slow answer and no answer; requests and calls record it all', async () => {
    const calls = fake.calls;
    fake.failNext(1, 503);
    const failed = await client(fake).get(`/locations/${fake.locationId}`);
    expect(failed.status).toBe(503);
    expect(failed.data).toMatchObject({ statusCode: 503 });
    fake.failNext(1);
    expect((await client(fake).get(`/locations/${fake.locationId}`)).status).toBe(500);

    fake.slowDown(150);
    const t0 = Date.now();
    expect((await client(fake).get(`/locations/${fake.locationId}`)).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    fake.clearFaults();

    fake.hangNext(1);
    await expect(
      http.get(`${fake.url}/locations/${fake.locationId}`, {
        timeout: 200,
        headers: { Authorization: `Bearer ${fake.token}`, Version: '2021-07-28' },
      }),
    ).rejects.toThrow(/timeout/);
    await client(fake).post('/contacts/search', { locationId: fake.locationId, pageLimit: 2 });
    expect(fake.calls).toBe(calls + 5);
    expect(fake.requests[fake.requests.length - 1]).toMatchObject({
      method: 'POST',
      path: '/contacts/search',
      body: { locationId: fake.locationId, pageLimit: 2 },
      token: fake.token,
      version: '2021-07-28',
      at: expect.any(Number),
    });
  });
});

describe('FakeGoHighLevel: webhooks', () => {
  let fake: FakeGoHighLevel;
  let receiver: Server;
  let target: string;
  const received: { raw: string; headers: Record<string, string | string[] | undefined> }[] = [];

  beforeAll(async () => {
    fake = new FakeGoHighLevel({ contacts: 3, seed: 5 });
    const app = express();
    app.post('/hooks/ghl', express.text({ type: () => true }), (req, res) => {
      received.push({ raw: req.body as string, headers: req.headers });
      res.status(200).json({ ok: true });
    });
    await new Promise<void>((resolve) => {
      receiver = app.listen(0, '127.0.0.1', () => resolve());
    });
    target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/ghl`;
  });
  afterAll(async () => {
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  });
  beforeEach(() => {
    received.length = 0;
  });

  it('HighLevel’s published keys parse as Ed25519 and 4096-bit RSA, and the fake publishes its own the same way', () => {
    const ed = createPublicKey(HIGHLEVEL_ED25519_PUBLIC_KEY_PEM);
    expect(ed.asymmetricKeyType).toBe('ed25519');
    const rsa = createPublicKey(HIGHLEVEL_LEGACY_RSA_PUBLIC_KEY_PEM);
    expect(rsa.asymmetricKeyType).toBe('rsa');
    expect(rsa.asymmetricKeyDetails?.modulusLength).toBe(4096);
    expect(createPublicKey(fake.publicKeyPem).asymmetricKeyType).toBe('ed25519');
    expect(fake.publicKeySpkiBase64).toMatch(/^MCowBQYDK2VwAyEA/); // same prefix as HighLevel's key
    expect(Buffer.from(fake.publicKeyRawBase64, 'base64')).toHaveLength(32);
  });

  it('when a contact event is built, then it is HighLevel’s flat body with timestamp and webhookId', () => {
    const c = fake.contactsIn()[0];
    const e = fake.contactEvent('ContactCreate', c, { webhookId: 'wh-1', timestamp: '2025-01-28T14:35:00.000Z' });
    expect(Object.keys(e)[0]).toBe('type');
    expect(e).toMatchObject({
      type: 'ContactCreate',
      locationId: fake.locationId,
      id: c.id,
      firstName: c.firstName,
      lastName: c.lastName,
      name: `${c.firstName} ${c.lastName}`,
      dateAdded: c.dateAdded.toISOString(),
      tags: c.tags,
      customFields: c.customFields,
      dnd: c.dnd,
      timestamp: '2025-01-28T14:35:00.000Z',
      webhookId: 'wh-1',
      appId: fake.appId,
      versionId: fake.versionId,
    });
    expect(Object.values(e)).not.toContain(null);
    const fresh = fake.contactEvent('ContactDelete', c.id);
    expect(fresh.timestamp).toMatch(ISO_MS);
    expect(fresh.webhookId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when changes are made, then takeWebhookEvents hands their ContactCreate/Update/Delete bodies once', () => {
    expect(fake.takeWebhookEvents()).toEqual([]);
    const [added] = fake.addContacts(1);
    fake.updateContact(added.id, { email: 'new@example.com' });
    fake.deleteContact(added.id);
    const events = fake.takeWebhookEvents();
    expect(events.map((e) => e.type)).toEqual(['ContactCreate', 'ContactUpdate', 'ContactDelete']);
    expect(events[1]).toMatchObject({ id: added.id, email: 'new@example.com' });
    expect(new Set(events.map((e) => e.webhookId)).size).toBe(3);
    expect(fake.takeWebhookEvents()).toEqual([]);
  });

  it('when delivered, then x-ghl-signature is base64 Ed25519 over the raw body and verifies with the public key', async () => {
    const payload = fake.contactEvent('ContactUpdate', fake.contactsIn()[1]);
    const res = await fake.deliver(target, payload);
    expect(res.status).toBe(200);
    const [got] = received;
    expect(got.raw).toBe(res.sent);
    expect(JSON.parse(got.raw)).toEqual(payload);
    expect(got.headers['content-type']).toMatch(/^application\/json/);
    expect(got.headers['x-wh-signature']).toBeUndefined();
    const sig = got.headers['x-ghl-signature'] as string;
    expect(Buffer.from(sig, 'base64')).toHaveLength(64);
    expect(verifyGhlWebhook(got.raw, sig, fake.publicKeyPem)).toBe(true);
    // As HighLevel's guide does it: crypto.verify(null, body, key, base64-decoded signature).
    expect(edVerify(null, Buffer.from(got.raw), fake.publicKeyPem, Buffer.from(sig, 'base64'))).toBe(true);
    expect(sig).toBe(fake.sign(got.raw));
    // Not HighLevel's key: a service configured with the real key refuses the fake's deliveries.
    expect(verifyGhlWebhook(got.raw, sig, HIGHLEVEL_ED25519_PUBLIC_KEY_PEM)).toBe(false);
  });

  it('when the body is tampered, re-serialised, badly signed, unsigned or "N/A", then verification fails', async () => {
    const payload = fake.contactEvent('ContactCreate', fake.contactsIn()[2]);
    await fake.deliver(target, payload, { tamperBody: JSON.stringify({ ...payload, email: 'attacker@example.com' }) });
    await fake.deliver(target, payload, { signature: 'bad' });
    await fake.deliver(target, payload, { signature: 'none' });
    await fake.deliver(target, payload, { signature: 'N/A' });
    const [tampered, bad, none, na] = received;
    expect(verifyGhlWebhook(tampered.raw, tampered.headers['x-ghl-signature'] as string, fake.publicKeyPem)).toBe(false);
    expect(verifyGhlWebhook(bad.raw, bad.headers['x-ghl-signature'] as string, fake.publicKeyPem)).toBe(false);
    expect(none.headers['x-ghl-signature']).toBeUndefined();
    expect(na.headers['x-ghl-signature']).toBe('N/A');
    expect(verifyGhlWebhook(na.raw, 'N/A', fake.publicKeyPem)).toBe(false);
    // Whitespace added by re-serialising breaks the signature: verify the raw bytes.
    const raw = JSON.stringify(payload);
    const sig = fake.sign(raw);
    expect(verifyGhlWebhook(JSON.stringify(payload, null, 2), sig, fake.publicKeyPem)).toBe(false);
    expect(verifyGhlWebhook(Buffer.from(raw), sig, fake.publicKeyPem)).toBe(true);
  });

  it('when a timestamp is given, then the delivered (and signed) body carries it; the legacy RSA header can be added', async () => {
    const payload: GhlWebhookPayload = fake.contactEvent('ContactUpdate', fake.contactsIn()[0]);
    const stale = new Date(Date.now() - 10 * 60_000);
    await fake.deliver(target, payload, { timestamp: stale, legacySignature: 'valid' });
    const [got] = received;
    expect(JSON.parse(got.raw).timestamp).toBe(stale.toISOString());
    expect(verifyGhlWebhook(got.raw, got.headers['x-ghl-signature'] as string, fake.publicKeyPem)).toBe(true);
    expect(verifyLegacyGhlWebhook(got.raw, got.headers['x-wh-signature'] as string, fake.legacyPublicKeyPem)).toBe(true);
    expect(verifyLegacyGhlWebhook(got.raw, got.headers['x-wh-signature'] as string, HIGHLEVEL_LEGACY_RSA_PUBLIC_KEY_PEM)).toBe(false);
  });

  it('the exported signer and verifier agree with each other for any Ed25519 key pair', () => {
    const body = '{"type":"ContactCreate","id":"x"}';
    const pair = generateKeyPairSync('ed25519');
    const sig = signGhlWebhook(body, pair.privateKey);
    expect(verifyGhlWebhook(body, sig, pair.publicKey.export({ type: 'spki', format: 'pem' }).toString())).toBe(true);
    expect(verifyGhlWebhook(body, sig, fake.publicKeyPem)).toBe(false);
    expect(verifyGhlWebhook(body, fake.sign(body), createPublicKey(fake.publicKeyPem))).toBe(true);
    expect(verifyGhlWebhook(body, 'not base64 at all', fake.publicKeyPem)).toBe(false);
    expect(verifyGhlWebhook(body, undefined, fake.publicKeyPem)).toBe(false);
  });
});

describe('FakeGoHighLevel: writes', () => {
  let fake: FakeGoHighLevel;
  beforeAll(async () => {
    fake = await new FakeGoHighLevel({ contacts: 3, seed: 8 }).start();
  });
  afterAll(() => fake.stop());

  const send = (method: 'put' | 'delete', path: string, body?: unknown): Promise<AxiosResponse<Json>> =>
    http.request({ method, url: fake.url + path, data: body, headers: { Authorization: `Bearer ${fake.token}`, Version: '2021-07-28' } });

  it('when a contact is upserted twice by email, then it is created (new: true) and then updated (new: false), search seeing both', async () => {
    const first = await client(fake).post('/contacts/upsert', {
      locationId: fake.locationId,
      email: 'Up@Example.com',
      firstName: 'Up',
      gender: 'male',
    });
    expect(first.status).toBe(200);
    expect(first.data).toMatchObject({
      new: true,
      contact: { id: expect.stringMatching(GHL_ID), email: 'Up@Example.com', firstName: 'Up' },
    });
    const again = await client(fake).post('/contacts/upsert', { locationId: fake.locationId, email: 'up@example.com', lastName: 'Sert' });
    expect(again.data).toMatchObject({ new: false, contact: { id: first.data.contact.id, firstName: 'Up', lastName: 'Sert' } });
    const found = await client(fake).post('/contacts/search', {
      locationId: fake.locationId,
      pageLimit: 10,
      filters: [{ field: 'email', operator: 'eq', value: 'up@example.com' }],
    });
    expect(found.data.contacts.map((c: Json) => c.id)).toEqual([first.data.contact.id]);
    expect(fake.received.map((r) => r.method)).toEqual(['POST', 'POST']);
    expect(fake.takeWebhookEvents().map((e) => e.type)).toEqual(['ContactCreate', 'ContactUpdate']);
  });

  it('when a body has a property the endpoint does not take, or a bad value, then 422 with class-validator’s messages', async () => {
    const res = await client(fake).post('/contacts/upsert', { locationId: fake.locationId, email: 'nope', foobar: 1 });
    expect(res.status).toBe(422);
    expect(res.data).toEqual({
      statusCode: 422,
      message: ['email must be an email', 'property foobar should not exist'],
      error: 'Unprocessable Entity',
    });
    const [c] = fake.contactsIn();
    const put = await send('put', `/contacts/${c.id}`, { locationId: fake.locationId, firstName: 'x' });
    expect(put.data.message).toEqual(['property locationId should not exist']);
    expect((await client(fake).post('/contacts/upsert', { locationId: fake.locationId, firstName: 'No keys' })).status).toBe(400);
  });

  it('when a contact is updated, then PUT answers {succeded, contact}; nulls clear; a deleted or unknown contact is 404', async () => {
    const [c] = fake.contactsIn();
    const res = await send('put', `/contacts/${c.id}`, { firstName: 'Put', companyName: null, tags: ['a'] });
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({ succeded: true, contact: { id: c.id, firstName: 'Put', tags: ['a'] } });
    expect(fake.contact(c.id).companyName).toBeNull();
    expect((await send('put', '/contacts/AAAAAAAAAAAAAAAAAAAA', { firstName: 'x' })).status).toBe(404);
  });

  it('when a contact is deleted, then 200 {succeded: true}, it leaves search and GET, and a second delete is 404', async () => {
    const [c] = fake.contactsIn();
    const res = await send('delete', `/contacts/${c.id}`);
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ succeded: true });
    expect((await client(fake).get(`/contacts/${c.id}`)).status).toBe(404);
    expect((await send('delete', `/contacts/${c.id}`)).status).toBe(404);
  });
});
