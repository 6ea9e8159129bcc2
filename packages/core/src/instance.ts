/** A process's instance id (`baton serve --instance-id`): lease and lock owners are built from it. */
import { ValidationError } from './errors';

/** Letters, digits, `.`, `_`, `-` (no `:` or `#`, which separate the parts of owners); at most 100. */
export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function checkInstanceId(id: string, source = 'instance id'): string {
  if (!INSTANCE_ID_PATTERN.test(id))
    throw new ValidationError(
      `${source}: ${JSON.stringify(id)} is not a valid instance id (letters, digits, '.', '_', '-'; at most 100)`,
    );
  return id;
}
