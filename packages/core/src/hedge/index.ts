export { type HedgePolicy, hedge } from './hedge.js';
export {
  HEDGE_DEFAULTS,
  type HedgeEvent,
  type HedgeMode,
  type HedgeOptions,
  type ObservedDelay,
} from './options.js';
