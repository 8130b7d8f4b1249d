import { FakeZoho } from '../../fake-crm/zoho/fake-zoho';
import { WebhookPayloadError } from '../../src/providers/connector';
import type { WebhookAdapter, WebhookRequest } from '../../src/providers/provider';
import { zoho } from '../../src/providers/zoho';

const adapter = zoho.webhook as WebhookAdapter;
const TOKEN = 'zoho-watch-token-0123456789';
// Not started: the fake only builds bodies here.
const fake = new FakeZoho({ contacts: 3, seed: 9, webhookToken: TOKEN });
const [a, b] = fake.contactsIn();
const creds = (config: Record<string, unknown> = { webhookToken: TOKEN }, extraSecrets: string[] = []) => ({ config, extraSecrets });

/** A request as the inbound service hands it over: raw bytes, the parsed body, headers, the path's integration. */
function request(body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): WebhookRequest {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    json = undefined;
  }
  return {
    raw: Buffer.from(raw, 'utf8'),
    json,
    header: (name) => headers[name.toLowerCase()],
    method: 'POST',
    url: 'https://crm-sync.example.com/api/webhooks/zoho/7',
    integrationId: 7,
  };
}

describe('Zoho notifications: events', () => {
  it('when a notification names two contacts, then one event each: derived id, type, server_time, no routing key, a payload without the token', () => {
    const body = fake.notification([a.id, b.id], 'update', TOKEN, { serverTime: 1718117126473, channelId: '42' });
    const events = adapter.events(request(body));
    expect(events).toEqual(
      [a.id, b.id].map((id) => ({
        eventId: `42:1718117126473:${id}:update`,
        type: 'Contacts.update',
        occurredAt: new Date(1718117126473),
        routingKey: null,
        payload: { module: 'Contacts', operation: 'update', id, serverTime: 1718117126473, channelId: '42' },
      })),
    );
    expect(JSON.stringify(events)).not.toContain(TOKEN);
    expect(adapter.identityProviders).toEqual(['zoho']);
    // Zoho sets no header of its own: verify() alone decides.
    expect(adapter.signatureHeader).toBeNull();
  });

  it('when the same record is named twice, or Zoho sends numeric ids or no server_time, then one event per record, ids as strings, hash-deduplicated', () => {
    const body = { ...fake.notification([a.id, a.id], 'insert'), server_time: undefined, channel_id: 1000000068001 };
    const events = adapter.events(request(body));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      eventId: null,
      occurredAt: null,
      payload: { id: a.id, channelId: '1000000068001', serverTime: null },
    });
    expect(adapter.events(request({ ...fake.notification([], 'insert'), ids: [123456789] }))[0].payload).toMatchObject({ id: '123456789' });
  });

  it.each([
    ['no ids', (n: Record<string, unknown>) => ({ ...n, ids: [] }), 'body.ids'],
    ['an id that is not a record id', (n: Record<string, unknown>) => ({ ...n, ids: ['12; DROP'] }), 'body.ids.0'],
    ['no module', (n: Record<string, unknown>) => ({ ...n, module: undefined }), 'body.module'],
    ['no operation', (n: Record<string, unknown>) => ({ ...n, operation: 5 }), 'body.operation'],
    ['a server_time that is not epoch ms', (n: Record<string, unknown>) => ({ ...n, server_time: 'now' }), 'body.server_time'],
  ])('when the body has %s, then WebhookPayloadError names the field', (_what, change, path) => {
    const body = change(fake.notification([a.id], 'update') as unknown as Record<string, unknown>);
    let err: unknown;
    try {
      adapter.events(request(body));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WebhookPayloadError);
    expect((err as WebhookPayloadError).problems.map((p) => p.path)).toContain(path);
  });
});

describe('Zoho notifications: verify', () => {
  it('when the body carries the integration’s webhookToken, then it verifies', () => {
    expect(adapter.verify(request(fake.notification([a.id], 'update')), creds())).toBe(true);
    // A secret accepted besides the config's (seed 000's kind) verifies too.
    expect(
      adapter.verify(request(fake.notification([a.id], 'update', 'extra-secret-token-000')), creds(undefined, ['extra-secret-token-000'])),
    ).toBe(true);
  });

  it.each([
    ['a wrong token of the same length', TOKEN.replace(/.$/, 'X')],
    ['a shorter token (a prefix)', TOKEN.slice(0, 10)],
    ['a longer token', `${TOKEN}-and-more`],
    ['an empty token', ''],
  ])('when the body carries %s, then it does not verify', (_what, token) => {
    expect(adapter.verify(request(fake.notification([a.id], 'update', token)), creds())).toBe(false);
  });

  it('when the body has no token, a token that is not a string, or is not JSON, then it does not verify', () => {
    expect(adapter.verify(request(fake.notification([a.id], 'update', null)), creds())).toBe(false);
    expect(adapter.verify(request({ ...fake.notification([a.id], 'update'), token: 12345 }), creds())).toBe(false);
    expect(adapter.verify(request('{"token": "zoho-watch'), creds())).toBe(false);
  });

  it('when the integration has no webhookToken, then it is not configured and nothing verifies, not even an empty token', () => {
    expect(adapter.configured?.(creds({}))).toBe(false);
    expect(adapter.configured?.(creds({ webhookToken: '' }))).toBe(false);
    expect(adapter.configured?.(creds())).toBe(true);
    expect(adapter.verify(request(fake.notification([a.id], 'update', '')), creds({ webhookToken: '' }))).toBe(false);
    expect(adapter.verify(request(fake.notification([a.id], 'update')), creds({}))).toBe(false);
  });
});

describe('Zoho notifications: change', () => {
  const payloadOf = (operation: string, module = 'Contacts') =>
    adapter.events(request(fake.notification([a.id], operation, TOKEN, { module, serverTime: 1718117126473 })))[0];

  it('when a contact was inserted or updated, then it is read (fetch) as of server_time', () => {
    for (const op of ['insert', 'update']) {
      const e = payloadOf(op);
      expect(adapter.change(e.payload, e.type, 'zoho')).toEqual({
        kind: 'fetch',
        provider: 'zoho',
        externalId: a.id,
        at: new Date(1718117126473),
      });
    }
  });

  it('when a contact was deleted, then it is a deletion at server_time', () => {
    const e = payloadOf('delete');
    expect(adapter.change(e.payload, e.type, 'zoho')).toEqual({
      kind: 'delete',
      provider: 'zoho',
      externalId: a.id,
      at: new Date(1718117126473),
    });
  });

  it('when the notification is about another module, then it is ignored whatever the operation', () => {
    for (const op of ['insert', 'delete']) {
      const e = payloadOf(op, 'Leads');
      expect(adapter.change(e.payload, e.type, 'zoho')).toEqual({ kind: 'ignore', reason: 'Zoho Leads notifications are not synced' });
    }
  });

  it('when the stored payload is not one of ours, then change refuses it', () => {
    expect(() => adapter.change({ module: 'Contacts', operation: 'update' }, 'Contacts.update', 'zoho')).toThrow(WebhookPayloadError);
  });
});
