import { useEffect, useRef, useState } from 'preact/hooks';
import { api, qs, subscribe } from './api.js';
import { DistributionChart, SessionsChart } from './charts.js';
import { Badge, Confirm, ErrorBox, STATUSES, fmtNum, fmtTime, html, pct, useLoad } from './ui.js';

export function RolloutList() {
  const [agent, setAgent] = useState('');
  const [phase, setPhase] = useState('');
  const q = useLoad(() => api(`/v1/rollouts${qs({ agent, phase })}`), [agent, phase]);
  return html`<section aria-labelledby="rollouts-h">
    <h2 id="rollouts-h">Rollouts</h2>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label>Agent<input value=${agent} onChange=${(e) => setAgent(e.target.value.trim())} /></label>
      <label
        >Phase
        <select value=${phase} onChange=${(e) => setPhase(e.target.value)}>
          <option value="">any</option>
          ${['pending', 'preflight', 'progressing', 'paused', 'promoted', 'aborted', 'failed'].map((p) => html`<option value=${p}>${p}</option>`)}
        </select>
      </label>
    </form>
    <${ErrorBox} error=${q.error} />
    ${q.data && q.data.items.length === 0 ? html`<p class="muted">No rollouts yet.</p>` : null}
    ${
      q.data && q.data.items.length > 0
        ? html`<table>
            <thead>
              <tr>
                <th>Rollout</th>
                <th>Agent</th>
                <th>From → to</th>
                <th>Phase</th>
                <th class="num">Step</th>
                <th class="num">Fill</th>
                <th class="num">Migrate</th>
                <th class="num">Drain</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              ${q.data.items.map(
                (r) =>
                  html`<tr>
                    <td><a href=${`#/rollouts/${encodeURIComponent(r.id)}`} class="mono">${r.id}</a></td>
                    <td>${r.agent}</td>
                    <td>${r.from} → ${r.to}</td>
                    <td><${Badge} value=${r.phase} /></td>
                    <td class="num">${r.step + 1}/${r.steps}</td>
                    <td class="num">${r.weights.fill}%</td>
                    <td class="num">${r.weights.migrate}%</td>
                    <td class="num">${pct(r.drain.progress)}</td>
                    <td>${fmtTime(r.createdAt)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : null
    }
  </section>`;
}

function Counts({ sessions }) {
  const versions = Object.keys(sessions).sort();
  const cols = STATUSES.filter((s) => versions.some((v) => (sessions[v][s] ?? 0) > 0));
  if (versions.length === 0) return html`<p class="muted">No sessions.</p>`;
  return html`<table aria-label="Sessions by version and status">
    <thead>
      <tr>
        <th>Version</th>
        ${cols.map((c) => html`<th class="num">${c}</th>`)}
        <th class="num">total</th>
      </tr>
    </thead>
    <tbody>
      ${versions.map((v) => {
        const total = Object.values(sessions[v]).reduce((a, b) => a + b, 0);
        return html`<tr>
          <th scope="row">${v}</th>
          ${cols.map((c) => html`<td class="num" data-count=${`${v}:${c}`}>${sessions[v][c] ?? 0}</td>`)}
          <td class="num" data-count=${`${v}:total`}>${total}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

function Gate({ g, dist, blue, green }) {
  const e = g.evidence;
  return html`<article class="gate" aria-label=${`Gate ${g.name}`}>
    <h4>
      ${g.name}
      <${Badge} value=${g.verdict} /> ${g.critical ? html`<span class="badge">critical</span>` : null}
    </h4>
    ${dist ? html`<${DistributionChart} dist=${dist} blue=${blue} green=${green} />` : html`<p class="muted">No distribution yet.</p>`}
    <dl>
      <dt>test</dt>
      <dd>${e.test} on ${e.metric}</dd>
      <dt>sessions</dt>
      <dd>${blue} ${e.nBlue}, ${green} ${e.nGreen}</dd>
      <dt>statistic</dt>
      <dd>${fmtNum(e.statistic)}</dd>
      <dt>p-value</dt>
      <dd>${fmtNum(e.pValue)}</dd>
      <dt>effect (green − blue)</dt>
      <dd>${fmtNum(e.effect)}</dd>
      <dt>interval</dt>
      <dd>${e.ci ? `[${fmtNum(e.ci[0])}, ${fmtNum(e.ci[1])}]` : '—'}</dd>
      <dt>threshold</dt>
      <dd>${fmtNum(e.threshold)} (tolerance ${String(e.tolerance)}, ${e.direction})</dd>
      ${
        e.reason
          ? html`<dt>reason</dt>
              <dd>${e.reason}</dd>`
          : null
      }
    </dl>
  </article>`;
}

function Decisions({ id, rev }) {
  const [items, setItems] = useState([]);
  const [error, setError] = useState(null);
  const [more, setMore] = useState(false);
  const load = (after) =>
    api(`/v1/rollouts/${encodeURIComponent(id)}/decisions${qs({ afterSeq: after, limit: 50 })}`).then((p) => {
      setItems((xs) => [...xs, ...p.items.filter((d) => !xs.some((x) => x.seq === d.seq))]);
      setMore(p.items.length === 50);
    }, setError);
  useEffect(() => {
    setItems([]);
    void load(0);
  }, [id]);
  // a new rev may have appended decisions: fetch those after the last one shown (when all are shown)
  useEffect(() => {
    if (items.length > 0 && !more) void load(items[items.length - 1].seq);
  }, [rev]);
  return html`<section aria-labelledby="decisions-h">
    <h3 id="decisions-h">Decisions</h3>
    <${ErrorBox} error=${error} />
    <ol class="timeline">
      ${items.map(
        (d) =>
          html`<li>
            <div class="when">#${d.seq} · ${fmtTime(d.at)} · <code>${d.kind}</code></div>
            <div>${d.message}</div>
            ${
              d.evidence !== null && d.evidence !== undefined
                ? html`<details>
                    <summary>Evidence</summary>
                    <pre>${JSON.stringify(d.evidence, null, 2)}</pre>
                  </details>`
                : null
            }
          </li>`,
      )}
    </ol>
    ${more ? html`<button type="button" onClick=${() => load(items[items.length - 1].seq)}>Load more decisions</button>` : null}
  </section>`;
}

function Stragglers({ id, first }) {
  const [pages, setPages] = useState([first]);
  const [error, setError] = useState(null);
  useEffect(() => setPages([first]), [JSON.stringify(first)]);
  const last = pages[pages.length - 1];
  const more = () =>
    api(
      `/v1/rollouts/${encodeURIComponent(id)}/stragglers${qs({ cursor: last.nextCursor, limit: 20 })}`,
    ).then((p) => setPages((ps) => [...ps, p]), setError);
  const items = pages.flatMap((p) => p.items);
  if (items.length === 0) return html`<p class="muted">No session left on blue.</p>`;
  return html`<div>
    <${ErrorBox} error=${error} />
    <table aria-label="Stragglers">
      <thead>
        <tr>
          <th>Session</th>
          <th>Status</th>
          <th>Why it is still on blue</th>
        </tr>
      </thead>
      <tbody>
        ${items.map(
          (s) =>
            html`<tr data-straggler=${s.reason}>
              <td>
                <a class="mono" href=${`#/sessions/${encodeURIComponent(s.sessionId)}`}>${s.sessionId}</a>
              </td>
              <td><${Badge} value=${s.status} /></td>
              <td><code>${s.reason}</code> — ${s.message}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${last.nextCursor ? html`<button type="button" onClick=${more}>More stragglers</button>` : null}
  </div>`;
}

const COMMANDS = {
  pause: { label: 'Pause', message: 'The rollout stops moving weights and judging gates until resumed.' },
  resume: { label: 'Resume', message: 'The rollout carries on from the step it is on.' },
  promote: {
    label: 'Promote',
    message: 'Green becomes stable: all new sessions go to it and blue drains.',
    danger: true,
  },
  abort: {
    label: 'Abort',
    message: 'New sessions go back to blue; green sessions follow the spec’s onAbort rule.',
    danger: true,
  },
};

export function RolloutView({ id }) {
  const [status, setStatus] = useState(null);
  const [error, setError] = useState(null);
  const [live, setLive] = useState('connecting');
  const [samples, setSamples] = useState([]);
  const [dists, setDists] = useState(null);
  const [cmd, setCmd] = useState(null);
  const [cmdError, setCmdError] = useState(null);
  const path = `/v1/rollouts/${encodeURIComponent(id)}`;

  useEffect(() => {
    setStatus(null);
    setError(null);
    // the stream's first event is the status now: no separate read
    const stop = subscribe(
      `${path}/events`,
      (ev, data) => (ev === 'status' ? setStatus(data) : setError(data.error)),
      (state) => {
        setLive(state);
        if (state.startsWith('error: ')) setError({ message: state.slice(7) });
      },
    );
    return stop;
  }, [id]);
  // samples: the whole series once, then only the new ones on each change of the view
  const lastAt = useRef(undefined);
  useEffect(() => {
    lastAt.current = undefined;
    setSamples([]);
  }, [id]);
  useEffect(() => {
    if (status === null) return; // after the first status: the counts come first
    api(`${path}/samples${qs({ after: lastAt.current, limit: 1000 })}`).then((p) => {
      const fresh = p.items.filter((x) => lastAt.current === undefined || x.at > lastAt.current);
      if (fresh.length === 0) return;
      lastAt.current = fresh[fresh.length - 1].at;
      setSamples((s) => [...s, ...fresh]);
    }, setError);
  }, [id, status?.drain.observedAt, status?.rev, JSON.stringify(status?.sessions)]);
  const verdictAt = status?.lastVerdicts?.at ?? null;
  useEffect(() => {
    if (status) api(`${path}/distributions`).then(setDists, setError);
  }, [id, verdictAt, status === null]);

  const run = async (name, reason) => {
    setCmd(null);
    setCmdError(null);
    try {
      const next = await api(`${path}/${name}`, {
        method: 'POST',
        body: reason ? { reason, by: 'dashboard' } : { by: 'dashboard' },
      });
      // a command answers the plain status view: keep the stragglers until the stream sends them
      setStatus((prev) => ({
        ...next,
        drain: { ...next.drain, stragglers: next.drain.stragglers ?? prev?.drain.stragglers },
      }));
    } catch (e) {
      setCmdError(e);
    }
  };

  if (error && !status) return html`<${ErrorBox} error=${error} />`;
  if (!status) return html`<p>Loading rollout…</p>`;
  const s = status;
  const d = s.drain;
  const done = ['promoted', 'aborted', 'failed'].includes(s.phase) && s.stage === 'done';
  const can = {
    pause: s.phase === 'progressing',
    resume: s.phase === 'paused',
    promote: s.phase === 'progressing' || s.phase === 'paused',
    abort: !done && s.phase !== 'aborted',
  };
  return html`<section aria-labelledby="rollout-h">
    <h2 id="rollout-h">Rollout <span class="mono">${s.id}</span> <${Badge} value=${s.phase} /></h2>
    <p>${s.agent}: ${s.from} → ${s.to} · <span class="live" aria-live="polite">updates: ${live}</span></p>
    <div class="cards">
      <div class="card">
        <div class="k">Step</div>
        <div class="v" data-field="step">${s.step + 1} / ${s.steps}</div>
      </div>
      <div class="card">
        <div class="k">Fill (new sessions to ${s.to})</div>
        <div class="v" data-field="fill">${s.weights.fill}%</div>
      </div>
      <div class="card">
        <div class="k">Migrate (of ${s.from}'s sessions)</div>
        <div class="v" data-field="migrate">${s.weights.migrate}%</div>
      </div>
      <div class="card">
        <div class="k">Migrations</div>
        <div class="v">${s.migrations.done} ok · ${s.migrations.failed} failed</div>
      </div>
      ${
        s.paused
          ? html`<div class="card">
              <div class="k">Paused</div>
              <div class="v">${s.paused.reason ?? ''}</div>
            </div>`
          : null
      }
    </div>
    <div class="actions" role="group" aria-label="Rollout commands">
      ${Object.entries(COMMANDS).map(
        ([name, c]) =>
          html`<button
            type="button"
            class=${c.danger ? 'danger' : ''}
            disabled=${!can[name]}
            onClick=${() => setCmd(name)}
          >
            ${c.label}
          </button>`,
      )}
    </div>
    <${ErrorBox} error=${cmdError} />
    <${Confirm}
      open=${cmd !== null}
      title=${cmd ? `${COMMANDS[cmd].label} rollout ${s.id}?` : ''}
      message=${cmd ? COMMANDS[cmd].message : ''}
      confirmLabel=${cmd ? COMMANDS[cmd].label : ''}
      danger=${cmd ? COMMANDS[cmd].danger : false}
      onConfirm=${(reason) => run(cmd, reason)}
      onCancel=${() => setCmd(null)}
    />
    <h3>Sessions</h3>
    <${Counts} sessions=${s.sessions} />
    <${SessionsChart} samples=${samples} />
    <h3>Drain</h3>
    <div
      class="progress"
      role="progressbar"
      aria-label="Drain progress"
      aria-valuemin="0"
      aria-valuemax="100"
      aria-valuenow=${Math.round(d.progress * 100)}
    >
      <div style=${`width:${Math.round(d.progress * 100)}%`}></div>
    </div>
    <p>
      ${pct(d.progress)} · ${d.remaining ?? '—'} of ${d.total ?? '—'} left on ${s.from} · started
      ${fmtTime(d.startedAt)} · deadline ${fmtTime(d.deadline)}
      ${d.deadlinePassed ? html` · <strong>deadline passed</strong>` : null}
    </p>
    <${Stragglers} id=${s.id} first=${d.stragglers ?? { items: [], nextCursor: null }} />
    <h3>Gates</h3>
    ${s.gates.length === 0 ? html`<p class="muted">No verdict yet for this step.</p>` : null}
    <div class="grid2">
      ${s.gates.map((g) => html`<${Gate} g=${g} dist=${dists?.gates.find((x) => x.name === g.name)} blue=${s.from} green=${s.to} />`)}
      ${(dists?.gates ?? [])
        .filter((d) => !s.gates.some((g) => g.name === d.name))
        .map(
          (d) =>
            html`<article class="gate" aria-label=${`Gate ${d.name}`}>
              <h4>${d.name} <span class="badge">not judged yet</span></h4>
              <${DistributionChart} dist=${d} blue=${s.from} green=${s.to} />
            </article>`,
        )}
    </div>
    <${Decisions} id=${s.id} rev=${s.rev} />
  </section>`;
}
