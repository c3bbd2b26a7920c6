export {
  type BreakwaterRequestInit,
  CREATE_FETCH_DEFAULTS,
  type CreateFetchOptions,
  createFetch,
  type ResilientFetch,
} from './create-fetch.js';
export type { BreakwaterFetchOptions, HttpRuleOptions, IdempotencyKeys } from './http-rules.js';
export { type DispatchInterceptor, type InterceptorOptions, interceptor } from './interceptor.js';
export { parseRetryAfter, ResponseError } from './response-error.js';
