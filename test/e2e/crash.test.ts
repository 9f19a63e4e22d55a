import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { orderIdFor } from '../../lambdas/api/routes/orders.js';
import { mintDevToken } from '../../local/dev-auth.js';
import { freePort } from '../../local/dynamodb-local.js';
import { startLocalSystem, type LocalSystem } from '../../local/system.js';
import { recordGrantUse } from '../support/grant-use.js';
import { httpCall, type HttpAnswer } from '../support/http.js';
import { dynamoDbLocalPids, parentOf, READY, startNpmPersisted, until, waitFor } from '../support/processes.js';
import { invariantViolations, snapshot, type ShopSpec } from '../support/saga.js';

/**
 * A crash under load, as a flaky machine does it: `npm start --persist` serves 60 purchases
 * (a hot item with less stock than buyers, one wallet raced by 20 keys), its Node process is
 * killed with SIGKILL mid-load, and the system is started again on the same data. Two thirds of
 * the clients retry at once with their keys; the others only after the reconciler has ended
 * every order the crash left PENDING. Then every answer is final and stable, and every invariant
 * holds.
 */
const TTL_SECONDS = 45;
const HOT = { itemId: 'hot', price: 1_000, stock: 10 };
const PLAIN = { itemId: 'plain', price: 500, stock: 1_000 };
const BUYERS = Array.from({ length: 12 }, (_, i) => `buyer-${i}`);
const SPENDER = { userId: 'spender', balance: 5 * PLAIN.price };
const shop: ShopSpec = {
  items: [HOT, PLAIN],
  users: [...BUYERS.map((userId) => ({ userId, balance: 100_000, slots: 10 })), { ...SPENDER, slots: 50 }],
};

interface Plan {
  userId: string;
  key: string;
  body: { itemId: string; quantity: number };
  /** Retried only once the reconciler has ended the orders the crash left. */
  late: boolean;
}

function plans(): Plan[] {
  const hot = BUYERS.flatMap((userId) =>
    [0, 1].map((n) => ({ userId, key: `hot-${userId}-${n}`, itemId: HOT.itemId, quantity: 1 })),
  );
  const overspend = Array.from({ length: 20 }, (_, n) => ({
    userId: SPENDER.userId,
    key: `spend-key-${n}`,
    itemId: PLAIN.itemId,
    quantity: 1,
  }));
  const plain = BUYERS.slice(0, 8).flatMap((userId) =>
    [0, 1].map((n) => ({ userId, key: `plain-${userId}-${n}`, itemId: PLAIN.itemId, quantity: 2 })),
  );
  // Interleaved, so the crash cuts through every kind.
  const all = [hot, overspend, plain].flatMap((list, k) => list.map((p, i) => ({ ...p, order: i * 3 + k })));
  return all
    .sort((a, b) => a.order - b.order)
    .map((p, i) => ({
      userId: p.userId,
      key: p.key,
      body: { itemId: p.itemId, quantity: p.quantity },
      late: i % 3 === 2,
    }));
}

/** A client that backs off when the stage throttles it (429), as every client of the API must. */
async function throttled(send: () => Promise<HttpAnswer>): Promise<HttpAnswer> {
  for (let attempt = 1; ; attempt++) {
    const answer = await send();
    if (answer.status !== 429 || attempt === 20) return answer;
    await new Promise((r) => setTimeout(r, 250 * attempt));
  }
}

/** An answer no retry with the same key will change. */
const isFinal = (a: HttpAnswer) =>
  a.status < 500 && a.status !== 202 && a.json['type'] !== 'https://purchase-saga.dev/problems/idempotency-key-in-use';

