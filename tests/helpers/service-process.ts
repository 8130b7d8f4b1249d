import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { ADMIN_KEY, ENCRYPTION_KEY } from './test-app';

/**
 * Real service processes (`src/server.ts`, as `npm run dev` runs it) on one database, for the
 * tests that need more than one instance and for bench:scale (nothing here needs jest).
 */
const root = path.resolve(__dirname, '../..');

/** One line of a process's log that carries metadata. */
export interface LogRecord {
  message: string;
  meta: Record<string, unknown>;
  /** When this process read the line (ms). */
  at: number;
}

export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** Its log lines with metadata, in the order it wrote them. */
  readonly logs: LogRecord[];
  readonly exited: Promise<void>;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
}

// winston's colorized level in the development (non-JSON) format.
// eslint-disable-next-line no-control-regex -- the escape character is what is matched
const ANSI = /\x1b\[[0-9;]*m/g;
const LINE = /^\S+ \w+ (.*?) (\{.*\})$/;

/** A log line in either format: JSON (production) or `<time> <level> <message> {json}` (otherwise). */
function parseLogLine(line: string): Omit<LogRecord, 'at'> | null {
  try {
    if (line.startsWith('{')) {
      const { message, level: _level, timestamp: _timestamp, ...meta } = JSON.parse(line) as Record<string, unknown>;
      return typeof message === 'string' ? { message, meta } : null;
    }
    const m = LINE.exec(line.replace(ANSI, ''));
    return m ? { message: m[1], meta: JSON.parse(m[2]) as Record<string, unknown> } : null;
  } catch {
    // Not a log line (the bootstrap key's banner), or a tail that only looks like JSON.
    return null;
  }
}

/** A port free at the time of asking (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the service on `databaseUrl` with the test settings below plus `env`. stdout is read
 * for log lines; stderr goes to this process's, so a failed start is seen.
 */
export function startServiceProcess(opts: { databaseUrl: string; port: number; env?: Record<string, string> }): ServiceProcess {
  // Node itself with tsx's loader: the tsx wrapper would leave its child running on a kill.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      PORT: String(opts.port),
      HOST: '127.0.0.1',
      DATABASE_URL: opts.databaseUrl,
      API_KEY: ADMIN_KEY,
      ENCRYPTION_KEY,
      LOG_LEVEL: 'info',
      ALLOW_PRIVATE_URLS: 'true',
      METRICS_ENABLED: 'false',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: LogRecord[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    const at = Date.now();
    for (const line of lines) {
      const record = parseLogLine(line);
      if (record) logs.push({ ...record, at });
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, port: opts.port, logs, exited, url: `http://127.0.0.1:${opts.port}` };
}

/** Kills what is still running (no graceful stop: nothing is waited for) and waits for the exits. */
export async function killAll(processes: ServiceProcess[]): Promise<void> {
  for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
}

/** Polls `fn` until it returns a value other than undefined (a throw counts as not yet). */
export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await Promise.resolve()
      .then(fn)
      .catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resolves once the process answers /health; fails as soon as it exits instead. */
export async function healthy(p: ServiceProcess, ms = 45_000): Promise<void> {
  const state = await until(
    `the service on port ${p.port} to answer /health`,
    async () =>
      p.child.exitCode !== null || p.child.signalCode !== null ? 'exited' : (await fetch(`${p.url}/health`)).ok ? 'up' : undefined,
    ms,
  );
  if (state === 'exited')
    throw new Error(`the service on port ${p.port} exited (${p.child.exitCode ?? p.child.signalCode}) before answering /health`);
}

/**
 * A six-field cron (node-cron's seconds field) firing at each of `slots` (UTC, the default
 * SYNC_TIMEZONE). Slots a few seconds apart across a minute's end also match that many
 * seconds into the following minute: a test is over by then.
 */
export function cronAt(...slots: Date[]): string {
  const list = (f: (d: Date) => number) => [...new Set(slots.map(f))].join(',');
  return `${list((d) => d.getUTCSeconds())} ${list((d) => d.getUTCMinutes())} ${list((d) => d.getUTCHours())} * * *`;
}

/**
 * `count` processes on `databaseUrl`, all answering /health before `slot`, the tick their
 * `env(slot)` schedules, `marginS` from now. How long a start takes depends on the machine's
 * load, so processes not up a second before their slot are killed, before any tick, and
 * started again with twice the margin (three tries). Each one started is passed to `started`
 * at once, for the caller's cleanup.
 */
export async function startBeforeSlot(opts: {
  count: number;
  databaseUrl: string;
  env: (slot: Date) => Record<string, string>;
  marginS: number;
  started: (p: ServiceProcess) => void;
}): Promise<{ processes: ServiceProcess[]; slot: Date }> {
  for (let marginS = opts.marginS, attempt = 1; ; marginS *= 2, attempt++) {
    const slot = slotIn(marginS);
    const processes: ServiceProcess[] = [];
    for (let i = 0; i < opts.count; i++) {
      const p = startServiceProcess({ databaseUrl: opts.databaseUrl, port: await freePort(), env: opts.env(slot) });
      opts.started(p);
      processes.push(p);
    }
    const late = slot.getTime() - 1000 - Date.now();
    const up = await Promise.race([
      Promise.all(processes.map((p) => healthy(p, Math.max(late, 0)))).then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), Math.max(late, 0))),
    ]).catch((err: Error) => err);
    // A process that died is not late: say so now.
    if (up instanceof Error && / exited /.test(up.message)) throw up;
    if (up === true && Date.now() < slot.getTime() - 500) return { processes, slot };
    await killAll(processes);
    if (attempt === 3) throw new Error(`the service processes were not up ${marginS} s after their start, three times`);
    console.warn(`service processes not up ${marginS} s after their start: started again for a tick ${marginS * 2} s ahead`);
  }
}

