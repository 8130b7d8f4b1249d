import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DRIVE_CHUNK_UNIT, FakeGoogleDrive } from '../../fake-crm/google-drive/fake-google-drive';
import { CrmAuthError, CrmUnavailableError } from '../../src/providers/connector';
import { googleDrive } from '../../src/providers/google';
import type { FileSink } from '../../src/providers/writer';
import { buildWriter, capturingLogger } from '../helpers/connector-harness';

const { logger } = capturingLogger('warn');

function sink(
  fake: { token: string; url: string },
  config: Record<string, unknown> = {},
  reauthorize?: () => Promise<string | null>,
): FileSink {
  const { fileSink } = buildWriter(
    googleDrive,
    { accessToken: fake.token, baseUrl: fake.url, ...config },
    { logger, retries: 3, binding: reauthorize ? { reauthorize } : {} },
  );
  if (!fileSink) throw new Error('google_drive has no file sink');
  return fileSink;
}

/** `total` bytes of varied content, so a misplaced or repeated chunk shows. */
function bytes(total: number): Buffer {
  const b = Buffer.alloc(total);
  for (let i = 0; i < total; i++) b[i] = (i * 31 + (i >> 10)) & 0xff;
  return b;
}

async function write(s: FileSink, name: string, data: Buffer, piece = 10_000) {
  const upload = await s.begin(name, 'text/csv');
  for (let i = 0; i < data.length; i += piece) await upload.append(data.subarray(i, i + piece));
  return upload.finish();
}

const puts = (fake: FakeGoogleDrive) => fake.requests.filter((r) => r.method === 'PUT');

