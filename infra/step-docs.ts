import { OUTCOME_FUNCTIONS, RETRY, SAGA_STEPS, type Access } from '../lambdas/domain/steps.js';

/**
 * The step table of docs/architecture.md, rendered from lambdas/domain/steps.ts: `npm run asl`
 * writes it between these markers, and the test that keeps the ASL fresh keeps it fresh too.
 */
export const STEP_DOCS_BEGIN = '<!-- generated from lambdas/domain/steps.ts by `npm run asl`: do not edit -->';
export const STEP_DOCS_END = '<!-- end of the generated step table -->';

const code = (s: string) => `\`${s}\``;
const access = (a: Access) =>
  Object.entries(a)
    .map(([table, actions]) => `${table}: ${actions.join(', ')}`)
    .join('; ');

export function stepTableMarkdown(): string {
  const rows = SAGA_STEPS.map((s, i) => {
    const refusals = s.refusals.length > 0 ? s.refusals.map(code).join(', ') : '—';
    const only = 'onlyWith' in s ? ` (only with a ${code(s.onlyWith)})` : '';
    return [
      `${i + 1}. ${code(s.name)}${only}`,
      s.comment,
      refusals,
      s.fatal.map(code).join(', '),
      `${s.timeoutSeconds} s`,
      access(s.access),
      `${code(s.compensation.name)}: ${access(s.compensation.access)}${'completes' in s.compensation ? `; ${code(s.compensation.completes)} = the order is complete after all` : ''}`,
    ];
  });
  const outcomes = OUTCOME_FUNCTIONS.map((o) => [
    code(o.name),
    o.comment,
    '—',
    o.fatal.map(code).join(', '),
    `${o.timeoutSeconds} s`,
    access(o.access),
    '—',
  ]);
  const header = [
    'step',
    'what it does (its event)',
    'refusals (caught, no retry)',
    'errors no retry can fix',
    'task timeout',
    'tables and actions',
    'compensation: tables and actions',
  ];
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const retry = (r: { intervalSeconds: number; maxAttempts: number; backoffRate: number; maxDelaySeconds: number }) =>
    `${r.maxAttempts} attempts, waits from ${r.intervalSeconds} s, ×${r.backoffRate} each time, at most ${r.maxDelaySeconds} s, full jitter`;
  return [
    STEP_DOCS_BEGIN,
    line(header),
    line(header.map(() => '---')),
    ...rows.map(line),
    ...outcomes.map(line),
    '',
    `Retries: Lambda's own errors ${retry(RETRY.lambdaService)}; any other error of a forward step ${retry(RETRY.forward)}, of a compensation ${retry(RETRY.compensation)}.`,
    STEP_DOCS_END,
  ].join('\n');
}

/** `document` with its generated step table replaced by the current one. */
export function withStepTable(document: string): string {
  const begin = document.indexOf(STEP_DOCS_BEGIN);
  const end = document.indexOf(STEP_DOCS_END);
  if (begin < 0 || end < begin) throw new Error('docs/architecture.md has no generated step table markers');
  return document.slice(0, begin) + stepTableMarkdown() + document.slice(end + STEP_DOCS_END.length);
}
