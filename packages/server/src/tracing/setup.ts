/**
 * Turning tracing on: an OTLP/HTTP exporter (the official OpenTelemetry SDK) registered as the
 * process's global tracer provider, when the standard environment asks for it. Off by default:
 * without `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
 * `OTEL_TRACES_EXPORTER`, nothing is registered and every span Baton starts is a no-op.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

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
export function startTracing(service: string, env: Env = process.env): Tracing | null {
  if (active) return active;
  const exporters = tracesExporters(env);
  if (exporters.length === 0) return null;
  const processors: SpanProcessor[] = [];
  for (const name of exporters) {
    let exporter: SpanExporter;
    if (name === 'otlp') exporter = new OTLPTraceExporter();
    else if (name === 'console') exporter = new ConsoleSpanExporter();
    else throw new Error(`OTEL_TRACES_EXPORTER: unsupported exporter "${name}" (otlp, console or none)`);
    processors.push(new BatchSpanProcessor(exporter));
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME || service,
      [ATTR_SERVICE_VERSION]: '0.1.0',
    }),
    spanProcessors: processors,
  });
  // the global provider, the W3C trace-context propagator and the async context manager
  provider.register();
  active = {
    exporters,
    async shutdown() {
      active = null;
      await provider.shutdown();
    },
  };
  return active;
}
