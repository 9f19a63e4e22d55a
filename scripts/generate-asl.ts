/**
 * `npm run asl`: write statemachine/purchase.asl.json from the step table (infra/asl.ts), in
 * the repository's JSON formatting. The file stays a real, committed file — what CDK deploys,
 * the local stand-in runs and Workflow Studio opens — and a test fails when it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { purchaseDefinition } from '../infra/asl.js';
import { ASL_PATH } from '../infra/stack.js';

export async function renderedDefinition(): Promise<string> {
  const config = await resolveConfig(ASL_PATH);
  return format(JSON.stringify(purchaseDefinition(), null, 2), { ...config, filepath: ASL_PATH });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = await renderedDefinition();
  const changed = readFileSync(ASL_PATH, 'utf8') !== text;
  if (changed) writeFileSync(ASL_PATH, text);
  console.log(`${ASL_PATH}: ${changed ? 'written' : 'up to date'}`);
}
