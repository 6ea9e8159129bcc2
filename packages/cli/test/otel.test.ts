/**
 * Traces over OTLP, end to end: `baton serve` (v1 in-process) and a remote `baton worker` (v2) as
 * child processes, both exporting to an OTLP/HTTP receiver in this process (a real HTTP server on
 * loopback decoding the JSON the official exporter sends). A rollout moves the agent to v2; the
 * spans received must carry the GenAI attributes, and the remote worker's spans (the agent's own
 * span and its execute_tool spans) must be children of the router's turn span.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, serve, waitFor, type Served } from './helpers';

const AGENT = fileURLToPath(new URL('./fixtures/traced-agent.ts', import.meta.url));

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attrs: Record<string, string | number | boolean>;
  service: string;
}

function value(v: OtlpValue): string | number | boolean {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  return v.doubleValue ?? '';
}

function attrsOf(
  list: Array<{ key: string; value: OtlpValue }> | undefined,
): Record<string, string | number | boolean> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, value(a.value)]));
}

/** An OTLP/HTTP trace receiver (JSON encoding, optionally gzipped). */
function receiver(): Promise<{ server: Server; url: string; spans: Span[]; contentTypes: Set<string> }> {
  const spans: Span[] = [];
  const contentTypes = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      contentTypes.add(String(req.headers['content-type']));
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const body = JSON.parse(raw.toString('utf8')) as {
        resourceSpans: Array<{
          resource: { attributes: Array<{ key: string; value: OtlpValue }> };
          scopeSpans: Array<{ spans: Array<Omit<Span, 'attrs' | 'service'> & { attributes: [] }> }>;
        }>;
      };
      for (const rs of body.resourceSpans) {
        const service = String(attrsOf(rs.resource.attributes)['service.name']);
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            spans.push({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              attrs: attrsOf(s.attributes),
              service,
            });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({ server, url: `http://127.0.0.1:${port}`, spans, contentTypes });
    }),
  );
}

let dir: string;
let otlp: Awaited<ReturnType<typeof receiver>>;
let server: Served;
let worker: ChildProcess | undefined;
let url: string;
let tokens: Record<string, string>;

const otelEnv = (): Record<string, string> => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
  OTEL_BSP_SCHEDULE_DELAY: '100',
});

async function startWorker(): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'worker', '--agent', `${AGENT}#v2`, '--json'], {
    env: cleanEnv({ BATON_SERVER: url, BATON_WORKER_TOKEN: tokens.worker!, ...otelEnv() }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve();
    });
    child.on('exit', (c) => reject(new Error(`worker exited ${c}: ${err}`)));
  });
  return { child, exited };
}

async function api(
  method: string,
  p: string,
  token: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${url}${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, any>;
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function turn(s: { sessionId: string; sessionToken: string }, key: string) {
  return api(
    'POST',
    `/v1/sessions/${s.sessionId}/turns`,
    tokens.traffic!,
    { input: 'hello' },
    {
      'x-session-token': s.sessionToken,
      'idempotency-key': key,
    },
  );
}

let before: { sessionId: string; sessionToken: string };
let after: { sessionId: string; sessionToken: string };
let rolloutId: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-otel-'));
  otlp = await receiver();
  server = await serve(
    ['--store', path.join(dir, 'baton.db'), '--agent', `${AGENT}#v1`, '--shutdown-timeout', '5s'],
    {
      env: otelEnv(),
    },
  );
  url = server.ready.url as string;
  tokens = server.ready.generatedTokens as Record<string, string>;
  const w = await startWorker();
  worker = w.child;

  // a session on v1 before the rollout (served in-process by `baton serve`)
  before = (await api('POST', '/v1/agents/traced/sessions', tokens.traffic!, {})) as typeof before;
  await turn(before, 'b1');
  const r = await api('POST', '/v1/rollouts', tokens.admin!, {
    agent: 'traced',
    to: 'v2',
    migration: { policy: 'at-boundary', eager: false },
    steps: [{ fill: 100, migrate: 100 }],
  });
  rolloutId = (r.id ?? r.rollout?.id) as string;
  // the v1 session's next turn moves it to v2 (a lazy migration) and runs on the remote worker
  const moved = await turn(before, 'b2');
  expect(moved.version).toBe('v2');
  after = (await api('POST', '/v1/agents/traced/sessions', tokens.traffic!, {})) as typeof after;
  expect((after as unknown as { version: string }).version).toBe('v2');
  await turn(after, 'a1');

  // stopping both processes flushes what their exporters hold
  worker.kill('SIGTERM');
  expect(await w.exited).toBe(0);
  worker = undefined;
  expect(await server.stop()).toBe(0);
}, 90_000);

