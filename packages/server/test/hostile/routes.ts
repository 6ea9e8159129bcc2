/**
 * What the hostile-input suite knows about each route of the server: how to call it validly (auth,
 * path parameters, a body), which query parameters and body fields reach a store column, and where
 * the JSON content of its body goes. Every route of the server's route table needs an entry here,
 * or the suite fails.
 */

/** `any`: a bearer token of any scope. */
export type Auth = 'none' | 'traffic' | 'session' | 'admin' | 'worker' | 'any';

export interface RouteSpec {
  auth: Auth;
  /** A valid value per path parameter. */
  params?: Record<string, string>;
  /** Query parameters that filter by a stored value (a NUL in them is refused). */
  query?: string[];
  /** Whether `limit` / `cursor` paging parameters are accepted. */
  limit?: boolean;
  cursor?: boolean;
  /** Integer query parameters (a position such as `before`). */
  ints?: string[];
  /** A valid body; `CONTENT` marks where free JSON content goes. Absent: the route takes no body. */
  body?: () => Record<string, unknown>;
  /** Body fields (dot paths) the store keeps in a column of their own: a NUL in one is refused. */
  columns?: string[];
  /** Codes a NUL in a body column may be answered with when a check runs before the store (a capability). */
  columnCodes?: string[];
}

/** Placeholder for JSON content inside a body. */
export const CONTENT = '__content__';

export interface Seeds {
  sessionId: string;
  agent: string;
  stable: string;
  candidate: string;
}

const spec = (s: Seeds, extra: Record<string, unknown> = {}) => ({
  agent: s.agent,
  to: s.candidate,
  steps: [{ fill: 100 }],
  ...extra,
});

const manifest = (s: Seeds) => ({
  agent: s.agent,
  label: 'v9',
  schemaVersion: 1,
  modelId: 'm',
  promptHash: 'p',
  toolManifestHash: 't',
  codeHash: 'c',
  identity: 'hostile-identity',
  metadata: { note: CONTENT },
});

/** The worker API checks the caller's turn capability, or looks the effect up, before any store write. */
/** A route whose body is a rollout spec: its agent and labels are looked up (a NUL in them never gets further). */
const specRoute = (body: () => Record<string, unknown>): RouteSpec => ({
  auth: 'admin',
  body,
  columns: ['agent', 'to'],
  columnCodes: ['INVALID_CHARACTER', 'VALIDATION'],
});

const NO_CAPABILITY = ['CAPABILITY_INVALID', 'EFFECT_NOT_FOUND', 'INVALID_CHARACTER'];

