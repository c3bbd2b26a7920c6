export { type Clock, MAX_TIMER_MS, type Random, setTimerRef, systemClock, systemRandom } from './clock.js';
export { sleep } from './sleep.js';
export { type TimerEntry, TimerQueue } from './timer-queue.js';
