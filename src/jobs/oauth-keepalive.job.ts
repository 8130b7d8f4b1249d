import type { ScheduledTask } from 'node-cron';
import type { Logger } from 'winston';
import { passFacts, schedulePass } from './scheduled-pass';
import type { OAuthService } from '../modules/oauth';

/**
 * The daily OAuth keep-alive: refreshes the tokens of connections idle for OAUTH_IDLE_DAYS,
 * since some providers expire refresh tokens nobody uses. Several instances may fire it: the
 * token row lock lets one refresh each integration, the others find it fresh.
 */
export class OAuthKeepAliveJob {
  readonly name = 'oauth-keepalive';
  private task: ScheduledTask | null = null;

  constructor(
    private readonly oauth: OAuthService,
    private readonly logger: Logger,
    private readonly opts: { enabled: boolean; schedule: string; timezone: string; idleDays: number },
  ) {}

  /** One pass; tests call it directly. */
  run() {
    return this.oauth.keepAlive(this.opts.idleDays);
  }

  start(): void {
    this.task = schedulePass(this.name, this.opts, this.logger, () => this.run());
  }

  async stop(): Promise<void> {
    await this.task?.stop();
    this.task = null;
  }

  /** For GET /api/sync/jobs: the schedule, and the integrations whose last refresh failed. */
  async describe(organizationId?: number) {
    return {
      ...passFacts(this.name, this.opts, this.task),
      idleDays: this.opts.idleDays,
      failures: await this.oauth.failures(organizationId),
    };
  }
}
