import { createHash } from 'node:crypto';
import http from 'node:http';
import axios from 'axios';
import { dropboxContentHash, FakeDropbox } from './fake-dropbox';

const client = axios.create({ validateStatus: () => true, timeout: 5000 });

describe('FakeDropbox', () => {
  let fake: FakeDropbox;
  beforeAll(async () => {
    fake = await new FakeDropbox().start();
  });
  afterAll(() => fake.stop());

  const call = (path: string, arg: unknown, body: Buffer = Buffer.alloc(0), token = fake.token) =>
    client.post(`${fake.url}${path}`, body, {
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/octet-stream',
        'Dropbox-API-Arg': typeof arg === 'string' ? arg : JSON.stringify(arg),
      },
    });

  it('when the token is wrong, expired or missing, then Dropbox’s 401 bodies (400 text without the header)', async () => {
    const wrong = await call('/2/files/upload', { path: '/a.csv' }, Buffer.from('x'), 'sl.nope');
    expect(wrong.status).toBe(401);
    expect(wrong.data).toEqual({ error_summary: 'invalid_access_token/..', error: { '.tag': 'invalid_access_token' } });
    const f = await new FakeDropbox({ token: 'old' }).start();
    try {
      f.expireToken('old');
      const expired = await client.post(`${f.url}/2/users/get_current_account`, undefined, { headers: { Authorization: 'Bearer old' } });
      expect([expired.status, expired.data.error['.tag']]).toEqual([401, 'expired_access_token']);
      f.addToken('new');
      const me = await client.post(`${f.url}/2/users/get_current_account`, undefined, { headers: { Authorization: 'Bearer new' } });
      expect(me.status).toBe(200);
      expect(me.data).toMatchObject({ account_id: f.accountId, name: { display_name: 'Dropbox Owner' } });
    } finally {
      await f.stop();
    }
    const none = await client.post(`${fake.url}/2/files/upload`, Buffer.from('x'));
    expect(none.status).toBe(400);
    expect(String(none.data)).toMatch(/Must provide HTTP header "Authorization"/);
  });

  it('when a small file is uploaded, then its metadata, and a second one of that name is renamed with autorename', async () => {
    const body = Buffer.from('id,name\r\n1,Zoë\r\n');
    const first = await call('/2/files/upload', { path: '/Exports/users.csv', mode: 'add', autorename: true, mute: false }, body);
    expect(first.status).toBe(200);
    expect(first.data).toMatchObject({
      name: 'users.csv',
      path_display: '/Exports/users.csv',
      path_lower: '/exports/users.csv',
      size: body.length,
      content_hash: dropboxContentHash(body),
      is_downloadable: true,
    });
    expect(first.data.id).toMatch(/^id:/);
    const second = await call('/2/files/upload', { path: '/Exports/users.csv', mode: 'add', autorename: true }, body);
    expect(second.data.path_display).toBe('/Exports/users (1).csv');
    const refused = await call('/2/files/upload', { path: '/Exports/users.csv', mode: 'add', autorename: false }, body);
    expect(refused.status).toBe(409);
    expect(refused.data.error_summary).toMatch(/^path\/conflict\/file\//);
    expect(fake.files.get('/Exports/users.csv')?.equals(body)).toBe(true);
  });

  it('when a session is used, then start, append_v2 (offsets checked: 409 incorrect_offset) and finish make the file', async () => {
    const start = await call('/2/files/upload_session/start', { close: false }, Buffer.from('abc'));
    expect(start.status).toBe(200);
    const id = start.data.session_id as string;
    const wrong = await call(
      '/2/files/upload_session/append_v2',
      { cursor: { session_id: id, offset: 5 }, close: false },
      Buffer.from('def'),
    );
    expect(wrong.status).toBe(409);
    expect(wrong.data).toEqual({ error_summary: 'incorrect_offset/..', error: { '.tag': 'incorrect_offset', correct_offset: 3 } });
    const appended = await call(
      '/2/files/upload_session/append_v2',
      { cursor: { session_id: id, offset: 3 }, close: false },
      Buffer.from('def'),
    );
    expect([appended.status, appended.data]).toEqual([200, null]);
    const badFinish = await call(
      '/2/files/upload_session/finish',
      { cursor: { session_id: id, offset: 1 }, commit: { path: '/s.csv' } },
      Buffer.from('g'),
    );
    expect(badFinish.data.error).toEqual({ '.tag': 'lookup_failed', lookup_failed: { '.tag': 'incorrect_offset', correct_offset: 6 } });
    const done = await call(
      '/2/files/upload_session/finish',
      { cursor: { session_id: id, offset: 6 }, commit: { path: '/s.csv', mode: 'add', autorename: true, mute: false } },
      Buffer.from('g'),
    );
    expect(done.status).toBe(200);
    expect(fake.files.get('/s.csv')?.toString()).toBe('abcdefg');
    const gone = await call('/2/files/upload_session/append_v2', { cursor: { session_id: id, offset: 7 } }, Buffer.from('h'));
    expect(gone.data.error['.tag']).toBe('not_found');
  });

  it('when the argument header is not HTTP-header safe, the Content-Type wrong, or a request too large, then refused', async () => {
    // Raw UTF-8 bytes in the header, as a client that does not escape would send them.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${fake.url}/2/files/upload`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${fake.token}`,
          'Content-Type': 'application/octet-stream',
          'Dropbox-API-Arg': Buffer.from('{"path":"/Zoë.csv"}', 'utf8').toString('latin1'),
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('x');
    });
    expect(status).toBe(400);
    const escaped = await call('/2/files/upload', '{"path":"/Zo\\u00eb.csv"}', Buffer.from('x'));
    expect(escaped.status).toBe(200);
    expect(escaped.data.path_display).toBe('/Zoë.csv');
    const json = await client.post(`${fake.url}/2/files/upload`, Buffer.from('x'), {
      headers: { Authorization: `Bearer ${fake.token}`, 'Content-Type': 'application/json', 'Dropbox-API-Arg': '{"path":"/j.csv"}' },
    });
    expect(json.status).toBe(400);
    expect(String(json.data)).toMatch(/Bad HTTP "Content-Type" header/);
    fake.maxRequestBytes = 4;
    try {
      const big = await call('/2/files/upload_session/start', {}, Buffer.from('12345'));
      expect([big.status, big.data.error['.tag']]).toEqual([409, 'payload_too_large']);
    } finally {
      fake.maxRequestBytes = 150 * 1024 * 1024;
    }
  });

  it('when an answer is lost, then the append was applied, so a retry gets incorrect_offset; faults answer Dropbox’s shapes', async () => {
    const id = (await call('/2/files/upload_session/start', {}, Buffer.from('ab'))).data.session_id as string;
    fake.loseNextAnswers(1);
    expect((await call('/2/files/upload_session/append_v2', { cursor: { session_id: id, offset: 2 } }, Buffer.from('cd'))).status).toBe(
      503,
    );
    const retry = await call('/2/files/upload_session/append_v2', { cursor: { session_id: id, offset: 2 } }, Buffer.from('cd'));
    expect(retry.data.error).toEqual({ '.tag': 'incorrect_offset', correct_offset: 4 });
    fake.rateLimitNext(1, 3);
    const limited = await call('/2/files/upload', { path: '/r.csv' }, Buffer.from('x'));
    expect([limited.status, limited.headers['retry-after'], limited.data.error.reason['.tag']]).toEqual([
      429,
      '3',
      'too_many_write_operations',
    ]);
    fake.failNext(1, 500);
    expect((await call('/2/files/upload', { path: '/r.csv' }, Buffer.from('x'))).status).toBe(500);
  });

  it('computes Dropbox’s content hash over 4 MiB blocks', () => {
    // The empty file's hash: SHA-256 of nothing (no blocks).
    expect(dropboxContentHash(Buffer.alloc(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const sha = (b: Buffer) => createHash('sha256').update(b).digest();
    const blocks = Buffer.concat([sha(Buffer.alloc(4 * 1024 * 1024)), sha(Buffer.alloc(1024 * 1024))]);
    expect(dropboxContentHash(Buffer.alloc(5 * 1024 * 1024))).toBe(sha(blocks).toString('hex'));
  });
});
