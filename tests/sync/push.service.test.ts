import { AppError } from '../../src/lib/errors';
import { createLogger } from '../../src/lib/logger';
import { PushService } from '../../src/modules/sync/push.service';
import { pushBody, pushUser } from '../helpers/fixtures';
import { FakePushRepository } from './fake-push-repository';

const logger = createLogger({ level: 'error', json: true, silent: true });

function setup(opts = { maxUsers: 100, batchSize: 3 }) {
  const repo = new FakePushRepository();
  const service = new PushService({ transactional: (fn) => fn(repo) }, logger, opts);
  return { repo, service };
}

describe('PushService', () => {
  it('when users are pushed, then results keep request order although work is sorted by email', async () => {
    const { service } = setup();
    const users = [pushUser(3, { email: 'c@x.io' }), pushUser(1, { email: 'a@x.io' }), pushUser(2, { email: 'b@x.io' })];
    const res = await service.push(pushBody('t', users) as never, 'wrapper');
    expect(res.results.map((r) => r.email)).toEqual(['c@x.io', 'a@x.io', 'b@x.io']);
    expect(res.results.map((r) => r.userId)).toEqual(['user-3', 'user-1', 'user-2']);
  });

  it('when a push has N users and batch size B, then the repository calls per push grow with N/B, not N', async () => {
    const { repo, service } = setup({ maxUsers: 1000, batchSize: 100 });
    await service.push(
      pushBody(
        't',
        Array.from({ length: 1000 }, (_, i) => pushUser(i)),
      ) as never,
      'wrapper',
    );
    // Calls on the fake repository (not SQL statements): 1 lock + 10 chunks x 4 calls.
    expect(repo.calls).toBe(41);
  });

  it('when the push is over the user limit, then a payload_too_large error is thrown before any database work', async () => {
    const { repo, service } = setup({ maxUsers: 2, batchSize: 10 });
    await expect(service.push(pushBody('t', [pushUser(1), pushUser(2), pushUser(3)]) as never, 'wrapper')).rejects.toMatchObject({
      kind: 'payload_too_large',
    });
    expect(repo.calls).toBe(0);
  });

  it('when an upstream id or kindeUserId repeats, then the repeat fails and names the first', async () => {
    const { service } = setup();
    const res = await service.push(
      pushBody('t', [pushUser(1), pushUser(2, { id: 'user-1' }), pushUser(3, { kindeUserId: 'kinde-1' })]) as never,
      'wrapper',
    );
    expect(res.results.map((r) => r.status)).toEqual(['created', 'failed', 'failed']);
    expect(res.results[1].error).toContain('id user-1 already appears at users[0]');
    expect(res.results[2].error).toContain('kindeUserId kinde-1');
  });

  it('when every user fails, then the run is recorded as failed', async () => {
    const { repo, service } = setup();
    const res = await service.push(pushBody('t', [{ email: 'x' }]) as never, 'wrapper');
    expect(res.metadata).toMatchObject({ successful: 0, failed: 1 });
    expect(repo.runs[0].status).toBe('failed');
  });

  it('when the organization is deleted, then a conflict is raised', async () => {
    const { repo, service } = setup();
    repo.organization = { id: 1, deleted: true };
    const err = await service.push(pushBody('t', [pushUser(1)]) as never, 'wrapper').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBe(409);
  });
});
