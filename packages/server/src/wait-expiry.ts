/** The port through which the rollout controller fires wait deadlines (the router implements it). */
export interface WaitExpiry {
  /**
   * Run the `timeout` turn of a pending wait whose deadline passed (`token` is the wait's stored
   * digest). Resolves to null when the wait is not pending or not yet due; throws SESSION_BUSY
   * while a turn is in flight (call again later).
   */
  expireWait(token: string): Promise<unknown>;
}
