/**
 * `npm run bench`: throughput, latency and cost per purchase of the local stack, counted from
 * one run. Options: --concurrency 16, --duration 20 (seconds of load per workflow type),
 * --failures 160 (purchases per failure kind), --types EXPRESS,STANDARD, --json <file>.
 *
 * Everything runs in this process (load, API, workflow, Lambdas) except DynamoDB Local's JVM,
 * on the machine's cores; the figures say what this machine does, not what AWS would.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { EDGE_FUNCTIONS, EVENT_FUNCTIONS, RECONCILER_FUNCTION, SAGA_FUNCTIONS } from '../infra/catalog.js';
import { orderIdFor } from '../lambdas/api/routes/orders.js';
import { putItem, setSlotCapacity, topUpBalance } from '../lambdas/saga/admin.js';
import type { Deps } from '../lambdas/saga/deps.js';
import { scriptPaymentProvider } from '../lambdas/payments/simulated.js';
import type { TableVar } from '../lambdas/shared/config.js';
import { documentClient } from '../lambdas/shared/dynamodb/client.js';
import { mintDevToken } from '../local/dev-auth.js';
import { freePort, startDynamoDbLocal, type DynamoDbLocal } from '../local/dynamodb-local.js';
import { startLocalSaga, type FunctionId, type LocalSaga } from '../local/saga.js';
import { startLocalSystem } from '../local/system.js';
import { measureCeiling, seedCeiling, type CeilingResult } from './ceiling.js';
import { DynamoMeter, type CapacityCount } from './dynamodb-meter.js';
import { EXPRESS_MEMORY_GB, PRICES } from './prices.js';
import { closedLoop, latency, type Latency } from './stats.js';
import { Output, cpuSeconds } from './output.js';

const Args = z.object({
  concurrency: z.coerce.number().int().min(1).max(256),
  duration: z.coerce.number().min(1).max(600),
  warmup: z.coerce.number().min(0).max(120),
  failures: z.coerce.number().int().min(0).max(100_000),
  types: z
    .string()
    .transform((s) => s.split(',').map((t) => t.trim().toUpperCase()))
    .pipe(z.array(z.enum(['EXPRESS', 'STANDARD'])).min(1)),
  json: z.string().optional(),
});
type Args = z.infer<typeof Args>;

const ITEMS = Array.from({ length: 20 }, (_, i) => `bench-item-${i}`);
const PRICE = 100;
const out = new Output();

// ---------------------------------------------------------------------------------------------
// What one phase of load costs, counted

interface FunctionCount {
  invocations: number;
  busyMs: number;
  memoryMb: number;
}

interface PhaseCounts {
  purchases: number;
  statuses: Record<string, number>;
  elapsedMs: number;
  http: Latency;
  workflow: Latency;
  executions: number;
  stateTransitions: number;
  /** Express billing: each execution's duration rounded up to 100 ms, summed (seconds). */
  expressBilledSeconds: number;
  functions: Record<string, FunctionCount>;
  dynamo: CapacityCount;
  dynamoByFunction: Record<string, CapacityCount>;
  provider: CapacityCount;
  eventsPublished: number;
  logBytes: number;
  cpu: { node: number; dynamodbLocal: number };
}

interface Probe {
  functions: Record<string, FunctionCount>;
  executions: Set<string>;
  events: number;
  logBytes: number;
  cpu: { node: number; dynamodbLocal: number };
}

function probe(saga: LocalSaga, dynamo: DynamoDbLocal): Probe {
  const functions: Record<string, FunctionCount> = {};
  for (const [id, fn] of saga.lambdas)
    functions[id] = { invocations: fn.stats.invocations, busyMs: fn.stats.busyMs, memoryMb: fn.spec.memoryMb };
  return {
    functions,
    executions: new Set(saga.stateMachine.executions.keys()),
    events: saga.events.published().length,
    logBytes: out.swallowedBytes,
    cpu: { node: cpuSeconds(process.pid), dynamodbLocal: dynamo.pid === undefined ? 0 : cpuSeconds(dynamo.pid) },
  };
}

