import type { ProviderModule } from './provider';
import { amazon } from './amazon';
import { dropbox } from './dropbox';
import { gohighlevel } from './gohighlevel';
import { gmail, googleDrive } from './google';
import { hubspot } from './hubspot';
import { salesforce } from './salesforce';
import { stripe } from './stripe';
import { wealthbox } from './wealthbox';
import { zoho } from './zoho';

/** Every provider the service is built with. Adding one: its folder, and a line here. */
export const allProviders: readonly ProviderModule[] = [
  wealthbox,
  gohighlevel,
  hubspot,
  salesforce,
  zoho,
  // Not CRMs: connected by OAuth for exports (issue 13) and seed 004's APIs; they test, never pull.
  googleDrive,
  gmail,
  dropbox,
  stripe,
  amazon,
];
