import type { TestContext } from './test-app';

/**
 * Every page of a list, following `pagination.nextCursor` from the first page (at most 20):
 * the rows in order, and each page's pagination.
 */
export async function walkPages<R>(
  ctx: TestContext,
  path: string,
  key: string,
  query: Record<string, string | number>,
): Promise<{ rows: R[]; pages: Record<string, unknown>[] }> {
  const rows: R[] = [];
  const pages: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  do {
    const res = await ctx.http
      .get(path)
      .query({ ...query, ...(cursor ? { cursor } : {}) })
      .set('x-api-key', key);
    expect(res.status).toBe(200);
    rows.push(...(res.body.data as R[]));
    pages.push(res.body.pagination);
    cursor = res.body.pagination.nextCursor ?? undefined;
  } while (cursor && pages.length < 20);
  return { rows, pages };
}
