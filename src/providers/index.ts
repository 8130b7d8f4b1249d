import type { ProviderModule } from './provider';
import { wealthbox } from './wealthbox';

/** Every provider the service is built with. Adding one: its folder, and a line here. */
export const allProviders: readonly ProviderModule[] = [wealthbox];
