import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'examples/*/test/**/*.test.ts',
      'test/**/*.test.ts',
      'chaos/test/**/*.test.ts',
    ],
    // the chaos short form (chaos/test) sets its own, longer timeout
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globals: true,
    pool: 'forks',
  },
});
