export { amplificationScenario } from './amplification.js';
export { jitterScenario } from './jitter.js';
export { overloadScenario } from './overload.js';
export { stormScenario } from './storm.js';
export { tailAtScale } from './tail-at-scale.js';
export { throttlingScenario } from './throttling.js';
export type { Check, ScenarioOptions, ScenarioResult } from './types.js';
