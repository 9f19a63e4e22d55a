/**
 * The last step of `npm test`: least privilege seen from the other side. The test run records
 * every (function, action, resource) the local IAM evaluation allowed (test/support/grant-use.ts).
 * This compares them with every grant of the synthesized template's function roles: a grant no
 * test used fails, unless `UNREACHED_GRANTS` in infra/catalog.ts names it with the reason no
 * local test can use it — and a reason whose grant was used after all fails too, so the list
 * stays true.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  EDGE_FUNCTIONS,
  EVENT_FUNCTIONS,
  RECONCILER_FUNCTION,
  SAGA_FUNCTIONS,
  SOURCE_METADATA,
  UNREACHED_GRANTS,
} from '../infra/catalog.js';
import { matches, rolePolicies } from '../local/iam.js';
import { LOCAL_ACCOUNT, LOCAL_REGION, localArnResolver } from '../local/saga.js';
import { synthTemplate } from '../local/template.js';
import { GRANT_USE_DIR } from '../test/support/global-setup.js';

/** A recorded resource without the per-suite name prefix (`t1a2b3c4d-`, `e2e1764…-`). */
const unprefixed = (arn: string) =>
  arn.replace(
    /(table\/|stateMachine:|execution:|express:|secret:|event-bus\/|function:)(t[0-9a-f]{8}-|e2e\d+-)/g,
    '$1',
  );

if (!existsSync(GRANT_USE_DIR)) {
  console.error(`No grant-use records in ${GRANT_USE_DIR}: run the whole suite first (npm test).`);
  process.exit(1);
}
const used = new Map<string, { action: string; resource: string }[]>();
for (const file of readdirSync(GRANT_USE_DIR).filter((f) => f.endsWith('.jsonl'))) {
  for (const line of readFileSync(join(GRANT_USE_DIR, file), 'utf8').split('\n').filter(Boolean)) {
    const [fn, action, resource] = JSON.parse(line) as [string, string, string];
    used.set(fn, [...(used.get(fn) ?? []), { action, resource: unprefixed(resource) }]);
  }
}

const template = synthTemplate();
const localArn = localArnResolver(template, '');
const policies = rolePolicies(template, localArn, { region: LOCAL_REGION, account: LOCAL_ACCOUNT });
const catalog = [...SAGA_FUNCTIONS, ...EDGE_FUNCTIONS, RECONCILER_FUNCTION, ...EVENT_FUNCTIONS];
const label = (arn: string) => arn.replace(/^arn:aws:[a-z-]+:[a-z0-9-]*:\d*:/, '');

const unused: { fn: string; action: string; resource: string }[] = [];
for (const [logicalId, statements] of policies) {
  const source = template.Resources[logicalId]?.Metadata?.[SOURCE_METADATA];
  const fn = catalog.find((f) => `lambdas/${f.dir}` === source)?.id;
  if (!fn) continue;
  for (const s of statements.filter((x) => x.Effect === 'Allow')) {
    // X-Ray segments go to the daemon over UDP, not through the SDK.
    for (const action of s.Action.filter((a) => !a.startsWith('xray:'))) {
      for (const resource of s.Resource) {
        const hit = (used.get(fn) ?? []).some((u) => matches(action, u.action, true) && matches(resource, u.resource));
        if (!hit) unused.push({ fn, action, resource: label(resource) });
      }
    }
  }
}
const excuses = (u: { fn: string; action: string; resource: string }, g: (typeof UNREACHED_GRANTS)[number]) =>
  g.functionId === u.fn && g.action === u.action && matches(g.resource, u.resource);
const unexplained = unused.filter((u) => !UNREACHED_GRANTS.some((g) => excuses(u, g)));
const stale = UNREACHED_GRANTS.filter((g) => !unused.some((u) => excuses(u, g)));
for (const u of unexplained)
  console.error(`granted, never used by any test, no reason given: ${u.fn} ${u.action} ${u.resource}`);
for (const g of stale)
  console.error(
    `UNREACHED_GRANTS excuses nothing (the tests used it, or it is gone): ${g.functionId} ${g.action} ${g.resource}`,
  );
if (unexplained.length > 0 || stale.length > 0) process.exit(1);
console.log(
  `grant use: every grant of the function roles was used by the tests, but ${unused.length} with their reasons in infra/catalog.ts`,
);
