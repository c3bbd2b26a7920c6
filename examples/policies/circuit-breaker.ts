import { breakers, CircuitOpenError, circuitBreaker } from '@breakwater/core';

const breaker = circuitBreaker({
  breaker: breakers.count({ size: 100, failureRate: 0.5, minCalls: 20 }),
  halfOpenAfterMs: 30_000,
});
breaker.onStateChange(({ from, to }) => console.log(`circuit ${from} -> ${to}`));

const maintenance = breaker.isolate(); // refuse every call until released
try {
  await breaker.execute(() => 'never called');
} catch (error) {
  if (error instanceof CircuitOpenError) console.log('refused; isolated:', error.isolated);
}
maintenance.dispose();
console.log(breaker.state);
