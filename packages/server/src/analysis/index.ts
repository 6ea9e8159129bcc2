/** Quality-gate analysis: per-session metrics, tolerance parsing, statistical tests and the gate evaluator. */
export * from './metrics';
export * from './tolerance';
export * from './gate';
export * from './stats/describe';
export * from './stats/normal';
export * from './stats/mannWhitney';
export * from './stats/proportion';
export * from './stats/chiSquare';
export * from './stats/msprt';
export * from './stats/sprt';
export * from './forecast';
export * from './stats/wilcoxon';
export * from './paired';
