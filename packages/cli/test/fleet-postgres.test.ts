/**
 * A fleet: two `baton serve` child processes on one PostgreSQL store, and a `baton worker` child
 * registered through the first (`--server A,B`). The documented start order (servers first, then
 * workers); registration, unregistration, leader visibility, leader takeover after a SIGKILL, the
 * instance-id presence lease, and the worker's ledger failing over when A dies. Delays are measured
 * and printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO, cleanEnv, run, serve, waitFor } from './helpers';
import type { Served } from './helpers';

const PG = process.env.BATON_TEST_PG_URL;
if (!PG) {
  if (process.env.CI === 'true') throw new Error('BATON_TEST_PG_URL is required when CI=true');
  console.warn(
    'skipping the fleet tests (two baton serve on PostgreSQL): set BATON_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test)',
  );
}

const hex = randomBytes(4).toString('hex');
const tokens = { admin: `adm-${hex}`, traffic: `trf-${hex}`, worker: `wrk-${hex}` };

interface Json {
  status: number;
  body: any;
}

async function call(
  base: string,
  method: string,
  p: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Json> {
  const res = await fetch(base + p, {
    method,
    headers: {
      authorization: `Bearer ${p.startsWith('/v1/sessions') || p.startsWith('/v1/agents') ? tokens.traffic : tokens.admin}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

interface Session {
  id: string;
  token: string;
}

let turnNo = 0;
function turn(base: string, s: Session, text: string): Promise<Json> {
  return call(
    base,
    'POST',
    `/v1/sessions/${s.id}/turns`,
    { input: { text } },
    {
      'x-session-token': s.token,
      'idempotency-key': `k-${hex}-${++turnNo}`,
    },
  );
}

async function session(base: string): Promise<Session> {
  const r = await call(base, 'POST', '/v1/agents/support/sessions', {});
  expect(r.status).toBe(201);
  return { id: r.body.sessionId as string, token: r.body.sessionToken as string };
}

/** Retries `f` every 25 ms until `ok`; returns the elapsed ms. */
async function until(f: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await f().catch(() => false)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Worker {
  child: ChildProcess;
  ready: { url: string; workerId: string; registeredWith: string; servers: string[] };
}

function startWorker(servers: string): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'worker',
        '--agent',
        '@baton/example-support-agent',
        '--export',
        'v1',
        '--server',
        servers,
        '--json',
      ],
      {
        cwd: REPO,
        env: cleanEnv({ BATON_ADMIN_TOKEN: tokens.admin, BATON_WORKER_TOKEN: tokens.worker }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (c) => reject(new Error(`worker exited ${c}: ${err}`)));
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolve({ child, ready: JSON.parse(line) as Worker['ready'] }),
    );
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => child.once('exit', () => r()));
}

