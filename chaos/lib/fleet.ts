/**
 * The processes under test: `baton serve` (one on SQLite, two or more on PostgreSQL, each with a
 * stable instance id) and `baton worker` processes of the chaos agent, all real child processes of
 * the CLI. A restarted process keeps its port (the workers' server list and the worker records
 * stay right) and its identity.
 */
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FaultSwitch } from '../agent';
import { call } from './http';
import { kill, start, type Proc } from './procs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../..');
const BIN = path.join(REPO, 'packages/cli/bin/baton.mjs');
const AGENT_MODULE = path.join(REPO, 'chaos/agent.ts');

export interface Tokens {
  admin: string;
  traffic: string;
  worker: string;
}

export interface FleetOptions {
  dir: string;
  store: string;
  storeSchema: string | null;
  servers: number;
  tokens: Tokens;
  turnTimeoutMs: number;
  sideFile: string;
}

export interface ServerSlot {
  id: string;
  port: number;
  url: string;
  proc: Proc | null;
}

export interface WorkerSlot {
  name: string;
  version: string;
  port: number;
  control: string;
  proc: Proc | null;
}

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('BATON_') && !k.startsWith('CHAOS_')) e[k] = v;
  return { ...e, NO_COLOR: '1', ...extra };
}

export class Fleet {
  readonly servers: ServerSlot[] = [];
  readonly workers: WorkerSlot[] = [];

  constructor(readonly opts: FleetOptions) {
    for (let i = 0; i < opts.servers; i++)
      this.servers.push({ id: `chaos-${String.fromCharCode(97 + i)}`, port: 0, url: '', proc: null });
  }

  urls(): string[] {
    return this.servers.map((s) => s.url).filter(Boolean);
  }

  async startServer(slot: ServerSlot): Promise<void> {
    const o = this.opts;
    const args = [
      BIN,
      'serve',
      '--json',
      '--port',
      String(slot.port),
      '--store',
      o.store,
      ...(o.storeSchema ? ['--store-schema', o.storeSchema] : []),
      '--instance-id',
      slot.id,
      '--admin-token',
      o.tokens.admin,
      '--traffic-token',
      o.tokens.traffic,
      '--worker-token',
      o.tokens.worker,
      '--tokens-file',
      path.join(o.dir, `${slot.id}.tokens.json`),
      '--shutdown-timeout',
      '2s',
      '--turn-timeout',
      `${o.turnTimeoutMs}ms`,
      '--keep-checkpoints',
      '1000',
    ];
    const { proc, line } = await start(slot.id, process.execPath, args, {
      cwd: o.dir,
      env: env({}),
      logFile: path.join(o.dir, `${slot.id}.log`),
    });
    const ready = JSON.parse(line) as { url: string };
    slot.proc = proc;
    slot.url = ready.url;
    slot.port = Number(new URL(ready.url).port);
  }

  async startWorker(slot: WorkerSlot): Promise<void> {
    const o = this.opts;
    writeFileSync(slot.control, JSON.stringify({ mode: 'none' } satisfies FaultSwitch));
    const args = [
      BIN,
      'worker',
      '--agent',
      AGENT_MODULE,
      '--export',
      slot.version,
      '--server',
      this.urls().join(','),
      '--port',
      String(slot.port),
      '--json',
    ];
    const { proc, line } = await start(slot.name, process.execPath, args, {
      cwd: o.dir,
      env: env({
        BATON_ADMIN_TOKEN: o.tokens.admin,
        BATON_WORKER_TOKEN: o.tokens.worker,
        CHAOS_CONTROL: slot.control,
        CHAOS_SIDE: o.sideFile,
      }),
      logFile: path.join(o.dir, `${slot.name}.log`),
    });
    const ready = JSON.parse(line) as { url: string };
    slot.proc = proc;
    slot.port = Number(new URL(ready.url).port);
  }

  addWorker(version: string): WorkerSlot {
    const name = `worker-${version}-${this.workers.filter((w) => w.version === version).length + 1}`;
    const slot: WorkerSlot = {
      name,
      version,
      port: 0,
      control: path.join(this.opts.dir, `${name}.control.json`),
      proc: null,
    };
    this.workers.push(slot);
    return slot;
  }

  setFault(slot: WorkerSlot, f: FaultSwitch): void {
    writeFileSync(slot.control + '.tmp', JSON.stringify(f));
    // rename is atomic: the agent never reads half a file
    renameSync(slot.control + '.tmp', slot.control);
  }

  async killServer(slot: ServerSlot): Promise<void> {
    if (slot.proc) await kill(slot.proc);
    slot.proc = null;
  }

  async killWorker(slot: WorkerSlot): Promise<void> {
    if (slot.proc) await kill(slot.proc);
    slot.proc = null;
  }

  /** The instance id holding the controller lock, as the first answering live server sees it. */
  async leader(exclude?: string): Promise<string | null> {
    for (const s of this.servers) {
      if (!s.proc || s.id === exclude) continue;
      try {
        const r = await call(s.url, 'GET', '/v1/controller', {
          token: this.opts.tokens.admin,
          timeoutMs: 2_000,
        });
        const id = (r.body as { leader?: { instanceId?: string } | null })?.leader?.instanceId;
        if (r.status === 200 && id) return id;
      } catch {
        // try the next one
      }
    }
    return null;
  }

  /** Live processes that exited although nobody killed them. */
  unexpectedExits(): Proc[] {
    return [...this.servers, ...this.workers]
      .map((s) => s.proc)
      .filter(
        (p): p is Proc =>
          !!p && !p.expectedExit && (p.child.exitCode !== null || p.child.signalCode !== null),
      );
  }
}
