/**
 * Wait tokens are callback capabilities: the store keeps only their digests (`waitDigest`). A new
 * wait's token is shown to the client once, in the answer of the turn that created it.
 */
import { waitDigest, type Wait } from '@baton/core';

/**
 * A pending wait as clients see it. `token` (the callback capability) is shown once, in the answer
 * of the turn that created the wait; the store keeps only its digest, so session views, replayed
 * answers and later turns list the wait without it.
 */
export interface PublicWait {
  token?: string;
  name: string;
  deadline: number;
  schema: Record<string, unknown> | null;
}

/** A wait without its token: what views, replays and later turns show. */
export function publicWait(w: Wait): PublicWait {
  return { name: w.name, deadline: w.deadline, schema: w.schema };
}

/**
 * The waits a worker answered, as stored (`stored`: each new wait's token replaced by its digest;
 * waits carried from the checkpoint already are digests) and as the client is shown (`shown`: a
 * new wait's token, once). A wait is new when its token is not one of the checkpoint's digests.
 */
export function digestWaits(answered: Wait[], checkpoint: Wait[]): { stored: Wait[]; shown: PublicWait[] } {
  const carried = new Set(checkpoint.map((w) => w.token));
  const stored: Wait[] = [];
  const shown: PublicWait[] = [];
  for (const w of answered) {
    const isNew = !carried.has(w.token);
    stored.push(isNew ? Object.assign({}, w, { token: waitDigest(w.token) }) : w);
    shown.push(isNew ? { token: w.token, ...publicWait(w) } : publicWait(w));
  }
  return { stored, shown };
}
