import { FakeHubSpot, hubspotSignatureV3 as fakeSignatureV3, type HubSpotWebhookEvent } from '../../fake-crm/hubspot/fake-hubspot';
import { WebhookPayloadError } from '../../src/providers/connector';
import { hubspot } from '../../src/providers/hubspot';
import { hubspotSignatureV3, hubspotSignedUri } from '../../src/providers/hubspot/hubspot.signature';
import { StaleWebhookError, type WebhookAdapter, type WebhookRequest } from '../../src/providers/provider';

const adapter = hubspot.webhook as WebhookAdapter;
const URL_CALLED = 'https://crm.example.com/api/webhooks/hubspot';
const SECRET = 'fake-hubspot-app-secret';

// Only the signing helpers and event builders of the fake are used here: no server.
const fake = new FakeHubSpot({ portalId: 62515, appSecret: SECRET });

interface Options {
  url?: string;
  signedUrl?: string;
  secret?: string;
  timestamp?: number | string;
  body?: string;
  method?: string;
  headers?: Record<string, string | undefined>;
}

/** A request as the inbound service hands it to the adapter, signed the way HubSpot signs (the fake's signer). */
function request(events: unknown, o: Options = {}): WebhookRequest {
  const signedBody = JSON.stringify(events);
  const timestamp = o.timestamp ?? Date.now();
  const signed = fake.signV3({ method: 'POST', url: o.signedUrl ?? o.url ?? URL_CALLED, body: signedBody, timestamp, appSecret: o.secret });
  const raw = o.body ?? signedBody;
  const headers: Record<string, string | undefined> = {
    'content-type': 'application/json',
    'x-hubspot-signature-v3': signed['X-HubSpot-Signature-v3'],
    'x-hubspot-request-timestamp': signed['X-HubSpot-Request-Timestamp'],
    ...o.headers,
  };
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
    method: o.method ?? 'POST',
    url: o.url ?? URL_CALLED,
    integrationId: null,
  };
}

const credentials = (appSecret: unknown = SECRET, extraSecrets: string[] = []) => ({
  config: { accessToken: 'x', appSecret },
  extraSecrets,
});

function payloadError(fn: () => unknown): WebhookPayloadError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WebhookPayloadError);
    return err as WebhookPayloadError;
  }
  throw new Error('expected a WebhookPayloadError');
}

afterEach(() => jest.restoreAllMocks());

describe('HubSpot v3 signature', () => {
  it('when HubSpot’s published test vector is signed, then the published signature comes out, and verify accepts it at its time', () => {
    const secret = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy';
    const body = "{'example_field':'example_value'}";
    const expected = 'HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=';
    expect(hubspotSignatureV3(secret, 'POST', 'https://www.example.com/webhook_uri', body, '15000000')).toBe(expected);
    jest.spyOn(Date, 'now').mockReturnValue(15_000_000 + 60_000);
    const headers: Record<string, string> = { 'x-hubspot-signature-v3': expected, 'x-hubspot-request-timestamp': '15000000' };
    const req: WebhookRequest = {
      raw: Buffer.from(body),
      json: null,
      header: (n) => headers[n.toLowerCase()],
      method: 'POST',
      url: 'https://www.example.com/webhook_uri',
      integrationId: null,
    };
    expect(adapter.verify(req, credentials(secret))).toBe(true);
    expect(adapter.verify(req, credentials('zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz'))).toBe(false);
  });

  it('when URLs with escapes, queries and non-ASCII bodies are signed, then ours equals the fake’s signer', () => {
    const urls = [
      'https://crm.example.com/api/webhooks/hubspot',
      'https://crm.example.com/api/webhooks/hubspot?a=1&b=x%3Ay%2Fz%40w',
      'https://crm.example.com/hooks%2Fhubspot%3Fq%3D%21%24%27%28%29%2A%2C%3B/end',
      'https://crm.example.com/api/webhooks/hubspot?name=caf%C3%A9%20x&plus=%2B',
    ];
    const bodies = ['[]', JSON.stringify([{ eventId: 1, propertyValue: 'Zoë Müller – 東京' }])];
    for (const url of urls) {
      for (const body of bodies) {
        for (const timestamp of [1, 1_700_000_000_123]) {
          expect(hubspotSignatureV3(SECRET, 'post', url, Buffer.from(body), String(timestamp))).toBe(
            fakeSignatureV3({ method: 'POST', url, body, timestamp, appSecret: SECRET }),
          );
        }
      }
    }
    // The twelve listed escapes are decoded, any other (%20, %2B, %C3) kept.
    expect(hubspotSignedUri('https://h/p%3a%2F%3F%40%21%24%27%28%29%2A%2C%3B%20%2B')).toBe("https://h/p:/?@!$'()*,;%20%2B");
  });
});

