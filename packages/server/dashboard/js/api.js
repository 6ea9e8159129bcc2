// The documented admin API, called with the admin token kept in this browser tab's sessionStorage.
const KEY = 'baton.adminToken';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A query string from an object, leaving out empty values. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

async function errorOf(res) {
  let code = `HTTP_${res.status}`;
  let message = res.statusText || 'request failed';
  try {
    const b = await res.json();
    if (b && b.error) {
      code = b.error.code || code;
      message = b.error.message || message;
    }
  } catch {
    // not JSON
  }
  return new ApiError(res.status, code, message);
}

export async function api(path, opts = {}) {
  const headers = { authorization: `Bearer ${opts.token ?? token.get() ?? ''}` };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: opts.method || 'GET',
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
  });
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return null;
  return res.json();
}

/** Check a token against the admin API (a read only an admin token may make). */
export async function checkToken(t) {
  await api('/v1/effects?limit=1', { token: t });
}

/**
 * Read a server-sent event stream with fetch, so the Authorization header is sent (EventSource
 * cannot send it). Calls onEvent(name, data) per event; returns a function that stops it.
 * Reconnects after a dropped connection, with a growing delay.
 */
export function subscribe(path, onEvent, onState) {
  const ctl = new AbortController();
  let delay = 1000;
  const run = async () => {
    while (!ctl.signal.aborted) {
      try {
        const res = await fetch(path, {
          headers: { authorization: `Bearer ${token.get() ?? ''}`, accept: 'text/event-stream' },
          signal: ctl.signal,
        });
        if (!res.ok) throw await errorOf(res);
        onState?.('live');
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let name = 'message';
            const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) name = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length) onEvent(name, JSON.parse(data.join('\n')));
          }
        }
      } catch (e) {
        if (ctl.signal.aborted) return;
        onState?.(e instanceof ApiError && e.status < 500 ? `error: ${e.message}` : 'reconnecting');
        if (e instanceof ApiError && e.status < 500) return;
      }
      if (ctl.signal.aborted) return;
      onState?.('reconnecting');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30000);
    }
  };
  void run();
  return () => ctl.abort();
}
