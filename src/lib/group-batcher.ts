/**
 * Group commit for a hot write path: while a batch is being written, new items queue; when
 * it finishes, everything queued goes in the next batch. Alone, an item is written at once
 * (no timer, no added latency); under load, one statement and one commit serve many
 * requests. If a batch fails, its items are retried one by one, so one bad item fails only
 * its own caller.
 *
 * `concurrency` batches may be in flight at once (default 1). More than one suits a write
 * whose time is mostly the wait for the disk (a commit): an item arriving while a batch
 * commits starts the next one instead of waiting, and PostgreSQL flushes concurrent commits
 * together.
 */
export class GroupBatcher<I, O> {
  /** Each entry is one caller's items: written in one statement, in their order, never split. */
  private queue: { items: I[]; resolve: (o: O[]) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 500,
    private readonly concurrency = 1,
  ) {}

  add(item: I): Promise<O> {
    return this.addAll([item]).then((out) => out[0]);
  }

  /**
   * Items that must stay in their order (one webhook delivery's events): they go in one batch,
   * one after another, so two batches in flight cannot interleave or reorder them.
   */
  addAll(items: I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<O[]>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      if (this.inFlight < this.concurrency) void this.flush();
    });
  }

  /** Whole entries up to maxBatch items (at least one entry, however large). */
  private take(): typeof this.queue {
    let n = 0;
    let count = 0;
    while (count < this.queue.length && (count === 0 || n + this.queue[count].items.length <= this.maxBatch)) {
      n += this.queue[count].items.length;
      count++;
    }
    return this.queue.splice(0, count);
  }

  private async flush(): Promise<void> {
    this.inFlight++;
    while (this.queue.length > 0) {
      const batch = this.take();
      try {
        const out = await this.write(batch.flatMap((b) => b.items));
        let at = 0;
        for (const b of batch) {
          b.resolve(out.slice(at, at + b.items.length));
          at += b.items.length;
        }
      } catch (err) {
        if (batch.length === 1) batch[0].reject(err);
        else
          for (const b of batch) {
            try {
              b.resolve(await this.write(b.items));
            } catch (e) {
              b.reject(e);
            }
          }
      }
    }
    this.inFlight--;
  }
}
