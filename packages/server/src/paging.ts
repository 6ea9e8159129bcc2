/**
 * Paging at the HTTP edge: `limit` is a plain decimal integer in range, and a `cursor` is opaque —
 * the store's position wrapped with the list it belongs to, so a made-up or foreign cursor is
 * refused (`INVALID_CURSOR`) instead of silently starting again at the first page.
 */
import { BatonError } from '@baton/core';

export type CursorKind = 'sessions' | 'effects' | 'stragglers';

export function encodeCursor(kind: CursorKind, position: string | null): string | null {
  return position === null ? null : `${kind}.${Buffer.from(position, 'utf8').toString('base64url')}`;
}

/** The store position inside a cursor this endpoint handed out; INVALID_CURSOR otherwise. */
export function decodeCursor(kind: CursorKind, cursor: string | undefined): string | null {
  if (cursor === undefined) return null;
  const m = /^([a-z]+)\.([A-Za-z0-9_-]{1,400})$/.exec(cursor);
  const position = m && m[1] === kind ? Buffer.from(m[2]!, 'base64url').toString('utf8') : '';
  if (!m || position === '' || encodeCursor(kind, position) !== cursor || position.includes('\0')) {
    throw new BatonError(
      'INVALID_CURSOR',
      `not a cursor of this list (pass back the nextCursor of a ${kind} page)`,
    );
  }
  return position;
}