describe.skipIf(!PG)('a fleet: two baton serve on one PostgreSQL store', () => {
  const schema = `baton_fleet_${hex}`;
  let dir: string;
  let a: Served;
  let b: Served;
  let worker: Worker;
  const children: ChildProcess[] = [];
  let s: Session;

  const serverArgs = (id: string): string[] => [
    '--store',
    PG!,
    '--store-schema',
    schema,
    '--instance-id',
    id,
    '--admin-token',
    tokens.admin,
    '--traffic-token',
    tokens.traffic,
    '--worker-token',
    tokens.worker,
    '--tokens-file',
    path.join(dir, `${id}.tokens.json`),
    '--shutdown-timeout',
    '2s',
  ];
  /** Start a server; a restart passes the port it had, so the worker's server list stays right. */
  const start = async (id: string, port?: number): Promise<Served> => {
    const srv = await serve([...serverArgs(id), ...(port === undefined ? [] : ['--port', String(port)])], {
      cwd: dir,
    });
    children.push(srv.child);
    return srv;
  };
  const controller = async (srv: Served) =>
    (await call(srv.ready.url as string, 'GET', '/v1/controller')).body;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'baton-fleet-'));
    a = await start('fleet-a');
    await until(async () => (await controller(a)).role === 'leader');
    b = await start('fleet-b');
  }, 60_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => exited(c)));
    if (PG) {
      const pg = await import('pg');
      const client = new pg.default.Client({ connectionString: PG });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('shows the leader on every server: GET /v1/controller and baton status', async () => {
    const ca = await controller(a);
    const cb = await controller(b);
    expect(ca).toMatchObject({
      instanceId: 'fleet-a',
      role: 'leader',
      leader: { instanceId: 'fleet-a', self: true },
    });
    expect(cb).toMatchObject({
      instanceId: 'fleet-b',
      role: 'follower',
      leader: { instanceId: 'fleet-a', self: false },
    });
    expect(cb.leader.url).toBe(a.ready.url);
    expect(cb.leader.leaseExpiresAt).toBeGreaterThan(Date.now() - 1000);
    for (const srv of [a, b]) {
      const env = { BATON_SERVER: srv.ready.url as string, BATON_ADMIN_TOKEN: tokens.admin };
      const json = await run(['status', '--json'], { env, cwd: dir });
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout).leader.instanceId).toBe('fleet-a');
      const text = await run(['status'], { env, cwd: dir });
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/leader\s+fleet-a/);
    }
    const metrics = await fetch(`${a.ready.url as string}/metrics`, {
      headers: { authorization: `Bearer ${tokens.admin}` },
    }).then((r) => r.text());
    expect(metrics).toMatch(/baton_controller_leader\{instance="fleet-a"\} 1/);
    const mb = await fetch(`${b.ready.url as string}/metrics`, {
      headers: { authorization: `Bearer ${tokens.admin}` },
    }).then((r) => r.text());
    expect(mb).toMatch(/baton_controller_leader\{instance="fleet-b"\} 0/);
  });

  it('a worker registered through A serves a turn on B within 2 s', async () => {
    const bUrl = b.ready.url as string;
    const before = await call(bUrl, 'GET', '/readyz');
    expect(before.status).toBe(200); // no worker yet: still ready
    worker = await startWorker(`${a.ready.url as string},${bUrl}`);
    children.push(worker.child);
    const registered = Date.now();
    expect(worker.ready.registeredWith).toBe(a.ready.url);
    // B's own view of the workers (its pool, as /readyz reports it) …
    const seen = await until(async () => {
      const r = await call(bUrl, 'GET', '/readyz');
      return r.body.versions.some(
        (v: { version: string; healthy: number }) => v.version === 'v1' && v.healthy > 0,
      );
    });
    // … and a turn on B served by the worker
    s = await session(bUrl);
    let last: Json | null = null;
    await until(async () => {
      last = await turn(bUrl, s, 'where is my order A-1234?');
      return last.status === 200;
    });
    const used = Date.now() - registered;
    console.log(
      `fleet: worker registered through A: in B's pool after ${seen} ms, served a turn on B ${used} ms after it registered`,
    );
    expect(last!.body.version).toBe('v1');
    expect(seen).toBeLessThanOrEqual(2000);
    const ready = await call(bUrl, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.versions).toEqual([{ agent: 'support', version: 'v1', healthy: 1, workers: 1 }]);
    expect(ready.body.workers.ageMs).toBeLessThanOrEqual(1500);
  });

  it('a worker unregistered through A stops being used by B, and comes back when registered again', async () => {
    const aUrl = a.ready.url as string;
    const bUrl = b.ready.url as string;
    expect((await call(aUrl, 'DELETE', `/v1/workers/${worker.ready.workerId}`)).status).toBe(204);
    const gone = await until(async () => {
      const r = await turn(bUrl, s, 'and A-1234?');
      return r.status === 503 && r.body.error.code === 'NO_WORKER';
    });
    console.log(`fleet: a worker unregistered through A stopped being used by B after ${gone} ms`);
    expect(gone).toBeLessThanOrEqual(2000);
    // one agent's outage does not make the router unready
    const ready = await call(bUrl, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.versions).toEqual([]);
    const again = await call(aUrl, 'POST', '/v1/workers', { url: worker.ready.url });
    expect(again.status).toBe(201);
    const back = await until(async () => (await call(bUrl, 'GET', '/readyz')).body.versions.length === 1);
    console.log(`fleet: the worker registered again through A is in B's pool after ${back} ms`);
    expect(back).toBeLessThanOrEqual(2000);
    expect((await turn(bUrl, s, 'A-1234 please')).status).toBe(200);
  });

  it('refuses a second process with the same --instance-id while the first lives', async () => {
    const t0 = Date.now();
    const dup = await run(['serve', '--json', '--port', '0', ...serverArgs('fleet-b')], { cwd: dir });
    console.log(`fleet: a duplicate of fleet-b refused to start after ${Date.now() - t0} ms`);
    expect(dup.code).toBe(4);
    expect(dup.stderr).toMatch(/error INSTANCE_ID_IN_USE: instance id fleet-b is in use/);
    expect((await controller(b)).instanceId).toBe('fleet-b');
  });

  it('SIGKILL of the leader: the follower takes over within 5 s; the worker keeps working through B', async () => {
    const killed = Date.now();
    a.child.kill('SIGKILL');
    await exited(a.child);
    const takeover = await until(async () => (await controller(b)).role === 'leader', 10_000);
    const total = Date.now() - killed;
    console.log(`fleet: leader fleet-a SIGKILLed; fleet-b took over after ${total} ms`);
    expect(total).toBeLessThanOrEqual(5000);
    expect(takeover).toBeLessThanOrEqual(5000);
    const env = { BATON_SERVER: b.ready.url as string, BATON_ADMIN_TOKEN: tokens.admin };
    const st = await run(['status', '--json'], { env, cwd: dir });
    expect(JSON.parse(st.stdout)).toMatchObject({
      role: 'leader',
      leader: { instanceId: 'fleet-b', self: true },
    });
    // the worker's ledger was on A (it registered there): its step journal calls fail over to B
    const r = await turn(b.ready.url as string, s, 'where is order B-2345 now?');
    expect(r.status).toBe(200);
    expect(r.body.output.text).toMatch(/B-2345/);
  });

  it('a restart with the same instance id after a SIGKILL starts at once and leads again', async () => {
    // A comes back under its id and follows
    a = await start('fleet-a', Number(new URL(a.ready.url as string).port));
    await until(async () => (await controller(a)).leader?.instanceId === 'fleet-b');
    expect((await controller(a)).role).toBe('follower');
    // kill the leader B and restart it at once, while its presence lease may still be live: the new
    // process waits for that lease (at most 2 s) instead of refusing, then competes for the lock as
    // the same owner (it takes it back at once when it is up before the lock expires; at defaults
    // the 3 s lock usually expires first and either process takes it)
    const old = await controller(b);
    const killed = Date.now();
    b.child.kill('SIGKILL');
    await exited(b.child);
    b = await start('fleet-b', Number(new URL(b.ready.url as string).port));
    const up = Date.now() - killed;
    await until(async () => (await controller(b)).leader !== null, 10_000);
    const after = await controller(b);
    console.log(
      `fleet: fleet-b SIGKILLed and restarted (ready +${up} ms); leader ${after.leader.instanceId as string} ` +
        `from +${after.leader.since - killed} ms (the old lock expired at +${old.leader.leaseExpiresAt - killed} ms)`,
    );
    expect(after.instanceId).toBe('fleet-b');
    expect(after.leader.since - killed).toBeLessThanOrEqual(5000);
    // the restarted router serves turns again
    let last: Json | null = null;
    await waitFor(async () => {
      last = await turn(b.ready.url as string, s, 'A-1234?');
      return last.status === 200;
    }, 20_000).catch((e: unknown) => {
      throw new Error(`no turn served by the restarted fleet-b: ${JSON.stringify(last)} (${String(e)})`);
    });
  });
});