afterAll(async () => {
  worker?.kill('SIGKILL');
  await new Promise<void>((r) => (otlp ? otlp.server.close(() => r()) : r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const byName = (name: string) => otlp.spans.filter((s) => s.name === name);
const turnSpan = (sessionId: string, version: string) =>
  byName('invoke_agent traced').filter(
    (s) => s.attrs['gen_ai.conversation.id'] === sessionId && s.attrs['gen_ai.agent.version'] === version,
  );

describe('OpenTelemetry traces over OTLP', () => {
  it('sends OTLP/HTTP JSON from both processes, named by service', async () => {
    await waitFor(async () => otlp.spans.some((s) => s.service.startsWith('baton-worker')), 10_000);
    expect([...otlp.contentTypes]).toEqual(['application/json']);
    const services = new Set(otlp.spans.map((s) => s.service));
    expect(services).toEqual(new Set(['baton', 'baton-worker traced@v2']));
  });

  it('a span per turn with the GenAI attributes and the token usage', () => {
    const [t] = turnSpan(after.sessionId, 'v2');
    expect(t).toBeDefined();
    expect(t!.service).toBe('baton');
    expect(t!.parentSpanId).toBeUndefined();
    expect(t!.attrs).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'traced',
      'gen_ai.conversation.id': after.sessionId,
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 5,
      'baton.session.seq': 1,
      'baton.session.status': 'idle',
    });
    expect(turnSpan(before.sessionId, 'v1')).toHaveLength(1);
    expect(turnSpan(before.sessionId, 'v2')).toHaveLength(1);
  });

  it("the remote worker's spans nest under the turn: the agent's own span, and execute_tool under it", () => {
    const [t] = turnSpan(after.sessionId, 'v2');
    const plan = otlp.spans.find(
      (s) =>
        s.name === 'agent.plan' && s.service === 'baton-worker traced@v2' && s.parentSpanId === t!.spanId,
    );
    expect(plan).toBeDefined();
    expect(plan!.traceId).toBe(t!.traceId);
    const tools = otlp.spans.filter((s) => s.parentSpanId === plan!.spanId);
    expect(tools.map((s) => s.name).sort()).toEqual(['execute_tool lookup', 'execute_tool send_note']);
    for (const s of tools) {
      expect(s.service).toBe('baton-worker traced@v2');
      expect(s.traceId).toBe(t!.traceId);
      expect(s.attrs).toMatchObject({
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.conversation.id': after.sessionId,
        'gen_ai.agent.version': 'v2',
      });
    }
    const effect = tools.find((s) => s.name === 'execute_tool send_note')!;
    expect(effect.attrs['baton.tool.kind']).toBe('effect');
    expect(effect.attrs['gen_ai.tool.call.id']).toMatch(new RegExp(`^${after.sessionId}:`));
  });

  it('the in-process v1 turn nests its spans under its turn too', () => {
    const [t] = turnSpan(before.sessionId, 'v1');
    const plan = otlp.spans.find((s) => s.name === 'agent.plan' && s.parentSpanId === t!.spanId);
    expect(plan?.service).toBe('baton');
  });

  it('a span per migration, a child of the turn that moved the session', () => {
    const [t] = turnSpan(before.sessionId, 'v2');
    const all = byName('baton.migrate').filter((s) => s.attrs['baton.session.id'] === before.sessionId);
    // the rollout's pre-flight dry-ran the migration first: a span of its own, at the root
    const dry = all.filter((s) => s.attrs['baton.migration.dry_run'] === true);
    expect(dry).toHaveLength(1);
    expect(dry[0]!.parentSpanId).toBeUndefined();
    const m = all.filter((s) => s.attrs['baton.migration.dry_run'] === false);
    expect(m).toHaveLength(1);
    expect(m[0]!.parentSpanId).toBe(t!.spanId);
    expect(m[0]!.attrs).toMatchObject({
      'baton.migration.ok': true,
      'baton.migration.from': 'v1',
      'baton.migration.to': 'v2',
      'baton.rollout.id': rolloutId,
    });
  });

  it('a span per rollout decision', () => {
    const d = byName('rollout.decision').filter((s) => s.attrs['baton.rollout.id'] === rolloutId);
    const kinds = d.map((s) => s.attrs['baton.rollout.decision']);
    expect(kinds).toContain('created');
    expect(d.every((s) => s.attrs['gen_ai.agent.name'] === 'traced')).toBe(true);
  });
});
