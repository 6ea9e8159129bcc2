/**
 * A private PostgreSQL cluster for one chaos run: `initdb` in a temporary directory, its own port
 * (56110–56199) and socket directory, started and stopped with `pg_ctl`, so restarting it never
 * touches a PostgreSQL server other tests use. Run as the `postgres` user when this process is
 * root (PostgreSQL refuses to run as root).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The directory of `initdb`/`pg_ctl`: the newest /usr/lib/postgresql/<n>/bin, else the PATH's. */
export function pgBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(root, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  return which.status === 0 && found ? path.dirname(found) : null;
}

function freePort(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export interface PrivateCluster {
  port: number;
  url: string;
  dataDir: string;
  start(): void;
  /** `immediate` is a crash (no checkpoint, recovery at the next start); `fast` a clean stop. */
  stop(mode?: 'fast' | 'immediate'): void;
  running(): boolean;
  /** Stops it if running and deletes its directory. */
  destroy(): void;
}

export async function createCluster(firstPort = 56110, lastPort = 56199): Promise<PrivateCluster> {
  const bin = pgBinDir();
  if (!bin) throw new Error('initdb not found (install PostgreSQL server binaries)');
  let port = 0;
  for (let p = firstPort; p <= lastPort && !port; p++) if (await freePort(p)) port = p;
  if (!port) throw new Error(`no free port in ${firstPort}-${lastPort} for a private PostgreSQL`);
  const root = mkdtempSync(path.join(os.tmpdir(), 'baton-chaos-pg-'));
  const dataDir = path.join(root, 'data');
  const asUser: { uid?: number; gid?: number } = {};
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(root, uid, gid);
    asUser.uid = uid;
    asUser.gid = gid;
  }
  const run = (tool: string, args: string[]): void => {
    const r = spawnSync(path.join(bin, tool), args, { ...asUser, encoding: 'utf8', cwd: root });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  };
  run('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  const opts = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  let up = false;
  const cluster: PrivateCluster = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    start() {
      run('pg_ctl', ['-D', dataDir, '-o', opts, '-l', path.join(root, 'log'), '-w', '-t', '60', 'start']);
      up = true;
    },
    stop(mode = 'fast') {
      run('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
      up = false;
    },
    running: () => up,
    destroy() {
      if (up) {
        try {
          cluster.stop('immediate');
        } catch {
          // already stopped
        }
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  return cluster;
}