describe('Google Drive file sink', () => {
  let fake: FakeGoogleDrive;
  beforeEach(async () => {
    fake = await new FakeGoogleDrive({ folders: ['exports-folder'] }).start();
  });
  afterEach(() => fake.stop());

  it('when google_drive is defined, then it exports files and its config takes the export fields', () => {
    expect(googleDrive.definition.exports).toBe(true);
    const props = (googleDrive.definition.configSchema as { properties: Record<string, { default?: unknown }> }).properties;
    expect(Object.keys(props)).toEqual(expect.arrayContaining(['folderId', 'exportSchedule', 'uploadUrl', 'uploadChunkBytes']));
    expect(props.uploadChunkBytes.default).toBe(8 * 1024 * 1024);
  });

  it('when a small file is written, then one session and one PUT carrying the total, in the configured folder', async () => {
    const data = Buffer.from('id,name\r\n1,Zoë\r\n');
    const file = await write(sink(fake, { folderId: 'exports-folder' }), 'users-acme-2025-01-02.csv', data, 5);
    expect(file).toEqual({ id: fake.fileList[0].id, path: null, bytes: data.length });
    expect(fake.files.get('users-acme-2025-01-02.csv')?.equals(data)).toBe(true);
    expect(fake.fileList[0]).toMatchObject({ parents: ['exports-folder'], mimeType: 'text/csv' });
    const post = fake.requests.find((r) => r.method === 'POST');
    expect(post?.query).toMatchObject({ uploadType: 'resumable', supportsAllDrives: 'true' });
    expect(puts(fake).map((r) => r.contentRange)).toEqual([`bytes 0-${data.length - 1}/${data.length}`]);
  });

  it('when no folder is configured, then the file goes to the root of My Drive', async () => {
    await write(sink(fake), 'root.csv', Buffer.from('a'));
    expect(fake.fileList[0].parents).toEqual(['root']);
  });

  it('when a file is larger than a chunk, then chunks of the configured multiple of 256 KiB, then the rest with the total', async () => {
    const data = bytes(DRIVE_CHUNK_UNIT * 2 + 12_345);
    const file = await write(sink(fake, { uploadChunkBytes: DRIVE_CHUNK_UNIT }), 'big.csv', data);
    expect(fake.files.get('big.csv')?.equals(data)).toBe(true);
    expect(file.bytes).toBe(data.length);
    expect(puts(fake).map((r) => r.contentRange)).toEqual([
      `bytes 0-${DRIVE_CHUNK_UNIT - 1}/*`,
      `bytes ${DRIVE_CHUNK_UNIT}-${2 * DRIVE_CHUNK_UNIT - 1}/*`,
      `bytes ${2 * DRIVE_CHUNK_UNIT}-${data.length - 1}/${data.length}`,
    ]);
  });

  it('when a chunk size is not a multiple of 256 KiB, then it is rounded down to one', async () => {
    const data = bytes(DRIVE_CHUNK_UNIT + 100);
    await write(sink(fake, { uploadChunkBytes: DRIVE_CHUNK_UNIT + 1000 }), 'rounded.csv', data);
    expect(puts(fake)[0].contentRange).toBe(`bytes 0-${DRIVE_CHUNK_UNIT - 1}/*`);
    expect(fake.files.get('rounded.csv')?.equals(data)).toBe(true);
  });

  it('when a chunk’s answer is lost after it arrived, then the session is asked and the upload goes on without resending it', async () => {
    const data = bytes(DRIVE_CHUNK_UNIT * 2 + 7);
    fake.loseNextChunkAnswers(1);
    await write(sink(fake, { uploadChunkBytes: DRIVE_CHUNK_UNIT }), 'lost.csv', data);
    expect(fake.files.get('lost.csv')?.equals(data)).toBe(true);
    expect(fake.chunkPuts).toBe(3);
    expect(puts(fake).map((r) => r.contentRange)).toContain('bytes */*');
  });

  it('when a chunk fails with a 5xx before arriving, then it is sent again from what the session holds', async () => {
    const data = bytes(DRIVE_CHUNK_UNIT * 2 + 7);
    const upload = await sink(fake, { uploadChunkBytes: DRIVE_CHUNK_UNIT }).begin('retried.csv', 'text/csv');
    await upload.append(data.subarray(0, DRIVE_CHUNK_UNIT + 1));
    fake.failNext(1, 503);
    await upload.append(data.subarray(DRIVE_CHUNK_UNIT + 1));
    await upload.finish();
    expect(fake.files.get('retried.csv')?.equals(data)).toBe(true);
    const second = `bytes ${DRIVE_CHUNK_UNIT}-${2 * DRIVE_CHUNK_UNIT - 1}/*`;
    expect(puts(fake).filter((r) => r.contentRange === second)).toHaveLength(2);
  });

  it('when the last chunk’s answer is lost, then the status query with the total answers the file', async () => {
    const data = bytes(1000);
    fake.loseNextChunkAnswers(1);
    const file = await write(sink(fake), 'last-lost.csv', data);
    expect(file.id).toBe(fake.fileList[0].id);
    expect(fake.fileList).toHaveLength(1);
    expect(puts(fake).at(-1)?.contentRange).toBe('bytes */1000');
  });

  it('when Drive answers 403 userRateLimitExceeded, then the call is retried, not taken for an auth failure', async () => {
    fake.rateLimit403Next(1);
    await write(sink(fake), 'limited.csv', Buffer.from('x'));
    expect(fake.files.has('limited.csv')).toBe(true);
  });

  it('when Drive refuses with a 403 that is not about the credentials, then the export fails with its reason; a missing scope is an auth failure', async () => {
    fake.refuse403Next(1, 'storageQuotaExceeded', "The user's Drive storage quota has been exceeded.");
    const full = await write(sink(fake), 'full.csv', Buffer.from('x')).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(CrmUnavailableError);
    expect(full).not.toBeInstanceOf(CrmAuthError);
    expect((full as Error).message).toBe(
      "google_drive refused the request (403, storageQuotaExceeded): The user's Drive storage quota has been exceeded.",
    );
    // Not retried: a full Drive stays full.
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    fake.refuse403Next(1, 'insufficientPermissions', 'Request had insufficient authentication scopes.');
    await expect(write(sink(fake), 'scope.csv', Buffer.from('x'))).rejects.toBeInstanceOf(CrmAuthError);
  });

  it('when the access token has expired, then the sink reauthorizes once and carries the new token on', async () => {
    fake.expireToken();
    fake.addToken('ya29.fresh');
    let asked = 0;
    const s = sink(fake, { uploadChunkBytes: DRIVE_CHUNK_UNIT }, async () => {
      asked++;
      return 'ya29.fresh';
    });
    const data = bytes(DRIVE_CHUNK_UNIT + 5);
    await write(s, 'refreshed.csv', data);
    expect(asked).toBe(1);
    expect(fake.files.get('refreshed.csv')?.equals(data)).toBe(true);
    expect(fake.requests.at(-1)?.token).toBe('ya29.fresh');
  });

  it('when the token is refused and nothing refreshes it, then CrmAuthError', async () => {
    fake.expireToken();
    await expect(sink(fake).begin('x.csv', 'text/csv')).rejects.toBeInstanceOf(CrmAuthError);
  });

  it('when the folder does not exist, then CrmUnavailableError naming the 404', async () => {
    await expect(sink(fake, { folderId: 'missing' }).begin('x.csv', 'text/csv')).rejects.toThrow(/404.*File not found: missing/);
  });

  it('when the upload is aborted, then the session is cancelled', async () => {
    const upload = await sink(fake).begin('aborted.csv', 'text/csv');
    await upload.append(Buffer.from('abc'));
    expect(fake.openSessions).toBe(1);
    await upload.abort();
    expect(fake.openSessions).toBe(0);
    expect(fake.files.size).toBe(0);
  });

  it('when the session URI is on another host, then it is not followed', async () => {
    let elsewhere = 0;
    const other = http.createServer((_req, res) => {
      elsewhere++;
      res.end();
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const otherUrl = `http://localhost:${(other.address() as AddressInfo).port}`;
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { Location: `${otherUrl}/upload/drive/v3/files?upload_id=x` }).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const err = await sink({ token: 't', url })
        .begin('x.csv', 'text/csv')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CrmUnavailableError);
      expect((err as Error).message).toMatch(/another host/);
      expect(elsewhere).toBe(0);
    } finally {
      server.close();
      other.close();
    }
  });

  it('when uploadUrl is set, then uploads go there and not to baseUrl', async () => {
    await write(sink({ token: fake.token, url: 'http://127.0.0.1:9' }, { uploadUrl: fake.url }), 'upload-url.csv', Buffer.from('x'));
    expect(fake.files.has('upload-url.csv')).toBe(true);
  });
});
