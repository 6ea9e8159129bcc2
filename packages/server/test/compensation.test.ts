/**
 * Compensations that run (invariant 9), over real HTTP on loopback and a real SQLite file:
 * a worker process SIGKILLed in the middle of a compensation, whose retry completes it with the
 * compensation's own effect executed exactly once (counted in a side-channel file, not by the
 * ledger); a compensation that throws ends `failed` and can be retried; an effect whose version
 * is retired is compensated by another version declaring the same name; a dry run changes
 * nothing; bad input is refused with stable codes and changes nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EffectRecord } from '@baton/core';
import type { Store } from '@baton/store';
import {
  ADMIN,
  TOKENS,
  TRAFFIC,
  call,
  newSession,
  PG_URL,
  postgresTarget,
  sqliteTarget,
  startServer,
  stopServer,
  type Running,
} from './fixtures/harness';
import { REFUND_AGENT, refundAgent } from './fixtures/refund-agent';
import { rolloutRoutes } from '../src/rollout/api';

const here = dirname(fileURLToPath(import.meta.url));

const skipPg = !PG_URL && process.env.CI !== 'true';
if (skipPg) console.warn('BATON_TEST_PG_URL is not set: skipping the compensation tests on PostgreSQL');

let dir: string;
let store: Store;
let cleanup: () => Promise<void>;
let running: Running | null = null;
const children: ChildProcess[] = [];

function refunds(): string[] {
  const f = join(dir, 'refunds');
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not reached in time: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGKILL');
  await gone;
}

/** A worker process for `label`, registered with the server; resolves with its worker id and process. */
async function spawnWorker(label: string): Promise<{ child: ChildProcess; workerId: string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(here, 'fixtures', 'refund-worker-child.ts'),
      running!.url,
      TOKENS.worker[0]!,
      label,
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const info = await new Promise<{ url: string; manifest: unknown }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
    child.once('exit', (code, sig) => reject(new Error(`worker exited early (${code ?? sig})`)));
  });
  const reg = await call(running!.http, 'POST', '/v1/workers', {
    headers: ADMIN,
    body: { url: info.url, manifest: info.manifest },
  });
  expect(reg.status, JSON.stringify(reg.body)).toBe(201);
  return { child, workerId: reg.body.id as string };
}

