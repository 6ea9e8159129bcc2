/** Quality-gate analysis: per-session metrics, tolerance parsing, statistical tests and the gate evaluator. */
export * from './metrics';
export * from './tolerance';
export * from './gate';
export * from './stats/describe';
export * from './stats/normal';
