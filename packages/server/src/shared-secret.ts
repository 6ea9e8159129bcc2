/** A secret shared by every router of a store (`Store.sharedSecret`), read once and then cached. */
import type { Store } from '@baton/store';

/** A getter for the secret `name`: the first call reads it, a failed read is tried again next call. */
export function cachedSecret(store: Store, name: string): () => Promise<Buffer> {
  let key: Promise<Buffer> | null = null;
  return () =>
    (key ??= store.sharedSecret(name).catch((e: unknown) => {
      key = null;
      throw e;
    }));
}
