import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  type Attributes,
  type Meter,
  type MeterProvider,
  metrics,
  type ObservableGauge,
  type ObservableResult,
  trace,
} from '@opentelemetry/api';
import { ATTRIBUTES as A, COUNTED_EVENTS, METRICS, SPAN_EVENTS } from './names.js';

export interface InstrumentOptions {
  /** Where the metrics go. @default the global meter provider of `@opentelemetry/api` */
  meterProvider?: MeterProvider;
  /**
   * Accepted for symmetry with `meterProvider`; span events are added to whatever span is active
   * when a policy reports (`trace.getActiveSpan()`), so no tracer is needed.
   */
  tracerProvider?: unknown;
}

/** What `instrument()` returns: dispose it to unsubscribe and stop reporting gauges. */
export interface Instrumentation {
  dispose(): void;
  [Symbol.dispose](): void;
}

interface Message {
  event: string;
  name: string;
  pipeline: string | undefined;
  durationMs?: number;
  error?: unknown;
  outcome?: string;
  attempt?: number;
  delayMs?: number;
  reason?: string;
  from?: string;
  to?: string;
}

interface GaugeReading {
  kind: string;
  name: string;
  gauge: string;
  value: number;
}

const GAUGES_KEY = Symbol.for('breakwater.gauges');

/** The gauges every installed copy of `@breakwater/core` registers, read without depending on it. */
function readGauges(): GaugeReading[] {
  const set = (globalThis as { [GAUGES_KEY]?: Set<WeakRef<{ read(): GaugeReading[] }>> })[GAUGES_KEY];
  const readings: GaugeReading[] = [];
  if (set === undefined) return readings;
  for (const ref of set) {
    const source = ref.deref();
    if (source !== undefined) readings.push(...source.read());
  }
  return readings;
}

/** OTel's `error.type`: a Breakwater error's code, else the error's class name. */
function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '') return name;
  }
  return '_OTHER';
}

function baseAttributes(kind: string, message: Message): Attributes {
  const attributes: Attributes = {
    [A.event]: message.event,
    [A.policyKind]: kind,
    [A.policyName]: message.name,
  };
  if (message.pipeline !== undefined) attributes[A.pipelineName] = message.pipeline;
  if (message.error !== undefined) attributes[A.errorType] = errorType(message.error);
  return attributes;
}

/** A listener that throws must never change a call's outcome: telemetry swallows its own faults. */
function guarded(fn: (message: Message) => void): (message: unknown) => void {
  return (message) => {
    try {
      fn(message as Message);
    } catch (error) {
      process.emitWarning(
        `@breakwater/otel failed to record an event: ${error instanceof Error ? error.message : String(error)}`,
        { code: 'BREAKWATER_OTEL_ERROR' },
      );
    }
  };
}

/**
 * Subscribes to Breakwater's diagnostics channels and turns them into OpenTelemetry metrics and
 * span events. Nothing is subscribed (and nothing measured) until this is called.
 */
