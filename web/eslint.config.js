import js from '@eslint/js';
import checkFile from 'eslint-plugin-check-file';
import importPlugin from 'eslint-plugin-import';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist', 'node_modules', 'src/gql', 'e2e-artifacts'] },
  {
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    files: ['**/*.{ts,tsx}'],
    languageOptions: {
      ecmaVersion: 2022,
      globals: { ...globals.browser, ...globals.node },
    },
    plugins: {
      'react-hooks': reactHooks,
      import: importPlugin,
      'check-file': checkFile,
    },
    settings: {
      'import/resolver': {
        typescript: { project: './tsconfig.app.json' },
      },
    },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'warn',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Variables may hold secrets: nothing is logged from the app.
      'no-console': 'error',
      // File and folder names are kebab-case.
      'check-file/filename-naming-convention': [
        'error',
        { 'src/**/*.{ts,tsx}': 'KEBAB_CASE', 'e2e/**/*.ts': 'KEBAB_CASE' },
        { ignoreMiddleExtensions: true },
      ],
      'check-file/folder-naming-convention': ['error', { 'src/**/': 'KEBAB_CASE' }],
      // Imports flow one way: shared (components, lib, gql) → features → app. A feature does
      // not import another feature.
      'import/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './src/features', from: './src/app' },
            {
              target: './src/features/auth',
              from: './src/features',
              except: ['./auth'],
            },
            {
              target: './src/features/credentials',
              from: './src/features',
              except: ['./credentials'],
            },
            { target: './src/features/audit', from: './src/features', except: ['./audit'] },
            { target: './src/features/account', from: './src/features', except: ['./account'] },
            { target: './src/features/admin', from: './src/features', except: ['./admin'] },
            {
              target: ['./src/components', './src/lib', './src/gql'],
              from: ['./src/features', './src/app'],
            },
          ],
        },
      ],
      'import/no-cycle': 'error',
    },
  },
  {
    files: ['e2e/**/*.ts', 'scripts/**/*.{mjs,ts}', '*.config.{js,ts}', 'codegen.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.test.{ts,tsx}', 'src/test/**/*'],
    rules: { 'no-console': 'off' },
  },
);
