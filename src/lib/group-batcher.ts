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
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 500,
    private readonly concurrency = 1,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.inFlight < this.concurrency) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.inFlight++;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const out = await this.write(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(out[i]));
      } catch (err) {
        if (batch.length === 1) batch[0].reject(err);
        else
          for (const b of batch) {
            try {
              b.resolve((await this.write([b.item]))[0]);
            } catch (e) {
              b.reject(e);
            }
          }
      }
    }
    this.inFlight--;
  }
}