async function measure(
  saga: LocalSaga,
  dynamo: DynamoDbLocal,
  meter: DynamoMeter,
  load: () => Promise<{ purchases: number; statuses: Record<string, number>; elapsedMs: number; http: number[] }>,
): Promise<PhaseCounts> {
  await saga.events.drain(120_000);
  meter.take();
  const before = probe(saga, dynamo);
  const run = await load();
  const started = [...saga.stateMachine.executions].filter(([arn]) => !before.executions.has(arn)).map(([, e]) => e);
  const records = await Promise.all(started.map((e) => e.done));
  await saga.events.drain(120_000);
  const after = probe(saga, dynamo);
  const capacity = meter.take();

  const durations = records.map((r) => (r.stopDate ?? new Date()).getTime() - r.startDate.getTime());
  const functions: Record<string, FunctionCount> = {};
  for (const [id, a] of Object.entries(after.functions)) {
    const b = before.functions[id] ?? { invocations: 0, busyMs: 0 };
    if (a.invocations > b.invocations)
      functions[id] = { invocations: a.invocations - b.invocations, busyMs: a.busyMs - b.busyMs, memoryMb: a.memoryMb };
  }
  return {
    purchases: run.purchases,
    statuses: run.statuses,
    elapsedMs: run.elapsedMs,
    http: latency(run.http),
    workflow: latency(durations),
    executions: records.length,
    // AWS bills a transition for every state entered, and one more for every retry.
    stateTransitions: records.reduce(
      (a, r) => a + r.history.filter((e) => e.type === 'StateEntered' || e.type === 'StateRetried').length,
      0,
    ),
    expressBilledSeconds: durations.reduce((a, ms) => a + Math.ceil(ms / 100) / 10, 0),
    functions,
    dynamo: capacity.system,
    dynamoByFunction: capacity.byLabel,
    provider: capacity.provider,
    eventsPublished: after.events - before.events,
    logBytes: after.logBytes - before.logBytes,
    cpu: { node: after.cpu.node - before.cpu.node, dynamodbLocal: after.cpu.dynamodbLocal - before.cpu.dynamodbLocal },
  };
}

// ---------------------------------------------------------------------------------------------
// Load over HTTP

interface Buyer {
  userId: string;
  token: string;
}

async function buy(url: string, buyer: Buyer, key: string, itemId: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${url}/orders`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${buyer.token}`, 'Content-Type': 'application/json', 'Idempotency-Key': key },
    body: JSON.stringify({ itemId, quantity: 1 }),
  });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - started };
}

function httpLoad(
  url: string,
  buyers: Buyer[],
  concurrency: number,
  plan: { durationMs?: number; count?: number },
  keyOf: (seq: number) => string,
  before?: (buyer: Buyer, key: string) => Promise<void>,
) {
  return async () => {
    const http: number[] = [];
    const statuses: Record<string, number> = {};
    const run = await closedLoop({
      concurrency,
      ...plan,
      task: async (worker, seq) => {
        const buyer = buyers[worker % buyers.length] as Buyer;
        const key = keyOf(seq);
        await before?.(buyer, key);
        const { status, ms } = await buy(url, buyer, key, ITEMS[seq % ITEMS.length] as string);
        http.push(ms);
        statuses[status] = (statuses[status] ?? 0) + 1;
      },
    });
    return { purchases: run.tasks, statuses, elapsedMs: run.elapsedMs, http };
  };
}

// ---------------------------------------------------------------------------------------------
// One workflow type

interface TypeResult {
  type: 'EXPRESS' | 'STANDARD';
  completed: PhaseCounts;
  declined: PhaseCounts;
  refused: PhaseCounts;
}

const ALL_FUNCTIONS: FunctionId[] = [...SAGA_FUNCTIONS, ...EDGE_FUNCTIONS, RECONCILER_FUNCTION, ...EVENT_FUNCTIONS].map(
  (f) => f.id,
);

