export * from './http-status';
