import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local.js';
import { synthTemplate, type CfnTemplate } from '../../local/template.js';

/** One DynamoDB Local and one synthesized template for the whole run; suites isolate by table prefix. */
let dynamo: DynamoDbLocal | undefined;

export async function setup(project: TestProject): Promise<void> {
  project.provide('template', synthTemplate());
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
  }
}
