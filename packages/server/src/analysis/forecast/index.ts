/** Drain forecast: a pure, seeded forecaster of a rollout's steps phase and drain (see forecast.ts). */
export * from './types';
export {
  canonicalOrder,
  forecastDrain,
  quantiles,
  MIN_BUDGET_RUNS,
  MIN_OBSERVATIONS,
  WORK_BUDGET,
  workPerRun,
  type ForecastOptions,
} from './forecast';
export { BehaviourModel, MIN_PER_INDEX } from './model';
export { Survival, seededRandom } from './survival';
export { EventHeap } from './heap';
