export {
  type Disposable,
  type EventBase,
  EventSlot,
  type Listener,
  type NextEventOptions,
  nextEvent,
} from './events.js';
