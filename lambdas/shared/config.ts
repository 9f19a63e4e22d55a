import { z } from 'zod';

/**
 * Environment of the Lambdas, validated once at start-up so a misconfigured function fails on
 * its first invocation with a clear message instead of deep inside a transaction.
 */
const tableName = z.string().min(3).max(255);

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

export function readEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const parsed = schema.safeParse(env);
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
