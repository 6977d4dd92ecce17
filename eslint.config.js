// Lint: typescript-eslint's recommended rules, plus the import boundary that keeps
// drivers out of route and domain code (docs/ARCHITECTURE.md §2: only src/db hands out connections).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'web/dist/**', '.capto/**', 'test-output/**', 'bin/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/db/**', 'src/cli/**', 'src/scan/**', 'src/ops/**', 'src/main.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'pg', message: 'Use the request helpers from src/db (asUser/asAnon/asService).' },
            { name: '@electric-sql/pglite', message: 'Use the request helpers from src/db.' },
            { name: '@electric-sql/pglite-socket', message: 'Use the request helpers from src/db.' },
          ],
          patterns: [
            { group: ['**/db/embedded-engine.ts'], message: 'Open databases with openEngine (src/db/index.ts).' },
          ],
        },
      ],
    },
  },
  {
    // The embedded data dir has one door (docs/ARCHITECTURE.md §5): maintenance
    // code opens databases with openEngine / accessDataDir, never PGlite or the engine directly.
    files: ['src/cli/**/*.ts', 'src/scan/**/*.ts', 'src/ops/**/*.ts', 'src/main.ts'],
    ignores: ['src/ops/backup-embedded.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '@electric-sql/pglite',
                '@electric-sql/pglite/*',
                '@electric-sql/pglite-socket',
                '**/db/embedded-engine.ts',
              ],
              message:
                'Open the embedded database with openEngine (src/db/index.ts) or accessDataDir: they take the data dir lock or use the running server.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'src/**/*.test.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
