import { describe, expect, it } from 'vitest';
import type { CheckpointMeta } from '@baton/core';
import { CheckpointCache } from '../src/checkpoint-cache';
import { FORMAT_PARTS, type Row } from '../src/common';

const meta: CheckpointMeta = {
  sessionId: 's',
  seq: 2,
  schemaVersion: 1,
  writtenBy: 'v1',
  hash: 'cp2',
  size: 10,
  createdAt: 5,
  parts: { state: 'hs', context: 'hc', memory: null },
  historyLength: 4,
  historyHead: 'head4',
};
const waits = Buffer.from('[]');
const state = Buffer.from('{"n":2}');
const context = Buffer.from('{"m":[]}');

/** The stored row of `meta` as the SQLite log reads it with its parts' bodies. */
function row(over: Partial<Row> = {}): Row {
  return {
    session_id: 's',
    seq: meta.seq,
    schema_version: 1,
    written_by: 'v1',
    hash: meta.hash,
    size: meta.size,
    created_at: meta.createdAt,
    format: FORMAT_PARTS,
    state_hash: 'hs',
    context_hash: 'hc',
    memory_hash: null,
    history_length: 4,
    history_head: 'head4',
    body: Buffer.from('[]'),
    p_state: Buffer.from('{"n":2}'),
    p_context: Buffer.from('{"m":[]}'),
    p_memory: null,
    ...over,
  };
}

function written(): CheckpointCache {
  const c = new CheckpointCache();
  c.wrote('s', meta, waits, '[]', [
    { hash: 'hs', bytes: state },
    { hash: 'hc', bytes: context },
  ]);
  return c;
}

describe('CheckpointCache', () => {
  it('decodes a stored row whose manifest and bytes are the ones written', () => {
    expect(written().open('s', row())).toEqual({
      ...meta,
      body: { state: { n: 2 }, context: { m: [] }, waits: [] },
    });
  });

  it('misses when a stored byte differs (a part, the waits) or the manifest is another checkpoint', () => {
    const c = written();
    expect(c.open('s', row({ p_state: Buffer.from('{"n":3}') }))).toBeUndefined();
    expect(c.open('s', row({ p_context: null }))).toBeUndefined();
    expect(c.open('s', row({ body: Buffer.from('[1]') }))).toBeUndefined();
    expect(c.open('s', row({ seq: 3 }))).toBeUndefined();
    expect(c.open('s', row({ history_head: 'other' }))).toBeUndefined();
    expect(c.open('other', row())).toBeUndefined();
  });

  it('carries an unchanged part from the checkpoint kept before, and keeps nothing without it', () => {
    const c = written();
    const next = { ...meta, seq: 3, hash: 'cp3', parts: { ...meta.parts, context: 'hc2' } };
    c.wrote('s', next, waits, '[]', [{ hash: 'hc2', bytes: Buffer.from('{"m":[1]}') }]);
    const r3 = row({ seq: 3, hash: 'cp3', context_hash: 'hc2', p_context: Buffer.from('{"m":[1]}') });
    expect(c.open('s', r3)?.body).toEqual({ state: { n: 2 }, context: { m: [1] }, waits: [] });
    const fresh = new CheckpointCache();
    fresh.wrote('s', next, waits, '[]', [{ hash: 'hc2', bytes: Buffer.from('{"m":[1]}') }]);
    expect(fresh.open('s', r3)).toBeUndefined();
  });

  it('forgets the least recently used sessions beyond its bound', () => {
    const c = new CheckpointCache({ sessions: 1, bytes: 1 << 20 });
    c.wrote('s', meta, waits, '[]', [
      { hash: 'hs', bytes: state },
      { hash: 'hc', bytes: context },
    ]);
    c.wrote('t', { ...meta, sessionId: 't' }, waits, '[]', [
      { hash: 'hs', bytes: state },
      { hash: 'hc', bytes: context },
    ]);
    expect(c.open('s', row())).toBeUndefined();
    expect(c.open('t', row({ session_id: 't' }))).toBeDefined();
  });
});
