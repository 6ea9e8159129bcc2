// Charts drawn with uPlot (canvas). Each wrapper owns one uPlot instance and redraws it from props.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from './ui.js';

const PALETTE = ['#1f5fbf', '#1a7f37', '#8250df', '#bf3989', '#b35900', '#0a7e8c', '#6e7781', '#953800'];

function usePlot(build, deps) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const { opts, data } = build(Math.max(320, el.clientWidth || 600));
    plot.current?.destroy();
    plot.current = new uPlot(opts, data, el);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, deps);
  return box;
}

/** Sessions by version and status over time, one line per (version, status) seen. */
export function SessionsChart({ samples }) {
  const keys = [];
  for (const s of samples)
    for (const [v, by] of Object.entries(s.counts))
      for (const [st, n] of Object.entries(by))
        if (n > 0 && !keys.includes(`${v} ${st}`)) keys.push(`${v} ${st}`);
  keys.sort();
  const box = usePlot(
    (width) => ({
      opts: {
        width,
        height: 240,
        title: 'Sessions by version and status',
        series: [{}, ...keys.map((k, i) => ({ label: k, stroke: PALETTE[i % PALETTE.length], width: 2 }))],
        axes: [{}, { label: 'sessions' }],
      },
      data: [
        samples.map((s) => s.at / 1000),
        ...keys.map((k) => {
          const [v, st] = k.split(' ');
          return samples.map((s) => s.counts[v]?.[st] ?? 0);
        }),
      ],
    }),
    [samples.length, samples[samples.length - 1]?.at, keys.join('|')],
  );
  return html`<figure class="chart" aria-label="Sessions by version and status over time">
    ${samples.length === 0 ? html`<p class="muted">No samples yet: the controller records one every few seconds.</p>` : null}
    <div ref=${box} data-chart="sessions"></div>
  </figure>`;
}

/** Blue's and green's distributions of one gate's metric, side by side on shared bins. */
export function DistributionChart({ dist, blue, green }) {
  const labels =
    dist.kind === 'numeric'
      ? dist.labels.slice(0, -1).map((lo, i) => `${fmt(lo)}–${fmt(dist.labels[i + 1])}`)
      : dist.labels.map(String);
  const share = (arm) => arm.counts.map((c) => (arm.n > 0 ? c / arm.n : 0));
  const box = usePlot(
    (width) => ({
      opts: {
        width: Math.min(width, 560),
        height: 200,
        series: [
          {},
          {
            label: `${blue} (n=${dist.blue.n})`,
            stroke: '#1f5fbf',
            fill: 'rgba(31,95,191,0.45)',
            paths: uPlot.paths.bars({ size: [0.4, 60], align: -1 }),
            points: { show: false },
          },
          {
            label: `${green} (n=${dist.green.n})`,
            stroke: '#1a7f37',
            fill: 'rgba(26,127,55,0.45)',
            paths: uPlot.paths.bars({ size: [0.4, 60], align: 1 }),
            points: { show: false },
          },
        ],
        scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: [0, 1] } },
        axes: [
          {
            values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? (labels[t] ?? '') : '')),
            splits: () => labels.map((_, i) => i),
            size: 40,
          },
          { label: 'share of sessions', values: (_u, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`) },
        ],
        legend: { show: true },
      },
      data: [labels.map((_, i) => i), share(dist.blue), share(dist.green)],
    }),
    [JSON.stringify(dist)],
  );
  return html`<figure class="chart" aria-label=${`Distribution of ${dist.metric}: ${blue} and ${green}`}>
    <div ref=${box} data-chart="distribution" data-gate=${dist.name}></div>
  </figure>`;
}

function fmt(x) {
  return Math.abs(x) >= 100 || Number.isInteger(x) ? String(Math.round(x)) : x.toPrecision(2);
}
