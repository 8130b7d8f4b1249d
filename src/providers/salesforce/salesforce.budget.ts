import type { Logger } from 'winston';
import { CrmBudgetError } from '../connector';

/** Budget lines in the log: one each time the day's use crosses another 5% of the limit. */
const LOG_STEP_PERCENT = 5;

/** `api-usage=N/M` of Sforce-Limit-Info (beside api-bursts, per-app-api-usage...). */
export function parseLimitInfo(value: unknown): { used: number; limit: number } | null {
  const m = typeof value === 'string' ? /(?:^|[;,\s])api-usage=(\d+)\/(\d+)/.exec(value) : null;
  return m ? { used: Number(m[1]), limit: Number(m[2]) } : null;
}

/**
 * The org's daily API calls as Salesforce's answers tell them (Sforce-Limit-Info), for the log
 * and the run's details. The reserve itself is kept by the HTTP client (its dailyQuota), shared
 * by every instance through the integration's rate budget.
 */
export class SalesforceBudget {
  /** The org's daily API use as the last answer told it. */
  usage: { used: number; limit: number } | null = null;
  private loggedStep = -1;

  constructor(
    private readonly reservePercent: number,
    private readonly logger: Logger,
    private readonly integrationId: number | null,
  ) {}

  observe(headers: Record<string, unknown> | undefined): void {
    const usage = parseLimitInfo(headers?.['sforce-limit-info']);
    if (!usage || usage.limit <= 0) return;
    this.usage = usage;
    const step = Math.floor((usage.used * 100) / (usage.limit * LOG_STEP_PERCENT));
    if (step !== this.loggedStep) {
      this.loggedStep = step;
      this.logger.info('salesforce: daily API use', {
        integrationId: this.integrationId,
        used: usage.used,
        limit: usage.limit,
        remaining: Math.max(0, usage.limit - usage.used),
        reservePercent: this.reservePercent,
      });
    }
  }

  /** Salesforce's 403 REQUEST_LIMIT_EXCEEDED: the day's calls are spent. */
  exceeded(where: string, message: string): CrmBudgetError {
    const usage = this.usage;
    return new CrmBudgetError(
      `Salesforce refused ${where}: REQUEST_LIMIT_EXCEEDED (${message})${usage ? `; ${usage.used} of ${usage.limit} daily API calls used` : ''}`,
      usage?.used ?? null,
      usage?.limit ?? null,
    );
  }
}
