import { generateKeyPairSync } from 'node:crypto';
import { FakeGoHighLevel, HIGHLEVEL_ED25519_PUBLIC_KEY_PEM } from '../../fake-crm/gohighlevel/fake-gohighlevel';
import { WebhookPayloadError } from '../../src/providers/connector';
import { gohighlevel } from '../../src/providers/gohighlevel';
import { HIGHLEVEL_WEBHOOK_PUBLIC_KEY_PEM } from '../../src/providers/gohighlevel/gohighlevel.webhook';
import { StaleWebhookError, type WebhookAdapter, type WebhookRequest } from '../../src/providers/provider';

const adapter = gohighlevel.webhook as WebhookAdapter;
// Not started: the fake signs and builds bodies without its server.
const fake = new FakeGoHighLevel({ contacts: 3, seed: 3 });
const [contact, other] = fake.contactsIn();
const creds = (config: Record<string, unknown> = { webhookPublicKey: fake.publicKeyPem }) => ({ config, extraSecrets: [] });

/** A request as the inbound service hands it over: raw bytes, the parsed body, headers. */
function request(raw: string, headers: Record<string, string> = {}): WebhookRequest {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    json = undefined;
  }
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    raw: Buffer.from(raw, 'utf8'),
    json,
    header: (name) => lower[name.toLowerCase()],
    method: 'POST',
    url: 'https://crm-sync.example.com/api/webhooks/gohighlevel',
    integrationId: null,
  };
}

/** A body signed by the fake, as HighLevel delivers it. */
function signed(payload: Record<string, unknown>): WebhookRequest {
  const raw = JSON.stringify(payload);
  return request(raw, { 'x-ghl-signature': fake.sign(raw) });
}

const fresh = (type: 'ContactCreate' | 'ContactUpdate' | 'ContactDelete' = 'ContactUpdate', c = contact, opts = {}) =>
  fake.contactEvent(type, c, { timestamp: new Date(), ...opts });

