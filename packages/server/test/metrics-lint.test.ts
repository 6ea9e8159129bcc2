/**
 * `GET /metrics` against the exposition format and Prometheus' naming conventions: a real server
 * with sessions, a rollout whose gates are looked at, and an effect left in doubt, scraped with
 * the read-only token and checked by `promtool check metrics` (Debian's `prometheus` package;
 * required under CI, skipped visibly without it). The alert rules and the dashboard of docs/ use
 * only metrics the server exposes. Both backends.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { schemasDroppedAfterAll } from './fixtures/pg-schemas';
import { parse as parseYaml } from 'yaml';
import { openStore, type Store } from '@baton/store';
import { createMetrics, IN_DOUBT_AFTER_MS } from '../src/metrics';
import { startTestBaton, TOKENS, until, type TestBaton } from './rollout/harness';

const DOCS = join(__dirname, '../../../docs');
const PG_URL = process.env.BATON_TEST_PG_URL;
if (!PG_URL && process.env.CI === 'true') throw new Error('BATON_TEST_PG_URL must be set under CI');
if (!PG_URL) console.warn('/metrics on PostgreSQL skipped: BATON_TEST_PG_URL is not set');
const PROMTOOL = spawnSync('promtool', ['--version']).status === 0;
if (!PROMTOOL && process.env.CI === 'true') throw new Error('promtool must be installed under CI (.ci/run)');
if (!PROMTOOL)
  console.warn('promtool check metrics skipped: promtool is not installed (apt-get install prometheus)');

/** `name → type` from the `# TYPE` lines. */
function types(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

const schemas = schemasDroppedAfterAll(PG_URL);

let t: TestBaton | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

const backends = [
  { name: 'SQLite', skip: false, pg: false },
  { name: 'PostgreSQL', skip: !PG_URL, pg: true },
];

describe.each(backends)('/metrics ($name)', ({ skip, pg: onPg }) => {
  it.skipIf(skip)(
    'passes promtool check metrics, with base units and _total counters',
    async () => {
      let store: Store | undefined;
      if (onPg) {
        const schema = `met_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
        schemas.push(schema);
        store = await openStore(PG_URL!, { schema });
      }
      t = await startTestBaton({
        versions: ['v1', 'v2'],
        controller: { intervalMs: 30 },
        tokens: { ...TOKENS, read: ['read-token'] },
        ...(store ? { store } : {}),
      });
      const { api } = t;
      const sessions = [];
      for (let i = 0; i < 4; i++) {
        const s = await api.createSession();
        expect((await api.turn(s, 'k1', `Where is my order A-${1000 + i}?`)).status).toBe(200);
        sessions.push(s);
      }
      const created = await api.admin('POST', '/v1/rollouts', {
        agent: 'support',
        to: 'v2',
        steps: [
          { fill: 10, migrate: 0, verify: { minSessions: 1000, maxDuration: '1h', interval: '500ms' } },
          { fill: 100, migrate: 100 },
        ],
        gates: [{ metric: 'session.tool_calls', test: 'mann-whitney', tolerance: '+20%' }],
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      await until(
        'gates looked at',
        async () => (await api.admin('GET', `/v1/rollouts/${id}`)).body.lastVerdicts,
        90_000,
      );
      // an effect whose worker went away between intent and outcome, left long enough to be in doubt
      await t.store.recordEffectIntent({
        idempotencyKey: `doubt-${randomBytes(4).toString('hex')}`,
        sessionId: sessions[0]!.id,
        agent: 'support',
        version: 'v1',
        turnId: 'turn-cut',
        name: 'send_email',
        args: { to: 'a@example.com' },
        compensation: null,
      });

      const res = await fetch(`${t.baton.url}/metrics`, { headers: { authorization: 'Bearer read-token' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();

      if (PROMTOOL) {
        const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
        expect(`${lint.stdout}${lint.stderr}`.trim()).toBe('');
        expect(lint.status).toBe(0);
        const rules = spawnSync('promtool', ['check', 'rules', join(DOCS, 'alerts.yml')], {
          encoding: 'utf8',
        });
        expect(rules.status, `${rules.stdout}${rules.stderr}`).toBe(0);
        expect(rules.stdout).toMatch(/SUCCESS: \d+ rules found/);
      }

      const ty = types(text);
      for (const [name, type] of ty) {
        expect(name, 'namespaced').toMatch(/^baton_[a-z0-9_]+$/);
        if (type === 'counter') expect(name, `${name} is a counter`).toMatch(/_total$/);
        else expect(name, `${name} is a ${type}`).not.toMatch(/_total$/);
        // base units: seconds, ratios 0..1, not milliseconds or percent
        expect(name).not.toMatch(/_(ms|milliseconds|percent|minutes|hours)(_|$)/);
      }
      for (const name of [
        'baton_turns_total',
        'baton_turn_duration_seconds',
        'baton_sessions',
        'baton_rollout_phase',
        'baton_rollout_step',
        'baton_rollout_step_started_timestamp_seconds',
        'baton_rollout_weight_ratio',
        'baton_drain_remaining_sessions',
        'baton_drain_progress_ratio',
        'baton_drain_stuck_sessions',
        'baton_rollout_migrated_sessions',
        'baton_gate_verdicts_total',
        'baton_effects_in_doubt',
      ])
        expect(ty.has(name), name).toBe(true);
      expect(text).toMatch(
        new RegExp(`baton_rollout_weight_ratio\\{rollout="${id}",agent="support",kind="fill"\\} 0\\.1\\n`),
      );
      // not in doubt yet: its turn could still be running
      expect(text).not.toMatch(/baton_effects_in_doubt\{/);
      // the same store, looked at once the intent is older than IN_DOUBT_AFTER_MS
      const later = createMetrics(t.store, { now: () => Date.now() + IN_DOUBT_AFTER_MS + 60_000 });
      expect(await later.registry.metrics()).toMatch(
        /baton_effects_in_doubt\{agent="support",version="v1"\} 1\n/,
      );
      const started = /baton_rollout_step_started_timestamp_seconds\{[^}]*\} (\S+)/.exec(text);
      expect(Number(started?.[1])).toBeGreaterThan(Date.now() / 1000 - 120);
      expect(text).toMatch(
        new RegExp(`baton_gate_verdicts_total\\{rollout="${id}",gate="[^"]+",verdict="\\w+"\\} [1-9]`),
      );

      // every metric the shipped alert rules and dashboard query is one the server exposes
      const exposed = new Set([...ty.keys()].flatMap((n) => [n, `${n}_bucket`, `${n}_sum`, `${n}_count`]));
      const alerts = parseYaml(readFileSync(join(DOCS, 'alerts.yml'), 'utf8')) as {
        groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
      };
      const dashboard = JSON.parse(readFileSync(join(DOCS, 'grafana-dashboard.json'), 'utf8')) as {
        panels: Array<{ targets?: Array<{ expr: string }> }>;
      };
      const exprs = [
        ...alerts.groups.flatMap((g) => g.rules.map((r) => r.expr)),
        ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr)),
      ];
      expect(exprs.length).toBeGreaterThan(8);
      for (const e of exprs) {
        const used = e.match(/\bbaton_[a-z0-9_]+/g) ?? [];
        expect(used.length, e).toBeGreaterThan(0);
        for (const u of used) expect(exposed.has(u), `${u} in ${e}`).toBe(true);
      }
    },
    240_000,
  );
});
