import { FakeDropbox } from '../../fake-crm/dropbox/fake-dropbox';
import { CrmAuthError, CrmUnavailableError } from '../../src/providers/connector';
import { dropbox } from '../../src/providers/dropbox';
import { headerSafeJson } from '../../src/providers/dropbox/dropbox.sink';
import type { FileSink } from '../../src/providers/writer';
import { buildWriter, capturingLogger } from '../helpers/connector-harness';

const { logger } = capturingLogger('warn');

function sink(fake: FakeDropbox, config: Record<string, unknown> = {}, reauthorize?: () => Promise<string | null>): FileSink {
  const { fileSink } = buildWriter(
    dropbox,
    { accessToken: fake.token, contentUrl: fake.url, ...config },
    { logger, retries: 3, binding: reauthorize ? { reauthorize } : {} },
  );
  if (!fileSink) throw new Error('dropbox has no file sink');
  return fileSink;
}

function bytes(total: number): Buffer {
  const b = Buffer.alloc(total);
  for (let i = 0; i < total; i++) b[i] = (i * 17 + (i >> 8)) & 0xff;
  return b;
}

async function write(s: FileSink, name: string, data: Buffer, piece = 1000) {
  const upload = await s.begin(name, 'text/csv');
  for (let i = 0; i < data.length; i += piece) await upload.append(data.subarray(i, i + piece));
  return upload.finish();
}

const uploads = (fake: FakeDropbox) =>
  fake.requests
    .filter((r) => r.path.startsWith('/2/files/'))
    .map((r) => ({ path: r.path, arg: JSON.parse(r.apiArg ?? 'null'), bytes: r.contentLength }));

