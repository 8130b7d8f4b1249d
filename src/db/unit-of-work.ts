import type { Db, TxDb } from './prisma';

/**
 * The one way to open a transaction. Repositories take a `Db` (the root client or a
 * transaction's) and never open one themselves; a service or worker whose writes must commit
 * together is given a UnitOfWork and calls `uow.transactional(repos => ...)`: `fn` runs in one
 * transaction with repositories bound to it, and commits when it resolves. Unit tests hand in
 * `{ transactional: (fn) => fn(fakes) }`. The composition root builds these (src/app.ts).
 * src/db's own locks and migrations are the exception: they are this layer.
 */
export interface UnitOfWork<R> {
  transactional<T>(fn: (repos: R) => Promise<T>): Promise<T>;
}

/** `bind` makes the repositories a transaction needs, on the client it is given. */
export function createUnitOfWork<R>(prisma: TxDb, bind: (db: Db) => R): UnitOfWork<R> {
  return { transactional: (fn) => prisma.$transaction((tx) => fn(bind(tx))) };
}
