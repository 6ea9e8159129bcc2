/** JSON over HTTP to a Baton server on loopback, telling a refused connection from a cut one. */

export interface Res {
  status: number;
  body: any;
  headers: Headers;
}

/** No answer: `refused` (nothing was listening, the request never arrived) or `cut` (it may have). */
export class NoAnswer extends Error {
  constructor(
    readonly kind: 'refused' | 'cut',
    message: string,
  ) {
    super(message);
  }
}

export async function call(
  base: string,
  method: string,
  path: string,
  opts: { token: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number },
): Promise<Res> {
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: {
        authorization: `Bearer ${opts.token}`,
        ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...opts.headers,
      },
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
    });
  } catch (e) {
    const code = (e as { cause?: { code?: string } }).cause?.code;
    throw new NoAnswer(code === 'ECONNREFUSED' ? 'refused' : 'cut', `${method} ${base}${path}: ${String(e)}`);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    throw new NoAnswer('cut', `${method} ${base}${path}: body: ${String(e)}`);
  }
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = { error: { code: 'NOT_JSON', message: text.slice(0, 200) } };
  }
  return { status: res.status, body, headers: res.headers };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
