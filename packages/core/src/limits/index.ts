import { aimd, fixed, gradient, vegas } from '../load-shed/limits.js';
import { tokenBucket } from '../rate-limit/token-bucket.js';

/**
 * Limits and limiters: concurrency limits for `loadShed` (`fixed`, and the adaptive `aimd`,
 * `gradient`, `vegas`), and `tokenBucket` for `rateLimit`.
 */
export const limits = Object.freeze({ fixed, aimd, gradient, vegas, tokenBucket });
