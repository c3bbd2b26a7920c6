export { type BulkheadPolicy, bulkhead } from './bulkhead.js';
export { BULKHEAD_DEFAULTS, type BulkheadOptions, type BulkheadRejectEvent } from './options.js';
