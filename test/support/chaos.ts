import { SAGA_FUNCTIONS } from '../../infra/catalog.js';
import { orderIdFor } from '../../lambdas/api/routes/orders.js';
import type { ForwardStep } from '../../lambdas/domain/model.js';
import { stepsFor } from '../../lambdas/domain/steps.js';
import type { LocalSaga, LocalSagaOptions } from '../../local/saga.js';
import { call, token, type ApiAnswer } from './api.js';
import type { FaultInjector } from './faults.js';
import { invariantViolations, scriptProvider, seed, snapshot, type ShopSpec } from './saga.js';

/**
 * A seeded chaos campaign against the local saga: concurrent purchases over the API by rich,
 * poor and cramped buyers, a hot item that sells out, coupons (some expired, some reused),
 * duplicate requests with the same key (concurrent) and with the same key and another body,
 * and a fault in most purchases — at every step (throttled write, crash after commit, slow
 * compensation), in the payment provider (decline, transient error, lost response, slowness),
 * and executions aborted mid-way, followed by the reconciler. Then every invariant of the
 * step contract is checked.
 *
 * The plan (who buys what, with which fault) is a pure function of the seed; the interleaving
 * of concurrent purchases is not, so two runs with one seed inject the same faults but may
 * end with different counts of, say, OutOfStock.
 */
export const FAULT_KINDS = [
  'none',
  'provider-decline',
  'provider-transient',
  'provider-lost-response',
  'provider-slow',
  'step-throttled',
  'step-crash-after-commit',
  'compensation-throttled',
  'execution-aborted',
  'execution-overlap',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const WEIGHTS: Record<FaultKind, number> = {
  none: 30,
  'provider-decline': 8,
  'provider-transient': 8,
  'provider-lost-response': 8,
  'provider-slow': 6,
  'step-throttled': 12,
  'step-crash-after-commit': 10,
  'compensation-throttled': 10,
  'execution-aborted': 8,
  'execution-overlap': 8,
};

export interface ChaosOptions {
  seed: number;
  purchases: number;
  concurrency: number;
}

export interface ChaosReport {
  seed: number;
  purchasesTried: number;
  requestsSent: number;
  completed: number;
  failedByReason: Record<string, number>;
  compensationFailed: number;
  httpStatuses: Record<string, number>;
  /** Armed: planned for a purchase; fired: the purchase got that far and the fault happened. */
  faults: Record<FaultKind, { armed: number; fired: number }>;
  duplicates: { sameKeyConcurrent: number; sameKeyOtherBody: number };
  reconcilerOutcomes: Record<string, number>;
  violations: string[];
}

/** The overrides a chaos saga needs: faults in every saga function, and a clock the campaign can move for the reconciler. */
export function chaosSagaOptions(faults: FaultInjector, clock: { offsetMs: number }): Partial<LocalSagaOptions> {
  return {
    overrides: {
      ...Object.fromEntries(SAGA_FUNCTIONS.map((f) => [f.id, { ddb: faults.ddb }])),
      Reconciler: { ddb: faults.ddb, clock: () => new Date(Date.now() + clock.offsetMs) },
    },
  };
}

/** mulberry32: a small, fast, seedable PRNG — the campaign's only source of randomness. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Buyer {
  userId: string;
  coupons: string[];
}

export function shopFor(purchases: number): { shop: ShopSpec; buyers: Buyer[] } {
  const buyers: Buyer[] = [];
  const users: NonNullable<ShopSpec['users']> = [];
  const coupons: NonNullable<ShopSpec['coupons']> = [];
  const add = (userId: string, balance: number, slots: number, expired = false) => {
    users.push({ userId, balance, slots });
    coupons.push({ userId, couponId: 'TEN', discount: 100 }, { userId, couponId: 'TWENTY', discount: 200 });
    if (expired) coupons.push({ userId, couponId: 'OLD', discount: 300, expiresAt: '2020-01-01T00:00:00.000Z' });
    buyers.push({ userId, coupons: ['TEN', 'TWENTY', ...(expired ? ['OLD'] : [])] });
  };
  // About ten purchases per buyer whatever the campaign's length, so a long run is not all refusals.
  const n = Math.max(16, Math.ceil(purchases / 10));
  for (let i = 0; i < n; i++) add(`rich-${i}`, 200_000, 40);
  for (let i = 0; i < n / 4; i++) add(`poor-${i}`, 1_500, 40, true);
  for (let i = 0; i < n / 4; i++) add(`cramped-${i}`, 200_000, 2);
  const shop: ShopSpec = {
    items: [
      // The hot item is wanted about five times over: it sells out early and is fought over.
      { itemId: 'hot', price: 1_000, stock: Math.max(3, Math.floor(purchases / 16)) },
      { itemId: 'common', price: 500, stock: 1_000_000 },
      { itemId: 'pricey', price: 30_000, stock: 1_000_000 },
    ],
    users,
    coupons,
  };
  return { shop, buyers };
}

interface Plan {
  seq: number;
  buyer: Buyer;
  key: string;
  body: { itemId: string; quantity: number; couponId?: string };
  fault: FaultKind;
  step: ForwardStep;
  times: number;
  duplicate: 'none' | 'same-key-concurrent' | 'same-key-other-body';
  /** For aborted executions: release the stalled write before the reconciler runs, or after. */
  releaseBeforeReconcile: boolean;
}