describe('HubSpot webhook verify', () => {
  const events = () => fake.webhookEvents({ type: 'contact.creation', objectId: 101 });

  it('when the request is signed with the app secret for the URL called, then it verifies', () => {
    expect(adapter.verify(request(events()), credentials())).toBe(true);
  });

  it('when the URL carries escapes HubSpot decodes before signing, then it still verifies', () => {
    const url = 'https://crm.example.com/api/webhooks/hubspot?tenant=a%3Ab';
    expect(adapter.verify(request(events(), { url }), credentials())).toBe(true);
  });

  it('when it is signed with another secret, then it does not verify; an extra secret that matches does', () => {
    const req = request(events(), { secret: 'some-other-secret' });
    expect(adapter.verify(req, credentials())).toBe(false);
    expect(adapter.verify(req, credentials(SECRET, ['some-other-secret']))).toBe(true);
  });

  it('when the body was changed after signing, then it does not verify', () => {
    const signed = events();
    const tampered = JSON.stringify([{ ...signed[0], objectId: 999 }]);
    expect(adapter.verify(request(signed, { body: tampered }), credentials())).toBe(false);
    // One byte of whitespace is a change too: the raw body is signed, not its JSON.
    expect(adapter.verify(request(signed, { body: `${JSON.stringify(signed)} ` }), credentials())).toBe(false);
  });

  it('when it was signed for another URL or method, then it does not verify', () => {
    expect(adapter.verify(request(events(), { signedUrl: 'https://crm.example.com/api/webhooks/other' }), credentials())).toBe(false);
    expect(adapter.verify(request(events(), { signedUrl: 'http://crm.example.com/api/webhooks/hubspot' }), credentials())).toBe(false);
    expect(adapter.verify(request(events(), { method: 'PUT' }), credentials())).toBe(false);
  });

  it('when the timestamp is over 5 minutes old or ahead, then StaleWebhookError; within, it verifies; a bad signature stays false', () => {
    const now = Date.now();
    expect(() => adapter.verify(request(events(), { timestamp: now - 5 * 60_000 - 5000 }), credentials())).toThrow(StaleWebhookError);
    expect(() => adapter.verify(request(events(), { timestamp: now + 5 * 60_000 + 5000 }), credentials())).toThrow(StaleWebhookError);
    expect(adapter.verify(request(events(), { timestamp: now - 4 * 60_000 }), credentials())).toBe(true);
    expect(adapter.verify(request(events(), { timestamp: now - 10 * 60_000, secret: 'wrong-secret' }), credentials())).toBe(false);
  });

  it('when the signature is over another timestamp than the header says, then it does not verify', () => {
    const req = request(events(), { headers: { 'x-hubspot-request-timestamp': String(Date.now() - 1000) } });
    expect(adapter.verify(req, credentials())).toBe(false);
  });

  it('when there is no appSecret, or no signature or timestamp header, or a malformed timestamp, then false', () => {
    expect(adapter.verify(request(events()), { config: { accessToken: 'x' }, extraSecrets: [] })).toBe(false);
    expect(adapter.verify(request(events()), credentials(''))).toBe(false);
    expect(adapter.verify(request(events(), { headers: { 'x-hubspot-signature-v3': undefined } }), credentials())).toBe(false);
    expect(adapter.verify(request(events(), { headers: { 'x-hubspot-request-timestamp': undefined } }), credentials())).toBe(false);
    expect(adapter.verify(request(events(), { timestamp: '1e12' }), credentials())).toBe(false);
    expect(adapter.signatureHeader).toBe('x-hubspot-signature-v3');
    // The service refuses up front (webhook_secret_not_configured) what cannot be verified.
    expect(adapter.configured?.({ config: { accessToken: 'x' }, extraSecrets: [] })).toBe(false);
    expect(adapter.configured?.({ config: { accessToken: 'x', appSecret: '' }, extraSecrets: [] })).toBe(false);
    expect(adapter.configured?.(credentials())).toBe(true);
    expect(adapter.configured?.({ config: {}, extraSecrets: ['another-secret'] })).toBe(true);
  });
});

