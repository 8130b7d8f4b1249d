import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export function sha256Hex(value: string | Buffer): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Constant-time comparison; hashing first makes the lengths equal so nothing leaks. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * Whether `signature` is the hex HMAC-SHA256 of `raw` under any of `secrets` (a "sha256="
 * prefix is allowed). Every secret is tried and compared in constant time.
 */
export function verifyHmacHex(raw: Buffer, signature: string, secrets: string[]): boolean {
  const given = signature
    .trim()
    .replace(/^sha256=/i, '')
    .toLowerCase();
  let ok = false;
  for (const secret of secrets) {
    if (safeEqual(createHmac('sha256', secret).update(raw).digest('hex'), given)) ok = true;
  }
  return ok;
}
