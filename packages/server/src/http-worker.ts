/** The HTTP client of the worker protocol is the SDK's, one for the router and for users' code. */
export { HttpWorkerClient, isTransportError, type HttpWorkerClientOptions } from '@baton/sdk/worker-client';
