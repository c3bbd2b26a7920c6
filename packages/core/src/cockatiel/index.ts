export { fromCockatiel } from './from-cockatiel.js';
export { type CockatielPolicyLike, FROM_COCKATIEL_DEFAULTS, type FromCockatielOptions } from './options.js';