describe('A crash under load (kill -9, restart with --persist)', () => {
  it(
    'ends every order, answers every retry finally and identically, and keeps every invariant',
    { timeout: 300_000 },
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'crash-'));
      const port = await freePort();
      const url = `http://localhost:${port}`;
      const token = (userId: string, admin = false) => mintDevToken({ userId, admin });
      const admin = await token('admin', true);
      const tokens = new Map(
        await Promise.all([...BUYERS, SPENDER.userId].map(async (u) => [u, await token(u)] as const)),
      );
      const purchase = (p: Plan) =>
        throttled(() => httpCall(url, 'POST', '/orders', { token: tokens.get(p.userId), key: p.key, body: p.body }));

      // 1. The first run, with its shop stocked through the admin API.
      const first = startNpmPersisted(port, dataDir);
      const answeredBeforeCrash = new Map<string, HttpAnswer>();
      try {
        await waitFor(READY, first.output, first.exited, 90_000);
        const setup = [
          ...[HOT, PLAIN].map((item) =>
            httpCall(url, 'POST', '/admin/items', { token: admin, body: { ...item, name: item.itemId } }),
          ),
          ...(shop.users ?? []).flatMap((u) => [
            httpCall(url, 'POST', `/admin/users/${u.userId}/top-ups`, {
              token: admin,
              key: `seed-${u.userId}`,
              body: { amount: u.balance },
            }),
            httpCall(url, 'PUT', `/admin/users/${u.userId}/slots`, { token: admin, body: { capacity: u.slots } }),
          ]),
        ];
        expect((await Promise.all(setup)).map((a) => a.status).every((s) => s === 200 || s === 201)).toBe(true);

        // 2. Load, 8 clients at a time; SIGKILL to the system's Node process after 20 answers.
        const [jvm] = dynamoDbLocalPids(first.child.pid);
        if (jvm === undefined) throw new Error(`No DynamoDB Local:\n${first.output()}`);
        const system = parentOf(jvm);
        const queue = plans();
        let next = 0;
        let killed = false;
        const kill = () => {
          if (killed) return;
          killed = true;
          process.kill(system, 'SIGKILL');
        };
        const crashed = () => killed;
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (!crashed() && next < queue.length) {
              const p = queue[next++] as Plan;
              try {
                answeredBeforeCrash.set(p.key, await purchase(p));
              } catch {
                // The connection died with the system: the client does not know what happened.
              }
              if (answeredBeforeCrash.size >= 20) kill();
            }
          }),
        );
        expect(crashed()).toBe(true);
        // 3. The JVM goes with it.
        expect(await until(() => !dynamoDbLocalPids(first.child.pid).has(jvm), 15_000)).toBe(true);
      } finally {
        if (first.child.pid) process.kill(-first.child.pid, 'SIGKILL');
      }

      // 4. The second run on the same data, with the reconciler every second.
      const restartedAt = Date.now();
      let second: LocalSystem | undefined;
      try {
        second = await startLocalSystem({
          port,
          persist: true,
          dataDir,
          stackProps: { pendingTtlSeconds: TTL_SECONDS },
          reconcileEveryMs: 1_000,
          recordGrantUse,
        });
        const all = plans();
        const notYetFinal: Record<string, number> = {};
        const finalAnswer = async (p: Plan, deadline: number): Promise<HttpAnswer> => {
          for (;;) {
            const answer = await purchase(p);
            if (isFinal(answer)) return answer;
            const label = `${answer.status} ${String(answer.json['type']).split('/').pop()}`;
            notYetFinal[label] = (notYetFinal[label] ?? 0) + 1;
            if (Date.now() > deadline) throw new Error(`${p.key} still answers ${answer.status} ${answer.text}`);
            await new Promise((r) => setTimeout(r, 1_000));
          }
        };
        const finals = new Map<string, HttpAnswer>();
        // Most clients retry at once, while the crashed requests' keys may still be in flight.
        await Promise.all(
          all.filter((q) => !q.late).map(async (p) => finals.set(p.key, await finalAnswer(p, restartedAt + 90_000))),
        );

        // The reconciler ends every order the crash left PENDING, within the TTL and a few runs.
        const orderIds = all.map((p) => orderIdFor(p.userId, p.key));
        const pending = async () => {
          const views = await Promise.all(
            orderIds.map((id) => throttled(() => httpCall(url, 'GET', `/orders/${id}`, { token: admin }))),
          );
          return views.filter((v) => v.status === 200 && v.json['status'] === 'PENDING').length;
        };
        const deadline = restartedAt + (TTL_SECONDS + 30) * 1_000;
        while ((await pending()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1_000));
        expect(await pending()).toBe(0);

        // The late clients get the outcome the reconciler settled, final at once.
        for (const p of all.filter((q) => q.late)) {
          const answer = await purchase(p);
          expect(isFinal(answer), `${p.key}: ${answer.status} ${answer.text}`).toBe(true);
          finals.set(p.key, answer);
        }
        // Completed, or refused by a step (wallet, stock, slots) or rolled back (purchase-failed).
        for (const [key, answer] of finals) expect([201, 402, 409], `${key}: ${answer.text}`).toContain(answer.status);
        // Every final answer is the one remembered: a further retry repeats it byte for byte,
        // and so did every answer a client got before the crash.
        for (const p of all) {
          const again = await purchase(p);
          expect(again.text, p.key).toBe(finals.get(p.key)?.text);
          expect(again.headers.get('idempotent-replayed'), p.key).toBe('true');
          const early = answeredBeforeCrash.get(p.key);
          if (early && isFinal(early)) expect(again.text, p.key).toBe(early.text);
        }

        const s = await snapshot(second.saga);
        expect(invariantViolations(s, shop)).toEqual([]);
        const ours = [...s.orders.values()].filter((o) => orderIds.includes(o.orderId));
        const completed = (itemId: string, userId?: string) =>
          ours.filter((o) => o.status === 'COMPLETED' && o.itemId === itemId && (!userId || o.userId === userId));
        // The hot item sells at most its stock; the raced wallet pays for at most what it holds.
        expect(completed(HOT.itemId).length).toBeLessThanOrEqual(HOT.stock);
        expect(s.stock.get(HOT.itemId)).toBe(HOT.stock - completed(HOT.itemId).length);
        const spent = completed(PLAIN.itemId, SPENDER.userId).length * PLAIN.price;
        expect(spent).toBeLessThanOrEqual(SPENDER.balance);
        expect(s.balances.get(SPENDER.userId)).toBe(SPENDER.balance - spent);

        const outcomes: Record<string, number> = {};
        for (const o of ours) {
          const label = o.reason ? `${o.status} ${o.reason}` : o.status;
          outcomes[label] = (outcomes[label] ?? 0) + 1;
        }
        console.log(
          `crash campaign: ${answeredBeforeCrash.size} answered before the kill, ${ours.length} orders: ${JSON.stringify(outcomes)}; answers before final: ${JSON.stringify(notYetFinal)}`,
        );
        expect(ours.length).toBeGreaterThan(0);
      } finally {
        await second?.stop();
      }
    },
  );
});
