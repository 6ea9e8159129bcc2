/** The rollout controller: spec, state machine, reconcile loop, actions, API and metrics. */
export * from './spec';
export * from './machine';
export * from './ops';
export * from './batch';
export * from './controller';
export * from './api';
export * from './status';
export * from './metrics';
export * from './forecast';
export * from './forecast-input';
export * from './leadership';
export * from './leader-api';
export * from './verdict';
