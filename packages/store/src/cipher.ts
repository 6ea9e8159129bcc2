/**
 * Record encryption at rest: AES-256-GCM (node:crypto) with a key ring. Pure: no I/O, no store
 * knowledge beyond the additional data a caller names. A sealed record is the text
 * `benc1:<keyId>:<base64(iv ‖ tag ‖ ciphertext)>`, so the key id travels with every record; the
 * additional data (what the record is and where it belongs) is bound under the key id too, so a
 * ciphertext moved to another record, or relabelled with another key id, fails to open.
 * A value that is not sealed (written before encryption was turned on) opens as itself.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { BatonError } from '@baton/core';

const PREFIX = 'benc1:';
const PREFIX_BYTES = Buffer.from(PREFIX, 'utf8');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_.-]{1,32}$/;

/** Where a record belongs: bound into its additional data. */
export interface RecordPlace {
  /** What kind of record: `part`, `waits`, `history`, `effect.args`, `effect.result`… */
  kind: string;
  /** The session it belongs to (or another owner id). */
  owner: string;
  /** Its address within the owner: a part's hash, a checkpoint's seq, an entry's index, an effect key. */
  at: string | number;
}

/** A sealed record that failed to open under its key: moved, altered or relabelled. */
export class RecordAuthError extends Error {
  constructor(
    readonly keyId: string,
    readonly place: RecordPlace,
  ) {
    super(`${place.kind} record ${place.owner}/${place.at} failed its authentication under key ${keyId}`);
    this.name = 'RecordAuthError';
  }
}

/** A key ring: every configured key by id, and the one new writes use (null: encryption off). */
export interface KeyRing {
  current: string | null;
  keys: ReadonlyMap<string, Buffer>;
}

/**
 * Random IVs, 12 bytes each, cut from a pool refilled from the CSPRNG (one `randomBytes` call per
 * 256 records instead of one per record; each IV is still 96 fresh random bits, used once).
 */
let ivPool = Buffer.alloc(0);
let ivAt = 0;
function nextIv(): Buffer {
  if (ivAt + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(IV_BYTES * 256);
    ivAt = 0;
  }
  const iv = ivPool.subarray(ivAt, ivAt + IV_BYTES);
  ivAt += IV_BYTES;
  return iv;
}

/** The additional data: a JSON array, so no two places (ids may hold any character) share one. */
function aad(place: RecordPlace, keyId: string): Buffer {
  return Buffer.from(
    `baton-record/1${JSON.stringify([place.kind, place.owner, String(place.at), keyId])}`,
    'utf8',
  );
}

function isSealedBytes(b: Uint8Array): boolean {
  if (b.length < PREFIX_BYTES.length) return false;
  for (let i = 0; i < PREFIX_BYTES.length; i++) if (b[i] !== PREFIX_BYTES[i]) return false;
  return true;
}

export class RecordCipher {
  constructor(readonly ring: KeyRing) {}

  /** Whether new writes are sealed. */
  get enabled(): boolean {
    return this.ring.current !== null;
  }

  get currentKeyId(): string | null {
    return this.ring.current;
  }

  /** Seal `plain` under the current key; returned unchanged (as text) when encryption is off. */
  seal(plain: Uint8Array | string, place: RecordPlace): string {
    const kid = this.ring.current;
    const bytes = typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain;
    if (kid === null) return typeof plain === 'string' ? plain : Buffer.from(bytes).toString('utf8');
    const key = this.ring.keys.get(kid)!;
    const iv = nextIv();
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(aad(place, kid));
    const ct = Buffer.concat([c.update(bytes), c.final()]);
    return `${PREFIX}${kid}:${Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64')}`;
  }

  /** The key id a stored value is sealed under, or null when it is plaintext. */
  static keyIdOf(stored: Uint8Array | string): string | null {
    const text =
      typeof stored === 'string'
        ? stored
        : isSealedBytes(stored)
          ? Buffer.from(stored).toString('utf8')
          : null;
    if (text === null || !text.startsWith(PREFIX)) return null;
    const end = text.indexOf(':', PREFIX.length);
    return end < 0 ? '' : text.slice(PREFIX.length, end);
  }

