/**
 * `npm run asl`: write statemachine/purchase.asl.json from the step table (infra/asl.ts), in
 * the repository's JSON formatting, and the step table of docs/architecture.md (infra/step-docs.ts).
 * Both stay real, committed files — the definition is what CDK deploys, the local stand-in runs
 * and Workflow Studio opens — and a test fails when either is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { purchaseDefinition } from '../infra/asl.js';
import { ASL_PATH, REPO_ROOT } from '../infra/function.js';
import { withStepTable } from '../infra/step-docs.js';

export const ARCHITECTURE_DOC = resolve(REPO_ROOT, 'docs', 'architecture.md');

export async function renderedDefinition(): Promise<string> {
  const config = await resolveConfig(ASL_PATH);
  return format(JSON.stringify(purchaseDefinition(), null, 2), { ...config, filepath: ASL_PATH });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const [path, text] of [
    [ASL_PATH, await renderedDefinition()],
    [ARCHITECTURE_DOC, withStepTable(readFileSync(ARCHITECTURE_DOC, 'utf8'))],
  ] as const) {
    const changed = readFileSync(path, 'utf8') !== text;
    if (changed) writeFileSync(path, text);
    console.log(`${path}: ${changed ? 'written' : 'up to date'}`);
  }
}
