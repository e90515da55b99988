// Type-aware lint. The promise rules catch the unhandled rejection that would take a worker down.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'bench-results/**', 'data/**', 'logs/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }],
      }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // The two planes never import each other (STYLE.md §2).
      'no-restricted-imports': 'off',
    },
  },
  {
    // the status page's script (process/ui-route.ts serves it) runs in the browser, in no tsconfig: linted untyped
    files: ['src/ui/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'script',
      globals: Object.fromEntries(['document', 'sessionStorage', 'fetch', 'setTimeout', 'clearTimeout', 'URLSearchParams', 'FormData', 'AbortSignal'].map((g) => [g, 'readonly'])),
    },
  },
  {
    files: ['src/dataplane/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/controlplane/**'], message: 'the data plane never imports the control plane' }] }] },
  },
  {
    files: ['src/controlplane/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/dataplane/**'], message: 'the control plane never imports the data plane' }] }] },
  },
  {
    files: ['src/lib/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../*', '!../lib/*'], message: 'lib/ imports nothing of the product' }] }] },
  },
  {
    // a lib test may use the test fixtures (hand-built inputs), still nothing of the product
    files: ['src/lib/**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '^\\.\\./(?!lib/|\\.\\./test/fixtures/)', message: 'lib/ imports nothing of the product' }] }] },
  },
);
