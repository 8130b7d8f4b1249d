import { ConfigError, loadConfig } from '../../src/config/config';

describe('loadConfig', () => {
  it('when nothing is set, then development defaults apply and the database is embedded', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ env: 'development', port: 3000, isProduction: false });
    expect(c.database.url).toBeUndefined();
    expect(c.push).toEqual({ maxBody: '10mb', maxUsers: 10_000, batchSize: 2_000 });
  });

  it('when several values are bad, then one error names every problem', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', API_KEY: 'short', LOG_LEVEL: 'loud' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'DATABASE_URL', 'API_KEY', 'LOG_LEVEL']) expect(problems).toContain(name);
  });

  it('when TRUST_PROXY is a hop count or a list of addresses, then it is passed on as such', () => {
    expect(loadConfig({}).http.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).http.trustProxy).toBe('loopback, 10.0.0.0/8');
    expect(loadConfig({ TRUST_PROXY: 'false' }).http.trustProxy).toBe(false);
  });

  it('when a variable is empty, then it counts as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', API_KEY: '' }).database.url).toBeUndefined();
  });

  it('when values are given, then they are parsed to their types', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      TRUST_PROXY: 'true',
      PUSH_MAX_USERS: '500',
      DATABASE_URL: 'postgresql://u:p@h:5432/db',
    });
    // "true" is one proxy hop, not every hop: trusting all would let a client pick its address.
    expect(c).toMatchObject({ isProduction: true, port: 8080, http: { trustProxy: 1 }, push: { maxUsers: 500 } });
    expect(c.database.url).toBe('postgresql://u:p@h:5432/db');
  });
});

describe('loadConfig: schedules and keys', () => {
  it('when a cron expression, time zone or encryption key is malformed, then each is named', () => {
    let error: unknown;
    try {
      loadConfig({ SYNC_NIGHTLY_CRON: 'every night', SYNC_TIMEZONE: 'Mars/Olympus', ENCRYPTION_KEY: 'too-short' });
    } catch (e) {
      error = e;
    }
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['SYNC_NIGHTLY_CRON', 'SYNC_TIMEZONE', 'ENCRYPTION_KEY']) expect(problems).toContain(name);
  });

  it('when the encryption key is hex or base64, then it decodes to 32 bytes', () => {
    expect(loadConfig({ ENCRYPTION_KEY: 'ab'.repeat(32) }).encryption.key?.length).toBe(32);
    expect(loadConfig({ ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64') }).encryption.key?.length).toBe(32);
  });
});

describe('loadConfig: the console', () => {
  it('when frame ancestors are origins, then they are listed; anything that could end the CSP directive is refused', () => {
    expect(loadConfig({ CONSOLE_FRAME_ANCESTORS: 'https://app.example.com, http://localhost:8080' }).console.frameAncestors).toEqual([
      'https://app.example.com',
      'http://localhost:8080',
    ]);
    expect(loadConfig({}).console).toEqual({ portalLinkTtlSeconds: 600, portalSessionTtlSeconds: 3600, frameAncestors: [] });
    for (const bad of ["https://a.example; script-src 'unsafe-inline'", '*', 'https://a.example/path', "'unsafe-inline'"]) {
      expect(() => loadConfig({ CONSOLE_FRAME_ANCESTORS: bad })).toThrow(/CONSOLE_FRAME_ANCESTORS/);
    }
  });
});
