// What each scenario hands the runner: its tables, its charts and its figures against the anchors.

export interface Check {
  /** The target, in the words. */
  target: string;
  /** What this run measured. */
  figure: string;
  met: boolean;
}

export interface ScenarioResult {
  title: string;
  /** The published figure it is set beside. */
  anchor: string;
  /** Markdown: the tables and a line on the setup. */
  body: string;
  checks: Check[];
  charts: { file: string; svg: string }[];
}

export interface ScenarioOptions {
  /** A seconds-long run that only proves the scenario works; its figures mean nothing. */
  smoke: boolean;
  seed: number;
}

export const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)}%`;
export const ms = (x: number) =>
  x >= 1_000 ? `${(x / 1_000).toFixed(2)} s` : `${x.toFixed(x < 10 ? 1 : 0)} ms`;
