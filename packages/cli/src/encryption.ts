/**
 * Encryption at rest keys for `baton serve` and `baton store reencrypt`: a key list from
 * `BATON_ENCRYPTION_KEYS` (environment only: a flag would show in the process list) or from a key
 * file (`--encryption-key-file` / `BATON_ENCRYPTION_KEY_FILE`), one `id:key` a line, the first the
 * current key unless `--encryption-key-id` / `BATON_ENCRYPTION_KEY_ID` names another.
 */
import { readFile, stat } from 'node:fs/promises';
import { ValidationError } from '@baton/core';
import { parseKeyRing } from '@baton/store';
import type { KeyListConfig } from '@baton/store';

export interface EncryptionFlags {
  encryptionKeyFile?: string;
  encryptionKeyId?: string;
}

export interface EncryptionSetting {
  /** The key list for the store (null: encryption off). */
  config: KeyListConfig | null;
  /** Where the keys came from, for messages (never the keys). */
  source: string | null;
  currentKeyId: string | null;
  keyIds: string[];
  warnings: string[];
}

export async function resolveEncryption(
  flags: EncryptionFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<EncryptionSetting> {
  const file = flags.encryptionKeyFile ?? (env.BATON_ENCRYPTION_KEY_FILE || undefined);
  const inline = env.BATON_ENCRYPTION_KEYS || undefined;
  const current = flags.encryptionKeyId ?? (env.BATON_ENCRYPTION_KEY_ID || undefined);
  const warnings: string[] = [];
  if (file && inline) {
    throw new ValidationError(
      'encryption keys are given twice: set BATON_ENCRYPTION_KEYS or a key file (--encryption-key-file / BATON_ENCRYPTION_KEY_FILE), not both',
    );
  }
  let keys: string | undefined = inline;
  let source: string | null = inline ? 'BATON_ENCRYPTION_KEYS' : null;
  if (file) {
    try {
      keys = await readFile(file, 'utf8');
      const mode = (await stat(file)).mode & 0o777;
      if (mode & 0o077) {
        warnings.push(
          `encryption key file ${file} is readable by other users (mode ${mode.toString(8)}); chmod 600 it`,
        );
      }
    } catch (e) {
      throw new ValidationError(`encryption key file ${file}: ${(e as Error).message}`);
    }
    source = `key file ${file}`;
  }
  if (keys === undefined) {
    if (current) throw new ValidationError('--encryption-key-id needs encryption keys');
    return { config: null, source: null, currentKeyId: null, keyIds: [], warnings };
  }
  let ring;
  try {
    ring = parseKeyRing(keys, current);
  } catch (e) {
    throw new ValidationError(`${source}: ${(e as Error).message}`);
  }
  if (ring.current === null) throw new ValidationError(`${source}: no encryption key in it`);
  return {
    config: { keys, ...(current ? { current } : {}) },
    source,
    currentKeyId: ring.current,
    keyIds: [...ring.keys.keys()],
    warnings,
  };
}
