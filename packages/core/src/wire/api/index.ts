export * from './http-status';
export * from './errors';
export * from './params';
export * from './traffic';
export * from './admin';
export * from './ledger';
export * from './rollouts';
export * from './rollout-spec';
