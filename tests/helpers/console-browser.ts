import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN_KEY, createTestContext, type TestContext } from './test-app';

// Debian's Chromium (apt package `chromium`; .ci/run installs it when it is missing).
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's Chromium, headless, able to reach this machine only. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Nothing but this machine: a wrong click on a real provider's consent URL goes nowhere.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
    ],
  });
}

/** A page and what its browser reported: uncaught errors and console errors. */
export interface ConsolePage {
  page: Page;
  errors: string[];
  /**
   * The browser log's errors, less the API answers a test provoked on purpose: Chromium logs
   * every 4xx a fetch receives as "Failed to load resource … status of N".
   */
  unexpectedErrors(expectedStatuses?: number[]): string[];
}

export interface ConsoleHarness {
  ctx: TestContext;
  /** http://127.0.0.1:<port> */
  base: string;
  browser: Browser;
  open(path?: string): Promise<ConsolePage>;
  /** Opens /console/ and signs in with `key` (the admin key unless given); waits for the navigation. */
  signIn(key?: string, path?: string): Promise<ConsolePage>;
  close(): Promise<void>;
}

/** The app listening on 127.0.0.1 and a headless Chromium, for the console's browser tests. */
export async function startConsole(env: Record<string, string> = {}): Promise<ConsoleHarness> {
  const ctx = await createTestContext(env);
  const server: Server = await new Promise((resolve) => {
    const s = ctx.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await launchChromium();
  async function open(path = '/console/'): Promise<ConsolePage> {
    // A context per page: its own sessionStorage, as a separate browser tab of another person.
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${base}${path}`);
    return {
      page,
      errors,
      unexpectedErrors: (expected = []) =>
        errors.filter((e) => {
          const status = /status of (\d{3})/.exec(e)?.[1];
          return !(status && expected.includes(Number(status)));
        }),
    };
  }
  return {
    ctx,
    base,
    browser,
    open,
    async signIn(key = ADMIN_KEY, path = '/console/') {
      const p = await open(path);
      await p.page.getByLabel('API key').fill(key);
      await p.page.getByRole('button', { name: 'Sign in' }).click();
      await p.page.getByRole('navigation', { name: 'Console' }).waitFor();
      return p;
    },
    async close() {
      await browser.close();
      await new Promise((r) => server.close(r));
      await ctx.close();
    },
  };
}
