/**
 * Tracing for `baton serve` and `baton worker`: the OpenTelemetry SDK is loaded and registered only
 * when the standard environment turns it on (OTEL_EXPORTER_OTLP_ENDPOINT,
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER); otherwise nothing is loaded.
 */
export interface CliTracing {
  shutdown(): Promise<void>;
}

const OFF: CliTracing = { shutdown: () => Promise.resolve() };

export async function startCliTracing(service: string): Promise<CliTracing> {
  const env = process.env;
  if (
    !env.OTEL_EXPORTER_OTLP_ENDPOINT &&
    !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT &&
    !env.OTEL_TRACES_EXPORTER
  )
    return OFF;
  const { startTracing } = await import('@baton/server');
  const t = await startTracing(service);
  if (!t) return OFF;
  return {
    // an exporter that cannot reach its collector must not hold the process up
    shutdown: () =>
      Promise.race([
        t.shutdown().catch(() => undefined),
        new Promise<void>((r) => setTimeout(r, 5_000).unref()),
      ]),
  };
}
