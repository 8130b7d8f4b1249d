/**
 * The load generator of bench:webhooks, in its own process so it does not share the
 * service's event loop: autocannon POSTs a new, validly signed Wealthbox event per request.
 *
 *   tsx bench/processes/webhook-load.ts <url> <seconds> <connections> <secret|-> <prefix> <first contact id>
 *
 * With secret "-" it sends unsigned bodies (the bare Express baseline ignores signatures).
 * Prints autocannon's result as one JSON line.
 */
import { createHmac } from 'node:crypto';
import autocannon from 'autocannon';

const [url, seconds, connections, secret, prefix, firstId] = process.argv.slice(2);
let n = 0;

function body(): string {
  const i = n++;
  return JSON.stringify({
    id: `${prefix}-${i}`,
    event: 'contact.created',
    contact: {
      id: Number(firstId) + i,
      type: 'Person',
      first_name: 'Load',
      last_name: `Test ${i}`,
      updated_at: '2026-11-20 10:00 AM -0400',
      email_addresses: [{ address: `load-${prefix}-${i}@example.com`, principal: true }],
    },
  });
}

const instance = autocannon(
  {
    url,
    method: 'POST',
    duration: Number(seconds),
    connections: Number(connections),
    requests: [
      {
        setupRequest: (req) => {
          const raw = body();
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (secret !== '-') headers['x-wealthbox-signature'] = createHmac('sha256', secret).update(raw).digest('hex');
          return { ...req, body: raw, headers };
        },
      },
    ],
  },
  (err, result) => {
    if (err) {
      console.error(err);
      process.exit(1);
    }
    const statuses = result.statusCodeStats as unknown as Record<string, { count: number }>;
    process.stdout.write(
      `${JSON.stringify({
        requests: result.requests.total,
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        max: result.latency.max,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        statuses: Object.fromEntries(Object.entries(statuses ?? {}).map(([k, v]) => [k, v.count])),
      })}\n`,
    );
  },
);
process.on('SIGINT', () => instance.stop());
