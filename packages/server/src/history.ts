/** Reading a session's history log for clients and workers: a corrupt entry quarantines the session. */
import { BatonError, CheckpointCorruptError, type HistoryPage, type HistoryQuery } from '@baton/core';
import type { Store } from '@baton/store';

/**
 * One page of the history (see `Store.readHistory`). An entry that fails its hash or chain check is
 * never returned: the session is quarantined with the reason, and the caller gets SESSION_QUARANTINED.
 */
export async function readHistoryChecked(
  store: Store,
  sessionId: string,
  q: HistoryQuery,
): Promise<HistoryPage> {
  try {
    return await store.readHistory(sessionId, q);
  } catch (e) {
    if (!(e instanceof CheckpointCorruptError)) throw e;
    const reason = `corrupt history: ${e.message}`;
    await store.quarantineSession(sessionId, reason);
    throw new BatonError('SESSION_QUARANTINED', `session ${sessionId} is quarantined`, { sessionId, reason });
  }
}
