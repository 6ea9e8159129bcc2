import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'bench/results/**',
      'chaos/results/**',
      '.tmp/**',
      // the packages as `npm run pack` builds them (compiled output)
      '.pack/**',
      // an earlier release's SDK, bundled unchanged (a fixture, not our code to lint)
      'packages/server/test/fixtures/sdk-protocol1.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // the dashboard's pages: plain ES modules that run in the browser
    files: ['packages/server/dashboard/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'sessionStorage',
          'fetch',
          'URLSearchParams',
          'AbortController',
          'TextDecoderStream',
          'addEventListener',
          'removeEventListener',
          'setTimeout',
          'clearTimeout',
          'console',
        ].map((g) => [g, 'readonly']),
      ),
    },
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'import-x/no-cycle': 'error',
    },
  },
  {
    // The turn path (every turn runs this code). In Node 20 an object made by a spread is slow to add
    // properties to: `{ ...x, y }` costs about 0.3–2 µs where a literal or Object.assign costs 20–50 ns
    // (docs/benchmarks.md, "turns vs the base commit").
    files: [
      'packages/server/src/{turns,turn-dispatch,turn-window,turn-types,commit,wire,waits,worker-response,lease,traffic,capability,http-worker,edge,auth,metrics,pool,routing,route-cache,versions,router,worker-api,history}.ts',
      'packages/server/src/tracing/spans.ts',
      'packages/store/src/{sqlite,sqlite-log,sqlite-guard,common,log-cache,log-rows,checkpoint-cache,postgres,pg-batch,pg-history}.ts',
      'packages/sdk/src/{turn,request,worker,worker-client,http,effect,parts,tracing}.ts',
    ],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ObjectExpression:has(> SpreadElement:first-child):has(> Property)',
          message:
            'on the turn path, build the object as a literal with every field (or Object.assign({}, x, {...})): in Node 20 `{ ...x, y }` is slow',
        },
      ],
    },
  },
);