export function routeSpecs(s: Seeds): Record<string, RouteSpec> {
  const id = { id: s.sessionId };
  const rollout = { id: 'rol_hostile_missing' };
  return {
    // traffic
    'POST /v1/agents/:agent/sessions': {
      auth: 'traffic',
      params: { agent: s.agent },
      body: () => ({ tenant: 'acme', metadata: { m: CONTENT } }),
      columns: ['tenant'],
    },
    'POST /v1/sessions/:id/turns': { auth: 'session', params: id, body: () => ({ input: CONTENT }) },
    'GET /v1/sessions/:id': { auth: 'session', params: id },
    'GET /v1/sessions/:id/history': { auth: 'session', params: id, limit: true, ints: ['before'] },
    'POST /v1/sessions/:id/feedback': {
      auth: 'session',
      params: id,
      body: () => ({ signal: 'thumbs_up', value: CONTENT }),
    },
    'POST /v1/sessions/:id/end': { auth: 'session', params: id },
    'POST /v1/callbacks/:token': {
      auth: 'traffic',
      params: { token: 'wait-hostile-missing' },
      body: () => ({ payload: CONTENT }),
    },
    // worker
    'POST /v1/worker/effects/intent': {
      auth: 'worker',
      body: () => ({
        idempotencyKey: 'k',
        sessionId: s.sessionId,
        agent: s.agent,
        version: s.stable,
        turnId: 't',
        name: 'notify',
        args: CONTENT,
      }),
      columns: ['idempotencyKey', 'sessionId', 'agent', 'version', 'turnId', 'name'],
      columnCodes: NO_CAPABILITY,
    },
    'POST /v1/worker/effects/commit': {
      auth: 'worker',
      body: () => ({ idempotencyKey: 'k', result: CONTENT }),
      columns: ['idempotencyKey'],
      columnCodes: NO_CAPABILITY,
    },
    'POST /v1/worker/effects/fail': {
      auth: 'worker',
      body: () => ({ idempotencyKey: 'k', error: 'boom' }),
      columns: ['idempotencyKey', 'error'],
      columnCodes: NO_CAPABILITY,
    },
    'GET /v1/worker/steps': { auth: 'worker', query: ['sessionId', 'turnId'] },
    'GET /v1/worker/history': { auth: 'worker', query: ['sessionId'], limit: true, ints: ['before'] },
    'POST /v1/worker/steps': {
      auth: 'worker',
      body: () => ({ sessionId: s.sessionId, turnId: 't', index: 0, name: 'step', result: CONTENT }),
      columns: ['sessionId', 'turnId', 'name'],
      columnCodes: NO_CAPABILITY,
    },
    // worker: LangGraph checkpoints (a turn capability is checked before the store)
    'POST /v1/worker/graph/put': {
      auth: 'worker',
      body: () => ({
        record: {
          threadId: s.sessionId,
          ns: '',
          checkpointId: 'cp1',
          parentId: null,
          checkpoint: { v: CONTENT },
          metadata: { m: CONTENT },
        },
        blobs: [],
      }),
      columns: ['record.threadId', 'record.checkpointId'],
      columnCodes: NO_CAPABILITY,
    },
    'POST /v1/worker/graph/writes': {
      auth: 'worker',
      body: () => ({
        key: { threadId: s.sessionId, ns: '', checkpointId: 'cp1' },
        writes: [],
        overwrite: false,
      }),
      columns: ['key.threadId', 'key.checkpointId'],
      columnCodes: NO_CAPABILITY,
    },
    'POST /v1/worker/graph/get': {
      auth: 'worker',
      body: () => ({ threadId: s.sessionId, ns: '' }),
      columns: ['threadId'],
      columnCodes: NO_CAPABILITY,
    },
    'POST /v1/worker/graph/list': {
      auth: 'worker',
      body: () => ({ threadId: s.sessionId, metadata: { m: CONTENT } }),
      columns: ['threadId'],
      columnCodes: NO_CAPABILITY,
    },
    'POST /v1/worker/graph/channel-writes': {
      auth: 'worker',
      body: () => ({ threadId: s.sessionId, checkpointIds: ['cp1'], channel: 'messages' }),
      columns: ['threadId', 'channel'],
      columnCodes: NO_CAPABILITY,
    },
    // admin
    'POST /v1/versions': {
      auth: 'admin',
      body: () => manifest(s),
      columns: ['agent', 'label', 'modelId', 'promptHash', 'toolManifestHash', 'codeHash', 'identity'],
    },
    'GET /v1/versions': { auth: 'admin', query: ['agent'] },
    'POST /v1/workers': {
      auth: 'admin',
      body: () => ({ url: 'http://127.0.0.1:9/', manifest: { ...manifest(s), metadata: { m: CONTENT } } }),
      columns: ['url'],
      columnCodes: ['VALIDATION', 'INVALID_CHARACTER'],
    },
    'GET /v1/workers': { auth: 'admin', query: ['agent', 'version'] },
    'DELETE /v1/workers/:id': { auth: 'admin', params: { id: 'wrk_hostile_missing' } },
    'GET /v1/sessions': { auth: 'admin', query: ['agent', 'version', 'tenant'], limit: true, cursor: true },
    'GET /v1/sessions/:id/checkpoints': { auth: 'admin', params: id, limit: true, ints: ['beforeSeq'] },
    'GET /v1/sessions/:id/checkpoints/:seq': { auth: 'admin', params: { id: s.sessionId, seq: '1' } },
    'GET /v1/effects': {
      auth: 'admin',
      query: ['agent', 'version', 'rollout', 'session'],
      limit: true,
      cursor: true,
    },
    'POST /v1/effects/:id/resolve': {
      auth: 'admin',
      params: { id: 'eff_hostile_missing' },
      body: () => ({ status: 'committed', result: CONTENT, by: 'op', reason: 'checked' }),
      columns: ['by'],
      columnCodes: ['EFFECT_NOT_FOUND', 'INVALID_CHARACTER'],
    },
    'POST /v1/effects/:id/compensate': {
      auth: 'admin',
      params: { id: 'eff_hostile_missing' },
      body: () => ({ dryRun: true }),
    },
    'GET /v1/migrations': { auth: 'admin', query: ['session', 'rollout'], limit: true },
    'GET /metrics': { auth: 'admin' },
    'GET /healthz': { auth: 'none' },
    'GET /readyz': { auth: 'none' },
    'GET /v1/openapi.json': { auth: 'any' },
    // rollouts
    'POST /v1/rollouts': specRoute(() => spec(s, { name: CONTENT })),
    'POST /v1/rollouts/forecast': specRoute(() => spec(s)),
    'POST /v1/migrate/check': specRoute(() => spec(s)),
    'POST /v1/rollouts/preflight': specRoute(() => spec(s)),
    'GET /v1/rollouts': { auth: 'admin', query: ['agent'] },
    'GET /v1/rollouts/:id': { auth: 'admin', params: rollout, ints: ['stragglers'] },
    'GET /v1/rollouts/:id/decisions': { auth: 'admin', params: rollout, limit: true, ints: ['afterSeq'] },
    'GET /v1/rollouts/:id/report': { auth: 'admin', params: rollout },
    'GET /v1/rollouts/:id/verdict': { auth: 'admin', params: rollout, ints: ['step'] },
    'GET /v1/agents/:agent/verdict': {
      auth: 'admin',
      params: { agent: s.agent },
      query: ['to'],
      ints: ['step'],
    },
    'GET /v1/rollouts/:id/stragglers': { auth: 'admin', params: rollout, limit: true, cursor: true },
    'GET /v1/rollouts/:id/samples': { auth: 'admin', params: rollout, limit: true, ints: ['after'] },
    'GET /v1/rollouts/:id/events': { auth: 'admin', params: rollout },
    'GET /v1/rollouts/:id/distributions': { auth: 'admin', params: rollout },
    'POST /v1/rollouts/:id/promote': { auth: 'admin', params: rollout, body: () => ({ by: 'op' }) },
    'POST /v1/rollouts/:id/pause': { auth: 'admin', params: rollout, body: () => ({ reason: 'r' }) },
    'POST /v1/rollouts/:id/resume': { auth: 'admin', params: rollout, body: () => ({ by: 'op' }) },
    'POST /v1/rollouts/:id/abort': { auth: 'admin', params: rollout, body: () => ({ reason: 'r' }) },
    'POST /v1/rollouts/:id/compensate': {
      auth: 'admin',
      params: rollout,
      body: () => ({ dryRun: true, note: 'n' }),
    },
    'POST /v1/rollouts/:id/shadow': {
      auth: 'admin',
      params: rollout,
      body: () => ({ sessions: 5, turnsPerSession: 1 }),
    },
    'GET /v1/controller': { auth: 'admin' },
    // the dashboard's static files (public: they hold no data)
    'GET /dashboard': { auth: 'none' },
    'GET /dashboard/*': { auth: 'none' },
    'GET /dashboard/vendor/preact/*': { auth: 'none' },
    'GET /dashboard/vendor/htm/*': { auth: 'none' },
    'GET /dashboard/vendor/uplot/*': { auth: 'none' },
  };
}
