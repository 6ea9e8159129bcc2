import { useState } from 'preact/hooks';
import { api, qs } from './api.js';
import { EffectRows } from './sessions.js';
import { ErrorBox, Pager, html, useLoad, usePager } from './ui.js';

const COMPENSATION = [
  'pending',
  'running',
  'compensated',
  'failed',
  'not-compensable',
  'recorded-by-operator',
];

export function EffectsView({ query }) {
  const [f, setF] = useState({
    rollout: query.rollout || '',
    agent: '',
    version: '',
    status: '',
    compensation: '',
  });
  const [applied, setApplied] = useState(f);
  const pager = usePager();
  const q = useLoad(
    () => api(`/v1/effects${qs({ ...applied, cursor: pager.cursor, limit: 50 })}`),
    [JSON.stringify(applied), pager.cursor],
  );
  const select = (name, label, values) =>
    html`<label
      >${label}
      <select name=${name} value=${f[name]} onChange=${(e) => setF({ ...f, [name]: e.target.value })}>
        <option value="">any</option>
        ${values.map((v) => html`<option value=${v}>${v}</option>`)}
      </select></label
    >`;
  const text = (name, label) =>
    html`<label
      >${label}<input
        name=${name}
        value=${f[name]}
        onInput=${(e) => setF({ ...f, [name]: e.target.value.trim() })}
    /></label>`;
  return html`<section aria-labelledby="effects-h">
    <h2 id="effects-h">Effects ledger</h2>
    <form
      class="filters"
      role="search"
      aria-label="Filter effects"
      onSubmit=${(e) => (e.preventDefault(), pager.reset(), setApplied({ ...f }))}
    >
      ${text('rollout', 'Rollout')} ${text('agent', 'Agent')} ${text('version', 'Version')}
      ${select('status', 'Status', ['intent', 'committed', 'failed'])}
      ${select('compensation', 'Compensation', COMPENSATION)}
      <button type="submit" class="primary">Filter</button>
    </form>
    <${ErrorBox} error=${q.error} />
    ${q.data ? html`<${EffectRows} items=${q.data.items} /><${Pager} pager=${pager} nextCursor=${q.data.nextCursor} label="Effects" />` : null}
  </section>`;
}
