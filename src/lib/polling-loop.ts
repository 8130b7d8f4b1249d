/**
 * A background loop that runs `step` again at once while it reports more work, and
 * otherwise sleeps `pollMs` unless woken. The workers of the outbox and the inbox share it.
 */
export class PollingLoop {
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeNow: (() => void) | null = null;
  private delayed: NodeJS.Timeout | null = null;

  constructor(
    /** Resolves true when there is more to do right away. Errors are the step's to log. */
    private readonly step: () => Promise<boolean>,
    private readonly pollMs: number,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the step in progress. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.delayed) clearTimeout(this.delayed);
    this.delayed = null;
    this.wakeNow?.();
    await this.loop;
  }

  /** Ends the sleep now, or after `delayMs` (several wake-ups in that time make one). */
  wake(delayMs = 0): void {
    if (delayMs === 0) return this.wakeNow?.();
    if (this.delayed) return;
    this.delayed = setTimeout(() => {
      this.delayed = null;
      this.wakeNow?.();
    }, delayMs);
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (await this.step()) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.pollMs);
        this.wakeNow = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeNow = null;
    }
  }
}
