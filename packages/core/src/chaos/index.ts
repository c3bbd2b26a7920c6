export { type ChaosPolicy, chaos } from './chaos.js';
export {
  CHAOS_DEFAULTS,
  type ChaosFaultOptions,
  type ChaosLatencyOptions,
  type ChaosOptions,
  type ChaosOutcomeOptions,
  type InjectEvent,
} from './options.js';
