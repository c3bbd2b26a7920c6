export {
  type BreakwaterFetchOptions,
  type BreakwaterRequestInit,
  CREATE_FETCH_DEFAULTS,
  type CreateFetchOptions,
  createFetch,
  type ResilientFetch,
} from './create-fetch.js';
export { parseRetryAfter, ResponseError } from './response-error.js';
