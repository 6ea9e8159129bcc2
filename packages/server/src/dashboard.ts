/**
 * The web dashboard: static files under `/dashboard/`, served by `baton serve` itself. The pages
 * are ES modules (Preact with htm, uPlot for charts) loaded straight from their npm packages, so
 * there is no build step; every figure they show comes from the documented admin API, called with
 * the admin token the user types in (kept in the browser's sessionStorage, never in a URL).
 *
 * The files are public (they hold no data); the API calls they make are authenticated as usual.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

/** Where the dashboard's own files are. */
export const DASHBOARD_DIR = path.resolve(here, '..', 'dashboard');
export const DASHBOARD_PATH = '/dashboard/';

/** The npm packages the pages import, each served from its own directory (only these file kinds). */
const VENDOR: ReadonlyArray<{ name: string; files: RegExp }> = [
  { name: 'preact', files: /^\/(dist\/preact\.mjs|hooks\/dist\/hooks\.mjs)$/ },
  { name: 'htm', files: /^\/dist\/htm\.mjs$/ },
  { name: 'uplot', files: /^\/dist\/(uPlot\.esm\.js|uPlot\.min\.css)$/ },
];

/** The package's root directory (the one holding its package.json). */
function packageDir(name: string): string | null {
  try {
    let dir = path.dirname(require.resolve(name));
    for (;;) {
      const pj = path.join(dir, 'package.json');
      if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === name)
        return dir;
      const up = path.dirname(dir);
      if (up === dir) return null;
      dir = up;
    }
  } catch {
    return null;
  }
}

/** The Content-Security-Policy of the pages: own files only, and the hash of the one inline import map. */
function contentSecurityPolicy(indexHtml: string): string {
  const m = /<script type="importmap">([\s\S]*?)<\/script>/.exec(indexHtml);
  const hash = m ? `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'` : '';
  return [
    "default-src 'self'",
    `script-src 'self' ${hash}`.trim(),
    // uPlot positions its legend and cursor with inline styles
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function dashboardRoutes(): (app: FastifyInstance) => void {
  return (app) => {
    const index = path.join(DASHBOARD_DIR, 'index.html');
    const vendors = VENDOR.map((v) => ({ ...v, dir: packageDir(v.name) }));
    const missing = vendors.filter((v) => v.dir === null).map((v) => v.name);
    if (!existsSync(index) || missing.length > 0) {
      const why = missing.length > 0 ? `missing packages: ${missing.join(', ')}` : `no ${index}`;
      app.log.warn(`dashboard not served (${why}); run \`npm ci\` at the repository root to install it`);
      app.get('/dashboard/', async (_req, reply) =>
        reply.code(503).send({
          error: {
            code: 'DASHBOARD_UNAVAILABLE',
            message: `the dashboard's files are not installed (${why}); run \`npm ci\` at the repository root`,
          },
        }),
      );
      return;
    }
    const csp = contentSecurityPolicy(readFileSync(index, 'utf8'));
    const headers = (res: { setHeader(k: string, v: string): void }): void => {
      res.setHeader('content-security-policy', csp);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
      res.setHeader('cache-control', 'no-cache');
    };
    app.get('/dashboard', async (_req, reply) => reply.redirect(DASHBOARD_PATH, 308));
    void app.register(fastifyStatic, {
      root: DASHBOARD_DIR,
      prefix: DASHBOARD_PATH,
      index: ['index.html'],
      wildcard: true,
      dotfiles: 'deny',
      setHeaders: headers,
    });
    for (const v of vendors) {
      void app.register(fastifyStatic, {
        root: v.dir!,
        prefix: `${DASHBOARD_PATH}vendor/${v.name}/`,
        decorateReply: false,
        wildcard: true,
        dotfiles: 'deny',
        allowedPath: (p) => v.files.test(p),
        setHeaders: headers,
      });
    }
  };
}
