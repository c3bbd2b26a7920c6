import { backoff, breakers, circuitBreaker, compose, retry } from '@breakwater/core';
import { instrument } from '@breakwater/otel';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';

// Any reader works (Prometheus, OTLP); this one is read by hand to print what was recorded.
class PrintReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}
const reader = new PrintReader();
const telemetry = instrument({ meterProvider: new MeterProvider({ readers: [reader] }) }); // once, at startup

const policy = compose(
  { name: 'inventory' },
  retry({ maxAttempts: 3, backoff: backoff.constant({ delayMs: 1 }) }),
  circuitBreaker({ name: 'inventory-breaker', breaker: breakers.consecutive(5) }),
);
let calls = 0;
await policy.execute(() => (++calls < 3 ? Promise.reject(new Error('flaky')) : 'in stock'));

const { resourceMetrics } = await reader.collect();
for (const metric of resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)) {
  for (const point of metric.dataPoints) {
    const value =
      typeof point.value === 'number' ? point.value : `count ${(point.value as { count: number }).count}`;
    console.log(metric.descriptor.name, JSON.stringify(point.attributes), value);
  }
}
telemetry.dispose(); // unsubscribes; nothing is measured any more
