import { createHash, hash, randomBytes } from 'node:crypto';

/** SHA-256 in hex. The one-shot `hash` costs a third of a `createHash` object per call (hot: every turn hashes several values). */
export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}

/** JSON with object keys sorted, so equal values hash equally regardless of key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

const ENC = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Time-sortable ids: `prefix_` + 10 chars of millisecond time + 16 random chars (Crockford base32).
 * Ids sort in creation order, which keyset paging relies on.
 */
export function newId(prefix: string, nowMs: number = Date.now()): string {
  let t = nowMs;
  let time = '';
  for (let i = 0; i < 10; i++) {
    time = ENC[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const rnd = randomBytes(16);
  let r = '';
  for (let i = 0; i < 16; i++) r += ENC[rnd[i]! % 32];
  return `${prefix}_${time}${r}`;
}

export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/** A deterministic bucket in [0, 100) for a key (e.g. a session id), with two decimals of resolution. */
export function bucketOf(key: string, salt = ''): number {
  const d = createHash('sha256').update(salt).update(key).digest();
  return (d.readUInt32BE(0) % 10000) / 100;
}

/**
 * What is stored of a wait token (the callback capability): its sha256 digest, never the token.
 * Checkpoints, the waits table, turn results and what workers are sent name a wait by its digest;
 * the callback endpoint hashes the token it is presented.
 */
export function waitDigest(token: string): string {
  return sha256Hex(`baton-wait:${token}`);
}
