export { type Clock, type Random, systemClock, systemRandom } from './clock.js';
export { sleep } from './sleep.js';
export { type TimerEntry, TimerQueue } from './timer-queue.js';
