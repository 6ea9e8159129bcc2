/**
 * Store files are private to their owner: a new SQLite file is created 0600 before SQLite opens
 * it (SQLite gives its `-wal` and `-shm` files the mode of the database file), and the `-wal` and
 * `-shm` files are set 0600 too. An existing file that others can read is left as it is (its
 * owner may have a reason) and reported, so the server warns about it at start.
 */
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';

const SIDE_FILES = ['-wal', '-shm'] as const;

/** Create `file` empty with mode 0600 when it does not exist yet (SQLite accepts an empty file). */
export function createPrivate(file: string): void {
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/** Set the `-wal` and `-shm` files of `file` 0600 when they exist and the main file is private. */
export function privateSideFiles(file: string): void {
  if ((statSync(file).mode & 0o077) !== 0) return;
  for (const s of SIDE_FILES) if (existsSync(file + s)) chmodSync(file + s, 0o600);
}

/** The files of an existing SQLite store that users other than its owner can read or write. */
export function exposedFiles(file: string): Array<{ file: string; mode: string }> {
  const out: Array<{ file: string; mode: string }> = [];
  for (const f of [file, ...SIDE_FILES.map((s) => file + s)]) {
    if (!existsSync(f)) continue;
    const mode = statSync(f).mode & 0o777;
    if ((mode & 0o077) !== 0) out.push({ file: f, mode: `0${mode.toString(8)}` });
  }
  return out;
}
