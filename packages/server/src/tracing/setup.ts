/**
 * Turning tracing on: an OTLP/HTTP exporter (the official OpenTelemetry SDK) registered as the
 * process's global tracer provider, when the standard environment asks for it. Off by default:
 * without `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
 * `OTEL_TRACES_EXPORTER`, nothing is registered and every span Baton starts is a no-op, and the
 * SDK and its exporters are not even loaded (they are imported here only when tracing is on).
 */
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-node';

export interface Tracing {
  /** Which exporters were configured (`otlp`, `console`). */
  exporters: string[];
  /** Export what is buffered, then stop (call before the process exits). */
  shutdown(): Promise<void>;
}

type Env = Record<string, string | undefined>;

/** The exporters the environment names; empty when tracing is off. */
export function tracesExporters(env: Env = process.env): string[] {
  const named = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (named.includes('none')) return [];
  if (named.length > 0) return [...new Set(named)];
  return env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? ['otlp'] : [];
}

let active: Tracing | null = null;

/**
 * Register the global tracer provider if the environment turns tracing on (once per process);
 * null when it is off. `service` is the default `service.name` (`OTEL_SERVICE_NAME` wins).
 */
export async function startTracing(service: string, env: Env = process.env): Promise<Tracing | null> {
  if (active) return active;
  const exporters = tracesExporters(env);
  if (exporters.length === 0) return null;
  for (const name of exporters) {
    if (name !== 'otlp' && name !== 'console')
      throw new Error(`OTEL_TRACES_EXPORTER: unsupported exporter "${name}" (otlp, console or none)`);
  }
  const [
    { OTLPTraceExporter },
    { resourceFromAttributes },
    sdk,
    { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION },
  ] = await Promise.all([
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  if (active) return active;
  const processors: SpanProcessor[] = exporters.map((name) => {
    const exporter: SpanExporter = name === 'otlp' ? new OTLPTraceExporter() : new sdk.ConsoleSpanExporter();
    return new sdk.BatchSpanProcessor(exporter);
  });
  const provider = new sdk.NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME || service,
      [ATTR_SERVICE_VERSION]: '0.1.0',
    }),
    spanProcessors: processors,
  });
  // the global provider, the W3C trace-context propagator and the async context manager
  provider.register();
  const started: Tracing = {
    exporters,
    async shutdown() {
      if (active === started) active = null;
      await provider.shutdown();
    },
  };
  active = started;
  return started;
}
