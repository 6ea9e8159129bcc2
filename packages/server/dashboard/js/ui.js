import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

export const fmtTime = (ms) =>
  ms === null || ms === undefined ? '—' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
export const fmtNum = (x, digits = 3) =>
  x === null || x === undefined || Number.isNaN(x)
    ? '—'
    : Number.isInteger(x)
      ? String(x)
      : Number(x).toPrecision(digits);
export const pct = (x) => (x === null || x === undefined ? '—' : `${Math.round(x * 1000) / 10}%`);

export function Badge({ value }) {
  return html`<span class=${`badge ${value}`}>${value}</span>`;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">
    ${error.code ? `${error.code}: ` : ''}${error.message || String(error)}
  </p>`;
}

/** Load `fn()` when `deps` change; returns {data, error, loading, reload}. */
export function useLoad(fn, deps) {
  const [state, set] = useState({ data: null, error: null, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    set((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => live && set({ data, error: null, loading: false }),
      (error) => live && set({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

/** A confirmation dialog (the native <dialog>, so focus is trapped and Escape cancels). */
export function Confirm({ open, title, message, confirmLabel, danger, onConfirm, onCancel }) {
  const ref = useRef(null);
  const [reason, setReason] = useState('');
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return html`<dialog
    ref=${ref}
    aria-labelledby="confirm-title"
    onCancel=${(e) => (e.preventDefault(), onCancel())}
  >
    <form method="dialog" onSubmit=${(e) => (e.preventDefault(), onConfirm(reason))}>
      <h2 id="confirm-title">${title}</h2>
      <p>${message}</p>
      <p>
        <label
          >Reason (recorded in the decision log)<input
            name="reason"
            value=${reason}
            onInput=${(e) => setReason(e.target.value)}
        /></label>
      </p>
      <div class="actions">
        <button type="submit" class=${danger ? 'danger' : 'primary'}>${confirmLabel}</button>
        <button type="button" onClick=${onCancel}>Cancel</button>
      </div>
    </form>
  </dialog>`;
}

/** Keyset pager: the stack of cursors seen so far lets the user go back. */
export function usePager() {
  const [stack, setStack] = useState([null]);
  const cursor = stack[stack.length - 1];
  return {
    cursor,
    page: stack.length,
    next: (c) => c && setStack((s) => [...s, c]),
    prev: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: () => setStack([null]),
  };
}

export function Pager({ pager, nextCursor, label }) {
  return html`<nav class="pager" aria-label=${`${label} pages`}>
    <button type="button" disabled=${pager.page <= 1} onClick=${pager.prev}>Previous</button>
    <span>Page ${pager.page}</span>
    <button type="button" disabled=${!nextCursor} onClick=${() => pager.next(nextCursor)}>Next</button>
  </nav>`;
}

/** Session statuses, in the order the views list them. */
export const STATUSES = [
  'idle',
  'running',
  'waiting',
  'migrating',
  'completed',
  'quarantined',
  'ended',
  'stuck',
  'failed',
];
