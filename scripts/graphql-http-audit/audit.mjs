// Runs the graphql-http server audits (GraphQL over HTTP) against a running credledger.
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
// Exits non-zero when a MUST or SHOULD audit fails, except those refused on purpose, which
// docs/security.md lists with the reason.
import { serverAudits } from 'graphql-http';

// Refused on purpose, each listed with its reason in docs/security.md ("GraphQL over HTTP").
const INTROSPECTION_OFF =
  'the audit asks `__type`, and introspection is off outside dev mode (docs/security.md)';
const REFUSED_ON_PURPOSE = new Map([
  ['2EA1', INTROSPECTION_OFF],
  ['28B9', INTROSPECTION_OFF],
]);

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}
let failed = 0;
let counts = { ok: 0, warn: 0, error: 0 };
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  counts[result.status] += 1;
  const level = audit.name.split(' ')[0];
  if (result.status === 'ok') {
    console.log(`ok      ${audit.id} ${audit.name}`);
    continue;
  }
  const allowed = REFUSED_ON_PURPOSE.get(audit.id);
  const counted = (level === 'MUST' || level === 'SHOULD') && !allowed;
  if (counted) failed += 1;
  const mark = counted ? 'FAILED ' : 'noted  ';
  console.log(`${mark} ${audit.id} ${audit.name}: ${result.reason}${allowed ? ` (${allowed})` : ''}`);
}
console.log(
  `graphql-http audits: ${counts.ok} ok, ${counts.warn} warnings, ${counts.error} errors; ` +
    `${failed} MUST/SHOULD audits failed`,
);
process.exit(failed === 0 ? 0 : 1);
