import { tokenBucket } from '../rate-limit/token-bucket.js';

/** Limits and limiters: `limits.tokenBucket` for `rateLimit` (load-shedding limits come with `loadShed`). */
export const limits = Object.freeze({ tokenBucket });
