/** Versions, workers and routes: the catalog an admin registers, as plans over either backend (`dialect.ts`). */
import type { RouteRecord, VersionRecord, WorkerRecord } from '@baton/core';
import {
  checkRouteWeight,
  checkSameVersion,
  routeFromRow,
  versionFromRow,
  versionNotFound,
  workerFromRow,
  workerNotFound,
} from '../common';
import { all, one, run } from './dialect';
import type { Plan, SqlContext } from './dialect';
import { Where } from './where';

/** Registering again is idempotent for the same manifest (`checkSameVersion`), VERSION_CONFLICT otherwise. */
export function* registerVersion(c: SqlContext, v: Omit<VersionRecord, 'createdAt'>): Plan<VersionRecord> {
  const row = yield* one(
    `INSERT INTO versions (agent, label, schema_version, model_id, prompt_hash, tool_manifest_hash, code_hash,
       identity, accepts_schemas, down_schemas, created_at, metadata)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (agent, label) DO NOTHING RETURNING *`,
    [
      v.agent,
      v.label,
      v.schemaVersion,
      v.modelId,
      v.promptHash,
      v.toolManifestHash,
      v.codeHash,
      v.identity,
      JSON.stringify(v.acceptsSchemas ?? []),
      JSON.stringify(v.downSchemas ?? []),
      c.now(),
      JSON.stringify(v.metadata ?? {}),
    ],
  );
  if (row) return versionFromRow(row);
  const rec = yield* getVersion(v.agent, v.label);
  checkSameVersion(v, rec);
  return rec;
}

export function* getVersion(agent: string, label: string): Plan<VersionRecord> {
  const row = yield* one('SELECT * FROM versions WHERE agent = $1 AND label = $2', [agent, label], true);
  if (!row) throw versionNotFound(agent, label);
  return versionFromRow(row);
}

export function* listVersions(agent?: string): Plan<VersionRecord[]> {
  const rows =
    agent === undefined
      ? yield* all('SELECT * FROM versions ORDER BY agent, created_at, label')
      : yield* all('SELECT * FROM versions WHERE agent = $1 ORDER BY created_at, label', [agent]);
  return rows.map(versionFromRow);
}

export function* registerWorker(
  c: SqlContext,
  w: Omit<WorkerRecord, 'registeredAt' | 'lastSeenAt'>,
): Plan<WorkerRecord> {
  const row = yield* one(
    `INSERT INTO workers (id, agent, version, url, health, registered_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
     ON CONFLICT (id) DO UPDATE SET agent = excluded.agent, version = excluded.version, url = excluded.url,
       health = excluded.health, last_seen_at = excluded.last_seen_at
     RETURNING *`,
    [w.id, w.agent, w.version, w.url ?? null, w.health, c.now()],
  );
  return workerFromRow(row!);
}

export function* updateWorker(
  c: SqlContext,
  id: string,
  patch: { health?: WorkerRecord['health']; seen?: boolean },
): Plan<WorkerRecord> {
  const row = yield* one(
    `UPDATE workers SET health = coalesce($1, health), last_seen_at = CASE WHEN $2 THEN $3 ELSE last_seen_at END
     WHERE id = $4 RETURNING *`,
    [patch.health ?? null, patch.seen === true, c.now(), id],
  );
  if (!row) throw workerNotFound(id);
  return workerFromRow(row);
}

export function* removeWorker(id: string): Plan<void> {
  if ((yield* run('DELETE FROM workers WHERE id = $1', [id])) === 0) throw workerNotFound(id);
}

export function* listWorkers(q: { agent?: string; version?: string } = {}): Plan<WorkerRecord[]> {
  const w = new Where().eq('agent', q.agent).eq('version', q.version);
  const rows = yield* all(`SELECT * FROM workers${w.sql} ORDER BY registered_at, id`, w.args);
  return rows.map(workerFromRow);
}

export function* getRoute(agent: string): Plan<RouteRecord | null> {
  const row = yield* one('SELECT * FROM routes WHERE agent = $1', [agent], true);
  return row ? routeFromRow(row) : null;
}

export function* setRoute(c: SqlContext, r: Omit<RouteRecord, 'updatedAt'>): Plan<RouteRecord> {
  checkRouteWeight(r.weight);
  const row = yield* one(
    `INSERT INTO routes (agent, stable, candidate, weight, move, rollout_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (agent) DO UPDATE SET stable = excluded.stable, candidate = excluded.candidate,
       weight = excluded.weight, move = excluded.move, rollout_id = excluded.rollout_id, updated_at = excluded.updated_at
     RETURNING *`,
    [
      r.agent,
      r.stable,
      r.candidate ?? null,
      r.weight,
      r.move ? JSON.stringify(r.move) : null,
      r.rolloutId ?? null,
      c.now(),
    ],
  );
  return routeFromRow(row!);
}
