import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Development only: the encryption key kept in `.data/encryption.key`, made on first use.
 * It must survive restarts, or every stored secret becomes unreadable. Returns whether it
 * was created now, so the caller can say so once.
 */
export function developmentEncryptionKey(dataDir: string): { key: Buffer; file: string; created: boolean } {
  const file = path.resolve(dataDir, 'encryption.key');
  if (fs.existsSync(file)) return { key: Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64'), file, created: false };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const key = randomBytes(32);
  fs.writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600 });
  return { key, file, created: true };
}
