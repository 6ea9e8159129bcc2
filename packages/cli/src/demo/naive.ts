/**
 * Scenario 3, simulated: what a stateless blue-green flip does to the same traffic. Two
 * instances run the real example agent code (the SDK's in-process worker), but like a plain
 * deployment they keep each session's state in their own memory: there are no checkpoints in a
 * shared store and no effects ledger. At the cutover the router flips to green and blue is
 * terminated: turns in flight on blue lose their response (their effects already ran) and are
 * retried by the client on green; sessions continue on green without their state; callbacks
 * addressed to blue find nobody. Effects are counted by their idempotency key, so a retried
 * effect that runs again shows up as a duplicate.
 */
import { BatonError, initialCompensationFields, sha256Hex, newId } from '@baton/core';
import type {
  CheckpointBody,
  StoredHistoryEntry,
  EffectIntentInput,
  EffectRecord,
  LedgerClient,
  TurnInput,
  TurnResponse,
} from '@baton/core';
import { InProcessWorker } from '@baton/sdk';
import type { AgentDefinition } from '@baton/sdk';
import type { Transport, TurnOutcome } from './users';

/** A fresh record for `input`, as a ledger that remembers nothing would return it. */
function effectRecord(input: EffectIntentInput): EffectRecord {
  const now = Date.now();
  return {
    id: newId('eff', now),
    idempotencyKey: input.idempotencyKey,
    sessionId: input.sessionId,
    agent: input.agent,
    version: input.version,
    rolloutId: null,
    turnId: input.turnId,
    name: input.name,
    args: input.args,
    status: 'intent',
    result: null,
    error: null,
    compensation: input.compensation,
    compensationResult: null,
    ...initialCompensationFields(input.compensation),
    createdAt: now,
    updatedAt: now,
  };
}

/** The record for an outcome reported by key alone: nothing is known about its intent. */
function unknownIntent(key: string): EffectRecord {
  return effectRecord({
    idempotencyKey: key,
    sessionId: '',
    agent: '',
    version: '',
    turnId: '',
    name: '',
    args: null,
    compensation: null,
  });
}

/** A ledger that records nothing: every intent is new, so a retry runs the effect again. */
export class NoLedger implements LedgerClient {
  async intent(input: EffectIntentInput): Promise<{ effect: EffectRecord; existing: boolean }> {
    return { existing: false, effect: effectRecord(input) };
  }
  async commit(key: string, result: unknown): Promise<EffectRecord> {
    return { ...unknownIntent(key), status: 'committed', result };
  }
  async fail(key: string, error: string): Promise<EffectRecord> {
    return { ...unknownIntent(key), status: 'failed', error };
  }
  async steps(): Promise<Array<{ index: number; name: string; result: unknown }>> {
    return [];
  }
  async putStep(): Promise<void> {}
}

/** What a naive instance keeps of a session in its own memory: the last state and the whole history. */
interface Held {
  seq: number;
  schemaVersion: number;
  body: CheckpointBody;
  history: StoredHistoryEntry[];
}

function partHash(v: unknown): string {
  return sha256Hex(JSON.stringify(v === undefined ? null : v));
}

