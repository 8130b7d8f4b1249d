import axios, { AxiosError, type AxiosInstance } from 'axios';
import axiosRetry, { isNetworkError, retryAfter } from 'axios-retry';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Logger } from 'winston';
import { assertPublicHost, BlockedAddressError, publicOnlyLookup } from '../lib/url-guard';
import { CrmAuthError, CrmBudgetError, CrmUnavailableError } from './connector';
import type { DailyUsage, RequestLimiter } from './rate-limiter';

declare module 'axios' {
  interface AxiosRequestConfig {
    /**
     * Not safe to send twice (a create, an upload that makes a file): after a 5xx, a timeout or
     * a dropped connection it may have been applied, so it is retried only when it surely was
     * not (a 429, a refused connection). The caller's next attempt looks for what it made.
     */
    once?: boolean;
  }
}

export interface CrmHttpOptions {
  provider: string;
  baseURL: string;
  headers: Record<string, string>;
  timeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
  /** The integration's shared limiter, so we do not cause the CRM's 429s. */
  limiter: RequestLimiter;
  /**
   * The CRM's own budget headers: when `remaining` reaches 0, nobody calls for `intervalMs`
   * (the header's value, or this default), instead of running into a 429.
   */
  rateLimitHeaders?: { remaining: string; intervalMs?: string; defaultIntervalMs: number };
  /**
   * The account's daily quota (Salesforce's calls per 24 h, HighLevel's per day, Zoho's
   * credits), read from every answer and shared through the limiter. Bulk work (sync pages,
   * push batches) asks `checkDailyQuota()` first: at or below the reserve it stops with
   * CrmBudgetError, resumable after `budgetRecheckMs`, whichever instance asks. Single reads
   * (a webhook's record, a connection test) still go: the reserve is for the account's other
   * tools, and they are a handful.
   */
  dailyQuota?: {
    read(headers: Record<string, unknown>): DailyUsage | null;
    /** The reserve as a share of the day's limit, or as a number of calls (Zoho's credits, whose limit is not told). */
    reserve: { percent: number } | { calls: number };
    account: string;
  };
  /**
   * How long a quota seen spent holds before one call may look again (the CRM does not say
   * when its day resets): a stopped run is resumed then. Default one hour (CRM_BUDGET_RECHECK_SECONDS).
   */
  budgetRecheckMs?: number;
  /**
   * A 401 is retried once with the headers this gives (a refreshed OAuth token), when it
   * gives any; a pasted token's 401 stays an authentication failure.
   */
  reauthorize?: () => Promise<Record<string, string> | null>;
  /** The SSRF guard's switch: false refuses loopback, private and link-local addresses. */
  allowPrivateUrls: boolean;
  logger: Logger;
}

// A Retry-After longer than this fails the request instead of parking a sync for hours.
const MAX_RETRY_AFTER_MS = 5 * 60_000;
const DEFAULT_BUDGET_RECHECK_MS = 3600_000;
/**
 * The largest answer read. A CRM page is a few megabytes at most; a base URL a tenant chose
 * could otherwise stream hundreds into the shared process.
 */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/**
 * axios with retries (network errors, timeouts, 5xx, 429) using exponential backoff with
 * jitter, honouring Retry-After, plus a per-client rate limit. Errors come out as
 * CrmAuthError (401/403) or CrmUnavailableError; their messages never carry credentials.
 */
export interface CrmHttpClient extends AxiosInstance {
  /** Throws CrmBudgetError when the account's daily quota (dailyQuota) is at or below its reserve. */
  checkDailyQuota(): Promise<void>;
}

