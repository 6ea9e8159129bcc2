/**
 * The WAL checkpoint of a SQLite store file, run off the event loop: a worker thread with its own
 * connection runs `PRAGMA wal_checkpoint(PASSIVE)` every `CHECKPOINT_INTERVAL_MS`, copying committed WAL frames
 * into the database file while the store's connection goes on writing (WAL lets one checkpointer
 * run beside one writer). better-sqlite3 is synchronous, so a checkpoint run by the store's own
 * connection (SQLite's automatic checkpoint, after the commit that fills the WAL past 1,000 pages)
 * stops every request of the process while it copies and syncs: with 50 sessions committing at
 * once, the thread raised the appends per second by 5–15 % (docs/benchmarks.md, "Concurrent appends").
 *
 * The store's connection keeps an automatic checkpoint as a backstop, at `BACKSTOP_PAGES`: under a
 * sustained write load the worker is rarely caught up at the instant a write begins, which is when
 * SQLite starts the WAL over, so the WAL grows until the backstop copies the few frames the worker
 * has not and the next write starts it over. If the worker cannot start or fails, the store goes
 * back to SQLite's default automatic checkpoint and says why (`onFailure`). Durability does not
 * change: a checkpoint syncs with the connection's `synchronous` setting, and a crash in the
 * middle of one leaves the WAL to replay, as with SQLite's own.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** SQLite's default automatic checkpoint (pages of WAL). */
export const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;
/** The store connection's automatic checkpoint while the worker runs (pages of WAL). */
export const BACKSTOP_PAGES = 8000;
/** How often the worker checkpoints. */
export const CHECKPOINT_INTERVAL_MS = 50;

/** The worker's code (plain CommonJS, evaluated: no file to resolve in any layout of the package). */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('synchronous = ' + workerData.synchronous);
db.pragma('wal_autocheckpoint = 0');
const timer = setInterval(() => db.pragma('wal_checkpoint(PASSIVE)'), workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface CheckpointerOptions {
  file: string;
  synchronous: 'NORMAL' | 'FULL';
  /** The driver the worker loads (default: this package's better-sqlite3). */
  driver?: string;
  /** The worker could not start or stopped with an error; the store checkpoints inline again. */
  onFailure(error: unknown): void;
}

/** A running background checkpointer; `stop` closes its connection and ends the thread. */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private failed = false;
  private stopping = false;

  constructor(opts: CheckpointerOptions) {
    const driver = opts.driver ?? createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_CODE, {
      eval: true,
      workerData: {
        driver,
        file: opts.file,
        synchronous: opts.synchronous,
        intervalMs: CHECKPOINT_INTERVAL_MS,
      },
    });
    // a process that never closes its store still exits
    this.worker.unref();
    const fail = (e: unknown): void => {
      if (this.failed || this.stopping) return;
      this.failed = true;
      opts.onFailure(e);
    };
    this.worker.on('error', fail);
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        if (code !== 0) fail(new Error(`the WAL checkpoint thread exited with code ${code}`));
        resolve();
      });
    });
  }

  /** Close the worker's connection and wait for its thread to end. */
  async stop(): Promise<void> {
    if (this.stopping) return this.exited;
    this.stopping = true;
    // keep the process alive until the thread has closed its connection (a caller awaits this)
    this.worker.ref();
    this.worker.postMessage('stop');
    await this.exited;
  }
}
