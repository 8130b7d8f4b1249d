// Retention and erasure: what the service stores about people and traffic, and when it goes.
export {
  createErasureRepository,
  createRetentionRepository,
  type ErasureCounts,
  type ErasureRepository,
  type RetentionRepository,
} from './retention.repository';
export { RetentionService, type PruneCounts, type RetentionSettings } from './retention.service';
