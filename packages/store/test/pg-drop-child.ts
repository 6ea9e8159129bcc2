/**
 * Test helper: a PostgreSQL store whose connection is terminated by the server while a write
 * transaction holds it (just before COMMIT), as a PostgreSQL restart or failover does. Prints the
 * append's outcome, then whether the store still works, and exits 0, unless the dropped connection
 * crashed the process.
 * argv: url (with a unique application_name), schema
 */
import { writeSync } from 'node:fs';
import pg from 'pg';
import { PostgresStore } from '../src/postgres';

const [url, schema] = process.argv.slice(2);
const app = new URL(url!).searchParams.get('application_name');
const admin = new pg.Client({
  connectionString: url!.replace(/application_name=[^&]*/, 'application_name=admin'),
});
await admin.connect();

let dropped = 0;
const store = await PostgresStore.open(url!, {
  schema: schema!,
  poolSize: 2,
  hooks: {
    beforeCommit: async () => {
      if (dropped > 0) return;
      const r = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction'`,
        [app],
      );
      dropped = r.rowCount ?? 0;
      // the reset reaches the held connection before COMMIT is sent
      await new Promise((r) => setTimeout(r, 300));
    },
  },
});
const s = await store.createSession({ agent: 'a', version: 'v1', tokenHash: 'x' });
const append = (expectedSeq: number) =>
  store.appendCheckpoint({
    sessionId: s.id,
    expectedSeq,
    schemaVersion: 1,
    writtenBy: 'v1',
    body: { state: { n: expectedSeq }, context: null, waits: [] },
  });
const first = await append(0).then(
  () => 'committed',
  (e: unknown) => `refused: ${(e as { code?: string }).code ?? String(e)}`,
);
writeSync(1, `dropped ${dropped}\n${first}\n`);
// the pool replaces the dead connection: the same append goes through now
const again = await append(0);
writeSync(1, `then committed seq ${again.seq}\n`);
await store.close();
await admin.end();
