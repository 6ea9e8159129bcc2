/// <reference lib="dom" />
/**
 * The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core, against
 * Baton on loopback with the example agent mid-rollout (see scenario.ts). Skipped, visibly, when
 * /usr/bin/chromium is absent; under CI=true its absence fails the suite instead.
 * Screenshots go to .tmp/dashboard/ (not committed).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startScenario, type Scenario } from './scenario';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SHOTS = path.resolve(import.meta.dirname, '../../../../.tmp/dashboard');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const ADMIN_TOKEN = 'admin-token';

if (!HAVE_CHROMIUM) {
  console.warn(`dashboard browser tests SKIPPED: ${CHROMIUM} is absent (apt-get install -y chromium)`);
}

describe('dashboard prerequisites', () => {
  it.runIf(process.env.CI === 'true')(
    'under CI the browser is installed (the browser tests must run)',
    () => {
      expect(HAVE_CHROMIUM, `${CHROMIUM} is missing; .ci/run installs it with apt`).toBe(true);
    },
  );
});

describe.skipIf(!HAVE_CHROMIUM)('dashboard in Chromium', () => {
  let sc: Scenario;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    sc = await startScenario();
    base = `${sc.t.baton.url}/dashboard/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await sc?.t.close();
  });

  /** A page with the token already in session storage (as after signing in once). */
  async function signedIn(hash = ''): Promise<Page> {
    // bypassCSP only so the test can inject axe-core; the pages themselves run under the CSP
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    await ctx.addInitScript((t) => sessionStorage.setItem('baton.adminToken', t), ADMIN_TOKEN);
    const page = await ctx.newPage();
    await page.goto(base + hash);
    return page;
  }

  async function axeViolations(page: Page): Promise<Array<{ id: string; nodes: number; help: string }>> {
    await page.addScriptTag({ path: AXE });
    return page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run(o: unknown): Promise<any> } }).axe;
      const r = await axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } });
      return (r.violations as Array<{ id: string; nodes: unknown[]; help: string }>).map((v) => ({
        id: v.id,
        nodes: v.nodes.length,
        help: v.help,
      }));
    });
  }

  it('the accessibility check can fail: axe-core finds an unlabelled field and low contrast', async () => {
    const ctx = await browser.newContext({ bypassCSP: true });
    const page = await ctx.newPage();
    await page.setContent(
      '<!doctype html><html lang="en"><title>t</title><main><input type="text"><p style="color:#ccc;background:#fff">faint</p></main></html>',
    );
    const ids = (await axeViolations(page)).map((v) => v.id);
    expect(ids).toContain('label');
    expect(ids).toContain('color-contrast');
    await ctx.close();
  });

  const api = (p: string) => sc.t.api.admin('GET', p).then((r) => r.body);

  it('a wrong token shows a clear error and does not sign in', async () => {
    const ctx = await browser.newContext({ bypassCSP: true });
    const page = await ctx.newPage();
    await page.goto(base);
    // keyboard only: the token field takes the first Tab
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('token');
    await page.keyboard.type('not-the-admin-token');
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.textContent()).toContain('That token was refused');
    expect(await alert.textContent()).toContain('UNAUTHORIZED');
    expect(await page.evaluate(() => sessionStorage.getItem('baton.adminToken'))).toBeNull();
    expect(await page.getByRole('navigation', { name: 'Sections' }).count()).toBe(0);
    await page.screenshot({ path: path.join(SHOTS, 'login-wrong-token.png') });
    expect(await axeViolations(page)).toEqual([]);
    // the right one signs in, and is kept for the tab only
    await page.fill('#token', ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Rollouts' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('baton.adminToken'))).toBe(ADMIN_TOKEN);
    expect(page.url()).not.toContain(ADMIN_TOKEN);
    await ctx.close();
  });

  it('the rollouts list and the rollout page show the same counts as the API', async () => {
    const page = await signedIn();
    await page.getByRole('link', { name: sc.rolloutId }).click();
    await page.getByRole('heading', { name: /Rollout/ }).waitFor();
    // the page and the API agree (both read live: poll until they show the same snapshot)
    await expect
      .poll(
        async () => {
          const status = await api(`/v1/rollouts/${sc.rolloutId}`);
          const want: Record<string, number> = {};
          for (const [v, by] of Object.entries(status.sessions as Record<string, Record<string, number>>))
            for (const [st, n] of Object.entries(by as Record<string, number>))
              if (n > 0) want[`${v}:${st}`] = n;
          const shown = await page.$$eval('[data-count]', (els) =>
            Object.fromEntries(els.map((e) => [e.getAttribute('data-count')!, Number(e.textContent)])),
          );
          const got: Record<string, number> = {};
          for (const [k, n] of Object.entries(shown)) if (!k.endsWith(':total') && n > 0) got[k] = n;
          return { equal: JSON.stringify(got) === JSON.stringify(want), got, want };
        },
        { timeout: 15_000 },
      )
      .toMatchObject({ equal: true });
    const status = await api(`/v1/rollouts/${sc.rolloutId}?stragglers=20`);
    expect(Object.keys(status.sessions).length).toBe(2);
    expect(await page.textContent('[data-field=fill]')).toBe(`${status.weights.fill}%`);
    // stragglers with their reasons
    const reasons = await page.$$eval('[data-straggler]', (els) =>
      els.map((e) => e.getAttribute('data-straggler')),
    );
    expect(reasons.length).toBe(status.drain.stragglers.items.length);
    expect(reasons.length).toBeGreaterThan(0);
    // the sessions chart has drawn its samples
    await page.locator('[data-chart=sessions] canvas').first().waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'rollout.png'), fullPage: true });
    expect(await axeViolations(page)).toEqual([]);
    await page.context().close();
  });

  it('a gate shows blue’s and green’s distributions as a drawn chart, with its statistics', async () => {
    const page = await signedIn(`#/rollouts/${encodeURIComponent(sc.rolloutId)}`);
    const gate = page.getByRole('article', { name: 'Gate tool-calls' });
    const canvas = gate.locator('[data-chart=distribution] canvas').first();
    await canvas.waitFor();
    const drawn = await canvas.evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let blue = 0;
      let green = 0;
      for (let i = 0; i < d.length; i += 4) {
        // the bars' fills: blue (31,95,191) and green (26,127,55) at 45% over white
        if (d[i + 3]! > 0 && d[i + 2]! > d[i]! + 40 && d[i + 2]! > d[i + 1]!) blue++;
        if (d[i + 3]! > 0 && d[i + 1]! > d[i]! + 40 && d[i + 1]! > d[i + 2]! + 20) green++;
      }
      return { w: c.width, h: c.height, blue, green };
    });
    expect(drawn.w).toBeGreaterThan(0);
    expect(drawn.blue).toBeGreaterThan(50);
    expect(drawn.green).toBeGreaterThan(50);
    const status = await api(`/v1/rollouts/${sc.rolloutId}`);
    const g = status.gates.find((x: { name: string }) => x.name === 'tool-calls');
    const text = (await gate.textContent()) ?? '';
    expect(text).toContain(`v1 ${g.evidence.nBlue}, v2 ${g.evidence.nGreen}`);
    expect(text).toContain('p-value');
    await gate.screenshot({ path: path.join(SHOTS, 'gate.png') });
    await page.context().close();
  });

  it('a migrated session’s diff shows the renamed field next to both states', async () => {
    const page = await signedIn(`#/sessions/${encodeURIComponent(sc.migratedId)}`);
    await page.getByRole('button', { name: 'Show the state diff' }).click();
    await page.locator('[data-diff="removed:orderId"]').waitFor();
    expect(await page.locator('[data-diff="added:orders"]').count()).toBe(1);
    expect(await page.locator('[data-renamed="orderId->orders"]').count()).toBe(1);
    // what the API holds on both sides of the migration
    const m = (await api(`/v1/migrations?session=${sc.migratedId}&status=ok`)).items[0];
    const before = await api(`/v1/sessions/${sc.migratedId}/checkpoints/${m.seq - 1}`);
    const after = await api(`/v1/sessions/${sc.migratedId}/checkpoints/${m.seq}`);
    expect(before.body.state.orderId).toMatch(/^A-\d{4}$/);
    expect(after.body.state.orders).toEqual([before.body.state.orderId]);
    expect(await page.locator('[data-diff="removed:orderId"]').textContent()).toContain(
      before.body.state.orderId,
    );
    await page.screenshot({ path: path.join(SHOTS, 'session-diff.png'), fullPage: true });
    expect(await axeViolations(page)).toEqual([]);
    await page.context().close();
  });

  it('the sessions search filters on the server and the effects ledger shows compensation status', async () => {
    const page = await signedIn('#/sessions');
    await page.getByLabel('Version').fill('v2');
    await page.getByRole('button', { name: 'Search' }).click();
    const want = (await api('/v1/sessions?version=v2&limit=50')).items.map((s: { id: string }) => s.id);
    await expect.poll(() => page.$$eval('table a.mono', (as) => as.map((a) => a.textContent))).toEqual(want);
    await page.goto(`${base}#/effects`);
    await page.getByRole('heading', { name: 'Effects ledger' }).waitFor();
    const effects = (await api('/v1/effects?limit=50')).items;
    expect(effects.length).toBeGreaterThan(0);
    await expect.poll(() => page.locator('tbody tr').count()).toBe(effects.length);
    expect(await page.locator('tbody').textContent()).toContain(effects[0].compensationState);
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: path.join(SHOTS, 'effects.png'), fullPage: true });
    await page.context().close();
  });

  it('a click on pause, confirmed, pauses the rollout (checked through the API)', async () => {
    const page = await signedIn(`#/rollouts/${encodeURIComponent(sc.rolloutId)}`);
    expect((await api(`/v1/rollouts/${sc.rolloutId}`)).phase).toBe('progressing');
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    // nothing changes before the confirmation
    expect((await api(`/v1/rollouts/${sc.rolloutId}`)).phase).toBe('progressing');
    await dialog.getByLabel(/Reason/).fill('checking the dashboard');
    await dialog.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(async () => (await api(`/v1/rollouts/${sc.rolloutId}`)).phase).toBe('paused');
    const status = await api(`/v1/rollouts/${sc.rolloutId}`);
    expect(status.paused.reason).toBe('checking the dashboard');
    // the page follows (pushed by the event stream or the command's answer)
    await expect.poll(() => page.locator('h2 .badge').first().textContent()).toBe('paused');
    expect(await page.getByRole('button', { name: 'Resume' }).isEnabled()).toBe(true);
    await page.context().close();
  });
});