describe('Dropbox file sink', () => {
  let fake: FakeDropbox;
  beforeEach(async () => {
    fake = await new FakeDropbox().start();
  });
  afterEach(() => fake.stop());

  it('when dropbox is defined, then it exports files and its config takes the export fields', () => {
    expect(dropbox.definition.exports).toBe(true);
    const props = (dropbox.definition.configSchema as { properties: Record<string, { default?: unknown }> }).properties;
    expect(props.folderPath.default).toBe('/Exports');
    expect(props.contentUrl.default).toBe('https://content.dropboxapi.com');
    expect(Object.keys(props)).toEqual(expect.arrayContaining(['exportSchedule', 'uploadChunkBytes']));
  });

  it('when a file fits in one chunk, then one files/upload into /Exports, adding (renamed when the name is taken)', async () => {
    const data = Buffer.from('id,name\r\n1,Ann\r\n');
    const first = await write(sink(fake), 'users-acme-2025-01-02.csv', data);
    expect(first).toEqual({ id: fake.fileList[0].id, path: '/Exports/users-acme-2025-01-02.csv', bytes: data.length });
    expect(uploads(fake)).toEqual([
      {
        path: '/2/files/upload',
        arg: { path: '/Exports/users-acme-2025-01-02.csv', mode: 'add', autorename: true, mute: false },
        bytes: data.length,
      },
    ]);
    const second = await write(sink(fake), 'users-acme-2025-01-02.csv', Buffer.from('other'));
    expect(second.path).toBe('/Exports/users-acme-2025-01-02 (1).csv');
    expect(fake.files.get('/Exports/users-acme-2025-01-02.csv')?.equals(data)).toBe(true);
  });

  it('when the folder is the root or ends with a slash, then the path has one slash', async () => {
    await write(sink(fake, { folderPath: '/' }), 'a.csv', Buffer.from('a'));
    await write(sink(fake, { folderPath: '/Team/Reports/' }), 'b.csv', Buffer.from('b'));
    expect([...fake.files.keys()]).toEqual(['/a.csv', '/Team/Reports/b.csv']);
  });

  it('when a file is larger than a chunk, then an upload session: start, append_v2 at each offset, finish with the rest', async () => {
    const data = bytes(10_000);
    const file = await write(sink(fake, { uploadChunkBytes: 4096 }), 'big.csv', data);
    expect(fake.files.get('/Exports/big.csv')?.equals(data)).toBe(true);
    expect(file.bytes).toBe(10_000);
    const calls = uploads(fake);
    expect(calls.map((c) => [c.path, c.bytes])).toEqual([
      ['/2/files/upload_session/start', 4096],
      ['/2/files/upload_session/append_v2', 4096],
      ['/2/files/upload_session/finish', 10_000 - 8192],
    ]);
    const session = (calls[1].arg as { cursor: { session_id: string } }).cursor.session_id;
    expect(session).toMatch(/^pid_upload_session:/);
    expect(calls[1].arg).toEqual({ cursor: { session_id: session, offset: 4096 }, close: false });
    expect(calls[2].arg).toEqual({
      cursor: { session_id: session, offset: 8192 },
      commit: { path: '/Exports/big.csv', mode: 'add', autorename: true, mute: false },
    });
    expect(fake.openSessions).toBe(0);
  });

  it('when a name is not ASCII, then Dropbox-API-Arg escapes it as \\uXXXX and the file keeps the name', async () => {
    await write(sink(fake, { folderPath: '/Équipe' }), 'users-zoë-😀.csv', Buffer.from('x'));
    const raw = fake.requests.find((r) => r.path === '/2/files/upload')?.apiArg ?? '';
    expect(raw).toMatch(/^[\x20-\x7e]+$/);
    expect(raw).toContain('\\u00c9quipe');
    expect(raw).toContain('\\ud83d\\ude00');
    expect([...fake.files.keys()]).toEqual(['/Équipe/users-zoë-😀.csv']);
    expect(headerSafeJson({ a: 'x\u007f' })).toBe('{"a":"x\\u007f"}');
  });

  it('when an append’s answer is lost after it landed, then the retry’s incorrect_offset counts it as done: no bytes twice', async () => {
    const data = bytes(10_000);
    const upload = await sink(fake, { uploadChunkBytes: 4096 }).begin('lost.csv', 'text/csv');
    await upload.append(data.subarray(0, 5000));
    fake.loseNextAnswers(1);
    await upload.append(data.subarray(5000));
    await upload.finish();
    expect(fake.files.get('/Exports/lost.csv')?.equals(data)).toBe(true);
  });

  it('when the call that makes the file is carried out but its answer is lost, then it is not sent again: one file, and the export fails', async () => {
    fake.loseAnswerOf('POST', '/2/files/upload');
    await expect(write(sink(fake), 'once.csv', bytes(100))).rejects.toBeInstanceOf(CrmUnavailableError);
    expect([...fake.files.keys()]).toEqual(['/Exports/once.csv']);
    const data = bytes(9000);
    fake.loseAnswerOf('POST', '/2/files/upload_session/finish');
    await expect(write(sink(fake, { uploadChunkBytes: 4096 }), 'session.csv', data)).rejects.toBeInstanceOf(CrmUnavailableError);
    expect(fake.files.get('/Exports/session.csv')?.equals(data)).toBe(true);
    expect(fake.requests.filter((r) => r.path.endsWith('/finish'))).toHaveLength(1);
  });

  it('when a call fails with a 5xx or a 429, then the client retries it', async () => {
    const data = bytes(9000);
    fake.failNext(1, 500);
    fake.rateLimitNext(1, 0);
    await write(sink(fake, { uploadChunkBytes: 4096 }), 'retried.csv', data);
    expect(fake.files.get('/Exports/retried.csv')?.equals(data)).toBe(true);
  });

  it('when the access token has expired, then the sink reauthorizes once and goes on with the new token', async () => {
    fake.expireToken();
    fake.addToken('sl.fresh');
    let asked = 0;
    const data = bytes(9000);
    await write(
      sink(fake, { uploadChunkBytes: 4096 }, async () => {
        asked++;
        return 'sl.fresh';
      }),
      'refreshed.csv',
      data,
    );
    expect(asked).toBe(1);
    expect(fake.files.get('/Exports/refreshed.csv')?.equals(data)).toBe(true);
    expect(fake.requests.at(-1)?.token).toBe('sl.fresh');
  });

  it('when the token is refused and nothing refreshes it, then CrmAuthError', async () => {
    fake.expireToken();
    const upload = await sink(fake).begin('x.csv', 'text/csv');
    await upload.append(Buffer.from('x'));
    await expect(upload.finish()).rejects.toBeInstanceOf(CrmAuthError);
  });

  it('when Dropbox refuses the path, then the 409 summary is in the error', async () => {
    const upload = await sink(fake, { folderPath: '/bad//folder' }).begin('x.csv', 'text/csv');
    await upload.append(Buffer.from('x'));
    await expect(upload.finish()).rejects.toThrow(/409 .*path\/malformed_path/);
  });
});
