export type { HttpPresetOptions, TimeoutPart } from './options.js';
export { HTTP_PRESET_DEFAULTS, type HttpPreset, type HttpPresetParts, presets } from './presets.js';
