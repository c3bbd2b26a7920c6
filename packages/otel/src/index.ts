export { type Instrumentation, type InstrumentOptions, instrument } from './instrument.js';
export { ATTRIBUTES, METRICS } from './names.js';
