import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A webhook endpoint that accepts requests and never answers: counts what it holds open per
 * subscription (the X-Webhook-Id header), the peak, and every request in order of arrival.
 */
export class HangingEndpoint {
  readonly open = new Map<string, number>();
  readonly peak = new Map<string, number>();
  /** Every request received, in order of arrival: its subscription and time. */
  readonly arrivals: { sub: string; at: number }[] = [];
  private readonly server = http.createServer((req, res) => {
    const sub = String(req.headers['x-webhook-id']);
    this.arrivals.push({ sub, at: Date.now() });
    this.open.set(sub, (this.open.get(sub) ?? 0) + 1);
    this.peak.set(sub, Math.max(this.peak.get(sub) ?? 0, this.open.get(sub) ?? 0));
    res.on('close', () => this.open.set(sub, (this.open.get(sub) ?? 1) - 1));
    req.resume();
  });
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  held(subId: number): number {
    return this.open.get(String(subId)) ?? 0;
  }

  /** Refuses new connections and drops the held ones: the attempts fail and are recorded. */
  async stop(): Promise<void> {
    const closed = new Promise((r) => this.server.close(r));
    this.server.closeAllConnections();
    await closed;
  }
}
