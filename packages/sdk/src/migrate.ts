/**
 * `migrateCheckpoint`: moves a checkpoint body from one state schema version to another
 * with the agent's migration chain, validates it, migrates its pending waits and applies the
 * context policy. Pure: nothing is stored, so `dryRun` and a real run compute the same thing.
 * The history is not in a protocol-2 request: migrations and `rebuildContext` read what they need
 * through a HistoryReader (the ledger client's `history`, with the request's capability).
 */
import type { z } from 'zod';
import { z as zod } from 'zod';
import { BatonError, ValidationError, windowOf } from '@baton/core';
import type {
  CheckpointBody,
  CheckpointPart,
  ContextPolicy,
  LedgerClient,
  MigrateRequest,
  MigrateRequestV1,
  MigrateResponse,
  Wait,
} from '@baton/core';
import type { AgentDefinition } from './agent';
import type { MigrationFn, StateSchemas } from './migrations';
import { boundLedger } from './capability';
import { historyReader, ledgerPager, memoryPager } from './history';
import { jsonText, unchangedParts } from './parts';
import { migrateCall } from './request';
import { issuePath } from './turn';

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function failed(msg: string, path?: string): MigrateResponse {
  return path === undefined
    ? { ok: false, error: { code: 'MIGRATION_FAILED', message: msg } }
    : { ok: false, error: { code: 'MIGRATION_FAILED', message: msg, path } };
}

function invalid(err: z.ZodError, what: string): MigrateResponse {
  const first = err.issues[0];
  return {
    ok: false,
    error: {
      code: 'STATE_INVALID',
      message: `${what}: ${first ? `${first.path.map(String).join('.') || '(root)'}: ${first.message}` : 'invalid'}`,
      path: issuePath(err),
    },
  };
}

function schemaFor<S>(agent: AgentDefinition<S>, version: number): z.ZodType | undefined {
  if (version === agent.schemaVersion) return agent.state;
  return (agent.migrations?.schemas as StateSchemas | undefined)?.[version];
}

/**
 * Migrate `req.checkpoint` to `req.targetSchemaVersion`.
 *
 * - up (`target > from`): `up[from]`, `up[from+1]`, … `up[target-1]`;
 * - down (`target < from`): `down[from-1]`, … `down[target]`;
 * - same schema: the state is only validated (a version change without a schema change).
 *
 * The result is validated against the target schema when the agent knows it (its own, or
 * `migrations.schemas[target]`). When the session moves onto this agent (`req.session.version`
 * is another label) and the agent's context policy is `rebuild`, the working context is rebuilt
 * with `rebuildContext(history, state)`; otherwise it is carried. Pending waits keep their token
 * and deadline; their payload schema becomes the one this agent declares for the wait's name.
 *
 * Protocol 2: the answer's body has no history, and `unchanged` names the parts equal to those
 * received (a carried context, a same-schema state) with their received hashes. `ledger` is only
 * called when the agent's code reads the history; when that read fails (router unreachable,
 * capability revoked), the error is thrown rather than reported as a failed migration. A
 * protocol-1 request carries its history and gets a protocol-1 answer (body with the history).
 */
