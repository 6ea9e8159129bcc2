import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  compensateResponseSchema,
  migrateRequestSchema,
  migrateResponseSchema,
  openCapability,
  signCapability,
  turnRequestSchema,
  turnRequestV1Schema,
  turnResponseSchema,
  versionManifestSchema,
  workerHealthResponseSchema,
} from '../src/index';

const hashes = { state: 'a'.repeat(64), context: 'b'.repeat(64), memory: null };
const telemetry = {
  latencyMs: 12,
  toolCalls: { lookup_order: 1 },
  reasoningSteps: 2,
  tokensIn: 812,
  tokensOut: 64,
  contextUtilization: 0.11,
  metrics: { 'eval.resolution': 1 },
  signals: [],
};
const entry = (role: string, at: number) => ({ role, content: '…', turnId: 'trn_1', at });

/** The protocol-2 turn request of docs/worker-protocol.md §3. */
const turnRequest = {
  protocol: 2,
  session: { id: 'ses_1', agent: 'support', version: 'v2', tenant: 'acme' },
  checkpoint: {
    seq: 7,
    schemaVersion: 2,
    state: { orders: ['A-1001'] },
    context: { messages: [] },
    waits: [],
    hashes,
    historyLength: 2,
  },
  history: [
    { ...entry('user', 1), index: 0 },
    { ...entry('agent', 2), index: 1 },
  ],
  input: { kind: 'message', message: 'where is my order A-1001?' },
  turnId: 'trn_1',
  deadline: 1767225600000,
  capability: 'WyJzZXNf.sig',
};

/** The turn answer of docs/worker-protocol.md §3. */
const turnResponse = {
  state: { orders: ['A-1001'], sentiment: 'neutral' },
  unchanged: { context: hashes.context },
  history: [entry('user', 3), entry('agent', 4)],
  output: { text: '…' },
  status: 'idle',
  waits: [],
  telemetry,
  schemaVersion: 2,
};

describe('worker protocol schemas', () => {
  it('accept the documented turn request and answer, and keep what they name', () => {
    const req = turnRequestSchema.parse(turnRequest);
    expect(req).toEqual(turnRequest);
    expect(turnResponseSchema.parse(turnResponse)).toEqual(turnResponse);
  });

  it('fill the defaults a worker relies on: a missing tenant is null, a missing dryRun false', () => {
    const { tenant: _t, ...session } = turnRequest.session;
    expect(turnRequestSchema.parse({ ...turnRequest, session }).session.tenant).toBeNull();
    const migrate = migrateRequestSchema.parse({
      protocol: 2,
      session: { id: 'ses_1', agent: 'support', version: 'v3' },
      checkpoint: turnRequest.checkpoint,
      targetSchemaVersion: 3,
      capability: 'c',
    });
    expect(migrate.dryRun).toBe(false);
  });

  it('tell the protocols apart: a protocol-1 request is not a protocol-2 one, nor the reverse', () => {
    const v1 = {
      session: turnRequest.session,
      checkpoint: {
        seq: 1,
        schemaVersion: 1,
        body: { state: {}, history: [entry('user', 1)], context: null, waits: [] },
      },
      input: { kind: 'timeout', token: 'digest', name: 'approval' },
      turnId: 'trn_1',
      deadline: 1,
    };
    expect(turnRequestV1Schema.safeParse(v1).success).toBe(true);
    expect(turnRequestSchema.safeParse(v1).success).toBe(false);
    expect(turnRequestV1Schema.safeParse(turnRequest).success).toBe(false);
  });

  it('refuse an answer without its telemetry, with an unknown status, or with a wait missing its deadline', () => {
    expect(turnResponseSchema.safeParse({ ...turnResponse, telemetry: undefined }).success).toBe(false);
    expect(turnResponseSchema.safeParse({ ...turnResponse, status: 'done' }).success).toBe(false);
    const wait = { token: 't', name: 'approval', schema: null, createdAt: 1 };
    const r = turnResponseSchema.safeParse({ ...turnResponse, status: 'waiting', waits: [wait] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['waits', 0, 'deadline']);
  });

  it('accept an answer that leaves its unchanged parts and an undefined output out, as the SDK sends it', () => {
    const { state: _s, output: _o, ...rest } = turnResponse;
    expect(
      turnResponseSchema.safeParse({ ...rest, unchanged: { state: hashes.state, context: hashes.context } })
        .success,
    ).toBe(true);
  });

  it('describe both outcomes of migrate and compensate, and refuse anything else', () => {
    const ok = {
      ok: true,
      body: { state: {}, context: null, waits: [] },
      schemaVersion: 3,
      contextPolicy: 'rebuild',
    };
    expect(migrateResponseSchema.safeParse(ok).success).toBe(true);
    expect(migrateResponseSchema.safeParse({ ...ok, contextPolicy: 'keep' }).success).toBe(false);
    const failed = { ok: false, error: { code: 'STATE_INVALID', message: 'm', path: 'orders.0' } };
    expect(migrateResponseSchema.safeParse(failed).success).toBe(true);
    expect(compensateResponseSchema.safeParse({ ok: true, result: { cancelled: 1 } }).success).toBe(true);
    expect(compensateResponseSchema.safeParse({ ok: false }).success).toBe(false);
  });

  it('describe health and registration: a protocol-1 health names no protocol', () => {
    const health = { ok: true, agent: 'a', version: 'v1', identity: 'i', schemaVersion: 1, inflight: 0 };
    expect(workerHealthResponseSchema.parse(health)).toEqual(health);
    expect(workerHealthResponseSchema.safeParse({ ...health, protocol: '2' }).success).toBe(false);
    const manifest = {
      agent: 'support',
      label: 'v3',
      schemaVersion: 3,
      modelId: 'sim-2',
      promptHash: 'ph',
      toolManifestHash: 'th',
      codeHash: 'ch',
      identity: 'id',
      acceptsSchemas: [1, 2],
      downSchemas: [2],
      history: { window: { entries: 20 } },
    };
    expect(versionManifestSchema.parse(manifest)).toEqual(manifest);
  });
});

describe('turn capability', () => {
  const key = new Uint8Array(32).fill(7);

  it('opens what it signed, for a turn and for a compensation run', () => {
    const turn = { sessionId: 's', turnId: 't', epoch: 3, expiresAt: 10 };
    expect(openCapability(signCapability(turn, key), key)).toEqual(turn);
    const run = {
      sessionId: 's',
      turnId: 'c',
      epoch: null,
      expiresAt: 10,
      compensation: { effectId: 'e', owner: 'o' },
    };
    expect(openCapability(signCapability(run, key), key)).toEqual(run);
  });

  it('refuses another key, and a signed payload that is not one of the two shapes', () => {
    const token = signCapability({ sessionId: 's', turnId: 't', epoch: 1, expiresAt: 10 }, key);
    expect(openCapability(token, new Uint8Array(32).fill(8))).toBeNull();
    const forge = (fields: unknown[]): string => {
      const payload = Buffer.from(JSON.stringify(fields), 'utf8').toString('base64url');
      return `${payload}.${createHmac('sha256', key).update(payload).digest('base64url')}`;
    };
    expect(openCapability(forge(['s', 't', 1, 10]), key)).not.toBeNull();
    expect(openCapability(forge(['s', 't', 1, 10, 'e']), key)).toBeNull();
    expect(openCapability(forge(['s', 't', '1', 10]), key)).toBeNull();
    expect(openCapability(forge(['s', 't', 1, 10, 'e', 5]), key)).toBeNull();
  });
});
