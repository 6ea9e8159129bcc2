import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BatonError } from '@baton/core';
import { NO_ENCRYPTION, RecordAuthError, RecordCipher, cipherFor, parseKeyRing } from '../src/cipher';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const place = { kind: 'history', owner: 's_1', at: 3 };

function ring(spec: string, current?: string) {
  return new RecordCipher(parseKeyRing(spec, current));
}

describe('record cipher (AES-256-GCM)', () => {
  const c = ring(`k1:${k1.toString('base64')}`);

  it('seals under the current key with its id, and opens back to the same bytes', () => {
    const sealed = c.seal('{"content":"hello"}', place);
    expect(sealed.startsWith('benc1:k1:')).toBe(true);
    expect(sealed).not.toContain('hello');
    expect(RecordCipher.keyIdOf(sealed)).toBe('k1');
    expect(RecordCipher.keyIdOf(Buffer.from(sealed))).toBe('k1');
    expect(c.openText(sealed, place)).toBe('{"content":"hello"}');
    expect(c.open(Buffer.from(sealed), place).toString()).toBe('{"content":"hello"}');
    // a fresh IV each time: the same plaintext never seals to the same text
    expect(c.seal('{"content":"hello"}', place)).not.toBe(sealed);
    // across refills of the IV pool: every IV distinct
    const ivs = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const raw = Buffer.from(c.seal('x', place).slice('benc1:k1:'.length), 'base64');
      ivs.add(raw.subarray(0, 12).toString('hex'));
    }
    expect(ivs.size).toBe(1000);
  });

  it('refuses a record opened at another place (owner, index, kind) or with its key id relabelled', () => {
    const sealed = c.seal('x', place);
    for (const other of [
      { ...place, owner: 's_2' },
      { ...place, at: 4 },
      { ...place, kind: 'part' },
    ]) {
      expect(() => c.open(sealed, other)).toThrow(RecordAuthError);
    }
    // ids that hold the separator of a naive join still make distinct places
    const tricky = c.seal('x', { kind: 'effect', owner: 'a\nargs', at: 'result' });
    expect(() => c.open(tricky, { kind: 'effect', owner: 'a', at: 'args\nresult' })).toThrow(RecordAuthError);
    // the same key listed under another id: the id is bound in the additional data
    const twin = ring(`k1:${k1.toString('base64')},k9:${k1.toString('base64')}`);
    expect(() => twin.open(sealed.replace('benc1:k1:', 'benc1:k9:'), place)).toThrow(RecordAuthError);
  });

  it('refuses a tampered ciphertext', () => {
    const sealed = c.seal('some plaintext', place);
    const raw = Buffer.from(sealed.slice('benc1:k1:'.length), 'base64');
    raw[raw.length - 1]! ^= 1;
    expect(() => c.open(`benc1:k1:${raw.toString('base64')}`, place)).toThrow(RecordAuthError);
    expect(() => c.open('benc1:k1:AAAA', place)).toThrow(RecordAuthError);
  });

  it('passes plaintext through (records written before encryption was on)', () => {
    expect(c.openText('{"a":1}', place)).toBe('{"a":1}');
    expect(c.open(Buffer.from('[1]'), place).toString()).toBe('[1]');
    expect(RecordCipher.keyIdOf('{"a":1}')).toBeNull();
    expect(NO_ENCRYPTION.seal('{"a":1}', place)).toBe('{"a":1}');
    expect(NO_ENCRYPTION.enabled).toBe(false);
  });

  it('names a key that is not configured', () => {
    const sealed = c.seal('x', place);
    for (const other of [NO_ENCRYPTION, ring(`k2:${k2.toString('hex')}`)]) {
      try {
        other.open(sealed, place);
        throw new Error('opened');
      } catch (e) {
        expect(e).toBeInstanceOf(BatonError);
        expect((e as BatonError).code).toBe('ENCRYPTION_KEY_MISSING');
        expect((e as BatonError).message).toContain('"k1"');
      }
    }
  });

  it('rotates: new writes use the current key, every listed key opens its records', () => {
    const rotated = ring(`k2:${k2.toString('base64')},k1:${k1.toString('base64')}`);
    expect(rotated.currentKeyId).toBe('k2');
    const old = c.seal('old', place);
    expect(rotated.openText(old, place)).toBe('old');
    expect(RecordCipher.keyIdOf(rotated.seal('new', place))).toBe('k2');
    expect(ring(`k2:${k2.toString('base64')},k1:${k1.toString('base64')}`, 'k1').currentKeyId).toBe('k1');
  });

  it('parses key lists strictly: ids, 32-byte keys (hex or base64), duplicates, the current key', () => {
    const spec = `# keys\nk2:${k2.toString('hex')}\n\nk1:${k1.toString('base64')}  # the old one\n`;
    const r = parseKeyRing(spec);
    expect(r.current).toBe('k2');
    expect([...r.keys.keys()]).toEqual(['k2', 'k1']);
    expect(r.keys.get('k2')!.equals(k2)).toBe(true);
    expect(parseKeyRing('').current).toBeNull();
    const bad = [
      `nokey`,
      `k1:${randomBytes(16).toString('base64')}`,
      `k1:${k1.toString('base64')},k1:${k2.toString('base64')}`,
      `bad id:${k1.toString('base64')}`,
    ];
    for (const b of bad) expect(() => parseKeyRing(b), b).toThrow(BatonError);
    expect(() => parseKeyRing(`k1:${k1.toString('base64')}`, 'k3')).toThrow(/"k3" is not in the key list/);
    expect(cipherFor({ keys: `k1:${k1.toString('base64')}` }).currentKeyId).toBe('k1');
    expect(cipherFor(undefined)).toBe(NO_ENCRYPTION);
  });
});
