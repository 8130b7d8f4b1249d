import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { killAll, startServiceProcess, type ServiceProcess } from '../helpers/service-process';
import { createTestDatabase } from '../helpers/test-app';

/**
 * The service started on a port something else holds: it says so and exits 1. Before, Express
 * 5 handed the EADDRINUSE to the listen callback, and the process logged "listening" and ran
 * on without serving.
 */
describe('a service started on a port in use', () => {
  let holder: http.Server;
  let proc: ServiceProcess | undefined;
  afterAll(async () => {
    if (proc) await killAll([proc]);
    await new Promise((r) => holder?.close(r));
  });

  it('when the port is taken, then it logs why and exits 1, never "listening"', async () => {
    holder = http.createServer((_req, res) => res.end('not the service'));
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as AddressInfo).port;
    proc = startServiceProcess({ databaseUrl: await createTestDatabase(), port, env: { CRON_ENABLED: 'false' } });
    const code = await new Promise<number | null>((resolve) => {
      if (proc!.child.exitCode !== null) resolve(proc!.child.exitCode);
      else proc!.child.once('exit', (c) => resolve(c));
    });
    expect(code).toBe(1);
    expect(proc.logs).toContainEqual(
      expect.objectContaining({ message: `cannot listen on 127.0.0.1:${port}`, meta: expect.objectContaining({ code: 'EADDRINUSE' }) }),
    );
    expect(proc.logs.some((l) => l.message.startsWith('listening on'))).toBe(false);
  }, 60_000);
});