export function createCrmHttpClient(opts: CrmHttpOptions): CrmHttpClient {
  const baseURL = opts.baseURL.replace(/\/+$/, '');
  // A tenant chooses the base URL: the guard checks each address actually connected to
  // (names through the agents' lookup, IP literals before the request), and a redirect may
  // not leave the host, so neither the URL nor the CRM can point us at internal services.
  const guarded = opts.allowPrivateUrls ? {} : { lookup: publicOnlyLookup };
  const origin = new URL(baseURL).origin;
  const client = axios.create({
    baseURL,
    timeout: opts.timeoutMs,
    headers: opts.headers,
    maxContentLength: MAX_RESPONSE_BYTES,
    maxRedirects: 3,
    beforeRedirect: (options) => {
      const target = `${String(options.protocol)}//${String(options.host ?? options.hostname)}`;
      if (new URL(target).origin !== origin)
        throw new CrmUnavailableError(`${opts.provider} redirected to another host (${target}); not followed`);
    },
    httpAgent: new http.Agent({ keepAlive: true, ...guarded }),
    httpsAgent: new https.Agent({ keepAlive: true, ...guarded }),
  });
  client.interceptors.request.use(async (config) => {
    if (!opts.allowPrivateUrls) {
      const host = new URL(config.url ?? '', `${config.baseURL ?? baseURL}/`).hostname.replace(/^\[|\]$/g, '');
      if (net.isIP(host)) await assertPublicHost(host);
    }
    await opts.limiter.acquire();
    // axios's timeout bounds only the silences between bytes: an answer dripped a byte at a
    // time would hold the call (and its sync) for ever. This bounds each attempt as a whole.
    config.signal = AbortSignal.timeout(config.timeout || opts.timeoutMs);
    return config;
  });
  const budget = opts.rateLimitHeaders;
  const quota = opts.dailyQuota;
  const recheckMs = opts.budgetRecheckMs ?? DEFAULT_BUDGET_RECHECK_MS;
  /** The daily quota's state when it is at or below the reserve (and recent enough to trust), else null. */
  const spent = async (): Promise<(DailyUsage & { reserve: number; ageMs: number }) | null> => {
    const daily = quota ? await opts.limiter.daily() : null;
    if (!quota || !daily || daily.ageMs >= recheckMs) return null;
    const r = quota.reserve;
    const reserve = 'calls' in r ? r.calls : daily.limit ? Math.ceil((daily.limit * r.percent) / 100) : null;
    return reserve !== null && daily.remaining <= reserve ? { ...daily, reserve } : null;
  };
  const budgetError = (s: DailyUsage & { reserve: number; ageMs: number }) => {
    const account = quota?.account ?? opts.provider;
    const left = Math.max(0, s.remaining);
    const r = quota?.reserve;
    const message =
      s.limit !== null
        ? `${account} has used ${s.limit - s.remaining} of its ${s.limit} daily API calls; ${left} left is at or below the reserve of ${s.reserve}${r && 'percent' in r ? ` (${r.percent}%)` : ''} kept for its other tools`
        : `${account} reports ${left} API credits left, at or below the reserve of ${s.reserve} kept for its other tools`;
    return new CrmBudgetError(
      message,
      s.limit !== null ? s.limit - s.remaining : null,
      s.limit,
      new Date(Date.now() + Math.max(0, recheckMs - s.ageMs)),
    );
  };
  const observe = (headers: Record<string, unknown> | undefined) => {
    if (quota && headers) {
      const usage = quota.read(headers);
      if (usage) opts.limiter.reportDaily(usage);
    }
    if (!budget || !headers) return;
    if (Number(headers[budget.remaining.toLowerCase()]) === 0 && headers[budget.remaining.toLowerCase()] !== undefined) {
      const interval = Number(budget.intervalMs ? headers[budget.intervalMs.toLowerCase()] : NaN);
      opts.limiter.pauseUntil(Date.now() + (Number.isFinite(interval) && interval > 0 ? interval : budget.defaultIntervalMs));
    }
  };
  client.interceptors.response.use(
    (res) => {
      observe(res.headers as Record<string, unknown>);
      return res;
    },
    async (err: unknown) => {
      const config = err instanceof AxiosError ? (err.config as (typeof err.config & { reauthorized?: boolean }) | undefined) : undefined;
      if (err instanceof AxiosError && err.response?.status === 401 && opts.reauthorize && config && !config.reauthorized) {
        const headers = await opts.reauthorize().catch(() => null);
        if (headers) {
          config.reauthorized = true;
          // Every later call of this client carries the new token too: the old one is dead, and
          // each call would otherwise get its own 401 and ask for another refresh.
          for (const [k, v] of Object.entries(headers)) {
            config.headers.set(k, v);
            (client.defaults.headers as unknown as Record<string, unknown>)[k] = v;
          }
          return client.request(config);
        }
      }
      if (err instanceof AxiosError && err.response) {
        observe(err.response.headers as Record<string, unknown>);
        // Every caller of this account waits out a 429, not only the one that got it.
        const wait = retryAfter(err);
        if (err.response.status === 429 && wait > 0 && wait <= MAX_RETRY_AFTER_MS) opts.limiter.pauseUntil(Date.now() + wait);
      }
      return Promise.reject(err);
    },
  );
  axiosRetry(client, {
    retries: opts.maxRetries,
    shouldResetTimeout: true,
    retryCondition: async (err) => {
      // A refused address or redirect stays refused: no retry.
      if (refusal(err)) return false;
      const status = err.response?.status;
      // A 429 because the day's quota is spent (HighLevel) is not retried: the run stops at the budget.
      if (status === 429) return retryAfter(err) <= MAX_RETRY_AFTER_MS && !(await spent());
      if (err.config?.once) return isNetworkError(err) && err.code === 'ECONNREFUSED';
      // An answer over MAX_RESPONSE_BYTES would be as large the next time.
      if (err.code === AxiosError.ERR_BAD_RESPONSE && !err.response) return false;
      return isNetworkError(err) || timedOut(err) || (status !== undefined && status >= 500);
    },
    retryDelay: (retryCount, err) => {
      const backoff = opts.retryBaseMs * 2 ** (retryCount - 1);
      const jittered = backoff / 2 + Math.random() * (backoff / 2);
      return Math.max(jittered, retryAfter(err));
    },
    onRetry: (retryCount, err, config) => {
      opts.logger.warn(`${opts.provider}: retrying request`, {
        attempt: retryCount,
        path: config.url,
        status: err.response?.status,
        code: err.code,
        retryAfterMs: retryAfter(err) || undefined,
      });
    },
  });
  client.interceptors.response.use(undefined, async (err: unknown) => {
    const s = err instanceof AxiosError && err.response?.status === 429 ? await spent() : null;
    return Promise.reject(s ? budgetError(s) : toCrmError(opts.provider, err));
  });
  return Object.assign(client, {
    async checkDailyQuota() {
      const s = await spent();
      if (s) throw budgetError(s);
    },
  });
}

