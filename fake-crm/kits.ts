import { FakeGoHighLevel } from './gohighlevel/fake-gohighlevel';
import { FakeHubSpot } from './hubspot/fake-hubspot';
import { FakeSalesforce } from './salesforce/fake-salesforce';
import type { FakeServer } from './shared/fake-server';
import { FakeWealthbox } from './wealthbox/fake-wealthbox';
import { FakeZoho } from './zoho/fake-zoho';

/**
 * One way to stand up each provider's fake for the demo and the benchmarks: start it with
 * N contacts, the integration config that points at it (unthrottled: requestsPerSecond 0,
 * and the fake's own rate limits off), and a way to change some contacts at the source.
 * Dev tooling only: production code never imports fake-crm/.
 */
export interface FakeKit {
  provider: string;
  url: string;
  /** The config of an integration that talks to this fake. */
  config: Record<string, unknown>;
  /** People the pull will read besides the contacts (Wealthbox's staff). */
  extraPeople: number;
  /** Changes `n` contacts at the source, spread across the account. */
  changeSome(n: number): void;
  /** The next `count` requests answer `status`. */
  failNext(count: number, status: number): void;
  clearFaults(): void;
  /** Requests the fake has received so far. */
  requestCount(): number;
  stop(): Promise<void>;
}

export const KIT_PROVIDERS = ['wealthbox', 'hubspot', 'gohighlevel', 'salesforce', 'zoho'] as const;
export type KitProvider = (typeof KIT_PROVIDERS)[number];

/** `acceptToken`: the CRM also accepts these bearer tokens (those a fake OAuth server issued); HubSpot and Salesforce. */
export async function startFakeKit(
  provider: string,
  contacts: number,
  opts: { acceptToken?: (token: string) => boolean } = {},
): Promise<FakeKit> {
  switch (provider) {
    case 'wealthbox': {
      const fake = await new FakeWealthbox({ contacts, staff: 5 }).start();
      return {
        provider,
        ...serverControls(fake),
        config: { apiKey: fake.token, baseUrl: fake.url, requestsPerSecond: 0 },
        extraPeople: 5,
        changeSome: (n) => {
          for (let i = 0; i < n; i++) fake.updateContact(1 + Math.floor((i * contacts) / n), { jobTitle: `Changed ${i}` });
        },
      };
    }
    case 'hubspot': {
      const fake = await new FakeHubSpot({
        contacts,
        rateLimitMax: 1_000_000_000,
        dailyLimit: null,
        searchPerSecond: 0,
        acceptToken: opts.acceptToken,
      }).start();
      const ids = [...fake.contacts.keys()];
      return {
        provider,
        ...serverControls(fake),
        config: { accessToken: fake.token, appSecret: fake.appSecret, baseUrl: fake.url, requestsPerSecond: 0 },
        extraPeople: 0,
        changeSome: (n) => {
          for (let i = 0; i < n; i++) fake.updateContact(ids[Math.floor((i * ids.length) / n)], { jobtitle: `Changed ${i}` });
        },
      };
    }
    case 'gohighlevel': {
      const fake = await new FakeGoHighLevel({ contacts, burstMax: 1_000_000_000, dailyLimit: 1_000_000_000 }).start();
      const ids = fake.contactsIn().map((c) => c.id);
      return {
        provider,
        ...serverControls(fake),
        config: {
          apiKey: fake.token,
          locationId: fake.locationId,
          baseUrl: fake.url,
          webhookPublicKey: fake.publicKeyPem,
          requestsPerSecond: 0,
        },
        extraPeople: 0,
        changeSome: (n) => {
          for (let i = 0; i < n; i++) fake.updateContact(ids[Math.floor((i * ids.length) / n)], { companyName: `Changed ${i}` });
        },
      };
    }
    case 'salesforce': {
      const fake = await new FakeSalesforce({ contacts, dailyLimit: 1_000_000_000, acceptToken: opts.acceptToken }).start();
      const ids = [...fake.contacts.keys()];
      return {
        provider,
        ...serverControls(fake),
        config: { instanceUrl: fake.url, accessToken: fake.token, requestsPerSecond: 0 },
        extraPeople: 0,
        changeSome: (n) => {
          for (let i = 0; i < n; i++) fake.updateContact(ids[Math.floor((i * ids.length) / n)], { Title: `Changed ${i}` });
        },
      };
    }
    case 'zoho': {
      // No daily credit limit: the kit is unthrottled.
      const fake = await new FakeZoho({ contacts, acceptToken: opts.acceptToken }).start();
      const ids = fake.contactsIn().map((c) => c.id);
      return {
        provider,
        ...serverControls(fake),
        config: { accessToken: fake.token, apiDomain: fake.url, webhookToken: fake.webhookToken, requestsPerSecond: 0 },
        extraPeople: 0,
        changeSome: (n) => {
          for (let i = 0; i < n; i++) fake.updateContact(ids[Math.floor((i * ids.length) / n)], { Title: `Changed ${i}` });
        },
      };
    }
    default:
      throw new Error(`no fake for provider "${provider}"; one of ${KIT_PROVIDERS.join(', ')}`);
  }
}

/** The parts of a kit that every fake answers the same way, through FakeServer. */
function serverControls(fake: FakeServer): Pick<FakeKit, 'url' | 'failNext' | 'clearFaults' | 'requestCount' | 'stop'> {
  return {
    url: fake.url,
    failNext: (count, status) => fake.failNext(count, status),
    clearFaults: () => fake.clearFaults(),
    requestCount: () => fake.requests.length,
    stop: () => fake.stop(),
  };
}
