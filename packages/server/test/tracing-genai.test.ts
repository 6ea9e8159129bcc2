import { describe, expect, it } from 'vitest';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import * as genai from '../src/tracing/genai';

describe('GenAI attribute names', () => {
  it('are those of the semantic conventions package', () => {
    const names = Object.keys(genai);
    expect(names.length).toBe(6);
    for (const name of names) {
      expect((genai as Record<string, string>)[name], name).toBe(
        (incubating as Record<string, unknown>)[name],
      );
    }
  });
});
