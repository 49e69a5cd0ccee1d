// Lint: typescript-eslint with type information (the project's tsconfig.json), for src/, test/ and
// scripts/. `npm run lint`. Formatting is Prettier's job (.prettierrc.json), not this file's.
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'coverage/', 'recordings/', '.dist-*/', 'node_modules/'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // fields, then the constructor, then methods (accessors may sit beside the method they serve)
      '@typescript-eslint/member-ordering': [
        'error',
        { default: ['signature', 'call-signature', 'static-field', 'instance-field', 'constructor', 'method'] },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      'no-unreachable': 'error',
      'no-unused-labels': 'error',
      'no-useless-catch': 'error',
      // tsconfig.json has noUncheckedIndexedAccess, so an `xs[i]!` is needed and kept; others go.
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      // Route handlers and interface implementations are async by contract, awaiting or not.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests read wire JSON (JSON.parse is `any`) and assert on it with expect(): the assertion is the check.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], extends: [tseslint.configs.disableTypeChecked] },
);
