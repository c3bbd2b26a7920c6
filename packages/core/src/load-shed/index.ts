export type {
  AdaptiveLimitOptions,
  AimdLimitOptions,
  GradientLimitOptions,
  Limit,
  LimitSample,
  VegasLimitOptions,
} from './limits.js';
export { type LoadShedPolicy, loadShed } from './load-shed.js';
export {
  type EventLoopReading,
  type EventLoopTrigger,
  LOAD_SHED_DEFAULTS,
  type LoadShedOptions,
  type ShedEvent,
} from './options.js';
