import { AppError } from '../../lib/errors';

export const INTEGRATION_STATUSES = ['pending', 'active', 'error', 'disconnected'] as const;
export type IntegrationStatus = (typeof INTEGRATION_STATUSES)[number];

/**
 * The lifecycle (seed 002): pending → active (test passed) / error; active → error /
 * disconnected; error → active; disconnected → active (only through reconnect, which
 * tests again). A test or sync may also confirm the status it finds (active → active,
 * error → error).
 */
const ALLOWED: Record<IntegrationStatus, readonly IntegrationStatus[]> = {
  pending: ['active', 'error'],
  active: ['active', 'error', 'disconnected'],
  error: ['active', 'error'],
  disconnected: ['active'],
};

export function canTransition(from: IntegrationStatus, to: IntegrationStatus): boolean {
  return ALLOWED[from].includes(to);
}

export function assertTransition(from: IntegrationStatus, to: IntegrationStatus, hint?: string): void {
  if (!canTransition(from, to)) {
    throw new AppError(
      'conflict',
      'illegal_status_transition',
      `An integration that is ${from} cannot become ${to}${hint ? `; ${hint}` : ''}`,
    );
  }
}
