/**
 * The key a worker registered with the worker token gets back: an HMAC of its worker id under a
 * secret kept in the store, so any router of a fleet can check it without storing it. With the
 * worker token and this key, a worker unregisters itself — and no other worker.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { BatonError } from '@baton/core';
import type { Store } from '@baton/store';
import { cachedSecret } from './shared-secret';

/** The header a worker presents its key in when it unregisters itself. */
export const WORKER_KEY_HEADER = 'baton-worker-key';

const SECRET_NAME = 'worker-registration';

export class WorkerKeys {
  private readonly secret: () => Promise<Buffer>;

  constructor(store: Store) {
    this.secret = cachedSecret(store, SECRET_NAME);
  }

  async issue(workerId: string): Promise<string> {
    return createHmac('sha256', await this.secret())
      .update(`worker\0${workerId}`)
      .digest('base64url');
  }

  /** FORBIDDEN unless `presented` is the key issued for `workerId`. */
  async check(workerId: string, presented: string | string[] | undefined): Promise<void> {
    const got = Buffer.from(typeof presented === 'string' ? presented : '');
    const want = Buffer.from(await this.issue(workerId));
    if (got.length !== want.length || !timingSafeEqual(got, want))
      throw new BatonError(
        'FORBIDDEN',
        `a worker token unregisters only its own worker: send the key its registration returned in ${WORKER_KEY_HEADER}`,
        { workerId },
      );
  }
}
