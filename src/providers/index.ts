import type { ProviderModule } from './provider';
import { gohighlevel } from './gohighlevel';
import { hubspot } from './hubspot';
import { wealthbox } from './wealthbox';

/** Every provider the service is built with. Adding one: its folder, and a line here. */
export const allProviders: readonly ProviderModule[] = [wealthbox, gohighlevel, hubspot];
