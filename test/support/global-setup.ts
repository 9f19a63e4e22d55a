import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local.js';
import { REPO_ROOT, synthTemplate, type CfnTemplate } from '../../local/template.js';

/** Where the run's grant-use records go (test/support/grant-use.ts); emptied at each run's start. */
export const GRANT_USE_DIR = join(REPO_ROOT, '.local', 'grant-use');

/** One DynamoDB Local and one synthesized template for the whole run; suites isolate by table prefix. */
let dynamo: DynamoDbLocal | undefined;

export async function setup(project: TestProject): Promise<void> {
  project.provide('template', synthTemplate());
  rmSync(GRANT_USE_DIR, { recursive: true, force: true });
  mkdirSync(GRANT_USE_DIR, { recursive: true });
  project.provide('grantUseDir', GRANT_USE_DIR);
  // The e2e suite against LocalStack or AWS needs no local database.
  const target = process.env['E2E_TARGET'];
  if (target && target !== 'local') return;
  dynamo = await startDynamoDbLocal();
  project.provide('dynamoEndpoint', dynamo.endpoint);
}

export async function teardown(): Promise<void> {
  await dynamo?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    template: CfnTemplate;
    grantUseDir: string;
  }
}
