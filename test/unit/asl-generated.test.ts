import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ASL_PATH } from '../../infra/stack.js';
import { SAGA_STEPS } from '../../lambdas/domain/steps.js';
import { renderedDefinition } from '../../scripts/generate-asl.js';

describe('statemachine/purchase.asl.json', () => {
  it('is exactly what the step table generates (run `npm run asl` after changing a step)', async () => {
    expect(readFileSync(ASL_PATH, 'utf8')).toBe(await renderedDefinition());
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