export function plan(options: ChaosOptions, buyers: Buyer[]): Plan[] {
  const rand = prng(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const weighted = (): FaultKind => {
    const total = FAULT_KINDS.reduce((a, k) => a + WEIGHTS[k], 0);
    let r = rand() * total;
    for (const k of FAULT_KINDS) if ((r -= WEIGHTS[k]) < 0) return k;
    return 'none';
  };
  const rich = buyers.filter((b) => b.userId.startsWith('rich-'));
  /** How often a fault repeats: mostly within the state machine's retries, sometimes past them. */
  const timesFor = (fault: FaultKind): number => {
    // Past a compensation's retries: COMPENSATION_FAILED, then the reconciler.
    if (fault === 'compensation-throttled' && rand() < 0.2) return 7;
    // Two executions: half the time the provider fails five charges, more than one execution retries.
    if (fault === 'execution-overlap') return rand() < 0.5 ? 5 : 0;
    return 1 + Math.floor(rand() * 2);
  };
  return Array.from({ length: options.purchases }, (_, seq) => {
    const fault = weighted();
    // Payment faults need a purchase that reaches the payment: a rich buyer, an item in stock.
    const reachesPayment =
      fault.startsWith('provider-') || fault === 'compensation-throttled' || fault === 'execution-overlap';
    const buyer = pick(reachesPayment ? rich : buyers);
    const r = rand();
    const itemId = reachesPayment || (r >= 0.4 && r < 0.9) ? 'common' : r < 0.4 ? 'hot' : 'pricey';
    const couponId = rand() < 0.35 ? pick(buyer.coupons) : undefined;
    const steps = stepsFor({ couponId });
    // A compensation runs only for steps before the one that fails (the payment, declined).
    const compensable = steps.filter((s) => s !== 'ChargePayment' && s !== 'CompleteOrder');
    const d = rand();
    return {
      seq,
      buyer,
      key: `chaos-${options.seed}-${seq}`,
      body: { itemId, quantity: 1 + Math.floor(rand() * 3), ...(couponId ? { couponId } : {}) },
      fault,
      step: fault === 'compensation-throttled' ? pick(compensable) : pick(steps),
      times: timesFor(fault),
      duplicate:
        fault === 'execution-aborted' || fault === 'execution-overlap'
          ? 'none'
          : d < 0.1
            ? 'same-key-concurrent'
            : d < 0.15
              ? 'same-key-other-body'
              : 'none',
      releaseBeforeReconcile: rand() < 0.5,
    };
  });
}

const problemType = (a: ApiAnswer) =>
  typeof a.json['type'] === 'string' ? a.json['type'].split('/').at(-1) : undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('chaos: timed out waiting for a condition');
    await sleep(5);
  }
}

