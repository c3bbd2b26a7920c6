export {
  type Disposable,
  type EventBase,
  EventSlot,
  type Listener,
  type NextEventOptions,
  nextEvent,
} from './events.js';
export {
  CIRCUIT_STATE_VALUES,
  type GaugeReading,
  type GaugeSource,
  readGauges,
  registerGauges,
} from './gauges.js';
