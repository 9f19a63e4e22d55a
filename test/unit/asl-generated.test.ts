import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ASL_PATH } from '../../infra/stack.js';
import { SAGA_STEPS } from '../../lambdas/domain/steps.js';
import { withStepTable } from '../../infra/step-docs.js';
import { ARCHITECTURE_DOC, renderedDefinition } from '../../scripts/generate-asl.js';

describe('statemachine/purchase.asl.json', () => {
  it('is exactly what the step table generates (run `npm run asl` after changing a step)', async () => {
    expect(readFileSync(ASL_PATH, 'utf8')).toBe(await renderedDefinition());
  });

  it('docs/architecture.md shows the step table as it is (run `npm run asl` after changing a step)', () => {
    const doc = readFileSync(ARCHITECTURE_DOC, 'utf8');
    expect(doc).toBe(withStepTable(doc));
    for (const s of SAGA_STEPS) expect(doc, s.name).toContain(`| ${String(SAGA_STEPS.indexOf(s) + 1)}. \`${s.name}\``);
  });

  it('has a task for every step and compensation of the table, and only those besides the outcomes', () => {
    const states = (JSON.parse(readFileSync(ASL_PATH, 'utf8')) as { States: Record<string, { Type: string }> }).States;
    const tasks = Object.entries(states)
      .filter(([, s]) => s.Type === 'Task')
      .map(([name]) => name)
      .sort();
    expect(tasks).toEqual(
      [...SAGA_STEPS.flatMap((s) => [s.name, s.compensation.name]), 'MarkOrderFailed', 'MarkCompensationFailed'].sort(),
    );
  });
});
