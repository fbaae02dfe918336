// Fails when src/gql differs from what codegen makes of ../docs/schema.graphql and the documents.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tmp = mkdtempSync(join(tmpdir(), 'credledger-codegen-'));
try {
  execFileSync('npx', ['graphql-codegen', '--config', 'codegen.ts', '--silent'], {
    stdio: 'inherit',
    env: { ...process.env, CODEGEN_OUT: `${tmp}/` },
  });
  const committed = 'src/gql';
  const names = new Set([...readdirSync(committed), ...readdirSync(tmp)]);
  const stale = [...names].filter((name) => {
    const read = (dir) => {
      try {
        return readFileSync(join(dir, name), 'utf8');
      } catch {
        return null;
      }
    };
    return read(committed) !== read(tmp);
  });
  if (stale.length > 0) {
    console.error(
      `src/gql is out of date with docs/schema.graphql or the documents: ${stale.join(', ')}.\n` +
        'Run `npm run codegen` in web/ and commit the result.',
    );
    process.exit(1);
  }
  console.log('codegen: src/gql matches docs/schema.graphql');
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
