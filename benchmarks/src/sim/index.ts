// The simulation kit: a virtual clock, seeded distributions, a simulated downstream, open-loop load,
// and the figures and charts of a run. The scenario benchmarks use it, and so can any other.

export { sleep, VirtualClock } from './clock.js';
export {
  Downstream,
  DownstreamError,
  type DownstreamErrorKind,
  type DownstreamOptions,
} from './downstream.js';
export { type DriveOptions, drive, type OpenLoopOptions, openLoop } from './load.js';
export { type Distribution, dist, seeded } from './random.js';
export { type ChartOptions, type ChartSeries, lineChart, markdownTable } from './report.js';
export { quantile, sum, Timeline } from './stats.js';
