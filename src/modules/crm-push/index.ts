// Pushing our users to CRMs and marketing lists (issue 13): the queue the outbox feeds, the
// worker that sends it in the providers' batch calls, and the backfill (a sync run).
export { CrmPushBackfill, type BackfillOutcome } from './crm-push.backfill';
export { createCrmPushRepository, type CrmPushRepository } from './crm-push.repository';
export { crmPushOperations, crmPushRouter } from './crm-push.routes';
export { CrmPushSender, type CrmPushOptions } from './crm-push.service';
export { CrmPushWorker } from './crm-push.worker';
