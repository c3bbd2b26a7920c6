export { keys } from '@breakwater/http';
export { type BreakwaterOptions, breakwater } from './plugin.js';