export async function runChaos(
  saga: LocalSaga,
  faults: FaultInjector,
  clock: { offsetMs: number },
  options: ChaosOptions,
): Promise<ChaosReport> {
  const { shop, buyers } = shopFor(options.purchases);
  await seed(saga, shop);
  const tokens = new Map(await Promise.all(buyers.map(async (b) => [b.userId, await token(b.userId)] as const)));
  const plans = plan(options, buyers);

  const report: ChaosReport = {
    seed: options.seed,
    purchasesTried: plans.length,
    requestsSent: 0,
    completed: 0,
    failedByReason: {},
    compensationFailed: 0,
    httpStatuses: {},
    faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, { armed: 0, fired: 0 }])) as ChaosReport['faults'],
    duplicates: { sameKeyConcurrent: 0, sameKeyOtherBody: 0 },
    reconcilerOutcomes: {},
    violations: [],
  };
  const fired: { kind: FaultKind; count: () => number }[] = [];
  const stalled: { plan: Plan; release: () => void; settled: () => number }[] = [];
  const overlapping: Promise<unknown>[] = [];
  const runningExecution = (orderId: string) =>
    [...saga.stateMachine.executions.values()].find((e) => e.record.name === orderId && e.record.status === 'RUNNING');
  const violation = (p: Plan, message: string) =>
    report.violations.push(`purchase ${p.seq} (${p.key}, ${p.fault} at ${p.step}): ${message}`);

  const send = async (p: Plan, body: Plan['body'] = p.body): Promise<ApiAnswer> => {
    report.requestsSent++;
    const answer = await call(saga, {
      path: '/orders',
      token: tokens.get(p.buyer.userId),
      idempotencyKey: p.key,
      body,
    });
    report.httpStatuses[answer.status] = (report.httpStatuses[answer.status] ?? 0) + 1;
    // 5xx only as documented: the workflow broke (503, retry) or the purchase is stuck (500, COMPENSATION_FAILED).
    if (
      answer.status >= 500 &&
      !(answer.status === 503 && problemType(answer) === 'workflow-unavailable') &&
      !(answer.status === 500 && problemType(answer) === 'purchase-stuck')
    ) {
      violation(p, `answered ${answer.status}: ${answer.text}`);
    }
    return answer;
  };

  const arm = async (p: Plan, orderId: string) => {
    report.faults[p.fault].armed++;
    const script = (s: Parameters<typeof scriptProvider>[2]) => scriptProvider(saga, orderId, s);
    const rule = (r: Omit<Parameters<FaultInjector['add']>[0], 'orderId' | 'step'>) => {
      const count = faults.add({ orderId, step: p.step, ...r });
      fired.push({ kind: p.fault, count });
      return count;
    };
    switch (p.fault) {
      case 'none':
      case 'execution-aborted':
        return;
      case 'execution-overlap':
        if (p.times > 0) await script({ failCharges: p.times });
        return;
      case 'provider-decline':
        return script({ decline: 'card_declined' });
      case 'provider-transient':
        return script({ failCharges: p.times });
      case 'provider-lost-response':
        return script({ loseChargeResponses: 1 });
      case 'provider-slow':
        return script({ delayMs: 50 + p.times * 50 });
      case 'step-throttled':
        rule({ write: 'commit', fault: 'transient', times: p.times });
        return;
      case 'step-crash-after-commit':
        rule({ write: 'commit', fault: 'crash' });
        return;
      case 'compensation-throttled':
        // The payment is declined so the saga compensates; the chosen compensation is throttled.
        await script({ decline: 'card_declined' });
        rule({ write: 'compensate', fault: 'transient', times: p.times });
        return;
    }
  };

  const purchase = async (p: Plan) => {
    const orderId = orderIdFor(p.buyer.userId, p.key);
    await arm(p, orderId);

    if (p.fault === 'execution-aborted') {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const hold = faults.add({ orderId, step: p.step, write: 'commit', fault: 'hold', gate });
      let answered = false;
      const answer = send(p).finally(() => (answered = true));
      await until(() => hold() > 0 || answered);
      if (hold() > 0) {
        report.faults['execution-aborted'].fired++;
        runningExecution(orderId)?.abort();
        stalled.push({ plan: p, release, settled: hold.settled });
      } else {
        release(); // refused before reaching the stalled step
      }
      await answer;
      return;
    }

    if (p.fault === 'execution-overlap') {
      // The API Lambda died while its execution ran and the client's retry (same key, so the same
      // order, still PENDING) started a second one: both run the saga at once.
      let answered = false;
      const answer = send(p).finally(() => (answered = true));
      await until(() => runningExecution(orderId) !== undefined || answered);
      const first = runningExecution(orderId);
      if (first) {
        report.faults['execution-overlap'].fired++;
        overlapping.push(saga.stateMachine.start(first.record.input, orderId).done);
      }
      await answer;
      return;
    }

    if (p.duplicate === 'same-key-concurrent') {
      report.duplicates.sameKeyConcurrent++;
      const answers = await Promise.all([send(p), send(p)]);
      // The second is told the first is in flight, or gets the same answer byte for byte.
      const settled = answers.filter((a) => problemType(a) !== 'idempotency-key-in-use' && a.status < 500);
      if (settled.length === 2 && settled[0]?.text !== settled[1]?.text)
        violation(p, `two different answers for one key: ${settled.map((a) => a.text).join(' | ')}`);
      if (answers.every((a) => problemType(a) === 'idempotency-key-in-use'))
        violation(p, 'both requests were told the other is in flight');
      return;
    }
    const first = await send(p);
    if (p.duplicate === 'same-key-other-body') {
      report.duplicates.sameKeyOtherBody++;
      const other = await send(p, { ...p.body, quantity: p.body.quantity + 1 });
      if (other.status !== 422) violation(p, `same key, other body answered ${other.status} (first ${first.status})`);
    }
  };

  // Closed loop: `concurrency` buyers at a time, in plan order.
  let next = 0;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      for (let i = next++; i < plans.length; i = next++) await purchase(plans[i] as Plan);
    }),
  );

  await Promise.all(overlapping);

  // Aborted executions: some stalled writes land before the reconciler, the rest after it.
  const releaseStalled = async (beforeReconcile: boolean) => {
    const due = stalled.filter((s) => s.plan.releaseBeforeReconcile === beforeReconcile);
    for (const s of due) s.release();
    await until(() => due.every((s) => s.settled() > 0));
    // Then let those invocations finish: only the writes still held may keep a Lambda running.
    const held = stalled.filter((s) => s.settled() === 0).length;
    await until(() => [...saga.lambdas.values()].reduce((a, l) => a + l.stats.inFlight, 0) <= held);
  };
  await releaseStalled(true);
  await reconcileUntilSettled(saga, clock, report);
  await releaseStalled(false);
  await reconcileUntilSettled(saga, clock, report);

  for (const f of fired) if (f.count() > 0) report.faults[f.kind].fired++;
  const s = await snapshot(saga);
  for (const p of plans) {
    if (!['provider-decline', 'provider-transient', 'provider-lost-response', 'provider-slow'].includes(p.fault))
      continue;
    // A provider fault fired when the purchase reached the payment step.
    if (s.steps.some((r) => r['orderId'] === orderIdFor(p.buyer.userId, p.key) && r['step'] === 'ChargePayment'))
      report.faults[p.fault].fired++;
  }
  for (const order of s.orders.values()) {
    if (order.status === 'COMPLETED') report.completed++;
    else if (order.status === 'COMPENSATION_FAILED') report.compensationFailed++;
    else if (order.status === 'FAILED')
      report.failedByReason[order.reason ?? 'unknown'] = (report.failedByReason[order.reason ?? 'unknown'] ?? 0) + 1;
  }
  if (s.orders.size !== plans.length)
    report.violations.push(`${plans.length} purchases tried but ${s.orders.size} orders exist`);
  report.violations.push(...invariantViolations(s, shop));
  return report;
}

