import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../local/template.js';

/** The CloudFormation types LocalStack community 4.14.0 implements (infra/localstack-resource-types.json, with its source). */
export const LOCALSTACK_TYPES = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'infra', 'localstack-resource-types.json'), 'utf8')) as { types: string[] }
).types;