/** A time `seconds` from now, on a whole second (a cron slot). */
export function slotIn(seconds: number): Date {
  return new Date((Math.ceil(Date.now() / 1000) + seconds) * 1000);
}

/** A cron that never fires during a test (once a year, on 1 January at midnight). */
export const NEVER = '0 0 1 1 *';

/**
 * The settings of a process whose only schedule is the given sync cron(s): jobs due at their
 * slot (no jitter), no other schedule firing, no webhook or push workers.
 */
export function syncScheduleEnv(opts: { nightly?: string; incremental?: string; concurrency: number }): Record<string, string> {
  return {
    CRON_ENABLED: 'true',
    WEBHOOK_WORKERS_ENABLED: 'false',
    SYNC_NIGHTLY_CRON: opts.nightly ?? NEVER,
    SYNC_INCREMENTAL_CRON: opts.incremental ?? NEVER,
    OAUTH_KEEPALIVE_CRON: NEVER,
    RETENTION_CRON: NEVER,
    SYNC_JITTER_SECONDS: '0',
    SYNC_CONCURRENCY: String(opts.concurrency),
  };
}

/**
 * Runs in progress in one process, from its own 'sync started' / 'sync finished' lines:
 * the highest count, the run ids it started, and those it saw end.
 */
export function runsInProgress(logs: LogRecord[]): { peak: number; started: number[]; finished: number[] } {
  let now = 0;
  let peak = 0;
  const started: number[] = [];
  const finished: number[] = [];
  const open = new Set<number>();
  for (const l of logs) {
    const runId = Number(l.meta.runId);
    if (l.message === 'sync started') {
      started.push(runId);
      open.add(runId);
      peak = Math.max(peak, ++now);
    } else if (
      open.has(runId) &&
      (l.message === 'sync finished' || l.message.startsWith('sync stopped') || l.message === 'sync bookkeeping failed')
    ) {
      open.delete(runId);
      finished.push(runId);
      now--;
    }
  }
  return { peak, started, finished };
}
