/** When tracing is on: only when the standard OpenTelemetry environment asks for it. */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTracing, tracesExporters } from '../src/tracing/setup';

describe('tracesExporters', () => {
  it('is off by default', async () => {
    expect(tracesExporters({})).toEqual([]);
    await expect(startTracing('baton', {})).resolves.toBeNull();
  });

  it('is on with an OTLP endpoint, or with OTEL_TRACES_EXPORTER', () => {
    expect(tracesExporters({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toEqual(['otlp']);
    expect(
      tracesExporters({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }),
    ).toEqual(['otlp']);
    expect(tracesExporters({ OTEL_TRACES_EXPORTER: 'console' })).toEqual(['console']);
    expect(tracesExporters({ OTEL_TRACES_EXPORTER: 'OTLP, console,otlp' })).toEqual(['otlp', 'console']);
  });

  it('"none" turns it off whatever else is set', () => {
    expect(
      tracesExporters({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }),
    ).toEqual([]);
  });

  it('refuses an exporter it does not have, naming it', async () => {
    await expect(startTracing('baton', { OTEL_TRACES_EXPORTER: 'zipkin' })).rejects.toThrow(/zipkin/);
  });
});

describe('what a router process loads', () => {
  it('loads neither the OpenTelemetry SDK, its semantic conventions nor the openai client until they are used', () => {
    // a child process: this one has loaded whatever other tests imported
    const script = [
      "const { createRequire, register } = await import('node:module');",
      "const { MessageChannel } = await import('node:worker_threads');",
      // the ES modules it loads, as a resolve hook sees them (the CommonJS ones are in require's cache)
      'const { port1, port2 } = new MessageChannel();',
      'const esm = [];',
      'port1.on("message", (u) => esm.push(u));',
      `register('data:text/javascript,' + encodeURIComponent('let p; export function initialize(d) { p = d.port; } export async function resolve(s, c, n) { const r = await n(s, c); p.postMessage(r.url); return r; }'), { data: { port: port2 }, transferList: [port2] });`,
      "await import('@baton/server');",
      // the hook's messages arrive after the import: wait for the server's own modules, then a little more
      "for (let i = 0; i < 100 && !esm.some((k) => k.includes('/packages/server/src/')); i++) await new Promise((r) => setTimeout(r, 50));",
      'await new Promise((r) => setTimeout(r, 100));',
      'port1.close();',
      'const loaded = [...Object.keys(createRequire(import.meta.url).cache), ...esm];',
      "const heavy = ['@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-http', '/openai/', '/semantic-conventions/'];",
      'console.log(JSON.stringify(heavy.filter((h) => loaded.some((k) => k.includes(h)))));',
      "console.log(JSON.stringify(loaded.some((k) => k.includes('/fastify/')) && esm.some((k) => k.includes('/packages/server/src/'))));",
    ].join('\n');
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    // the check sees what the server loads (fastify, its own ES modules), and none of the heavy packages
    expect(JSON.parse(out[1]!)).toBe(true);
    expect(JSON.parse(out[0]!)).toEqual([]);
  });
});
