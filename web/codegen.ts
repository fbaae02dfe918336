import type { CodegenConfig } from '@graphql-codegen/cli';

// Types and typed documents from the committed contract. `npm run codegen:check` generates into
// a temporary directory (CODEGEN_OUT) and compares it with src/gql.
const out = process.env.CODEGEN_OUT ?? './src/gql/';

const config: CodegenConfig = {
  schema: '../docs/schema.graphql',
  documents: ['src/**/*.{ts,tsx}', '!src/gql/**/*', '!src/**/*.test.{ts,tsx}', '!src/test/**/*'],
  ignoreNoDocuments: false,
  generates: {
    [out]: {
      preset: 'client',
      presetConfig: { fragmentMasking: { unmaskFunctionName: 'getFragmentData' } },
      config: {
        scalars: { DateTime: 'string', JSON: 'Record<string, unknown>' },
        enumsAsTypes: true,
        useTypeImports: true,
        skipTypename: false,
        dedupeFragments: true,
        strictScalars: true,
      },
    },
  },
  hooks: {},
};

export default config;
