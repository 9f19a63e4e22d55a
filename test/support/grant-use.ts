import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { FunctionId } from '../../local/saga.js';

/**
 * Every (function, action, resource) the local IAM evaluation allowed during this test run,
 * appended to one file per worker process in the run's directory (made by the global setup).
 * `scripts/check-grant-use.ts`, the last step of `npm test`, compares them with the template's
 * grants: a grant no test used fails the run unless the catalog says why no test can use it.
 */
export function recordGrantUse(functionId: FunctionId, action: string, resource: string): void {
  appendFileSync(
    join(inject('grantUseDir'), `${process.pid}.jsonl`),
    `${JSON.stringify([functionId, action, resource])}\n`,
  );
}
