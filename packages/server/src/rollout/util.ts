/** Small helpers shared by the rollout modules. */
import type { ServerContext } from '../context';

/** What the rollout actions need from the server context. */
export type OpsContext = Pick<
  ServerContext,
  'store' | 'clock' | 'pool' | 'versions' | 'instanceId' | 'limits' | 'metrics' | 'capabilities'
>;

/** Run `fn` over `items` with at most `n` in flight. */
export async function mapLimit<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}
