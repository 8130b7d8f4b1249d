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
  const given = signature.trim().replace(/^sha256=/i, '');
  // Anything but 64 hex digits matches no secret; its form is the sender's, not ours to hide.
  if (!/^[0-9a-f]{64}$/i.test(given)) return false;
  const expected = Buffer.from(given, 'hex');
  let ok = false;
  for (const secret of secrets) {
    // Two 32-byte digests compared directly (no hashing to equal lengths first): on every
    // inbound request, and as constant-time as before.
    if (timingSafeEqual(createHmac('sha256', secret).update(raw).digest(), expected)) ok = true;
  }
  return ok;
}
