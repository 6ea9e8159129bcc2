export * from './errors';
export * from './clock';
export * from './hash';
export * from './types';
export * from './protocol';
export * from './history';
export * from './capability';
export * from './gates';
