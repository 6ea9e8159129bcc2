/**
 * Callbacks and wait deadlines: a callback's payload is checked against the wait's JSON schema and
 * resumes the waiting session on whatever version owns it now; a wait whose deadline passed gets
 * its `timeout` turn (the rollout controller fires them through the `WaitExpiry` port).
 */
import { BatonError, SessionBusyError, canonicalJson, waitDigest, type TurnInput } from '@baton/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { Ajv } from 'ajv';
import type { ServerContext } from './context';
import type { TurnOptions, TurnResult } from './turn-types';
import type { WaitExpiry } from './wait-expiry';

/** Runs one turn (the turn pipeline, turns.ts). */
export type RunTurn = (
  sessionId: string,
  input: TurnInput,
  key: string,
  opts: TurnOptions,
) => Promise<TurnResult>;

export class Callbacks implements WaitExpiry {
  private readonly ajv = new Ajv({ allErrors: true, strict: false });
  private readonly ajv2020 = new Ajv2020({ allErrors: true, strict: false });
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(
    private readonly ctx: Pick<ServerContext, 'store' | 'clock' | 'limits'>,
    private readonly turn: RunTurn,
  ) {}

  /** Validate a callback payload against the wait's JSON schema (compiled once per schema). */
  validatePayload(schema: Record<string, unknown> | null, payload: unknown): void {
    if (schema === null) return;
    const k = canonicalJson(schema);
    let v = this.validators.get(k);
    if (!v) {
      try {
        const draft = typeof schema.$schema === 'string' ? schema.$schema : '';
        v = (draft.includes('2020-12') || draft.includes('2019-09') ? this.ajv2020 : this.ajv).compile(
          schema,
        );
      } catch (e) {
        throw new BatonError('INTERNAL', `the wait's schema does not compile: ${(e as Error).message}`);
      }
      this.validators.set(k, v);
    }
    if (!v(payload)) {
      throw new BatonError('VALIDATION', 'callback payload does not match the wait schema', {
        issues: (v.errors ?? []).map((e) => ({ path: e.instancePath, message: e.message ?? 'invalid' })),
      });
    }
  }

  /**
   * Resume the session waiting on `token` with `payload`, on whatever version owns it now. A busy
   * session (a turn or migration in flight) is retried for `callbackBusyWaitMs`, then SESSION_BUSY.
   */
  async callback(presented: string, payload: unknown, onEvent?: TurnOptions['onEvent']): Promise<TurnResult> {
    const { store, limits } = this.ctx;
    // the store knows the wait by its digest; the worker is given the digest too
    const token = waitDigest(presented);
    const w = await store.getWait(token);
    if (w.status !== 'pending') {
      throw new BatonError('WAIT_RESOLVED', `wait ${w.name} is already ${w.status}`, { status: w.status });
    }
    this.validatePayload(w.schema, payload);
    const input: TurnInput = { kind: 'callback', token, name: w.name, payload };
    return this.retryBusy(limits.callbackBusyWaitMs, () =>
      this.turn(w.sessionId, input, `callback:${token}`, {
        resolvedWaits: [token],
        ...(onEvent ? { onEvent } : {}),
      }),
    );
  }

  /**
   * Run the `timeout` turn of a pending wait whose deadline passed; `token` is the wait's stored
   * digest (as `listWaits` gives it). Returns null when the wait is not
   * pending or not yet due. Throws SESSION_BUSY when a turn is in flight (call again later).
   */
  async expireWait(token: string): Promise<TurnResult | null> {
    const w = await this.ctx.store.getWait(token);
    if (w.status !== 'pending' || w.deadline > this.ctx.clock.now()) return null;
    return this.turn(w.sessionId, { kind: 'timeout', token, name: w.name }, `timeout:${token}`, {
      resolvedWaits: [token],
    });
  }

  /**
   * Retry `fn` while the session is busy, for up to `waitMs` of real time. Real time, not the injected
   * clock: this waits for another request that is actually running to finish.
   */
  private async retryBusy<T>(waitMs: number, fn: () => Promise<T>): Promise<T> {
    const until = performance.now() + waitMs;
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof SessionBusyError)) throw e;
        const left = until - performance.now();
        if (left <= 0) throw e;
        await sleep(Math.min(Math.max(10, e.retryAfterMs), 100, left));
      }
    }
  }
}