describe('GoHighLevel webhooks: events', () => {
  it('when a ContactUpdate arrives, then it is one event: webhookId, type, timestamp, locationId, the body', () => {
    const body = fresh('ContactUpdate', contact, { webhookId: 'b7f8a0e2-1111-4222-8333-944455556666' });
    const events = adapter.events(signed(body));
    expect(events).toEqual([
      {
        eventId: 'b7f8a0e2-1111-4222-8333-944455556666',
        type: 'ContactUpdate',
        occurredAt: new Date(body.timestamp),
        routingKey: fake.locationId,
        payload: body,
      },
    ]);
    expect(adapter.signatureHeader).toBe('x-ghl-signature');
    expect(adapter.identityProviders).toEqual(['gohighlevel']);
  });

  it('when a body has no webhookId, then its eventId is null (the body’s hash deduplicates)', () => {
    const { webhookId: _w, ...body } = fresh();
    expect(adapter.events(signed(body))[0].eventId).toBeNull();
  });

  it('when an event type is not a contact one, then it is accepted with its type, and change ignores it', () => {
    const body = {
      type: 'OpportunityCreate',
      locationId: fake.locationId,
      id: 'opp1',
      timestamp: new Date().toISOString(),
      webhookId: 'w-opp',
    };
    expect(adapter.events(signed(body))[0]).toMatchObject({ type: 'OpportunityCreate', routingKey: fake.locationId, eventId: 'w-opp' });
    expect(adapter.change(body, 'OpportunityCreate', 'gohighlevel')).toEqual({
      kind: 'ignore',
      reason: expect.stringContaining('OpportunityCreate'),
    });
  });

  it.each([
    ['no type', (b: Record<string, unknown>) => ({ ...b, type: undefined }), 'body.type'],
    ['a contact event without locationId', (b: Record<string, unknown>) => ({ ...b, locationId: undefined }), 'body.locationId'],
    ['a contact event without id', (b: Record<string, unknown>) => ({ ...b, id: undefined }), 'body.id'],
    ['a numeric id', (b: Record<string, unknown>) => ({ ...b, id: 12 }), 'body.id'],
    ['tags not a list of strings', (b: Record<string, unknown>) => ({ ...b, tags: 'vip' }), 'body.tags'],
    ['an email field of another type', (b: Record<string, unknown>) => ({ ...b, email: { x: 1 } }), 'body.email'],
    ['a malformed email', (b: Record<string, unknown>) => ({ ...b, email: 'not-an-email' }), 'body.email'],
    ['dnd not a boolean', (b: Record<string, unknown>) => ({ ...b, dnd: 'yes' }), 'body.dnd'],
    ['an unreadable timestamp', (b: Record<string, unknown>) => ({ ...b, timestamp: 'yesterday' }), 'body.timestamp'],
  ])('when the body has %s, then events refuses it naming the field', (_what, mutate, path) => {
    const body = JSON.parse(JSON.stringify(mutate(fresh())));
    const err = (() => {
      try {
        adapter.events(signed(body));
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(WebhookPayloadError);
    expect((err as WebhookPayloadError).problems.map((p) => p.path)).toContain(path);
  });

  it('when the body is not an object, then events refuses it', () => {
    for (const raw of ['[]', '"ContactCreate"', 'null']) expect(() => adapter.events(request(raw))).toThrow(WebhookPayloadError);
  });
});

describe('GoHighLevel webhooks: verify (Ed25519 over the raw body)', () => {
  it('when the fake signs the body and the integration has its key, then it verifies', () => {
    expect(adapter.verify(signed(fresh()), creds())).toBe(true);
  });

  it('when the integration configures no key, then HighLevel’s published key is used (and the fake’s signature fails it)', () => {
    expect(HIGHLEVEL_WEBHOOK_PUBLIC_KEY_PEM).toBe(HIGHLEVEL_ED25519_PUBLIC_KEY_PEM);
    expect(adapter.verify(signed(fresh()), creds({}))).toBe(false);
    expect(adapter.verify(signed(fresh()), creds({ webhookPublicKey: '' }))).toBe(false);
  });

  it('when the key is given as the one-line base64 SPKI, then it verifies too', () => {
    expect(adapter.verify(signed(fresh()), creds({ webhookPublicKey: fake.publicKeySpkiBase64 }))).toBe(true);
  });

  it('when the body was changed after signing, then it does not verify', () => {
    const body = fresh();
    const raw = JSON.stringify(body);
    const sig = fake.sign(raw);
    const tampered = JSON.stringify({ ...body, email: 'attacker@example.com' });
    expect(adapter.verify(request(tampered, { 'x-ghl-signature': sig }), creds())).toBe(false);
    // Same JSON, other bytes (re-serialised with spaces): the raw bytes are what is signed.
    expect(adapter.verify(request(JSON.stringify(body, null, 1), { 'x-ghl-signature': sig }), creds())).toBe(false);
  });

  it('when it is signed with another key, then it does not verify', () => {
    const body = fresh();
    const raw = JSON.stringify(body);
    const stranger = new FakeGoHighLevel();
    expect(adapter.verify(request(raw, { 'x-ghl-signature': stranger.sign(raw) }), creds())).toBe(false);
    // The right signature, checked with a key of the wrong kind or no key at all: false, not an exception.
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(adapter.verify(signed(body), creds({ webhookPublicKey: rsa }))).toBe(false);
    expect(adapter.verify(signed(body), creds({ webhookPublicKey: 'not a key' }))).toBe(false);
  });

  it('when the signature is missing, "N/A" or not a signature, then it does not verify', () => {
    const raw = JSON.stringify(fresh());
    for (const headers of [
      {} as Record<string, string>,
      { 'x-ghl-signature': 'N/A' },
      { 'x-ghl-signature': 'AAAA' },
      { 'x-ghl-signature': '!!!' },
    ]) {
      expect(adapter.verify(request(raw, headers), creds())).toBe(false);
    }
    // The legacy RSA header alone is not accepted.
    expect(adapter.verify(request(raw, { 'x-wh-signature': fake.signLegacy(raw) }), creds())).toBe(false);
  });

  it('when the signed timestamp is more than 5 minutes old or ahead, then StaleWebhookError', () => {
    const old = fresh('ContactUpdate', contact, { timestamp: new Date(Date.now() - 6 * 60_000) });
    expect(() => adapter.verify(signed(old), creds())).toThrow(StaleWebhookError);
    const ahead = fresh('ContactUpdate', contact, { timestamp: new Date(Date.now() + 6 * 60_000) });
    expect(() => adapter.verify(signed(ahead), creds())).toThrow(StaleWebhookError);
    const { timestamp: _t, ...none } = fresh();
    expect(() => adapter.verify(signed(none), creds())).toThrow(StaleWebhookError);
    // Inside the window on both sides: fine.
    expect(adapter.verify(signed(fresh('ContactUpdate', contact, { timestamp: new Date(Date.now() - 4 * 60_000) })), creds())).toBe(true);
    expect(adapter.verify(signed(fresh('ContactUpdate', contact, { timestamp: new Date(Date.now() + 4 * 60_000) })), creds())).toBe(true);
  });

  it('when an old timestamp comes with a bad signature, then it is a bad signature, not a stale one', () => {
    const raw = JSON.stringify(fresh('ContactUpdate', contact, { timestamp: new Date(Date.now() - 60 * 60_000) }));
    expect(adapter.verify(request(raw, { 'x-ghl-signature': new FakeGoHighLevel().sign(raw) }), creds())).toBe(false);
  });
});

describe('GoHighLevel webhooks: change', () => {
  it('when a ContactCreate is applied, then it is an upsert mapped like a pulled contact, updatedAt the timestamp', () => {
    fake.updateContact(other.id, { email: 'Mixed.Case@Example.COM', companyName: 'Hooli', tags: ['vip'], source: 'Website' });
    const body = fake.contactEvent('ContactCreate', other, { timestamp: '2026-03-01T10:00:00.123Z' });
    expect(adapter.change(body, 'ContactCreate', 'gohighlevel')).toEqual({
      kind: 'upsert',
      person: {
        externalId: other.id,
        provider: 'gohighlevel',
        email: 'mixed.case@example.com',
        name: `${other.firstName} ${other.lastName}`,
        firstName: other.firstName,
        lastName: other.lastName,
        phone: other.phone,
        title: null,
        isActive: true,
        updatedAt: new Date('2026-03-01T10:00:00.123Z'),
        data: { companyName: 'Hooli', tags: ['vip'], source: 'Website' },
      },
    });
  });

  it('when a body carries dateUpdated, then that is the record’s time', () => {
    const body = { ...fresh(), dateUpdated: '2026-02-01T00:00:00.000Z' };
    const c = adapter.change(body, 'ContactUpdate', 'gohighlevel');
    expect(c.kind === 'upsert' && c.person.updatedAt?.toISOString()).toBe('2026-02-01T00:00:00.000Z');
  });

  it('when a ContactDelete is applied, then it is a delete at the event’s timestamp', () => {
    const body = fake.contactEvent('ContactDelete', contact, { timestamp: '2026-03-02T08:30:00.000Z' });
    expect(adapter.change(body, 'ContactDelete', 'gohighlevel')).toEqual({
      kind: 'delete',
      provider: 'gohighlevel',
      externalId: contact.id,
      at: new Date('2026-03-02T08:30:00.000Z'),
    });
  });

  it('when a contact has neither name nor email, then it is named by its phone or id', () => {
    const body = { type: 'ContactCreate', locationId: fake.locationId, id: 'abcDEF0123456789wxyz', timestamp: new Date().toISOString() };
    const c = adapter.change(body, 'ContactCreate', 'gohighlevel');
    expect(c.kind === 'upsert' && c.person).toMatchObject({
      name: 'HighLevel contact abcDEF0123456789wxyz',
      email: null,
      data: { tags: [] },
    });
  });
});
