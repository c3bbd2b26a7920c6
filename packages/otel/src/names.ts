/** Every metric, attribute and span event name this package writes (the README's table). */
export const METRICS = Object.freeze({
  events: 'breakwater.events',
  pipelineDuration: 'breakwater.pipeline.duration',
  attemptDuration: 'breakwater.attempt.duration',
  circuitState: 'breakwater.circuit.state',
  bulkheadExecuting: 'breakwater.bulkhead.executing',
  bulkheadQueued: 'breakwater.bulkhead.queued',
});

export const ATTRIBUTES = Object.freeze({
  event: 'breakwater.event',
  policyKind: 'breakwater.policy.kind',
  policyName: 'breakwater.policy.name',
  pipelineName: 'breakwater.pipeline.name',
  errorType: 'error.type',
  outcome: 'outcome',
  attempt: 'breakwater.attempt',
  delayMs: 'breakwater.retry.delay_ms',
  reason: 'breakwater.reason',
  from: 'breakwater.circuit.from',
  to: 'breakwater.circuit.to',
});

/**
 * The channels subscribed to: one per event, never a kind's catch-all channel, so that subscribing
 * does not make every policy measure its own successes.
 */
export const COUNTED_EVENTS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  timeout: ['timeout'],
  retry: ['retry', 'give-up'],
  'circuit-breaker': ['state-change', 'reject', 'store-error'],
  bulkhead: ['reject'],
  fallback: ['fallback'],
});

/** Events that also become span events on the active span, named `breakwater.<kind>.<event>`. */
export const SPAN_EVENTS: ReadonlySet<string> = new Set([
  'timeout:timeout',
  'retry:retry',
  'retry:give-up',
  'circuit-breaker:state-change',
  'circuit-breaker:reject',
  'bulkhead:reject',
  'fallback:fallback',
]);