async function runType(type: 'EXPRESS' | 'STANDARD', args: Args, dynamo: DynamoDbLocal): Promise<TypeResult> {
  const meter = new DynamoMeter();
  const clients = ALL_FUNCTIONS.map((id) => [id, meter.client(id)] as const);
  const overrides = Object.fromEntries(
    clients.map(([id, client]) => [id, { ddb: documentClient(client), idempotencyClient: client }]),
  );
  const system = await startLocalSystem({
    port: await freePort(),
    dynamoEndpoint: dynamo.endpoint,
    tablePrefix: `bench-${type.toLowerCase()}-`,
    seed: false,
    reconcileEveryMs: 0,
    // The deployed stage throttles at 50 requests/s; the benchmark measures the system, not that limit.
    stackProps: { workflowType: type, apiRateLimit: 10_000, apiBurstLimit: 10_000 },
    overrides,
  });
  try {
    const saga = system.saga;
    const deps: Deps<TableVar> = { ddb: saga.ddb, tables: saga.tables, clock: () => new Date() };
    const buyers = await makeBuyers(deps, 'buyer', args.concurrency, 1e12);
    const broke = await makeBuyers(deps, 'broke', args.concurrency, 0);
    await Promise.all(ITEMS.map((itemId) => putItem(deps, { itemId, name: itemId, price: PRICE, stock: 1e9 })));

    out.progress(`${type}: ${args.warmup} s of warm-up (JIT of the JVM and of Node)`);
    await measure(
      saga,
      dynamo,
      meter,
      httpLoad(system.url, buyers, args.concurrency, { durationMs: args.warmup * 1000 }, (s) => `bench-warmup-${s}`),
    );
    out.progress(`${type}: ${args.duration} s of purchases at concurrency ${args.concurrency}`);
    const completed = await measure(
      saga,
      dynamo,
      meter,
      httpLoad(
        system.url,
        buyers,
        args.concurrency,
        { durationMs: args.duration * 1000 },
        (s) => `bench-completed-${s}`,
      ),
    );
    out.progress(`${type}: ${args.failures} purchases declined by the payment provider`);
    const declined = await measure(
      saga,
      dynamo,
      meter,
      httpLoad(
        system.url,
        buyers,
        args.concurrency,
        { count: args.failures },
        (s) => `bench-declined-${s}`,
        (buyer, key) =>
          scriptPaymentProvider(saga.ddb, saga.tables.PAYMENTS_TABLE, orderIdFor(buyer.userId, key), {
            decline: 'card_declined',
          }),
      ),
    );
    out.progress(`${type}: ${args.failures} purchases refused at the first step (no balance)`);
    const refused = await measure(
      saga,
      dynamo,
      meter,
      httpLoad(system.url, broke, args.concurrency, { count: args.failures }, (s) => `bench-refused-${s}`),
    );
    return { type, completed, declined, refused };
  } finally {
    await system.stop();
    for (const [, client] of clients) client.destroy();
  }
}

async function makeBuyers(deps: Deps<TableVar>, prefix: string, n: number, balance: number): Promise<Buyer[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const userId = `${prefix}-${i}`;
      if (balance > 0) await topUpBalance(deps, { userId, amount: balance, topUpId: `bench-${userId}` });
      await setSlotCapacity(deps, { userId, capacity: 1e9 });
      return { userId, token: await mintDevToken({ userId, ttlSeconds: 3600 }) };
    }),
  );
}

interface Ceiling {
  result: CeilingResult;
  capacity: CapacityCount;
  dynamoCpuSeconds: number;
}

async function runCeiling(args: Args, dynamo: DynamoDbLocal): Promise<Ceiling> {
  const saga = await startLocalSaga({ dynamoEndpoint: dynamo.endpoint, tablePrefix: 'bench-ceiling-', events: false });
  const meter = new DynamoMeter();
  const metered = meter.client('ceiling');
  try {
    const users = Array.from({ length: args.concurrency }, (_, i) => `ceiling-${i}`);
    await seedCeiling(saga.ddb, saga.tables, users, ITEMS);
    const run = (durationMs: number) =>
      measureCeiling({
        ddb: documentClient(metered),
        tables: saga.tables,
        users,
        items: ITEMS,
        concurrency: args.concurrency,
        durationMs,
      });
    out.progress(
      `ceiling: ${args.warmup} s of warm-up, then ${args.duration} s of minimal purchases (2 writes each) at concurrency ${args.concurrency}`,
    );
    await run(args.warmup * 1000);
    meter.take();
    const cpu = cpuSeconds(dynamo.pid ?? 0);
    const result = await run(args.duration * 1000);
    return { result, capacity: meter.take().system, dynamoCpuSeconds: cpuSeconds(dynamo.pid ?? 0) - cpu };
  } finally {
    await saga.close();
    metered.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Cost model

interface CostLine {
  component: string;
  usd: number;
}

/** USD per one million purchases like the ones of this phase, from its counts and list prices. */
function costPerMillion(type: 'EXPRESS' | 'STANDARD', p: PhaseCounts): CostLine[] {
  const per = (n: number) => n / p.purchases; // per purchase
  const invocations = Object.values(p.functions).reduce((a, f) => a + f.invocations, 0);
  const gbSeconds = Object.values(p.functions).reduce((a, f) => a + (f.busyMs / 1000) * (f.memoryMb / 1024), 0);
  const M = 1e6;
  return [
    { component: 'API Gateway (REST)', usd: PRICES.apiGatewayRest.usd },
    { component: 'Lambda requests', usd: per(invocations) * PRICES.lambdaRequests.usd },
    { component: 'Lambda duration (local busy time)', usd: per(gbSeconds) * M * PRICES.lambdaArmGbSecond.usd },
    type === 'STANDARD'
      ? { component: 'Step Functions transitions', usd: per(p.stateTransitions) * M * PRICES.sfnStandardTransition.usd }
      : {
          component: 'Step Functions requests + duration',
          usd:
            per(p.executions) * PRICES.sfnExpressRequests.usd +
            per(p.expressBilledSeconds) * EXPRESS_MEMORY_GB * M * PRICES.sfnExpressGbSecond.usd,
        },
    { component: 'DynamoDB writes', usd: per(p.dynamo.billedWriteUnits) * PRICES.dynamoWriteUnits.usd },
    { component: 'DynamoDB reads', usd: per(p.dynamo.billedReadUnits) * PRICES.dynamoReadUnits.usd },
    { component: 'EventBridge events', usd: per(p.eventsPublished) * PRICES.eventBridgeEvents.usd },
    { component: 'CloudWatch Logs ingestion', usd: (per(p.logBytes) * M * PRICES.logsIngestion.usd) / 1024 ** 3 },
  ];
}

// ---------------------------------------------------------------------------------------------
// Report

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
const lat = (l: Latency) => `p50 ${f1(l.p50)}  p95 ${f1(l.p95)}  p99 ${f1(l.p99)}  max ${f1(l.max)} ms`;

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('   '))
    .join('\n');
}

