import { z } from 'zod';
import { Id, IsoTimestamp, MAX_QUANTITY, PositiveAmount, Quantity } from '../domain/model.js';

/** Request bodies: strict (unknown fields are refused), bounded numbers, integers only. */
export const PurchaseBody = z.strictObject({
  itemId: Id,
  quantity: Quantity,
  couponId: z.optional(Id),
});
export type PurchaseBody = z.infer<typeof PurchaseBody>;

export const CreateItemBody = z.strictObject({
  itemId: Id,
  name: z.string().trim().min(1).max(200),
  price: PositiveAmount,
  stock: z
    .number()
    .int()
    .min(0)
    .max(MAX_QUANTITY * 1_000),
});

export const RestockBody = z.strictObject({
  quantity: z
    .number()
    .int()
    .min(1)
    .max(MAX_QUANTITY * 1_000),
});

export const TopUpBody = z.strictObject({ amount: PositiveAmount });

export const GrantCouponBody = z.strictObject({
  couponId: Id,
  discount: PositiveAmount,
  expiresAt: IsoTimestamp,
});

export const SlotCapacityBody = z.strictObject({ capacity: z.number().int().min(0).max(10_000) });

/** The query of every route but GET /items: none. Strict like the bodies, so an unknown parameter is a 400. */
export const NoQuery = z.strictObject({});

export const ListItemsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.optional(Id),
});

/** Stripe and the IETF draft use opaque client-generated keys; a UUID fits. */
export const IdempotencyKey = z.string().regex(/^[A-Za-z0-9._:-]{8,128}$/, '8-128 characters of A-Z a-z 0-9 . _ : -');

/** What the authorizer put in the request context. */
export const Principal = z.object({ userId: Id, admin: z.enum(['true', 'false']).transform((a) => a === 'true') });
export type Principal = z.infer<typeof Principal>;
