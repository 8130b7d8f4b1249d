import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger, redact } from '../../src/lib/logger';

describe('log redaction', () => {
  it('when objects hold keys, tokens or secrets at any depth, then their values are replaced', () => {
    expect(redact({ apiKey: 'k', nested: { access_token: 't', ok: 1, list: [{ password: 'p' }] }, 'x-internal-api-key': 'i' })).toEqual({
      apiKey: '[REDACTED]',
      nested: { access_token: '[REDACTED]', ok: 1, list: [{ password: '[REDACTED]' }] },
      'x-internal-api-key': '[REDACTED]',
    });
  });

  it('when a log line carries a secret, then the written line does not contain it', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', json: true });
    logger.clear();
    logger.add(new winston.transports.Stream({ stream: new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }) }));
    logger.info('calling CRM', { headers: { authorization: 'Bearer s3cr3t' }, secret: 'hunter2', user: 'kept' });
    expect(lines.join('')).not.toMatch(/s3cr3t|hunter2/);
    expect(lines.join('')).toContain('kept');
  });
});
