export { type Disposable, type EventBase, EventSlot, type Listener } from './events.js';
