import * as z from 'zod/mini';
import type { $ZodType, output } from 'zod/v4/core';

/**
 * Environment of the Lambdas, validated once at start-up so a misconfigured function fails on
 * its first invocation with a clear message instead of deep inside a transaction.
 */
const tableName = z.string().check(z.minLength(3), z.maxLength(255));

export const TableEnv = z.object({
  ACCOUNTS_TABLE: tableName,
  CATALOG_TABLE: tableName,
  INVENTORY_TABLE: tableName,
  COUPONS_TABLE: tableName,
  ORDERS_TABLE: tableName,
  PAYMENTS_TABLE: tableName,
  NOTIFICATIONS_TABLE: tableName,
  IDEMPOTENCY_TABLE: tableName,
});
export type Tables = z.infer<typeof TableEnv>;
export type TableVar = keyof Tables;

/** Any zod schema, classic or mini: the handlers at the edge still use the classic build. */
export function readEnv<S extends $ZodType>(schema: S, env: NodeJS.ProcessEnv): output<S> {
  const parsed = z.safeParse(schema, env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid Lambda environment: ${problems}`);
  }
  return parsed.data;
}

/** Read just the table names a function declares, so each Lambda needs only its own tables. */
export function readTables<K extends TableVar>(names: readonly K[], env: NodeJS.ProcessEnv): Pick<Tables, K> {
  const tables: Partial<Pick<Tables, K>> = {};
  const problems: string[] = [];
  for (const name of names) {
    const parsed = tableName.safeParse(env[name]);
    if (parsed.success) tables[name] = parsed.data;
    else problems.push(`${name}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  if (problems.length > 0) throw new Error(`Invalid Lambda environment: ${problems.join('; ')}`);
  return tables as Pick<Tables, K>;
}
