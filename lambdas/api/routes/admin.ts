import { AmountOutOfRange, InvalidInput } from '../../domain/errors.js';
import { Id } from '../../domain/model.js';
import { grantCoupon, putItem, restockItem, setSlotCapacity, topUpBalance } from '../../saga/admin.js';
import type { Deps } from '../../saga/deps.js';
import { getItem, me } from '../../saga/queries.js';
import { isConditionFailed } from '../../shared/dynamodb/step-engine.js';
import { basePath, header, HttpProblem, json, parseBody, validate } from '../http.js';
import {
  CreateItemBody,
  GrantCouponBody,
  IdempotencyKey,
  NoQuery,
  RestockBody,
  SlotCapacityBody,
  TopUpBody,
} from '../schemas.js';
import type { ApiTable, Route } from './types.js';

/** Admin routes (role claim): stock the shop and fund wallets, each through the domain operations. */
export function adminRoutes(data: Deps<ApiTable>): Route[] {
  return [
    {
      method: 'POST',
      resource: '/admin/items',
      admin: true,
      async handle({ event }) {
        validate(NoQuery, event.queryStringParameters ?? {});
        const body = parseBody(event, CreateItemBody);
        await conflictIfExists(() => putItem(data, body), `Item ${body.itemId} already exists`);
        return json(201, await getItem(data, body.itemId), { Location: `${basePath(event)}/items/${body.itemId}` });
      },
    },
    {
      method: 'POST',
      resource: '/admin/items/{itemId}/restock',
      admin: true,
      async handle({ event, params }) {
        const itemId = validate(Id, params['itemId']);
        validate(NoQuery, event.queryStringParameters ?? {});
        const { quantity } = parseBody(event, RestockBody);
        try {
          await restockItem(data, itemId, quantity);
        } catch (err) {
          if (isConditionFailed(err)) throw new HttpProblem('item-not-found', `No item ${itemId}`);
          throw err;
        }
        return json(200, await getItem(data, itemId));
      },
    },
    {
      method: 'POST',
      resource: '/admin/users/{userId}/top-ups',
      admin: true,
      async handle({ event, params }) {
        // The key names the ledger entry: a retried top-up is credited once. Checked first, as on POST /orders.
        const rawKey = header(event, 'idempotency-key');
        if (rawKey === undefined) throw new HttpProblem('idempotency-key-missing');
        const key = IdempotencyKey.safeParse(rawKey);
        if (!key.success) throw new HttpProblem('idempotency-key-invalid', key.error.issues[0]?.message);
        const userId = validate(Id, params['userId']);
        validate(NoQuery, event.queryStringParameters ?? {});
        const { amount } = parseBody(event, TopUpBody);
        const credited = await topUpBalance(data, { userId, amount, topUpId: key.data }).catch((err: unknown) => {
          if (err instanceof AmountOutOfRange) throw new HttpProblem('amount-too-large', err.message);
          throw err;
        });
        if (!credited) {
          const view = await me(data, userId);
          return json(200, { userId, balance: view.balance }, { 'Idempotent-Replayed': 'true' });
        }
        const view = await me(data, userId);
        return json(200, { userId, balance: view.balance });
      },
    },
    {
      method: 'POST',
      resource: '/admin/users/{userId}/coupons',
      admin: true,
      async handle({ event, params }) {
        const userId = validate(Id, params['userId']);
        validate(NoQuery, event.queryStringParameters ?? {});
        const body = parseBody(event, GrantCouponBody);
        await conflictIfExists(
          () => grantCoupon(data, { userId, ...body }),
          `User ${userId} already has coupon ${body.couponId}`,
        );
        return json(201, { userId, ...body, status: 'AVAILABLE' });
      },
    },
    {
      method: 'PUT',
      resource: '/admin/users/{userId}/slots',
      admin: true,
      async handle({ event, params }) {
        const userId = validate(Id, params['userId']);
        validate(NoQuery, event.queryStringParameters ?? {});
        const { capacity } = parseBody(event, SlotCapacityBody);
        try {
          await setSlotCapacity(data, { userId, capacity });
        } catch (err) {
          if (err instanceof InvalidInput) throw new HttpProblem('slots-in-use', err.message);
          throw err;
        }
        return json(200, { userId, slots: (await me(data, userId)).slots });
      },
    },
  ];
}

async function conflictIfExists(write: () => Promise<void>, message: string): Promise<void> {
  try {
    await write();
  } catch (err) {
    if (isConditionFailed(err)) throw new HttpProblem('conflict', message);
    throw err;
  }
}
