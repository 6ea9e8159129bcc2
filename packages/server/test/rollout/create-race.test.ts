/**
 * Creating a rollout while a controller takes its first step: found by the chaos suite (two
 * routers, the leader's pass ran between the insert and the creating request's own first step),
 * where the request answered 409 CONFLICT for a rollout it had created, and the `created` and
 * `forecast` decisions were never recorded.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '@baton/store';
import { applyEvent } from '../../src/rollout/controller';
import { startTestBaton } from './harness';

describe('POST /v1/rollouts racing a controller pass', () => {
  it('answers 201 for the rollout it created and records every decision once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-create-race-'));
    const inner = await openStore(join(dir, 'baton.db'));
    let raced = 0;
    // another router's controller: its pass runs right after the rollout is inserted
    const store = new Proxy(inner, {
      get(target, prop) {
        if (prop === 'createRollout')
          return async (...args: Parameters<Store['createRollout']>) => {
            const rec = await target.createRollout(...args);
            await applyEvent(target, rec.id, { type: 'tick' }, () => Date.now());
            raced += 1;
            return rec;
          };
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const t = await startTestBaton({ versions: ['v1', 'v2'], controller: false, store, dir });
    try {
      const s = await t.api.createSession();
      expect((await t.api.turn(s, 'k1', 'Where is my order A-1000?')).status).toBe(200);
      const created = await t.api.admin('POST', '/v1/rollouts', {
        agent: 'support',
        to: 'v2',
        steps: [
          { fill: 50, migrate: 0, verify: { minSessions: 0, minDuration: '1h', maxDuration: '2h' } },
          { fill: 100 },
        ],
      });
      expect(raced).toBe(1);
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ phase: 'progressing', step: 0 });
      const id = created.body.id as string;
      const kinds = (await t.api.admin('GET', `/v1/rollouts/${id}/decisions`)).body.items.map(
        (d: { kind: string }) => d.kind,
      );
      expect([...kinds].sort()).toEqual(['created', 'forecast', 'preflight-passed', 'step-started'].sort());
      // what the request knows is first in the log, though the controller's step was taken before
      expect(kinds.slice(0, 2)).toEqual(['created', 'forecast']);
      // the route is the first step's
      expect(await t.store.getRoute('support')).toMatchObject({ stable: 'v1', candidate: 'v2', weight: 50 });
      // and a second creation is refused as the first rollout is active
      const again = await t.api.admin('POST', '/v1/rollouts', {
        agent: 'support',
        to: 'v2',
        steps: [{ fill: 100 }],
      });
      expect(again.body.error.code).toBe('ROLLOUT_ACTIVE');
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
