/** `baton demo` entry. */
import { BatonError } from '@baton/core';

export async function runDemo(_opts: Record<string, unknown>): Promise<number> {
  throw new BatonError('INTERNAL', 'demo not built yet');
}
