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
  it('loads neither the OpenTelemetry SDK nor the openai client until they are used', () => {
    // a child process: this one has loaded whatever other tests imported
    const script = [
      "const { createRequire } = await import('node:module');",
      "await import('@baton/server');",
      'const loaded = Object.keys(createRequire(import.meta.url).cache);',
      "const heavy = ['@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-http', '/openai/'];",
      'console.log(JSON.stringify(heavy.filter((h) => loaded.some((k) => k.includes(h)))));',
      "console.log(JSON.stringify(loaded.some((k) => k.includes('/fastify/'))));",
    ].join('\n');
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    // the check sees what the server loads (fastify), and none of the heavy packages
    expect(JSON.parse(out[1]!)).toBe(true);
    expect(JSON.parse(out[0]!)).toEqual([]);
  });
});