  /**
   * The plaintext bytes of a stored value: opened when sealed (RecordAuthError when it does not
   * authenticate at `place`; ENCRYPTION_KEY_MISSING when its key is not configured), else as stored.
   */
  open(stored: Uint8Array | string, place: RecordPlace): Buffer {
    const sealed = typeof stored === 'string' ? stored.startsWith(PREFIX) : isSealedBytes(stored);
    if (!sealed) return typeof stored === 'string' ? Buffer.from(stored, 'utf8') : Buffer.from(stored);
    const text = typeof stored === 'string' ? stored : Buffer.from(stored).toString('utf8');
    const end = text.indexOf(':', PREFIX.length);
    const kid = end < 0 ? '' : text.slice(PREFIX.length, end);
    const key = this.ring.keys.get(kid);
    if (!key) throw keyMissing(kid, place);
    const raw = Buffer.from(text.slice(end + 1), 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new RecordAuthError(kid, place);
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    d.setAAD(aad(place, kid));
    d.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([d.update(raw.subarray(IV_BYTES + TAG_BYTES)), d.final()]);
    } catch {
      throw new RecordAuthError(kid, place);
    }
  }

  /** Like `open`, as UTF-8 text. */
  openText(stored: Uint8Array | string, place: RecordPlace): string {
    if (typeof stored === 'string' && !stored.startsWith(PREFIX)) return stored;
    return this.open(stored, place).toString('utf8');
  }
}

function keyMissing(kid: string, place: RecordPlace): BatonError {
  return new BatonError(
    'ENCRYPTION_KEY_MISSING',
    `${place.kind} record ${place.owner}/${place.at} is encrypted with key "${kid}", which is not configured (BATON_ENCRYPTION_KEYS or BATON_ENCRYPTION_KEY_FILE)`,
    { keyId: kid, kind: place.kind },
  );
}

/** A key list as text (`parseKeyRing`'s format), e.g. from the environment or a key file. */
export interface KeyListConfig {
  keys: string;
  current?: string;
}

/** The cipher of a store's `encryption` option (none: nothing sealed). */
export function cipherFor(opt: KeyRing | KeyListConfig | undefined): RecordCipher {
  if (opt === undefined) return NO_ENCRYPTION;
  if (typeof (opt as KeyListConfig).keys === 'string') {
    const c = opt as KeyListConfig;
    return new RecordCipher(parseKeyRing(c.keys, c.current));
  }
  return new RecordCipher(opt as KeyRing);
}

/** No keys: nothing is sealed; a sealed record read gives ENCRYPTION_KEY_MISSING. */
export const NO_ENCRYPTION = new RecordCipher({ current: null, keys: new Map() });

function decodeKey(id: string, text: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(t)) return Buffer.from(t, 'base64');
  throw new BatonError(
    'VALIDATION',
    `encryption key "${id}" must be 32 bytes, written as 64 hex digits or base64 (openssl rand -base64 32)`,
    { keyId: id },
  );
}

/**
 * Parse a key list: `id:key` items separated by commas or new lines (`#` starts a comment). The
 * first is the current key unless `current` names another; every key opens the records it sealed.
 */
export function parseKeyRing(spec: string, current?: string): KeyRing {
  const keys = new Map<string, Buffer>();
  let first: string | null = null;
  for (const line of spec.split(/[\n,]/)) {
    const item = line.replace(/#.*$/, '').trim();
    if (item === '') continue;
    const colon = item.indexOf(':');
    const id = colon < 0 ? '' : item.slice(0, colon).trim();
    if (!KEY_ID.test(id)) {
      throw new BatonError(
        'VALIDATION',
        'an encryption key is written id:key, the id 1-32 letters, digits, ".", "_" or "-"',
        {},
      );
    }
    if (keys.has(id))
      throw new BatonError('VALIDATION', `encryption key "${id}" is listed twice`, { keyId: id });
    keys.set(id, decodeKey(id, item.slice(colon + 1)));
    first ??= id;
  }
  const cur = current?.trim() || first;
  if (cur !== null && !keys.has(cur)) {
    throw new BatonError('VALIDATION', `the current encryption key "${cur}" is not in the key list`, {
      keyId: cur,
    });
  }
  return { current: cur, keys };
}