export function instrument(options: InstrumentOptions = {}): Instrumentation {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('instrument: options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (key !== 'meterProvider' && key !== 'tracerProvider') {
      throw new TypeError(
        `instrument: unknown option "${key}"; known options are meterProvider, tracerProvider`,
      );
    }
  }
  const provider = options.meterProvider ?? metrics.getMeterProvider();
  if (typeof provider?.getMeter !== 'function') {
    throw new TypeError('instrument: option "meterProvider" must be a MeterProvider (with getMeter)');
  }
  const meter: Meter = provider.getMeter('@breakwater/otel');
  const events = meter.createCounter(METRICS.events, {
    description:
      'Breakwater policy events: retries, give-ups, rejections, timeouts, state changes, fallbacks',
  });
  const pipelineDuration = meter.createHistogram(METRICS.pipelineDuration, {
    description: 'Duration of calls through a compose() pipeline, retries included',
    unit: 's',
  });
  const attemptDuration = meter.createHistogram(METRICS.attemptDuration, {
    description: 'Duration of each call of the wrapped function (one attempt)',
    unit: 's',
  });
  const circuitState = meter.createObservableGauge(METRICS.circuitState, {
    description: 'Circuit state: 0 closed, 1 half-open, 2 open, 3 isolated',
  });
  const bulkheadExecuting = meter.createObservableGauge(METRICS.bulkheadExecuting, {
    description: 'Calls running in a bulkhead',
  });
  const bulkheadQueued = meter.createObservableGauge(METRICS.bulkheadQueued, {
    description: 'Calls waiting for a bulkhead slot',
  });

  const subscriptions: Array<[channel: string, listener: (message: unknown) => void]> = [];
  const on = (channel: string, listener: (message: Message) => void): void => {
    const wrapped = guarded(listener);
    subscribe(channel, wrapped);
    subscriptions.push([channel, wrapped]);
  };

  for (const [kind, names] of Object.entries(COUNTED_EVENTS)) {
    for (const event of names) {
      const spanEvent = SPAN_EVENTS.has(`${kind}:${event}`) ? `breakwater.${kind}.${event}` : undefined;
      on(`breakwater:${kind}:${event}`, (message) => {
        const attributes = baseAttributes(kind, message);
        events.add(1, attributes);
        if (spanEvent === undefined) return;
        const span = trace.getActiveSpan();
        if (span === undefined) return;
        const detail: Attributes = { ...attributes };
        if (message.attempt !== undefined) detail[A.attempt] = message.attempt;
        if (message.delayMs !== undefined) detail[A.delayMs] = message.delayMs;
        if (message.reason !== undefined) detail[A.reason] = message.reason;
        if (message.from !== undefined) detail[A.from] = message.from;
        if (message.to !== undefined) detail[A.to] = message.to;
        span.addEvent(spanEvent, detail);
      });
    }
  }
  // Successes are most calls: their attribute sets are made once per outcome and pipeline, not per
  // call (and looked up without building a key string, which costs more than the lookup).
  const plain = new Map<string, Map<string, Attributes>>();
  const durationAttributes = (message: Message, outcome: string): Attributes => {
    const pipeline = message.pipeline ?? message.name;
    if (message.error !== undefined) {
      return { [A.pipelineName]: pipeline, [A.outcome]: outcome, [A.errorType]: errorType(message.error) };
    }
    let byPipeline = plain.get(outcome);
    if (byPipeline === undefined) {
      byPipeline = new Map();
      plain.set(outcome, byPipeline);
    }
    let attributes = byPipeline.get(pipeline);
    if (attributes === undefined) {
      attributes = Object.freeze({ [A.pipelineName]: pipeline, [A.outcome]: outcome });
      byPipeline.set(pipeline, attributes);
    }
    return attributes;
  };
  on('breakwater:pipeline:success', (m) =>
    pipelineDuration.record((m.durationMs ?? 0) / 1_000, durationAttributes(m, 'success')),
  );
  on('breakwater:pipeline:failure', (m) =>
    pipelineDuration.record((m.durationMs ?? 0) / 1_000, durationAttributes(m, 'failure')),
  );
  on('breakwater:pipeline:attempt', (m) =>
    attemptDuration.record((m.durationMs ?? 0) / 1_000, durationAttributes(m, m.outcome ?? 'success')),
  );

  const observe = (result: ObservableResult, kind: string, gauge: string): void => {
    for (const r of readGauges()) {
      if (r.kind === kind && r.gauge === gauge) result.observe(r.value, { [A.policyName]: r.name });
    }
  };
  const gaugeCallbacks: Array<[ObservableGauge, (r: ObservableResult) => void]> = [
    [circuitState, (r) => observe(r, 'circuit-breaker', 'state')],
    [bulkheadExecuting, (r) => observe(r, 'bulkhead', 'executing')],
    [bulkheadQueued, (r) => observe(r, 'bulkhead', 'queued')],
  ];
  for (const [gauge, callback] of gaugeCallbacks) gauge.addCallback(callback);

  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    for (const [channel, listener] of subscriptions) unsubscribe(channel, listener);
    for (const [gauge, callback] of gaugeCallbacks) gauge.removeCallback(callback);
  };
  return { dispose, [Symbol.dispose]: dispose };
}
