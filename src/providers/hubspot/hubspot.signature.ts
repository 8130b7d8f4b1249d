import { createHmac } from 'node:crypto';

/**
 * HubSpot's v3 request signature (developers.hubspot.com/docs/api/webhooks/validating-requests):
 * base64(HMAC-SHA256(app secret, method + uri + body + timestamp)), the timestamp (epoch ms)
 * sent in X-HubSpot-Request-Timestamp. In the URI exactly these escapes are decoded first; any
 * other stays as sent (and the `?` starting the query is a literal already).
 */
const DECODED: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

export function hubspotSignedUri(url: string): string {
  return url.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => DECODED[m.toUpperCase()]);
}

/** The v3 signature of a request; the body is taken as the bytes received. */
export function hubspotSignatureV3(secret: string, method: string, url: string, body: Buffer | string, timestamp: string): string {
  return createHmac('sha256', secret)
    .update(`${method.toUpperCase()}${hubspotSignedUri(url)}`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .update(timestamp, 'utf8')
    .digest('base64');
}