function report(args: Args, ceilings: readonly [Ceiling, Ceiling], results: TypeResult[]): string {
  const lines: string[] = [];
  const say = (s = '') => lines.push(s);
  say(
    `# npm run bench — concurrency ${args.concurrency}, ${args.duration} s per load phase, ${args.failures} purchases per failure kind`,
  );
  say(`machine: ${out.machine()}`);
  say();
  say(`## Ceiling: DynamoDB Local, one reserving transaction (4 items) + one confirming write per purchase`);
  // Measured before and after the workflow sections: on a shared machine it drifts between
  // runs by more than the differences worth measuring, so fractions are of the mean.
  for (const [when, ceiling] of [
    ['first', ceilings[0]],
    ['last', ceilings[1]],
  ] as const) {
    const c = ceiling.result;
    say(`${when}: ${f1(c.perSecond)} purchases/s (${c.purchases} in ${args.duration} s), ${lat(c.latency)}`);
    say(
      `  per purchase: ${f2(ceiling.capacity.calls / c.purchases)} DynamoDB calls, ${f1(ceiling.capacity.billedWriteUnits / c.purchases)} WRU, DynamoDB Local CPU ${f2((1000 * ceiling.dynamoCpuSeconds) / c.purchases)} ms`,
    );
  }
  const rates = ceilings.map((c) => c.result.perSecond);
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  say(`mean: ${f1(mean)} purchases/s`);
  for (const r of results) {
    const p = r.completed;
    const perSecond = p.purchases / (p.elapsedMs / 1000);
    say();
    say(`## ${r.type}`);
    say(
      `throughput: ${f1(perSecond)} purchases/s = ${f1((100 * perSecond) / mean)}% of the mean ceiling (${f1((100 * perSecond) / Math.max(...rates))}–${f1((100 * perSecond) / Math.min(...rates))}% of either; HTTP statuses ${JSON.stringify(p.statuses)})`,
    );
    say(`latency over HTTP:     ${lat(p.http)}   (p99/p50 = ${f1(p.http.p99 / p.http.p50)})`);
    say(`latency of workflow:   ${lat(p.workflow)}`);
    say(
      `CPU per purchase: node ${f2((1000 * p.cpu.node) / p.purchases)} ms (load, API, workflow, Lambdas), DynamoDB Local ${f2((1000 * p.cpu.dynamodbLocal) / p.purchases)} ms`,
    );
    say();
    const phases: [string, PhaseCounts][] = [
      ['completed', r.completed],
      ['declined at payment', r.declined],
      ['refused at 1st step', r.refused],
    ];
    const per = (pc: PhaseCounts, n: number) => f2(n / pc.purchases);
    const fnIds = [...new Set(phases.flatMap(([, pc]) => Object.keys(pc.functions)))].sort();
    const sum = (pc: PhaseCounts, k: 'invocations' | 'busyMs') =>
      Object.values(pc.functions).reduce((a, fc) => a + fc[k], 0);
    say(
      table([
        ['counted per purchase', ...phases.map(([name]) => name)],
        ['HTTP statuses', ...phases.map(([, pc]) => Object.keys(pc.statuses).join(','))],
        ['state transitions', ...phases.map(([, pc]) => per(pc, pc.stateTransitions))],
        ['Lambda invocations', ...phases.map(([, pc]) => per(pc, sum(pc, 'invocations')))],
        ...fnIds.map((id) => [
          `  ${id}: invocations, ms busy each, DynamoDB calls, WRU`,
          ...phases.map(([, pc]) => {
            const fc = pc.functions[id];
            return fc
              ? `${per(pc, fc.invocations)}  ${f1(fc.busyMs / fc.invocations)}  ${per(pc, pc.dynamoByFunction[id]?.calls ?? 0)}  ${per(pc, pc.dynamoByFunction[id]?.billedWriteUnits ?? 0)}`
              : '-';
          }),
        ]),
        ['DynamoDB calls', ...phases.map(([, pc]) => per(pc, pc.dynamo.calls))],
        ['  read request units', ...phases.map(([, pc]) => per(pc, pc.dynamo.billedReadUnits))],
        ['  write request units', ...phases.map(([, pc]) => per(pc, pc.dynamo.billedWriteUnits))],
        ['  refused writes (billed)', ...phases.map(([, pc]) => per(pc, pc.dynamo.refusedWrites))],
        ['  simulated provider calls (not ours)', ...phases.map(([, pc]) => per(pc, pc.provider.calls))],
        ['events published', ...phases.map(([, pc]) => per(pc, pc.eventsPublished))],
        ['log bytes', ...phases.map(([, pc]) => f1(pc.logBytes / pc.purchases))],
      ]),
    );
    say();
    const costs = phases.map(([, pc]) => costPerMillion(r.type, pc));
    const components = costs[0]?.map((l) => l.component) ?? [];
    say(
      table([
        [`USD per 1M purchases (${r.type})`, ...phases.map(([name]) => name)],
        ...components.map((component, i) => [component, ...costs.map((cl) => f2(cl[i]?.usd ?? 0))]),
        ['total', ...costs.map((cl) => f2(cl.reduce((a, l) => a + l.usd, 0)))],
      ]),
    );
    const calls = Object.entries(p.dynamo.byCommand)
      .sort((a, b) => b[1] - a[1])
      .map(([cmd, n]) => `${cmd.replace('Command', '')} ${f2(n / p.purchases)}`);
    say(`DynamoDB calls per completed purchase by kind: ${calls.join(', ')}`);
  }
  say();
  say('Prices (us-east-1, on demand, first tier, no free tier):');
  for (const price of Object.values(PRICES)) say(`  $${price.usd} per ${price.per} — ${price.source}`);
  say(
    'Not in the totals: X-Ray traces (sampled), SQS requests of the transmission queue, SNS when configured, KMS, CloudWatch metrics and alarms (monthly, not per purchase), data transfer.',
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function withDynamoDbLocal<T>(run: (dynamo: DynamoDbLocal) => Promise<T>): Promise<T> {
  const dynamo = await startDynamoDbLocal();
  try {
    return await run(dynamo);
  } finally {
    await dynamo.stop();
  }
}

async function main(): Promise<void> {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
  const { values } = parseArgs({
    options: {
      concurrency: { type: 'string', default: '16' },
      duration: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '5' },
      failures: { type: 'string', default: '160' },
      types: { type: 'string', default: 'EXPRESS,STANDARD' },
      json: { type: 'string' },
    },
    strict: true,
  });
  const args = Args.parse(values);
  out.swallowLambdaOutput();
  try {
    // Each section gets its own DynamoDB Local: data a section leaves behind (streams above all)
    // slows the next one down (measured: the second section ran 2-3x slower on a shared JVM).
    const first = await withDynamoDbLocal((dynamo) => runCeiling(args, dynamo));
    const results: TypeResult[] = [];
    for (const type of args.types) results.push(await withDynamoDbLocal((dynamo) => runType(type, args, dynamo)));
    const last = await withDynamoDbLocal((dynamo) => runCeiling(args, dynamo));
    out.print(report(args, [first, last], results));
    if (args.json)
      writeFileSync(
        args.json,
        JSON.stringify({ args, machine: out.machine(), ceilings: [first, last], results }, null, 2),
      );
  } finally {
    out.restore();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    out.restore();
    console.error('Benchmark failed:', err);
    process.exit(1);
  },
);
