// The outbox: outbound events written in the transaction of the change they describe. Any
// module that changes what subscribers watch writes through it; delivery is outbound-webhooks'.
export { eventRecorder, type EventRecorder } from './outbox.repository';
export {
  OUTBOUND_EVENT_TYPES,
  outboundEventData,
  syncRunEvent,
  syncRunEventData,
  type OutboundEventType,
  type SyncRunEventData,
  type UserEventType,
} from './event-payloads';
