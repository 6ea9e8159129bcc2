import { useEffect, useState } from 'preact/hooks';
import { api, qs } from './api.js';
import { likelyRenames, structuralDiff } from './diff.js';
import { Badge, ErrorBox, Pager, STATUSES, fmtTime, html, useLoad, usePager } from './ui.js';

export function SessionSearch({ query }) {
  const [f, setF] = useState({
    id: '',
    agent: query.agent || '',
    tenant: query.tenant || '',
    version: query.version || '',
    status: query.status || '',
  });
  const [applied, setApplied] = useState({ ...f, id: '' });
  const pager = usePager();
  const q = useLoad(
    () =>
      api(
        `/v1/sessions${qs({ agent: applied.agent, tenant: applied.tenant, version: applied.version, status: applied.status, cursor: pager.cursor, limit: 50 })}`,
      ),
    [JSON.stringify(applied), pager.cursor],
  );
  const submit = (e) => {
    e.preventDefault();
    if (f.id.trim()) {
      location.hash = `#/sessions/${encodeURIComponent(f.id.trim())}`;
      return;
    }
    pager.reset();
    setApplied({ ...f });
  };
  const field = (name, label) =>
    html`<label
      >${label}<input name=${name} value=${f[name]} onInput=${(e) => setF({ ...f, [name]: e.target.value })}
    /></label>`;
  return html`<section aria-labelledby="sessions-h">
    <h2 id="sessions-h">Sessions</h2>
    <form class="filters" onSubmit=${submit} role="search" aria-label="Search sessions">
      ${field('id', 'Session id')} ${field('agent', 'Agent')} ${field('tenant', 'Tenant')}
      ${field('version', 'Version')}
      <label
        >Status
        <select name="status" value=${f.status} onChange=${(e) => setF({ ...f, status: e.target.value })}>
          <option value="">any</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </label>
      <button type="submit" class="primary">Search</button>
    </form>
    <${ErrorBox} error=${q.error} />
    ${
      q.data
        ? html`<table>
              <thead>
                <tr>
                  <th>Session</th>
                  <th>Agent</th>
                  <th>Tenant</th>
                  <th>Version</th>
                  <th>Status</th>
                  <th class="num">Seq</th>
                  <th>Updated</th>
                </tr>
              </thead>
              <tbody>
                ${q.data.items.map(
                  (s) =>
                    html`<tr>
                      <td><a class="mono" href=${`#/sessions/${encodeURIComponent(s.id)}`}>${s.id}</a></td>
                      <td>${s.agent}</td>
                      <td>${s.tenant ?? '—'}</td>
                      <td>${s.version}</td>
                      <td><${Badge} value=${s.status} /></td>
                      <td class="num">${s.seq}</td>
                      <td>${fmtTime(s.updatedAt)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
            ${q.data.items.length === 0 ? html`<p class="muted">No session matches.</p>` : null}
            <${Pager} pager=${pager} nextCursor=${q.data.nextCursor} label="Sessions" />`
        : null
    }
  </section>`;
}

function show(v) {
  return v === undefined ? '' : JSON.stringify(v);
}

/** The state before a migration next to the migrated state, and what changed between them. */
export function MigrationDiff({ sessionId, migration }) {
  const q = useLoad(async () => {
    const base = `/v1/sessions/${encodeURIComponent(sessionId)}/checkpoints`;
    const [before, after] = await Promise.all([
      api(`${base}/${migration.seq - 1}`),
      api(`${base}/${migration.seq}`),
    ]);
    return { before, after };
  }, [sessionId, migration.seq]);
  if (q.error) return html`<${ErrorBox} error=${q.error} />`;
  if (!q.data) return html`<p>Loading checkpoints ${migration.seq - 1} and ${migration.seq}…</p>`;
  const a = q.data.before.body.state;
  const b = q.data.after.body.state;
  const diff = structuralDiff(a, b);
  const renames = likelyRenames(diff);
  return html`<div class="migration-diff" data-migration-seq=${migration.seq}>
    <p>
      ${migration.fromVersion} (schema ${migration.fromSchema}) checkpoint #${migration.seq - 1} →
      ${migration.toVersion} (schema ${migration.toSchema}) checkpoint #${migration.seq}
    </p>
    ${
      renames.length > 0
        ? html`<p>
            Renamed:
            ${renames.map((r) => html`<code data-renamed=${`${r.from}->${r.to}`}>${r.from} → ${r.to}</code> `)}
          </p>`
        : null
    }
    <table class="diff" aria-label="State diff across the migration">
      <thead>
        <tr>
          <th>Field</th>
          <th>Change</th>
          <th>Before (${migration.fromVersion})</th>
          <th>After (${migration.toVersion})</th>
        </tr>
      </thead>
      <tbody>
        ${diff.map(
          (d) =>
            html`<tr class=${d.kind} data-diff=${`${d.kind}:${d.path}`}>
              <td><code>${d.path}</code></td>
              <td>${d.kind}</td>
              <td><code>${show(d.before)}</code></td>
              <td><code>${show(d.after)}</code></td>
            </tr>`,
        )}
      </tbody>
    </table>
    <div class="grid2">
      <div>
        <h4>State at #${migration.seq - 1}</h4>
        <pre>${JSON.stringify(a, null, 2)}</pre>
      </div>
      <div>
        <h4>State at #${migration.seq}</h4>
        <pre>${JSON.stringify(b, null, 2)}</pre>
      </div>
    </div>
  </div>`;
}

function Checkpoints({ id }) {
  const [before, setBefore] = useState([undefined]);
  const [open, setOpen] = useState(null);
  const cur = before[before.length - 1];
  const q = useLoad(
    () => api(`/v1/sessions/${encodeURIComponent(id)}/checkpoints${qs({ limit: 20, beforeSeq: cur })}`),
    [id, cur],
  );
  const body = useLoad(
    () =>
      open === null
        ? Promise.resolve(null)
        : api(`/v1/sessions/${encodeURIComponent(id)}/checkpoints/${open}`),
    [id, open],
  );
  const items = q.data?.items ?? [];
  const oldest = items.length ? Math.min(...items.map((c) => c.seq)) : null;
  return html`<section aria-labelledby="cp-h">
    <h3 id="cp-h">Checkpoints</h3>
    <${ErrorBox} error=${q.error} />
    <table>
      <thead>
        <tr>
          <th class="num">Seq</th>
          <th class="num">Schema</th>
          <th>Written by</th>
          <th class="num">Bytes</th>
          <th>At</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${items.map(
          (c) =>
            html`<tr>
              <td class="num">${c.seq}</td>
              <td class="num">${c.schemaVersion}</td>
              <td>${c.writtenBy}</td>
              <td class="num">${c.size}</td>
              <td>${fmtTime(c.createdAt)}</td>
              <td>
                <button
                  type="button"
                  onClick=${() => setOpen(c.seq)}
                  aria-label=${`View checkpoint ${c.seq}`}
                >
                  View
                </button>
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    <nav class="pager" aria-label="Checkpoint pages">
      <button type="button" disabled=${before.length <= 1} onClick=${() => setBefore((b) => b.slice(0, -1))}>
        Newer
      </button>
      <button
        type="button"
        disabled=${items.length < 20 || oldest === null || oldest <= 1}
        onClick=${() => setBefore((b) => [...b, oldest])}
      >
        Older
      </button>
    </nav>
    ${
      open !== null && body.data
        ? html`<div>
            <h4>Checkpoint #${open}</h4>
            <pre data-checkpoint=${open}>${JSON.stringify(body.data.body, null, 2)}</pre>
          </div>`
        : null
    }
    <${ErrorBox} error=${body.error} />
  </section>`;
}

function History({ id }) {
  const [stack, setStack] = useState([undefined]);
  const cur = stack[stack.length - 1];
  const q = useLoad(
    () => api(`/v1/sessions/${encodeURIComponent(id)}/history${qs({ before: cur, limit: 50 })}`),
    [id, cur],
  );
  return html`<section aria-labelledby="hist-h">
    <h3 id="hist-h">Timeline</h3>
    <${ErrorBox} error=${q.error} />
    ${
      q.data
        ? html`<p class="muted">
              ${q.data.total} history entries${q.data.trimmed ? ' (older ones trimmed by retention)' : ''}
            </p>
            <ol class="timeline">
              ${q.data.entries.map(
                (e) =>
                  html`<li>
                    <div class="when">
                      #${e.index} · ${fmtTime(e.at)} · ${e.role} · turn <code>${e.turnId}</code>
                    </div>
                    <div class="mono">
                      ${typeof e.content === 'string' ? e.content : JSON.stringify(e.content)}
                    </div>
                  </li>`,
              )}
            </ol>
            <nav class="pager" aria-label="History pages">
              <button
                type="button"
                disabled=${stack.length <= 1}
                onClick=${() => setStack((s) => s.slice(0, -1))}
              >
                Newer
              </button>
              <button
                type="button"
                disabled=${q.data.nextBefore === null}
                onClick=${() => setStack((s) => [...s, q.data.nextBefore])}
              >
                Older
              </button>
            </nav>`
        : null
    }
  </section>`;
}

export function SessionView({ id }) {
  const q = useLoad(() => api(`/v1/sessions/${encodeURIComponent(id)}`), [id]);
  const effects = useLoad(() => api(`/v1/effects${qs({ session: id, limit: 100 })}`), [id]);
  const [diffOf, setDiffOf] = useState(null);
  useEffect(() => setDiffOf(null), [id]);
  if (q.error) return html`<${ErrorBox} error=${q.error} />`;
  if (!q.data) return html`<p>Loading session…</p>`;
  const s = q.data;
  const migrations = s.migrations ?? [];
  return html`<section aria-labelledby="session-h">
    <h2 id="session-h">Session <span class="mono">${s.sessionId}</span> <${Badge} value=${s.status} /></h2>
    <div class="cards">
      <div class="card">
        <div class="k">Agent</div>
        <div class="v">${s.agent}</div>
      </div>
      <div class="card">
        <div class="k">Version</div>
        <div class="v">${s.version}</div>
      </div>
      <div class="card">
        <div class="k">Tenant</div>
        <div class="v">${s.tenant ?? '—'}</div>
      </div>
      <div class="card">
        <div class="k">Seq</div>
        <div class="v">${s.seq}</div>
      </div>
      <div class="card">
        <div class="k">Pending waits</div>
        <div class="v">${s.waits.length}</div>
      </div>
    </div>
    ${s.reason ? html`<p>Reason: ${s.reason}</p>` : null}
    <h3>Migrations</h3>
    ${migrations.length === 0 ? html`<p class="muted">Never migrated.</p>` : null}
    <table>
      <tbody>
        ${migrations.map(
          (m) =>
            html`<tr>
              <td>${fmtTime(m.at)}</td>
              <td>${m.fromVersion} → ${m.toVersion}</td>
              <td><${Badge} value=${m.status} /></td>
              <td>${m.error ?? ''}</td>
              <td>
                ${m.status === 'ok' && m.seq > 1 ? html`<button type="button" onClick=${() => setDiffOf(m)}>Show the state diff</button>` : null}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${diffOf ? html`<${MigrationDiff} sessionId=${s.sessionId} migration=${diffOf} />` : null}
    <h3>Waits</h3>
    ${
      s.waits.length === 0
        ? html`<p class="muted">None pending.</p>`
        : html`<ul>
            ${s.waits.map((w) => html`<li>${w.name} until ${fmtTime(w.deadline)}</li>`)}
          </ul>`
    }
    <h3>Effects</h3>
    <${ErrorBox} error=${effects.error} />
    ${effects.data ? html`<${EffectRows} items=${effects.data.items} />` : null}
    <${History} id=${s.sessionId} />
    <${Checkpoints} id=${s.sessionId} />
  </section>`;
}

export function EffectRows({ items }) {
  if (items.length === 0) return html`<p class="muted">No effects.</p>`;
  return html`<table>
    <thead>
      <tr>
        <th>Effect</th>
        <th>Session</th>
        <th>Version</th>
        <th>Rollout</th>
        <th>Status</th>
        <th>Compensation</th>
        <th>At</th>
      </tr>
    </thead>
    <tbody>
      ${items.map(
        (e) =>
          html`<tr>
            <td><code>${e.name}</code> <span class="muted mono">${e.id}</span></td>
            <td>
              <a class="mono" href=${`#/sessions/${encodeURIComponent(e.sessionId)}`}>${e.sessionId}</a>
            </td>
            <td>${e.version}</td>
            <td>
              ${e.rolloutId ? html`<a class="mono" href=${`#/rollouts/${encodeURIComponent(e.rolloutId)}`}>${e.rolloutId}</a>` : '—'}
            </td>
            <td><${Badge} value=${e.status} /></td>
            <td>
              ${e.compensation ? html`<code>${e.compensation}</code> ` : null}<${Badge}
                value=${e.compensationState}
              />${e.compensationReason ? html` <span class="muted">${e.compensationReason}</span>` : null}
            </td>
            <td>${fmtTime(e.createdAt)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}
