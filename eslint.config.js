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
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'src/**/*.test.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