describe('HubSpot webhook events', () => {
  it('when an array holds events of several portals, then each is one event routed by its portalId', () => {
    const a = fake.webhookEvents({ type: 'contact.creation', objectId: 101, occurredAt: 1_700_000_000_000 });
    const b: HubSpotWebhookEvent[] = [
      { ...fake.webhookEvents({ type: 'contact.deletion', objectId: 202, occurredAt: 1_700_000_001_000 })[0], portalId: 777 },
      { ...fake.webhookEvents({ type: 'contact.propertyChange', objectId: 303, propertyName: 'email', propertyValue: 'a@b.co' })[0] },
    ];
    const body = [...a, ...b];
    const out = adapter.events(request(body));
    expect(out).toEqual([
      {
        eventId: `${a[0].eventId}:${a[0].objectId}:${a[0].occurredAt}`,
        type: 'contact.creation',
        occurredAt: new Date(1_700_000_000_000),
        routingKey: '62515',
        payload: body[0],
      },
      {
        eventId: `${b[0].eventId}:${b[0].objectId}:${b[0].occurredAt}`,
        type: 'contact.deletion',
        occurredAt: new Date(1_700_000_001_000),
        routingKey: '777',
        payload: body[1],
      },
      {
        eventId: `${b[1].eventId}:${b[1].objectId}:${b[1].occurredAt}`,
        type: 'contact.propertyChange',
        occurredAt: new Date(b[1].occurredAt),
        routingKey: '62515',
        payload: body[2],
      },
    ]);
    // The payload is the element as sent, extra fields included.
    expect(out[2].payload).toMatchObject({ propertyValue: 'a@b.co', subscriptionId: expect.any(Number), attemptNumber: 0 });
  });

  it('when an event type we do not act on has no objectId, then it is still accepted (and ignored later)', () => {
    const body = [
      { eventId: 5, portalId: 62515, occurredAt: 1, subscriptionType: 'contact.associationChange', fromObjectId: 1, toObjectId: 2 },
    ];
    const [e] = adapter.events(request(body));
    expect(e.type).toBe('contact.associationChange');
    expect(adapter.change(e.payload, e.type, 'hubspot')).toEqual({
      kind: 'ignore',
      reason: 'contact.associationChange events are not synced',
    });
  });

  it('when the body is not an array of HubSpot events, then WebhookPayloadError names each problem', () => {
    const good = fake.webhookEvents({ type: 'contact.creation', objectId: 101 })[0];
    expect(payloadError(() => adapter.events(request({ ...good }))).problems[0].path).toBe('body');
    expect(payloadError(() => adapter.events(request([]))).problems[0].path).toBe('body');
    const { portalId: _p, ...noPortal } = good;
    const { objectId: _o, ...noObject } = good;
    const problems = payloadError(() =>
      adapter.events(request([good, noPortal, noObject, { ...good, occurredAt: '2024-01-01' }, { ...good, eventId: -1 }])),
    ).problems;
    expect(problems.map((p) => p.path)).toEqual(['body.1.portalId', 'body.2.objectId', 'body.3.occurredAt', 'body.4.eventId']);
    expect(problems[1].message).toBe('is required for contact.creation');
    // Not JSON at all: the service's parse gives no value.
    expect(() => adapter.events(request(null, { body: 'not json' }))).toThrow(WebhookPayloadError);
  });
});

describe('HubSpot webhook change', () => {
  const change = (spec: Parameters<FakeHubSpot['webhookEvents']>[0]) => {
    const [e] = fake.webhookEvents(spec);
    return adapter.change(e, e.subscriptionType, 'hubspot');
  };
  const at = new Date(1_700_000_000_000);

  it('when a contact is created, changed or restored, then it is to be read (HubSpot sends ids, not records)', () => {
    for (const type of ['contact.creation', 'contact.restore'] as const) {
      expect(change({ type, objectId: 101, occurredAt: at })).toEqual({ kind: 'fetch', provider: 'hubspot', externalId: '101', at });
    }
    expect(
      change({ type: 'contact.propertyChange', objectId: 102, propertyName: 'jobtitle', propertyValue: 'CFO', occurredAt: at }),
    ).toEqual({
      kind: 'fetch',
      provider: 'hubspot',
      externalId: '102',
      at,
    });
  });

  it('when a property we do not keep changed, then the event is ignored', () => {
    expect(change({ type: 'contact.propertyChange', objectId: 102, propertyName: 'hs_lead_status', propertyValue: 'NEW' })).toEqual({
      kind: 'ignore',
      reason: 'contact property hs_lead_status is not synced',
    });
  });

  it('when a contact is deleted or privacy-deleted, then it is deleted at the event’s time', () => {
    for (const type of ['contact.deletion', 'contact.privacyDeletion'] as const) {
      expect(change({ type, objectId: 103, occurredAt: at })).toEqual({ kind: 'delete', provider: 'hubspot', externalId: '103', at });
    }
  });

  it('when contacts are merged, then the contact that stays is read', () => {
    const base = { eventId: 9, portalId: 62515, occurredAt: at.getTime(), subscriptionType: 'contact.merge', objectId: 104 };
    expect(adapter.change(base, 'contact.merge', 'hubspot')).toMatchObject({ kind: 'fetch', externalId: '104' });
    expect(adapter.change({ ...base, primaryObjectId: 105, mergedObjectIds: [104] }, 'contact.merge', 'hubspot')).toMatchObject({
      kind: 'fetch',
      externalId: '105',
    });
    expect(adapter.change({ ...base, primaryObjectId: 105, newObjectId: 106 }, 'contact.merge', 'hubspot')).toMatchObject({
      externalId: '106',
    });
  });

  it('when the event is about another object type, then it is ignored', () => {
    const e = { eventId: 10, portalId: 62515, occurredAt: 1, subscriptionType: 'company.creation', objectId: 5 };
    expect(adapter.change(e, e.subscriptionType, 'hubspot')).toEqual({ kind: 'ignore', reason: 'company.creation events are not synced' });
  });

  it('when a stored payload is malformed, then WebhookPayloadError', () => {
    expect(() => adapter.change({ eventId: 1, subscriptionType: 'contact.deletion' }, 'contact.deletion', 'hubspot')).toThrow(
      WebhookPayloadError,
    );
  });
});
