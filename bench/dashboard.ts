/// <reference lib="dom" />
/**
 * `npm run bench -- dashboard [sessions]`: the rollout page of the web dashboard with 100 000
 * sessions in the store (seeded through the store's own createSession), loaded in Debian's
 * Chromium (headless, playwright-core). A load is timed from navigation (performance.now() = 0)
 * until the page's session counts equal what `GET /v1/rollouts/{id}` answers, with the admin
 * token already in sessionStorage. One cold load, then the median of 10 warm ones (same browser
 * context, so its cache is warm; a second's pause before each, so the loads do not overlap). The
 * controller runs as in production (1 s passes, a sample of the counts every 5 s).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { sha256Hex, systemClock } from '@baton/core';
import { InProcessWorker } from '@baton/sdk';
import { openStore } from '@baton/store';
import { Capabilities, StoreLedgerClient, startBaton } from '@baton/server';
import { supportAgent } from '@baton/example-support-agent';
import { atMost, percentile, round, type BenchFn } from './lib';

const CHROMIUM = '/usr/bin/chromium';
const TOKENS = { traffic: ['traffic-token'], admin: ['admin-token'], worker: ['worker-token'] };
const STATUSES = ['idle', 'idle', 'idle', 'waiting', 'completed'] as const;

const bench: BenchFn = async (args) => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const total = Number(args[0] ?? 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-dashboard-'));
  const store = await openStore(join(dir, 'baton.db'));
  const ledger = new StoreLedgerClient(store, new Capabilities(store, systemClock));
  const agents = (['v1', 'v2'] as const).map((label) => {
    const def = supportAgent(label);
    return { client: new InProcessWorker(def, ledger), manifest: def.manifest() };
  });
  const baton = await startBaton({
    store,
    tokens: TOKENS,
    agents,
    controller: { intervalMs: 1000 },
    limits: { healthIntervalMs: 0 },
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const t0 = Date.now();
    const hash = sha256Hex('bench');
    for (let i = 0; i < total; i++) {
      // 70% on blue, 30% already on green; most idle, some waiting or completed
      await store.createSession({
        agent: 'support',
        version: i % 10 < 7 ? 'v1' : 'v2',
        tokenHash: hash,
        tenant: `t${i % 50}`,
        status: STATUSES[i % STATUSES.length],
      });
    }
    const seedMs = Date.now() - t0;
    const headers = { authorization: 'Bearer admin-token', 'content-type': 'application/json' };
    const created = await fetch(`${baton.url}/v1/rollouts`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        agent: 'support',
        to: 'v2',
        preflight: { enabled: false },
        migration: { policy: 'at-boundary', eager: false },
        steps: [
          { fill: 10, migrate: 0, verify: { minSessions: 1_000_000, maxDuration: '1h' } },
          { fill: 100 },
        ],
      }),
    });
    if (created.status !== 201) throw new Error(`rollout: ${created.status} ${await created.text()}`);
    const id = ((await created.json()) as { id: string }).id;
    console.error(`seeded ${total} sessions in ${seedMs} ms; rollout ${id} created`);
    const statusOnce = async (): Promise<{ ms: number; want: Record<string, number> }> => {
      const a = performance.now();
      const r = await fetch(`${baton.url}/v1/rollouts/${id}`, { headers });
      const body = (await r.json()) as { sessions: Record<string, Record<string, number>> };
      const want: Record<string, number> = {};
      for (const [v, by] of Object.entries(body.sessions))
        for (const [st, n] of Object.entries(by)) if (n > 0) want[`${v}:${st}`] = n;
      return { ms: performance.now() - a, want };
    };
    const api = [];
    for (let i = 0; i < 5; i++) api.push((await statusOnce()).ms);
    const { want } = await statusOnce();
    const shown = Object.values(want).reduce((a, b) => a + b, 0);
    if (shown !== total) throw new Error(`the API counts ${shown} sessions, seeded ${total}`);

    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await ctx.addInitScript((t) => {
      if (location.protocol === 'http:') sessionStorage.setItem('baton.adminToken', t);
    }, 'admin-token');
    const page = await ctx.newPage();
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    page.on('requestfailed', (r) =>
      console.error(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`),
    );
    const url = `${baton.url}/dashboard/#/rollouts/${encodeURIComponent(id)}`;
    const load = async (): Promise<number> => {
      await page.goto('about:blank');
      // let the previous load's last requests (samples, distributions) finish: loads do not overlap
      await new Promise((r) => setTimeout(r, 1000));
      await page.goto(url);
      const h = await page.waitForFunction(
        (w) => {
          const got: Record<string, number> = {};
          for (const e of Array.from(document.querySelectorAll('[data-count]'))) {
            const k = e.getAttribute('data-count')!;
            const n = Number(e.textContent);
            if (!k.endsWith(':total') && n > 0) got[k] = n;
          }
          const keys = Object.keys(w);
          const equal =
            keys.length > 0 && keys.length === Object.keys(got).length && keys.every((k) => got[k] === w[k]);
          return equal ? performance.now() : false;
        },
        want,
        { polling: 'raf', timeout: 120_000 },
      );
      return (await h.jsonValue()) as number;
    };
    const cold = await load();
    console.error(`cold load: ${round(cold, 1)} ms`);
    const warm: number[] = [];
    for (let i = 0; i < 10; i++) warm.push(await load());
    warm.sort((a, b) => a - b);
    api.sort((a, b) => a - b);
    const median = percentile(warm, 50);
    return {
      figures: {
        sessions: total,
        'seed through the store (s)': round(seedMs / 1000, 1),
        'GET /v1/rollouts/{id} median (ms)': round(percentile(api, 50), 1),
        'cold load until counts equal the API (ms)': round(cold, 1),
        'warm load median of 10 (ms)': round(median, 1),
        'warm load min (ms)': round(warm[0]!, 1),
        'warm load max (ms)': round(warm[warm.length - 1]!, 1),
      },
      targets: [atMost('warm load until the counts equal the API, median of 10 (ms)', median, 1000)],
    };
  } finally {
    await browser.close();
    await baton.close({ deadlineMs: 2000 });
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

export default bench;
