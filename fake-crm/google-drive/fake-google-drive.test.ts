import axios from 'axios';
import { DRIVE_CHUNK_UNIT, FakeGoogleDrive } from './fake-google-drive';

const http = axios.create({ validateStatus: () => true, timeout: 5000, maxRedirects: 0 });

describe('FakeGoogleDrive', () => {
  let fake: FakeGoogleDrive;
  beforeAll(async () => {
    fake = await new FakeGoogleDrive({ folders: ['folder-1'] }).start();
  });
  afterAll(() => fake.stop());
  const auth = (token = fake.token) => ({ Authorization: `Bearer ${token}` });

  async function initiate(meta: Record<string, unknown>, token?: string) {
    return http.post(`${fake.url}/upload/drive/v3/files?uploadType=resumable`, meta, {
      headers: { ...auth(token), 'Content-Type': 'application/json; charset=UTF-8' },
    });
  }
  const put = (session: string, body: Buffer, range: string) =>
    http.put(session, body, { headers: { 'Content-Range': range, 'Content-Type': 'text/csv' } });

  it('when the token is missing, wrong or expired, then 401 in Google’s error shape', async () => {
    const none = await http.get(`${fake.url}/drive/v3/about`);
    expect(none.status).toBe(401);
    expect(none.data.error).toMatchObject({ code: 401, status: 'UNAUTHENTICATED', errors: [{ reason: 'required' }] });
    const wrong = await initiate({ name: 'a.csv' }, 'ya29.nope');
    expect(wrong.status).toBe(401);
    expect(wrong.data.error).toMatchObject({ code: 401, errors: [{ reason: 'authError', location: 'Authorization' }] });
    const f = await new FakeGoogleDrive({ token: 'old' }).start();
    try {
      f.expireToken('old');
      expect((await http.get(`${f.url}/drive/v3/about`, { headers: { Authorization: 'Bearer old' } })).status).toBe(401);
      f.addToken('new');
      const about = await http.get(`${f.url}/drive/v3/about`, { headers: { Authorization: 'Bearer new' } });
      expect(about.status).toBe(200);
      expect(about.data.user).toMatchObject({ emailAddress: f.user.emailAddress, me: true });
    } finally {
      await f.stop();
    }
  });

  it('when a file is uploaded in chunks, then 308 with Range until the last one, and 200 with the file resource', async () => {
    const started = await initiate({ name: 'users.csv', mimeType: 'text/csv', parents: ['folder-1'] });
    expect(started.status).toBe(200);
    const session = started.headers.location as string;
    expect(session).toMatch(new RegExp(`^${fake.url}/upload/drive/v3/files\\?uploadType=resumable&upload_id=`));
    const data = Buffer.alloc(DRIVE_CHUNK_UNIT * 2 + 10, 'x');
    const none = await put(session, Buffer.alloc(0), 'bytes */*');
    expect(none.status).toBe(308);
    expect(none.headers.range).toBeUndefined();
    const first = await put(session, data.subarray(0, DRIVE_CHUNK_UNIT * 2), `bytes 0-${DRIVE_CHUNK_UNIT * 2 - 1}/*`);
    expect(first.status).toBe(308);
    expect(first.headers.range).toBe(`bytes=0-${DRIVE_CHUNK_UNIT * 2 - 1}`);
    const last = await put(session, data.subarray(DRIVE_CHUNK_UNIT * 2), `bytes ${DRIVE_CHUNK_UNIT * 2}-${data.length - 1}/${data.length}`);
    expect(last.status).toBe(200);
    expect(last.data).toEqual({ kind: 'drive#file', id: expect.any(String), name: 'users.csv', mimeType: 'text/csv' });
    expect(fake.files.get('users.csv')?.equals(data)).toBe(true);
    expect(fake.fileList.at(-1)).toMatchObject({ parents: ['folder-1'], id: last.data.id });
    // Asking after the end answers the file again.
    const again = await put(session, Buffer.alloc(0), `bytes */${data.length}`);
    expect(again.status).toBe(200);
    expect(again.data.id).toBe(last.data.id);
  });

  it('when a non-final chunk is not a multiple of 256 KiB, or starts at the wrong offset, then 400', async () => {
    const session = (await initiate({ name: 'bad.csv' })).headers.location as string;
    const odd = await put(session, Buffer.alloc(1000), 'bytes 0-999/*');
    expect(odd.status).toBe(400);
    expect(odd.data.error.message).toMatch(/required to be equal or greater than 262144/);
    const gap = await put(session, Buffer.alloc(10), 'bytes 5-14/15');
    expect(gap.status).toBe(400);
    // A final chunk may be any size.
    expect((await put(session, Buffer.alloc(10), 'bytes 0-9/10')).status).toBe(200);
  });

  it('when the parent folder does not exist, then 404 notFound; an unknown session, 404', async () => {
    const res = await initiate({ name: 'x.csv', parents: ['nope'] });
    expect(res.status).toBe(404);
    expect(res.data.error).toMatchObject({ code: 404, message: 'File not found: nope.', errors: [{ reason: 'notFound' }] });
    const lost = await put(`${fake.url}/upload/drive/v3/files?uploadType=resumable&upload_id=zzz`, Buffer.alloc(1), 'bytes 0-0/1');
    expect(lost.status).toBe(404);
  });

  it('when an answer is lost, then the chunk is held and a status query says so; faults answer Google’s shapes', async () => {
    const session = (await initiate({ name: 'lost.csv' })).headers.location as string;
    fake.loseNextChunkAnswers(1);
    const chunk = Buffer.alloc(DRIVE_CHUNK_UNIT, 'a');
    expect((await put(session, chunk, `bytes 0-${DRIVE_CHUNK_UNIT - 1}/*`)).status).toBe(503);
    const status = await put(session, Buffer.alloc(0), 'bytes */*');
    expect(status.status).toBe(308);
    expect(status.headers.range).toBe(`bytes=0-${DRIVE_CHUNK_UNIT - 1}`);

    fake.failNext(1, 500);
    const failed = await http.get(`${fake.url}/drive/v3/about`, { headers: auth() });
    expect(failed.status).toBe(500);
    expect(failed.data.error.errors[0].reason).toBe('backendError');
    fake.rateLimitNext(1, 2);
    const limited = await http.get(`${fake.url}/drive/v3/about`, { headers: auth() });
    expect([limited.status, limited.headers['retry-after'], limited.data.error.errors[0].reason]).toEqual([429, '2', 'rateLimitExceeded']);
    fake.rateLimit403Next(1);
    const limited403 = await http.get(`${fake.url}/drive/v3/about`, { headers: auth() });
    expect([limited403.status, limited403.data.error.errors[0].reason]).toEqual([403, 'userRateLimitExceeded']);
  });

  it('when a session is cancelled, then 499 and it is gone', async () => {
    const session = (await initiate({ name: 'cancel.csv' })).headers.location as string;
    const open = fake.openSessions;
    expect((await http.delete(session)).status).toBe(499);
    expect(fake.openSessions).toBe(open - 1);
  });
});