export async function migrateCheckpoint<S>(
  agent: AgentDefinition<S>,
  req: MigrateRequest | MigrateRequestV1,
  ledger?: LedgerClient,
): Promise<MigrateResponse> {
  if (!req || typeof req !== 'object' || !req.checkpoint || !req.session)
    throw new ValidationError('migrate request needs a session and a checkpoint');
  if (req.session.agent !== agent.name)
    throw new BatonError(
      'VERSION_CONFLICT',
      `this worker serves agent ${agent.name}, not ${req.session.agent}`,
    );
  const call = migrateCall(req);
  const cp = call.checkpoint;
  const from = cp.schemaVersion;
  const to = call.targetSchemaVersion;
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to < 1)
    throw new ValidationError('schema versions must be integers >= 1', { from, to });

  const received = structuredClone({
    state: cp.state,
    context: cp.context,
    memory: cp.memory,
    waits: cp.waits,
  });
  const pager =
    call.carriedHistory !== null
      ? memoryPager(call.carriedHistory, call.session.id)
      : ledgerPager(ledger && boundLedger(ledger, call.capability), call.capability!, call.session.id);
  const history = historyReader(call.historyLength, pager, windowOf(agent.history));
  /** An error of the agent's code, unless it came from reading the history (then that is thrown). */
  const agentFailure = (msg: string): MigrateResponse => {
    if (history.failure !== undefined) throw history.failure;
    return failed(msg);
  };
  let state: unknown = received.state;

  const source = schemaFor(agent, from);
  if (source) {
    const r = source.safeParse(state);
    if (!r.success)
      return invalid(r.error, `checkpoint #${req.checkpoint.seq} state does not match schema ${from}`);
    state = r.data;
  }

  const chain: Array<{ fn: MigrationFn | undefined; from: number; to: number; dir: 'up' | 'down' }> = [];
  if (to > from)
    for (let s = from; s < to; s++)
      chain.push({ fn: agent.migrations?.up?.[s], from: s, to: s + 1, dir: 'up' });
  else
    for (let s = from; s > to; s--)
      chain.push({ fn: agent.migrations?.down?.[s - 1], from: s, to: s - 1, dir: 'down' });
  const missing = chain.find((c) => typeof c.fn !== 'function');
  if (missing)
    return failed(
      `${agent.name}@${agent.version} has no ${missing.dir} migration ${missing.from}→${missing.to} ` +
        `(needed to go from schema ${from} to ${to}; it accepts ${JSON.stringify(agent.acceptsSchemas())} up and ${JSON.stringify(agent.downSchemas())} down)`,
    );
  for (const c of chain) {
    try {
      state = await c.fn!(state, {
        sessionId: req.session.id,
        from: c.from,
        to: c.to,
        history,
        context: received.context,
        dryRun: call.dryRun,
        graph: ledger ? boundLedger(ledger, call.capability).graph : undefined,
      });
    } catch (e) {
      // a refusal the migration states itself (a MigrationError) is reported as it reads
      if (e instanceof BatonError && e.code === 'MIGRATION_FAILED') return agentFailure(e.message);
      return agentFailure(
        `${c.dir} migration ${c.from}→${c.to} of ${agent.name}@${agent.version} threw: ${message(e)}`,
      );
    }
    if (state === undefined) return failed(`${c.dir} migration ${c.from}→${c.to} returned no state`);
  }

  const target = schemaFor(agent, to);
  if (target) {
    const r = target.safeParse(state);
    if (!r.success) return invalid(r.error, `migrated state does not match schema ${to}`);
    state = r.data;
  }

  let context = received.context;
  let contextPolicy: ContextPolicy = 'carry';
  const arriving = to === agent.schemaVersion && req.session.version !== agent.version;
  if (arriving && agent.contextPolicy === 'rebuild' && agent.rebuildContext) {
    try {
      context = await agent.rebuildContext(history, state as S);
    } catch (e) {
      return agentFailure(`rebuildContext of ${agent.name}@${agent.version} threw: ${message(e)}`);
    }
    contextPolicy = 'rebuild';
  }

  const waits: Wait[] = (received.waits ?? []).map((w) => {
    const s = to === agent.schemaVersion ? agent.waits?.[w.name] : undefined;
    return s
      ? { ...w, schema: zod.toJSONSchema(s, { unrepresentable: 'any' }) as Record<string, unknown> }
      : { ...w };
  });

  // `received` is already a private copy of the request's, so the result shares nothing with the
  // request; what is checked here is only that it serializes (the store serializes it again when
  // it is written, and a worker over HTTP sends it as JSON), without a second parse of the body.
  const out: CheckpointBody = { state, context: context ?? null, waits };
  if (received.memory !== undefined) out.memory = received.memory;
  let texts: Record<CheckpointPart, string | undefined>;
  try {
    texts = { state: jsonText(out.state), context: jsonText(out.context), memory: jsonText(out.memory) };
    if (texts.state === undefined || JSON.stringify(waits) === undefined)
      return failed('migrated checkpoint is not serializable');
  } catch (e) {
    return failed(`migrated checkpoint is not serializable: ${message(e)}`);
  }
  if (call.protocol === 1) {
    // an old router stores the answer's body as the checkpoint: it keeps the history it sent
    const history = structuredClone((req as MigrateRequestV1).checkpoint.body.history);
    return { ok: true, body: { ...out, history } as CheckpointBody, schemaVersion: to, contextPolicy };
  }
  const res: MigrateResponse = { ok: true, body: out, schemaVersion: to, contextPolicy };
  const unchanged = unchangedParts(cp, texts);
  if (Object.keys(unchanged).length > 0) res.unchanged = unchanged;
  return res;
}
