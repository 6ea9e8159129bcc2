/**
 * Encryption at rest, against a real database of each backend: records round-trip, the stored
 * bytes hold no plaintext, a ciphertext moved to another record is detected, keys rotate (old
 * records readable, re-encryption, old key removable), and a missing key is a clear error.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatonError, sha256Hex } from '@baton/core';
import type { CheckpointBody, HistoryEntry } from '@baton/core';
import type { KeyListConfig } from '../src/cipher';
import type { Store, StoreOptions } from '../src/store';

export interface EncryptionHarness {
  open(opts?: StoreOptions): Promise<Store>;
  rawQuery(sql: string): Promise<Array<Record<string, unknown>>>;
  rawExec(sql: string): Promise<void>;
  /** Every byte the database holds for the suite (SQLite: the file and its WAL; PostgreSQL: every row of the schema as text). */
  rawDump(): Promise<string>;
  teardown(): Promise<void>;
}

const key = () => randomBytes(32).toString('base64');
const K1 = key();
const K2 = key();
const ring = (keys: string, current?: string): KeyListConfig => ({ keys, ...(current ? { current } : {}) });

let uniq = 0;
const u = (p: string) => `${p}-${process.pid}-${Date.now().toString(36)}-${++uniq}`;

async function rejects(p: Promise<unknown>): Promise<BatonError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BatonError);
    return e as BatonError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