class Instance {
  readonly sessions = new Map<string, Held>();
  readonly waits = new Map<string, { sessionId: string; name: string }>();
  alive = true;
  readonly worker: InProcessWorker;
  constructor(
    readonly name: string,
    readonly agent: AgentDefinition,
    ledger: LedgerClient,
  ) {
    this.worker = new InProcessWorker(agent, ledger);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class NaiveFleet implements Transport {
  readonly ledger = new NoLedger();
  private active: Instance;
  private readonly tokens = new Map<string, string>();
  /** Sessions that had at least one turn answered before the cutover. */
  readonly startedBeforeCut = new Set<string>();
  cutAt: number | null = null;
  turnsCutInFlight = 0;
  sessionsWithoutState = new Set<string>();

  constructor(
    blue: AgentDefinition,
    private readonly green: AgentDefinition,
    private readonly latencyMs: [number, number],
    private readonly rnd: () => number,
  ) {
    this.active = new Instance('blue', blue, this.ledger);
  }

  /** Flip the router to green and terminate blue, at once. */
  cutover(): void {
    const old = this.active;
    this.active = new Instance('green', this.green, this.ledger);
    old.alive = false;
    for (const id of old.sessions.keys()) this.startedBeforeCut.add(id);
    old.sessions.clear();
    old.waits.clear();
    this.cutAt = Date.now();
  }

  private latency(): number {
    return this.latencyMs[0] + this.rnd() * (this.latencyMs[1] - this.latencyMs[0]);
  }

  async create(): Promise<{ id: string; version: string; token: string }> {
    const id = newId('ses');
    const token = newId('tok');
    this.tokens.set(id, token);
    return { id, version: this.active.agent.version, token };
  }

  private async run(inst: Instance, sessionId: string, input: TurnInput, key: string): Promise<TurnOutcome> {
    await sleep(this.latency() / 2);
    if (!inst.alive) throw new BatonError('UNREACHABLE', `instance ${inst.name} is gone`);
    const held = inst.sessions.get(sessionId) ?? null;
    if (held === null && this.startedBeforeCut.has(sessionId)) this.sessionsWithoutState.add(sessionId);
    const turnId = `turn_${sha256Hex(`${sessionId}\0${key}`).slice(0, 32)}`;
    const res: TurnResponse = await inst.worker.turn({
      protocol: 2,
      session: { id: sessionId, agent: inst.agent.name, version: inst.agent.version, tenant: null },
      checkpoint: held && {
        seq: held.seq,
        schemaVersion: held.schemaVersion,
        ...held.body,
        hashes: {
          state: partHash(held.body.state),
          context: partHash(held.body.context),
          memory: held.body.memory === undefined ? null : partHash(held.body.memory),
        },
        historyLength: held.history.length,
      },
      history: held?.history.slice(-100) ?? [],
      input,
      turnId,
      deadline: Date.now() + 30_000,
      capability: 'naive', // no router: nothing checks it (the naive instance has no ledger either)
    });
    // the model's reply travels back; if the instance is terminated meanwhile, the response is lost
    await sleep(this.latency() / 2);
    if (!inst.alive) {
      this.turnsCutInFlight++;
      throw new BatonError('UNREACHABLE', `connection to ${inst.name} reset mid-turn`);
    }
    const kept = (part: 'state' | 'context' | 'memory'): unknown =>
      res.unchanged?.[part] !== undefined ? held?.body[part] : res[part];
    const body: CheckpointBody = {
      state: kept('state'),
      context: kept('context'),
      waits: res.waits,
      memory: kept('memory'),
    };
    const history = [...(held?.history ?? [])];
    for (const e of res.history) history.push({ ...e, index: history.length });
    inst.sessions.set(sessionId, {
      seq: (held?.seq ?? 0) + 1,
      schemaVersion: res.schemaVersion,
      body,
      history,
    });
    for (const w of res.waits) inst.waits.set(w.token, { sessionId, name: w.name });
    return { output: res.output, status: res.status, version: inst.agent.version, waits: res.waits };
  }

  turn(id: string, _token: string, message: string, key: string): Promise<TurnOutcome> {
    return this.run(this.active, id, { kind: 'message', message }, key);
  }

  async callback(waitToken: string, payload: unknown): Promise<TurnOutcome> {
    const inst = this.active;
    const w = inst.waits.get(waitToken);
    if (!w) throw new BatonError('WAIT_NOT_FOUND', `no instance knows wait ${waitToken.slice(0, 8)}…`);
    inst.waits.delete(waitToken);
    return this.run(
      inst,
      w.sessionId,
      { kind: 'callback', token: waitToken, name: w.name, payload },
      `cb:${waitToken}`,
    );
  }

  async feedback(): Promise<void> {}
  async end(id: string): Promise<void> {
    this.active.sessions.delete(id);
  }
}
