/** The error body every endpoint answers with: `{error: {code, message, details?}}`. */
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../../errors';

const CODES = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

export const errorBodySchema = z
  .object({
    error: z
      .object({
        /** A stable code; clients act on it, never on `message`. */
        code: z.enum(CODES),
        message: z.string(),
        details: z.record(z.string(), z.unknown()).optional(),
      })
      .strict(),
  })
  .strict();
export type ErrorBody = z.output<typeof errorBodySchema>;
