export type {
  AdaptiveLimitOptions,
  AimdLimitOptions,
  GradientLimitOptions,
  Limit,
  LimitSample,
  VegasLimitOptions,
} from './limits.js';
export { type LoadShedPolicy, loadShed } from './load-shed.js';
export { LOAD_SHED_DEFAULTS, type LoadShedOptions, type ShedEvent } from './options.js';