export function encryptionSuite(name: string, harness: () => Promise<EncryptionHarness>): void {
  describe(`encryption at rest: ${name}`, () => {
    // each test on a database of its own: what one test corrupts or leaves under a key is not another's
    let h: EncryptionHarness;
    beforeEach(async () => {
      h = await harness();
    });
    afterEach(async () => {
      await h?.teardown();
    });

    /** A session with one checkpoint (every part, waits) and two history entries, and an effect with a result; all carrying `marker`. */
    async function write(s: Store, marker: string) {
      const session = await s.createSession({ agent: u('enc'), version: 'v1', tokenHash: sha256Hex('t') });
      const body: CheckpointBody = {
        state: { secret: `${marker} state` },
        context: { prompt: `${marker} context` },
        memory: { notes: [`${marker} memory`] },
        waits: [
          {
            token: sha256Hex('wait'),
            name: 'approval',
            deadline: 9e12,
            schema: { description: `${marker} waits` },
            createdAt: 1,
          },
        ],
      };
      const history: HistoryEntry[] = [
        { role: 'user', content: `${marker} question`, turnId: 't1', at: 1 },
        { role: 'agent', content: { text: `${marker} answer` }, turnId: 't1', at: 2 },
      ];
      const meta = await s.appendCheckpoint({
        sessionId: session.id,
        expectedSeq: 0,
        schemaVersion: 1,
        writtenBy: 'v1',
        body,
        history,
      });
      const effectKey = u('fx');
      await s.recordEffectIntent({
        idempotencyKey: effectKey,
        sessionId: session.id,
        agent: session.agent,
        version: 'v1',
        turnId: 't1',
        name: 'email',
        args: { to: `${marker} args` },
        compensation: null,
      });
      await s.commitEffect(effectKey, { id: `${marker} result` });
      await s.putTurnResult(session.id, 'key-1', { output: `${marker} output` });
      await s.putStep(session.id, 't1', 0, 'lookup', { found: `${marker} step` });
      return { sessionId: session.id, body, history, meta, effectKey, marker };
    }

    type Written = Awaited<ReturnType<typeof write>>;

    async function expectReadable(s: Store, w: Written) {
      const cp = await s.getLatestCheckpoint(w.sessionId);
      expect(cp?.body).toEqual(w.body);
      expect(cp?.hash).toBe(w.meta.hash);
      const page = await s.readHistory(w.sessionId);
      expect(page.entries.map((e) => e.content)).toEqual(w.history.map((e) => e.content));
      const e = await s.getEffect(w.effectKey);
      expect(e.args).toEqual({ to: `${w.marker} args` });
      expect(e.result).toEqual({ id: `${w.marker} result` });
      expect(await s.getTurnResult(w.sessionId, 'key-1')).toEqual({ output: `${w.marker} output` });
      expect(await s.listSteps(w.sessionId, 't1')).toEqual([
        { index: 0, name: 'lookup', result: { found: `${w.marker} step` } },
      ]);
    }

    it('round-trips every encrypted record, and the stored bytes hold no plaintext of them', async () => {
      const s = await h.open({ encryption: ring(`k1:${K1}`) });
      try {
        const marker = `MARKER${randomBytes(6).toString('hex')}`;
        const w = await write(s, marker);
        await expectReadable(s, w);
        // a turn's start reads the checkpoint and its window through the same edge
        const started = await s.beginTurn(w.sessionId, u('key'), 'owner', 10_000, {
          entries: 10,
          bytes: 1e6,
        });
        expect(started.kind).toBe('started');
        if (started.kind === 'started') {
          expect(started.checkpointError).toBeUndefined();
          expect(started.checkpoint?.body).toEqual(w.body);
          expect(started.history.map((e) => e.content)).toEqual(w.history.map((e) => e.content));
        }
        const listed = await s.listEffects({ sessionId: w.sessionId });
        expect(listed.items[0]!.args).toEqual({ to: `${marker} args` });
        const dump = await h.rawDump();
        expect(dump).not.toContain(marker);
        // the records are there, sealed under k1 (the key id stored with each)
        expect(dump).toContain('benc1:k1:');
        const parts = await h.rawQuery(
          `SELECT count(*) AS n FROM checkpoint_parts WHERE session_id = '${w.sessionId}'`,
        );
        expect(Number(parts[0]!.n)).toBe(3);
      } finally {
        await s.close();
      }
    });

    it('detects a ciphertext moved to another record (history entries, parts, waits, effects)', async () => {
      const s = await h.open({ encryption: ring(`k1:${K1}`) });
      try {
        const a = await write(s, 'swap-a');
        const b = await write(s, 'swap-b');
        // two entries of one session: same key, same session, another index
        await h.rawExec(
          `UPDATE history SET body = (SELECT body FROM history WHERE session_id = '${a.sessionId}' AND idx = 1)
           WHERE session_id = '${a.sessionId}' AND idx = 0`,
        );
        const e1 = await rejects(s.readHistory(a.sessionId));
        expect(e1.code).toBe('CHECKPOINT_CORRUPT');
        expect(e1.details).toMatchObject({ part: 'history[0]', actualHash: 'unauthenticated' });
        // a turn start over it reports the corruption (the router quarantines), never loads it; on
        // another handle, since this one holds the entries it wrote, verified, in its cache
        const other = await h.open({ encryption: ring(`k1:${K1}`) });
        const st = await other.beginTurn(a.sessionId, u('key'), 'owner', 10_000, {
          entries: 10,
          bytes: 1e6,
        });
        expect(st.kind === 'started' && st.checkpointError?.code).toBe('CHECKPOINT_CORRUPT');
        await other.close();
        // the state part of session b replaced by its context part's ciphertext
        await h.rawExec(
          `UPDATE checkpoint_parts SET body = (SELECT body FROM checkpoint_parts WHERE session_id = '${b.sessionId}'
             AND hash = '${b.meta.parts.context}')
           WHERE session_id = '${b.sessionId}' AND hash = '${b.meta.parts.state}'`,
        );
        const e2 = await rejects(s.getLatestCheckpoint(b.sessionId));
        expect(e2.code).toBe('CHECKPOINT_CORRUPT');
        expect(e2.details).toMatchObject({ part: 'state', actualHash: 'unauthenticated' });
        // waits moved from another session's checkpoint
        const c = await write(s, 'swap-c');
        const d = await write(s, 'swap-d');
        await h.rawExec(
          `UPDATE checkpoints SET body = (SELECT body FROM checkpoints WHERE session_id = '${d.sessionId}' AND seq = 1)
           WHERE session_id = '${c.sessionId}' AND seq = 1`,
        );
        const e3 = await rejects(s.getLatestCheckpoint(c.sessionId));
        expect(e3.code).toBe('CHECKPOINT_CORRUPT');
        expect(e3.details).toMatchObject({ part: 'waits' });
        // effects have no hash: only the cipher can tell that d's args now hold c's
        await h.rawExec(
          `UPDATE effects SET args = (SELECT args FROM effects WHERE idempotency_key = '${c.effectKey}')
           WHERE idempotency_key = '${d.effectKey}'`,
        );
        const e4 = await rejects(s.getEffect(d.effectKey));
        expect(e4.code).toBe('EFFECT_CORRUPT');
        expect(e4.message).toContain(d.effectKey);
        // the records left alone still read
        expect((await s.getLatestCheckpoint(d.sessionId))?.body).toEqual(d.body);
        expect((await s.getEffect(c.effectKey)).args).toEqual({ to: 'swap-c args' });
      } finally {
        await s.close();
      }
    });

    it('rotates keys: old records stay readable, re-encryption moves them to the new key, then the old key can go', async () => {
      const s1 = await h.open({ encryption: ring(`k1:${K1}`) });
      const old = await write(s1, 'rot-old');
      await s1.close();
      // k2 is current, k1 still listed
      const s2 = await h.open({ encryption: ring(`k2:${K2},k1:${K1}`) });
      let fresh: Written;
      try {
        await expectReadable(s2, old);
        fresh = await write(s2, 'rot-new');
        const keysOf = async (sid: string) =>
          (await h.rawQuery(`SELECT body FROM history WHERE session_id = '${sid}'`)).map((r) =>
            String(Buffer.isBuffer(r.body) ? r.body.toString('utf8') : r.body).slice(0, 9),
          );
        expect(await keysOf(old.sessionId)).toEqual(['benc1:k1:', 'benc1:k1:']);
        expect(await keysOf(fresh.sessionId)).toEqual(['benc1:k2:', 'benc1:k2:']);
        const progress: Array<{ table: string; done: boolean }> = [];
        const r1 = await s2.reencrypt({ batch: 2, onProgress: (p) => progress.push(p) });
        expect(r1.rewritten).toBe(3 + 1 + 2 + 2 + 1 + 1); // old's parts, waits, entries, effect columns, turn result, step
        expect(r1.unreadable).toEqual([]);
        expect(progress.filter((p) => p.done).map((p) => p.table)).toEqual([
          'checkpoint_parts',
          'checkpoints',
          'history',
          'effects',
          'turn_results',
          'steps',
        ]);
        expect(await keysOf(old.sessionId)).toEqual(['benc1:k2:', 'benc1:k2:']);
        // idempotent: nothing left under another key
        const r2 = await s2.reencrypt();
        expect(r2.rewritten).toBe(0);
        expect(r2.scanned).toBe(r1.scanned);
      } finally {
        await s2.close();
      }
      const dump = await h.rawDump();
      expect(dump).not.toMatch(/benc1:k1:/);
      // k1 removed: everything reads, hashes and the history chain unchanged
      const s3 = await h.open({ encryption: ring(`k2:${K2}`) });
      try {
        await expectReadable(s3, old);
        await expectReadable(s3, fresh!);
        const cp = await s3.getLatestCheckpoint(old.sessionId);
        expect(cp?.historyHead).toBe(old.meta.historyHead);
        // and the session continues: the next append chains onto the re-encrypted log
        await s3.appendCheckpoint({
          sessionId: old.sessionId,
          expectedSeq: 1,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: old.body,
          unchanged: { state: old.meta.parts.state },
          history: [{ role: 'user', content: 'next', turnId: 't2', at: 3 }],
        });
        const page = await s3.readHistory(old.sessionId);
        expect(page.entries.map((e) => e.index)).toEqual([0, 1, 2]);
      } finally {
        await s3.close();
      }
    });

    it('encrypts records written before encryption was turned on when re-encrypting', async () => {
      const plain = await h.open();
      const w = await write(plain, `PLAINMARK${randomBytes(4).toString('hex')}`);
      await plain.close();
      const s = await h.open({ encryption: ring(`k1:${K1}`) });
      try {
        await expectReadable(s, w); // plaintext records read as they are
        const r = await s.reencrypt();
        expect(r.rewritten).toBe(10);
        await expectReadable(s, w);
        // the plaintext is gone from the stored bytes (SQLite: freed pages zeroed, WAL truncated)
        expect(await h.rawDump()).not.toContain(w.marker);
        const rows = await h.rawQuery(`SELECT body FROM history WHERE session_id = '${w.sessionId}'`);
        for (const row of rows) expect(String(row.body).startsWith('benc1:k1:')).toBe(true);
      } finally {
        await s.close();
      }
    });

    it('names the missing key when a record is sealed under a key that is not configured', async () => {
      const s1 = await h.open({ encryption: ring(`k1:${K1}`) });
      const w = await write(s1, 'missing');
      await s1.close();
      for (const [i, opts] of [{}, { encryption: ring(`k2:${K2}`) }].entries()) {
        const s = await h.open(opts);
        try {
          const e = await rejects(s.getLatestCheckpoint(w.sessionId));
          expect(e.code).toBe('ENCRYPTION_KEY_MISSING');
          expect(e.message).toContain('"k1"');
          expect(e.details).toMatchObject({ keyId: 'k1' });
          expect((await rejects(s.readHistory(w.sessionId))).code).toBe('ENCRYPTION_KEY_MISSING');
          expect((await rejects(s.getEffect(w.effectKey))).code).toBe('ENCRYPTION_KEY_MISSING');
          // a configuration error, not corruption: a turn start fails instead of quarantining
          if (i === 0) {
            const err = await rejects(
              s.beginTurn(w.sessionId, u('key'), 'owner', 10_000, { entries: 10, bytes: 1e6 }),
            );
            expect(err.code).toBe('ENCRYPTION_KEY_MISSING');
            // nothing started: the lease is not left held
            expect((await s.getSession(w.sessionId)).leaseOwner).toBeNull();
          }
          expect((await s.getSession(w.sessionId)).status).not.toBe('quarantined');
          // re-encryption without the key stops with the same clear error
          if (opts.encryption) expect((await rejects(s.reencrypt())).code).toBe('ENCRYPTION_KEY_MISSING');
        } finally {
          await s.close();
        }
      }
    });
  });
}
