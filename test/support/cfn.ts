import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../local/template.js';

/** Reading synthesized CloudFormation in the infra tests. */

/** The app options infra/app.ts reads from the context: each test chooses its own. */
const APP_OPTIONS = ['workflowType', 'paymentProvider', 'paymentProviderUrl', 'retainData', 'stackName', 'profile'];

/** The project's cdk.json context (feature flags), minus the app options, as `cdk synth` would see it. */
export function projectContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return Object.fromEntries(Object.entries(cdkJson.context ?? {}).filter(([key]) => !APP_OPTIONS.includes(key)));
}

export const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/**
 * A CloudFormation value as readable text: `{Ref: X}` → `${X}`, `{Fn::GetAtt: [X, Y]}` →
 * `${X.Y}`, `Fn::Join` joined; anything else as JSON. Lets ARNs be compared as strings.
 */
export function render(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1) {
    const o = v as Record<string, unknown>;
    if (typeof o['Ref'] === 'string') return `\${${o['Ref']}}`;
    const getAtt = o['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt.length === 2) return `\${${getAtt.join('.')}}`;
    const joined = o['Fn::Join'];
    if (Array.isArray(joined) && typeof joined[0] === 'string' && Array.isArray(joined[1])) {
      return (joined[1] as unknown[]).map(render).join(joined[0]);
    }
  }
  return JSON.stringify(v);
}
