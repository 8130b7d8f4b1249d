import { createHmac, randomBytes } from 'node:crypto';

/** A subscription secret in Standard Webhooks' form: "whsec_" + base64 of 24 random bytes. */
export function newSubscriptionSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** Standard Webhooks signs with the bytes the base64 part stands for. */
function standardKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

export interface SignedHeaders {
  'X-Webhook-Signature': string;
  'X-Webhook-Signature-Previous'?: string;
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Both signatures of one delivery:
 * - seed 003's `X-Webhook-Signature`: hex HMAC-SHA256 of the body, keyed with the secret as
 *   the subscriber was given it (its verification example does exactly this);
 * - Standard Webhooks' `webhook-signature`: "v1,<base64 HMAC-SHA256 of id.timestamp.body>",
 *   one entry per live secret, so off-the-shelf verifiers accept it during a rotation.
 * `secrets[0]` is the current secret; a second one is the previous, within its grace period.
 */
export function signDelivery(secrets: string[], messageId: string, timestampSeconds: number, body: string): SignedHeaders {
  const hex = (secret: string) => createHmac('sha256', secret).update(body).digest('hex');
  const standard = secrets.map(
    (s) => `v1,${createHmac('sha256', standardKey(s)).update(`${messageId}.${timestampSeconds}.${body}`).digest('base64')}`,
  );
  return {
    'X-Webhook-Signature': hex(secrets[0]),
    ...(secrets[1] ? { 'X-Webhook-Signature-Previous': hex(secrets[1]) } : {}),
    'webhook-id': messageId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': standard.join(' '),
  };
}
