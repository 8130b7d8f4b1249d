import type { ProviderModule } from './provider';
import { amazon } from './amazon';
import { dropbox } from './dropbox';
import { gohighlevel } from './gohighlevel';
import { gmail, googleDrive } from './google';
import { hubspot } from './hubspot';
import { mailchimp } from './mailchimp';
import { salesforce } from './salesforce';
import { sendgrid } from './sendgrid';
import { stripe } from './stripe';
import { wealthbox } from './wealthbox';
import { zapier } from './zapier';
import { zoho } from './zoho';

/** Every provider the service is built with. Adding one: its folder, and a line here. */
export const allProviders: readonly ProviderModule[] = [
  wealthbox,
  gohighlevel,
  hubspot,
  salesforce,
  zoho,
  // Marketing lists: our users are pushed to them; nothing is pulled.
  mailchimp,
  sendgrid,
  // Not CRMs: connected by OAuth for exports (issue 13) and seed 004's APIs; they test, never pull.
  googleDrive,
  gmail,
  dropbox,
  stripe,
  amazon,
  // Receives our outbound events through a webhook subscription it owns.
  zapier,
];
