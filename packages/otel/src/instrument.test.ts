import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  backoff,
  breakers,
  bulkhead,
  circuitBreaker,
  compose,
  retry,
  TimeoutError,
  timeout,
} from '@breakwater/core';
import { createFakeClock } from '@breakwater/core/testing';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { instrument } from './instrument.js';

class TestReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

async function collect(reader: TestReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics } = await reader.collect();
  const byName = new Map<string, MetricData>();
  for (const scope of resourceMetrics.scopeMetrics)
    for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
  return byName;
}

const points = (metric: MetricData | undefined) =>
  (metric?.dataPoints ?? []).map((p: DataPoint<unknown>) => ({ attributes: p.attributes, value: p.value }));

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  contextManager.disable();
  context.disable();
});

const disposeAll: Array<() => void> = [];
afterEach(() => {
  for (const dispose of disposeAll.splice(0)) dispose();
});

function setup() {
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const instrumentation = instrument({ meterProvider });
  disposeAll.push(() => instrumentation.dispose());
  return { reader, instrumentation };
}

describe('instrument() with the OpenTelemetry SDK', () => {
  it('records the exact metrics of a pipeline run through success, retry, open circuit and timeout', async () => {
    const { reader } = setup();
    const clock = createFakeClock();
    const breaker = circuitBreaker({ name: 'users-breaker', breaker: breakers.consecutive(2), clock });
    const policy = compose(
      { name: 'users', clock },
      retry({ name: 'users-retry', maxAttempts: 2, backoff: backoff.constant({ delayMs: 0 }), clock }),
      breaker,
      timeout(100, { name: 'users-timeout', clock }),
    );
    const slow = (ms: number, value: string) => () =>
      new Promise<string>((resolve) => clock.setTimeout(() => resolve(value), ms));

    // 1. A success taking 30 ms.
    const first = policy.execute(slow(30, 'ok'));
    await clock.advance(30);
    await first;
    // 2. One failure, then a retry that succeeds.
    let calls = 0;
    await policy.execute(() => (++calls === 1 ? Promise.reject(new Error('blip')) : 'ok'));
    // 3. Two failures: the retry gives up and the circuit opens.
    await policy.execute(() => Promise.reject(new RangeError('down'))).catch(() => {});
    // 4. The open circuit refuses (twice: the retry tries again and gives up on the open circuit).
    await policy.execute(() => 'never').catch(() => {});
    breaker.reset();
    // 5. A timeout: the attempt is cut at 100 ms, and retried once, also cut.
    const timedOut = policy
      .execute(
        (ctx) =>
          new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
      )
      .catch((e: unknown) => e);
    await clock.advance(100);
    await clock.advance(100);
    expect(await timedOut).toBeInstanceOf(TimeoutError);

    const metrics = await collect(reader);
    const events = points(metrics.get('breakwater.events'));
    const base = (kind: string, name: string, event: string) => ({
      'breakwater.event': event,
      'breakwater.policy.kind': kind,
      'breakwater.policy.name': name,
      'breakwater.pipeline.name': 'users',
    });
    expect(events).toEqual(
      expect.arrayContaining([
        { attributes: { ...base('retry', 'users-retry', 'retry'), 'error.type': 'Error' }, value: 1 },
        { attributes: { ...base('retry', 'users-retry', 'retry'), 'error.type': 'RangeError' }, value: 1 },
        { attributes: { ...base('retry', 'users-retry', 'give-up'), 'error.type': 'RangeError' }, value: 1 },
        { attributes: { ...base('circuit-breaker', 'users-breaker', 'reject') }, value: 1 },
        {
          attributes: { ...base('retry', 'users-retry', 'give-up'), 'error.type': 'BW_CIRCUIT_OPEN' },
          value: 1,
        },
        { attributes: { ...base('timeout', 'users-timeout', 'timeout') }, value: 2 },
        { attributes: { ...base('retry', 'users-retry', 'retry'), 'error.type': 'BW_TIMEOUT' }, value: 1 },
        { attributes: { ...base('retry', 'users-retry', 'give-up'), 'error.type': 'BW_TIMEOUT' }, value: 1 },
      ]),
    );
    // Three state changes: opened by the RangeError, closed by reset(), opened by the two timeouts;
    // the error that opened the circuit is named each time.
    const stateChanges = events.filter((p) => p.attributes['breakwater.event'] === 'state-change');
    expect(stateChanges).toEqual([
      {
        attributes: {
          ...base('circuit-breaker', 'users-breaker', 'state-change'),
          'error.type': 'RangeError',
        },
        value: 1,
      },
      { attributes: base('circuit-breaker', 'users-breaker', 'state-change'), value: 1 },
      {
        attributes: {
          ...base('circuit-breaker', 'users-breaker', 'state-change'),
          'error.type': 'BW_TIMEOUT',
        },
        value: 1,
      },
    ]);

    const durations = points(metrics.get('breakwater.pipeline.duration')) as Array<{
      attributes: Record<string, unknown>;
      value: Histogram;
    }>;
    const byOutcome = Object.fromEntries(
      durations.map((d) => [`${d.attributes.outcome}:${d.attributes['error.type'] ?? ''}`, d.value]),
    );
    expect(byOutcome['success:']).toMatchObject({ count: 2, sum: 0.03 });
    expect(byOutcome['failure:RangeError']).toMatchObject({ count: 1, sum: 0 });
    expect(byOutcome['failure:BW_CIRCUIT_OPEN']).toMatchObject({ count: 1, sum: 0 });
    expect(byOutcome['failure:BW_TIMEOUT']).toMatchObject({ count: 1, sum: 0.2 });
    expect(metrics.get('breakwater.pipeline.duration')?.descriptor.unit).toBe('s');

    const attempts = points(metrics.get('breakwater.attempt.duration')) as Array<{
      attributes: Record<string, unknown>;
      value: Histogram;
    }>;
    const attemptsBy = Object.fromEntries(
      attempts.map((a) => [`${a.attributes.outcome}:${a.attributes['error.type'] ?? ''}`, a.value.count]),
    );
    // fn ran: 1 + 2 + 2 + 0 (refused) + 2 (timed out) = 7 times.
    expect(attemptsBy).toEqual({
      'success:': 2,
      'failure:Error': 1,
      'failure:RangeError': 2,
      'failure:BW_TIMEOUT': 2,
    });
  });

  it('reports circuit state and bulkhead occupancy as gauges', async () => {
    const { reader } = setup();
    const breaker = circuitBreaker({ name: 'gauge-breaker', breaker: breakers.consecutive(1) });
    const pool = bulkhead({ name: 'gauge-pool', maxConcurrent: 2, maxQueue: 1 });
    await breaker.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    const finishes: Array<() => void> = [];
    const held = [1, 2, 3].map(() =>
      pool.execute(() => new Promise<void>((resolve) => finishes.push(resolve))),
    );
    await new Promise((resolve) => setImmediate(resolve));
    const metrics = await collect(reader);
    const mine = (name: string, policy: string) =>
      points(metrics.get(name)).find((p) => p.attributes['breakwater.policy.name'] === policy)?.value;
    expect(mine('breakwater.circuit.state', 'gauge-breaker')).toBe(2); // open
    expect(mine('breakwater.bulkhead.executing', 'gauge-pool')).toBe(2);
    expect(mine('breakwater.bulkhead.queued', 'gauge-pool')).toBe(1);
    for (;;) {
      const finish = finishes.shift();
      if (finish === undefined) break;
      finish();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(held);
  });

  it('adds span events to the active span', async () => {
    setup();
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = tracerProvider.getTracer('test');
    const policy = compose(
      { name: 'traced' },
      retry({ maxAttempts: 2, backoff: backoff.constant({ delayMs: 0 }) }),
      circuitBreaker({ breaker: breakers.consecutive(1) }),
    );
    await tracer.startActiveSpan('request', async (span) => {
      await policy.execute(() => Promise.reject(new Error('down'))).catch(() => {});
      span.end();
    });
    const [span] = exporter.getFinishedSpans();
    // The breaker (inside) sees the failure before the retry (outside) does.
    expect(span?.events.map((e) => e.name)).toEqual([
      'breakwater.circuit-breaker.state-change',
      'breakwater.retry.retry',
      'breakwater.circuit-breaker.reject',
      'breakwater.retry.give-up',
    ]);
    expect(span?.events[1]?.attributes).toMatchObject({
      'breakwater.event': 'retry',
      'breakwater.attempt': 1,
      'breakwater.retry.delay_ms': 0,
      'error.type': 'Error',
    });
    expect(span?.events[0]?.attributes).toMatchObject({
      'breakwater.circuit.from': 'closed',
      'breakwater.circuit.to': 'open',
      'breakwater.reason': 'failures',
    });
  });
});

describe('instrument() and the hot path', () => {
  it('subscribes to nothing before it is called and to nothing after dispose', () => {
    const seen: unknown[] = [];
    const probe = (m: unknown) => seen.push(m);
    subscribe('breakwater:pipeline:attempt', probe);
    unsubscribe('breakwater:pipeline:attempt', probe);
    const { instrumentation } = setup();
    instrumentation.dispose();
    // Policies check hasSubscribers before measuring anything: no subscriber is left behind.
    for (const channel of [
      'breakwater:retry:retry',
      'breakwater:pipeline:success',
      'breakwater:pipeline:attempt',
    ]) {
      expect(diagnosticsHasSubscribers(channel)).toBe(false);
    }
  });

  it('never lets a recording fault change a call', async () => {
    const broken = {
      getMeter: () => {
        const instrument = {
          add: () => {
            throw new Error('exporter bug');
          },
          record: () => {
            throw new Error('exporter bug');
          },
          addCallback: () => {},
          removeCallback: () => {},
        };
        return {
          createCounter: () => instrument,
          createHistogram: () => instrument,
          createObservableGauge: () => instrument,
        };
      },
    };
    const instrumentation = instrument({ meterProvider: broken as never });
    disposeAll.push(() => instrumentation.dispose());
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const policy = compose(
        { name: 'safe' },
        retry({ maxAttempts: 2, backoff: backoff.constant({ delayMs: 0 }) }),
      );
      let calls = 0;
      await expect(
        policy.execute(() => (++calls === 1 ? Promise.reject(new Error('x')) : 'fine')),
      ).resolves.toBe('fine');
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('exporter bug'), {
        code: 'BREAKWATER_OTEL_ERROR',
      });
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses bad options', () => {
    expect(() => instrument({ meter: 1 } as never)).toThrow(/instrument: unknown option "meter"/);
    expect(() => instrument({ meterProvider: {} as never })).toThrow(
      /"meterProvider" must be a MeterProvider/,
    );
  });
});

function diagnosticsHasSubscribers(name: string): boolean {
  return channel(name).hasSubscribers;
}