function toCrmError(provider: string, err: unknown): Error {
  if (err instanceof CrmBudgetError) return err;
  const refused = refusal(err);
  if (refused instanceof BlockedAddressError) return new CrmUnavailableError(`${provider} not called: ${refused.message}`);
  if (refused) return refused;
  if (!(err instanceof AxiosError)) return err as Error;
  const status = err.response?.status;
  const where = `${err.config?.method?.toUpperCase() ?? 'GET'} ${err.config?.url ?? ''}`;
  if (status === 401 || status === 403) {
    return new CrmAuthError(`${provider} rejected the credentials (${status} on ${where}): ${describeBody(err.response?.data)}`);
  }
  if (status !== undefined)
    return new CrmUnavailableError(`${provider} answered ${status} on ${where}: ${describeBody(err.response?.data)}`, status);
  if (timedOut(err)) return new CrmUnavailableError(`${provider} timed out on ${where}: no whole answer within ${err.config?.timeout} ms`);
  if (err.code === AxiosError.ERR_BAD_RESPONSE)
    return new CrmUnavailableError(`${provider} answered unreadably on ${where}: ${err.message}`);
  return new CrmUnavailableError(`${provider} unreachable on ${where}: ${err.code ?? err.message}`);
}

/** axios's own timeout (a silence) or the attempt's deadline (the request's signal). */
function timedOut(err: AxiosError): boolean {
  return (
    err.code === AxiosError.ECONNABORTED ||
    err.code === AxiosError.ETIMEDOUT ||
    (err.code === AxiosError.ERR_CANCELED && !!err.config?.signal?.aborted)
  );
}

/**
 * Bulk work's check before its next call: CrmBudgetError when the account's daily quota is at
 * its reserve (a client made without dailyQuota, or a plain axios in a test, never refuses).
 */
export function checkDailyQuota(http: AxiosInstance): Promise<void> {
  return (http as Partial<CrmHttpClient>).checkDailyQuota?.() ?? Promise.resolve();
}

/** A daily quota told as "limit" and "remaining" headers (HighLevel, HubSpot's private apps), as calls used of the limit. */
export function dailyFromHeaders(limitHeader: string, remainingHeader: string): (headers: Record<string, unknown>) => DailyUsage | null {
  const [l, r] = [limitHeader.toLowerCase(), remainingHeader.toLowerCase()];
  return (headers) => {
    if (headers[l] === undefined || headers[r] === undefined) return null;
    const limit = Number(headers[l]);
    const remaining = Number(headers[r]);
    return Number.isFinite(limit) && Number.isFinite(remaining) && limit > 0 ? { remaining: Math.max(0, remaining), limit } : null;
  };
}

/** For `reauthorize`: a refreshed OAuth access token as a bearer header, or null (nothing to refresh). */
export function bearerReauthorize(reauthorize: () => Promise<string | null>): () => Promise<Record<string, string> | null> {
  return async () => {
    const token = await reauthorize();
    return token ? { Authorization: `Bearer ${token}` } : null;
  };
}

/** The guard's refusal (an address, a redirect) somewhere in an error's causes, if any. */
function refusal(err: unknown): BlockedAddressError | CrmUnavailableError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof BlockedAddressError || e instanceof CrmUnavailableError) return e;
  }
  return undefined;
}

/** The CRM's own error text ({"error": ...} / {"errors": [...]} / {"message": ...}), shortened. */
function describeBody(data: unknown): string {
  // Salesforce answers errors as an array: [{ message, errorCode }].
  if (Array.isArray(data) && data.length > 0) {
    return data
      .slice(0, 3)
      .map((e) => describeBody(e))
      .join('; ')
      .slice(0, 300);
  }
  if (data && typeof data === 'object') {
    const d = data as { error?: unknown; errors?: unknown; message?: unknown; code?: unknown; errorCode?: unknown };
    // HighLevel answers { statusCode, message, error: "Unauthorized" }: the message says more.
    const text = typeof d.error === 'string' && d.message !== undefined ? d.message : (d.error ?? d.message ?? d.errors);
    // Zoho and Salesforce put what went wrong in a code beside a generic message
    // (OAUTH_SCOPE_MISMATCH beside "Unauthorized"): both are kept.
    const code = [d.code, d.errorCode].find((c) => typeof c === 'string' && /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(c)) as string | undefined;
    if (text !== undefined) {
      const said = String(typeof text === 'string' ? text : JSON.stringify(text));
      return (code && !said.includes(code) ? `${code}: ${said}` : said).slice(0, 300);
    }
    if (code) return code;
  }
  return typeof data === 'string' ? data.slice(0, 300) : 'no details';
}