/** One turn of a new session: one committed `charge` effect; returns it. */
async function charge(): Promise<EffectRecord> {
  const s = await newSession(running!.http, REFUND_AGENT);
  const r = await call(running!.http, 'POST', `/v1/sessions/${s.id}/turns`, {
    headers: { ...s.headers, 'idempotency-key': `k-${s.id}` },
    body: { input: 'charge me' },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const items = (await store.listEffects({ sessionId: s.id })).items;
  expect(items).toHaveLength(1);
  return items[0]!;
}

const compensate = (id: string, body: unknown = { dryRun: false }) =>
  call(running!.http, 'POST', `/v1/effects/${id}/compensate`, { headers: ADMIN, body });

async function allEffects(): Promise<EffectRecord[]> {
  return (await store.listEffects({ agent: REFUND_AGENT, limit: 1000 })).items;
}

for (const target of [sqliteTarget, postgresTarget]) {
  describe.skipIf(target === postgresTarget && skipPg)(`compensations that run (${target.name})`, () => {
    beforeEach(async () => {
      if (target === postgresTarget && !PG_URL) throw new Error('CI=true requires BATON_TEST_PG_URL');
      dir = mkdtempSync(join(tmpdir(), 'baton-compensation-'));
      const t = await target.open();
      store = t.store;
      cleanup = t.cleanup;
    });
    afterEach(async () => {
      for (const c of children.splice(0)) await stop(c);
      if (running) await stopServer(running);
      running = null;
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    });
    suite();
  });
}

function suite(): void {
  it('a worker SIGKILLed mid-compensation: the retry completes it, its own effect ran exactly once', async () => {
    running = await startServer(store, []);
    const first = await spawnWorker('p1');
    const e = await charge();
    expect(e).toMatchObject({ status: 'committed', compensation: 'refund', compensationState: 'pending' });

    // the first run hangs after its own effect committed; the worker is killed there
    writeFileSync(join(dir, 'hang-once'), '');
    const cut = compensate(e.id);
    await until(
      'the refund executed and the run hangs',
      () => refunds().length === 1 && !existsSync(join(dir, 'hang-once')),
    );
    await until('the run holds the effect', async () => {
      const now = await store.getEffectById(e.id);
      return now.compensationState === 'running';
    });
    await stop(first.child);
    const cutReply = await cut;
    expect(cutReply.status).toBe(200);
    expect(cutReply.body.effect).toMatchObject({ compensationState: 'failed', compensationAttempts: 1 });
    expect(cutReply.body.effect.compensationError).toMatch(/WORKER_ERROR|UNREACHABLE/);

    // a new worker of the same version retries it: the refund is replayed from the ledger, not re-run
    await spawnWorker('p1');
    const retry = await compensate(e.id);
    expect(retry.status, JSON.stringify(retry.body)).toBe(200);
    expect(retry.body.effect.compensationError).toBeNull();
    expect(retry.body.effect).toMatchObject({
      status: 'committed',
      compensationState: 'compensated',
      compensationAttempts: 2,
      compensationVersion: 'p1',
      compensationResult: { refunded: e.result && (e.result as { chargeId: string }).chargeId, by: 'p1' },
    });
    expect(refunds()).toHaveLength(1);
    // the compensation's own effect is in the ledger once, naming what it compensates
    const own = (await store.listEffects({ agent: REFUND_AGENT, kind: 'compensation' })).items;
    expect(own).toHaveLength(1);
    expect(own[0]).toMatchObject({ name: 'refund_payment', status: 'committed', compensates: e.id });
    // done is done: a third call is refused, nothing runs
    const again = await compensate(e.id);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('EFFECT_NOT_COMPENSABLE');
    expect(refunds()).toHaveLength(1);
  }, 60_000);

  it('a compensation that throws ends failed with the error, and can be retried', async () => {
    running = await startServer(store, [refundAgent('p1', dir)]);
    const e = await charge();
    writeFileSync(join(dir, 'fail'), '');
    const failed = await compensate(e.id);
    expect(failed.status).toBe(200);
    expect(failed.body.effect).toMatchObject({ compensationState: 'failed', compensationAttempts: 1 });
    expect(failed.body.effect.compensationError).toMatch(/the payment provider refused the refund/);
    expect(refunds()).toHaveLength(0);
    rmSync(join(dir, 'fail'));
    const ok = await compensate(e.id);
    expect(ok.body.effect).toMatchObject({ compensationState: 'compensated', compensationAttempts: 2 });
    expect(refunds()).toHaveLength(1);
  });

  it('an effect whose version is retired is compensated by another version declaring the same name', async () => {
    running = await startServer(store, [refundAgent('p1', dir)]);
    const e = await charge();
    expect(e.version).toBe('p1');
    // p1's workers go away; p2 (same compensation name) is registered
    for (const w of running.server.pool.entries()) await running.server.pool.remove(w.id);
    const dry0 = await compensate(e.id, { dryRun: true });
    expect(dry0.body.outcome).toMatchObject({ action: 'hold', version: null });
    expect(dry0.body.outcome.reason).toMatch(/no healthy protocol-2 worker of p1/);
    const { InProcessWorker } = await import('@baton/sdk');
    const { StoreLedgerClient } = await import('../src/ledger');
    const p2 = refundAgent('p2', dir);
    await running.server.pool.addInProcess(
      new InProcessWorker(p2, new StoreLedgerClient(store, running.server.ctx.capabilities)),
      p2.manifest(),
    );
    const dry = await compensate(e.id, { dryRun: true });
    expect(dry.body.outcome).toMatchObject({ action: 'run', version: 'p2' });
    const r = await compensate(e.id);
    expect(r.body.effect).toMatchObject({ compensationState: 'compensated', compensationVersion: 'p2' });
    expect(refunds()).toEqual([expect.stringMatching(new RegExp(`^${e.id} .* by p2$`))]);
  });

  it('a run cut by a crash is taken over once its hold expired; the dead run’s capability records nothing', async () => {
    running = await startServer(store, [refundAgent('p1', dir)]);
    const e = await charge();
    // a router died mid-run: the effect is running, held by a run nobody will finish
    const claimed = await store.claimCompensation(e.id, {
      owner: 'dead-router/run',
      version: 'p1',
      ttlMs: 2000,
    });
    const cap = await running.server.ctx.capabilities.issueCompensation(e, 'dead-router/run', 60_000);
    const held = await compensate(e.id);
    expect([held.status, held.body.error.code]).toEqual([409, 'CONFLICT']);
    await new Promise((r) => setTimeout(r, Math.max(0, claimed.compensationExpiresAt! - Date.now() + 20)));
    const taken = await compensate(e.id);
    expect(taken.body.effect).toMatchObject({ compensationState: 'compensated', compensationAttempts: 2 });
    expect(refunds()).toHaveLength(1);
    // the dead run's late effect is refused: its hold was taken over and the run finished
    const late = await call(running.http, 'POST', '/v1/worker/effects/intent', {
      headers: { authorization: `Bearer ${TOKENS.worker[0]}`, 'baton-capability': cap },
      body: {
        idempotencyKey: `${e.idempotencyKey}:compensate:0`,
        sessionId: e.sessionId,
        agent: REFUND_AGENT,
        version: 'p1',
        turnId: `compensate:${e.id}`,
        name: 'refund_payment',
        args: null,
        compensation: null,
      },
    });
    expect([late.status, late.body.error.code]).toEqual([403, 'CAPABILITY_INVALID']);
    expect(late.body.error.details.reason).toMatch(/another run took it over|ended/);
  });

  it('dry runs change nothing in the store; a real rollout-wide run is resumable', async () => {
    running = await startServer(store, [refundAgent('p1', dir), refundAgent('p2', dir)], {
      routes: [rolloutRoutes()],
    });
    const effects = [await charge(), await charge(), await charge()];
    const rollout = await store.createRollout({
      agent: REFUND_AGENT,
      from: 'p2',
      to: 'p1',
      spec: {},
      phase: 'aborted',
      state: null,
    });
    const before = await allEffects();
    const dry = await call(running.http, 'POST', `/v1/rollouts/${rollout.id}/compensate`, {
      headers: ADMIN,
      body: {},
    });
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, totals: { effects: 3, ran: 3, compensated: 0 } });
    await compensate(effects[0]!.id, { dryRun: true });
    expect(await allEffects()).toEqual(before);
    expect(await store.listDecisions(rollout.id)).toEqual([]);
    expect(refunds()).toHaveLength(0);

    // one effect was compensated already (a run cut short): the rollout-wide run continues from there
    await compensate(effects[0]!.id);
    const real = await call(running.http, 'POST', `/v1/rollouts/${rollout.id}/compensate`, {
      headers: ADMIN,
      body: { dryRun: false, by: 'ops' },
    });
    expect(real.body.totals).toMatchObject({ effects: 3, ran: 2, compensated: 2, failed: 0, skipped: 1 });
    expect(refunds()).toHaveLength(3);
    const decisions = await store.listDecisions(rollout.id);
    expect(decisions.map((d) => d.kind)).toEqual(['compensations-ran']);
    const report = await call(running.http, 'GET', `/v1/rollouts/${rollout.id}/report`, { headers: ADMIN });
    expect(report.body.totals).toMatchObject({ effects: 3, compensated: 3, pendingCompensation: 0 });
  });

  it('bad input: unknown ids, effects not committed, compensations nobody declares; nothing changes', async () => {
    running = await startServer(store, [refundAgent('p1', dir)], { routes: [rolloutRoutes()] });
    const e = await charge();
    const s = await store.getSession(e.sessionId);
    // an effect that failed, and one naming a compensation no registered version declares
    await store.recordEffectIntent({
      idempotencyKey: 'k-failed',
      sessionId: s.id,
      agent: REFUND_AGENT,
      version: 'p1',
      turnId: 't-x',
      name: 'charge',
      args: null,
      compensation: 'refund',
    });
    const failedEffect = await store.failEffect('k-failed', 'card declined');
    await store.recordEffectIntent({
      idempotencyKey: 'k-undeclared',
      sessionId: s.id,
      agent: REFUND_AGENT,
      version: 'p1',
      turnId: 't-y',
      name: 'charge',
      args: null,
      compensation: 'nobody_declares_this',
    });
    const undeclared = await store.commitEffect('k-undeclared', { chargeId: 'x' });
    const before = await allEffects();

    const unknown = await compensate('e_does_not_exist');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'EFFECT_NOT_FOUND']);
    const notCommitted = await compensate(failedEffect.id);
    expect([notCommitted.status, notCommitted.body.error.code]).toEqual([409, 'EFFECT_NOT_COMPENSABLE']);
    const nobody = await compensate(undeclared.id);
    expect([nobody.status, nobody.body.error.code]).toEqual([422, 'COMPENSATION_UNDECLARED']);
    const badBody = await compensate(e.id, { dryRun: 'yes' });
    expect([badBody.status, badBody.body.error.code]).toEqual([400, 'VALIDATION']);
    const noRollout = await call(running.http, 'POST', '/v1/rollouts/r_nope/compensate', {
      headers: ADMIN,
      body: { dryRun: false },
    });
    expect([noRollout.status, noRollout.body.error.code]).toEqual([404, 'ROLLOUT_NOT_FOUND']);
    const rollout = await store.createRollout({
      agent: REFUND_AGENT,
      from: 'p0',
      to: 'p1',
      spec: {},
      phase: 'aborted',
      state: null,
    });
    for (const [ids, status, code] of [
      [[e.id, 'e_nope'], 404, 'EFFECT_NOT_FOUND'],
      [[e.id, failedEffect.id], 409, 'EFFECT_NOT_COMPENSABLE'],
      [[e.id, undeclared.id], 422, 'COMPENSATION_UNDECLARED'],
    ] as const) {
      const r = await call(running.http, 'POST', `/v1/rollouts/${rollout.id}/compensate`, {
        headers: ADMIN,
        body: { dryRun: false, effects: ids },
      });
      expect([r.status, r.body.error.code]).toEqual([status, code]);
    }
    const noAuth = await call(running.http, 'POST', `/v1/effects/${e.id}/compensate`, {
      headers: TRAFFIC,
      body: { dryRun: false },
    });
    expect(noAuth.status).toBe(403);
    expect(await allEffects()).toEqual(before);
    expect(refunds()).toHaveLength(0);

    // an operator skips one by hand: not-compensable, with who and why; then it cannot run
    const skipped = await compensate(e.id, { skip: { by: 'bo', reason: 'refunded by phone' } });
    expect(skipped.body.effect).toMatchObject({
      compensationState: 'not-compensable',
      compensationBy: 'bo',
      compensationReason: 'refunded by phone',
    });
    const after = await compensate(e.id);
    expect(after.body.error.code).toBe('EFFECT_NOT_COMPENSABLE');
  });
}
