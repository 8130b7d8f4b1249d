import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** One encrypted value as stored: which key, the nonce, the GCM tag and the ciphertext. */
export interface SealedValue {
  kid: string;
  iv: string;
  tag: string;
  ct: string;
}

export function isSealed(value: unknown): value is SealedValue {
  const v = value as Partial<SealedValue> | null;
  return typeof v === 'object' && v !== null && typeof v.kid === 'string' && typeof v.iv === 'string' && typeof v.ct === 'string';
}

/** A key's id: public, derived from the key, stored beside each value it sealed. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('crm-secret-box:').update(key).digest('hex').slice(0, 12);
}

/**
 * AES-256-GCM with a current key (seals) and previous keys (only open), so keys can be
 * rotated: add the new key, move the old one to ENCRYPTION_PREVIOUS_KEYS, re-encrypt.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKid: string;

  constructor(
    private readonly current: Buffer,
    previous: Buffer[] = [],
  ) {
    if (current.length !== 32) throw new Error('encryption key must be 32 bytes');
    this.currentKid = keyId(current);
    for (const k of [current, ...previous]) this.keys.set(keyId(k), k);
  }

  seal(plaintext: string): SealedValue {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current, iv);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { kid: this.currentKid, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
  }

  open(sealed: SealedValue): string {
    const key = this.keys.get(sealed.kid);
    if (!key) throw new Error(`no encryption key with id ${sealed.kid} is configured`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]).toString('utf8');
  }
}

/** "••••1a2b": enough to recognise a secret, never enough to use it. */
export function mask(secret: string): string {
  return `••••${secret.length > 8 ? secret.slice(-4) : ''}`;
}