/** Run the reconciler, moving its clock past the pending TTL and the retry backoff, until no order is left PENDING or COMPENSATION_FAILED. */
async function reconcileUntilSettled(saga: LocalSaga, clock: { offsetMs: number }, report: ChaosReport): Promise<void> {
  const reconciler = saga.lambdas.get('Reconciler');
  if (!reconciler) throw new Error('chaos: no Reconciler function');
  for (let round = 0; round < 12; round++) {
    clock.offsetMs += 60 * 60_000;
    const run = await reconciler.invoke({});
    if (!run.ok) throw new Error(`chaos: reconciler failed: ${run.error.errorType}: ${run.error.errorMessage}`);
    const result = run.payload as { outcomes: Record<string, number>; errors: unknown[] };
    if (result.errors.length > 0) report.violations.push(`reconciler errors: ${JSON.stringify(result.errors)}`);
    for (const [k, n] of Object.entries(result.outcomes))
      report.reconcilerOutcomes[k] = (report.reconcilerOutcomes[k] ?? 0) + n;
    const open = [...(await snapshot(saga)).orders.values()].filter(
      (o) => o.status === 'PENDING' || o.status === 'COMPENSATION_FAILED',
    );
    if (open.length === 0) return;
  }
}

export function formatChaosReport(r: ChaosReport, elapsedMs: number): string {
  const faultLines = FAULT_KINDS.map(
    (k) =>
      `  ${k.padEnd(24)} armed ${String(r.faults[k].armed).padStart(5)}   fired ${String(r.faults[k].fired).padStart(5)}`,
  );
  return [
    `# chaos campaign, seed ${r.seed} (${(elapsedMs / 1000).toFixed(1)} s)`,
    `purchases tried: ${r.purchasesTried} (${r.requestsSent} requests; duplicates: ${r.duplicates.sameKeyConcurrent} same key concurrently, ${r.duplicates.sameKeyOtherBody} same key with another body)`,
    `completed: ${r.completed}`,
    `failed by reason: ${JSON.stringify(r.failedByReason)}`,
    `left COMPENSATION_FAILED: ${r.compensationFailed}`,
    `HTTP statuses: ${JSON.stringify(r.httpStatuses)}`,
    `reconciler outcomes: ${JSON.stringify(r.reconcilerOutcomes)}`,
    'faults injected by kind:',
    ...faultLines,
    `invariant violations: ${r.violations.length}`,
    ...r.violations.map((v) => `  - ${v}`),
  ].join('\n');
}
