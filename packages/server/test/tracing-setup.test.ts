/** When tracing is on: only when the standard OpenTelemetry environment asks for it. */
import { describe, expect, it } from 'vitest';
import { startTracing, tracesExporters } from '../src/tracing/setup';

describe('tracesExporters', () => {
  it('is off by default', () => {
    expect(tracesExporters({})).toEqual([]);
    expect(startTracing('baton', {})).toBeNull();
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

  it('refuses an exporter it does not have, naming it', () => {
    expect(() => startTracing('baton', { OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/zipkin/);
  });
});
