/**
 * One effect through the ledger, as a turn and a compensation both run it: record the intent (or
 * find the record an earlier attempt left), replay a settled record instead of running again, run,
 * then commit or fail. Exactly once holds for what runs inside `run`, across retries and crashes.
 */
import { BatonError } from '@baton/core';
import type { EffectIntentInput, EffectRecord, LedgerCallOptions, LedgerClient } from '@baton/core';
import type { EffectOptions } from './context';

export function toJson<T>(v: T): T {
  if (v === undefined) return v;
  return JSON.parse(JSON.stringify(v)) as T;
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface LedgerEffect<T> {
  ledger: LedgerClient;
  intent: EffectIntentInput;
  /** Index of the effect within its turn or compensation (for messages). */
  index: number;
  /** Where the effect runs, for messages: `turn t1` or `compensation of e_…`. */
  within: string;
  run: (args: any) => T | Promise<T>;
  opts: EffectOptions;
  deadline: number;
  /** Records an error the caller must not swallow (in doubt, not deterministic); returns it. */
  fatal: (e: BatonError) => BatonError;
}

export async function ledgerEffect<T>(e: LedgerEffect<T>): Promise<T> {
  const { ledger, intent } = e;
  const key = intent.idempotencyKey;
  const { effect, existing } = await ledger.intent(intent);
  if (existing) {
    if (effect.name !== intent.name)
      throw e.fatal(
        new BatonError(
          'TURN_FAILED',
          `effect #${e.index} of ${e.within} was ${effect.name} in an earlier attempt, now ${intent.name}: it is not deterministic`,
          { idempotencyKey: key, recorded: effect.name, called: intent.name },
        ),
      );
    const replay = replayed<T>(effect, e);
    if (replay.done) return replay.value;
  }
  let result: T;
  try {
    result = await e.run(intent.args);
  } catch (err) {
    await ledger.fail(key, message(err), settleOpts(e));
    throw new BatonError(
      'EFFECT_FAILED',
      `effect ${intent.name} failed: ${message(err)}`,
      { idempotencyKey: key },
      { cause: err },
    );
  }
  const stored = toJson(result);
  await ledger.commit(key, stored ?? null, settleOpts(e));
  return stored;
}

/** The deadline, and the attempt that recorded the intent (it may settle it after its lease was lost). */
function settleOpts(e: LedgerEffect<unknown>): LedgerCallOptions {
  return {
    deadline: e.deadline,
    ...(e.intent.attemptId !== undefined ? { attemptId: e.intent.attemptId } : {}),
  };
}

function replayed<T>(effect: EffectRecord, e: LedgerEffect<T>): { done: true; value: T } | { done: false } {
  switch (effect.status) {
    case 'committed':
      // It ran (a compensation later does not un-run it): hand back what it returned.
      return { done: true, value: effect.result as T };
    case 'failed':
      // Replay the recorded failure: a retry sees the same outcome as the first attempt.
      throw new BatonError(
        'EFFECT_FAILED',
        `effect ${effect.name} failed: ${effect.error ?? 'unknown error'}`,
        {
          idempotencyKey: effect.idempotencyKey,
          replayed: true,
        },
      );
    case 'intent':
      if (e.opts.idempotent) return { done: false };
      throw e.fatal(
        new BatonError(
          'EFFECT_IN_DOUBT',
          `effect ${effect.name} (#${e.index}) was started by an earlier attempt of ${e.within} and never completed; ` +
            'it may or may not have happened, so it is not run again. Resolve it in the effects ledger, ' +
            'or declare the effect idempotent.',
          { idempotencyKey: effect.idempotencyKey, name: effect.name },
        ),
      );
  }
}
