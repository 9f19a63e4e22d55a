/**
 * Print an HS256 development token for the local stack:
 *
 *   npm run --silent token -- --user alice [--admin] [--ttl 1h] [--secret <value> | --secret-file <path>]
 *                              [--issuer x] [--audience y]
 *
 * stdout holds the token and nothing else (`TOKEN=$(npm run --silent token -- --user alice)`);
 * errors go to stderr with a non-zero exit code.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, mintDevToken } from '../local/dev-auth.js';
import { Id } from '../lambdas/domain/model.js';

const USAGE = `usage: npm run --silent token -- --user <id> [--admin] [--ttl <n>[s|m|h|d]]
                         [--secret <value> | --secret-file <path>] [--issuer <iss>] [--audience <aud>]

  --user         the user id (sub): letters, digits and . _ : @ -, at most 128
  --admin        add the admin role claim (role: admin)
  --ttl          lifetime, e.g. 900, 15m, 1h, 24h (default 1h, at most 24h: the API refuses longer-lived tokens)
  --secret       HS256 secret (default: the local stack's development secret)
  --secret-file  read the secret from a file (one trailing newline is ignored)
  --issuer       iss (default purchase-saga-local)
  --audience     aud (default purchase-saga)
`;

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

const Ttl = z
  .string()
  .regex(/^\d{1,9}[smhd]?$/, 'expected a number of seconds or <n>s, <n>m, <n>h, <n>d')
  .transform((value) => {
    const unit = /[smhd]$/.test(value) ? (value.slice(-1) as keyof typeof UNIT_SECONDS) : 's';
    return Number.parseInt(value, 10) * UNIT_SECONDS[unit];
  })
  .pipe(
    z
      .number()
      .int()
      .min(1)
      .max(MAX_TTL_SECONDS, `at most ${MAX_TTL_SECONDS / 86_400}d`),
  );

const Args = z
  .object({
    user: Id,
    admin: z.boolean().default(false),
    ttl: Ttl.optional(),
    secret: z.string().min(1).optional(),
    'secret-file': z.string().min(1).optional(),
    issuer: z.string().min(1).optional(),
    audience: z.string().min(1).optional(),
  })
  .refine((a) => !(a.secret !== undefined && a['secret-file'] !== undefined), {
    error: 'use either --secret or --secret-file, not both',
  });

class UsageError extends Error {
  override readonly name = 'UsageError';
}

async function main(argv: string[]): Promise<string | undefined> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        user: { type: 'string', short: 'u' },
        admin: { type: 'boolean' },
        ttl: { type: 'string' },
        secret: { type: 'string' },
        'secret-file': { type: 'string' },
        issuer: { type: 'string' },
        audience: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return undefined;
  }
  const parsed = Args.safeParse(values);
  if (!parsed.success) {
    throw new UsageError(
      parsed.error.issues
        .map((i) => (i.path.length > 0 ? `--${i.path.join('.')}: ${i.message}` : i.message))
        .join('; '),
    );
  }
  const args = parsed.data;

  let secret = args.secret;
  if (args['secret-file'] !== undefined) {
    try {
      secret = readFileSync(args['secret-file'], 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw new UsageError(`cannot read --secret-file: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  return mintDevToken({
    userId: args.user,
    admin: args.admin,
    ttlSeconds: args.ttl ?? DEFAULT_TTL_SECONDS,
    ...(secret !== undefined ? { secret } : {}),
    ...(args.issuer !== undefined ? { issuer: args.issuer } : {}),
    ...(args.audience !== undefined ? { audience: args.audience } : {}),
  });
}

main(process.argv.slice(2)).then(
  (token) => {
    if (token !== undefined) process.stdout.write(`${token}\n`);
  },
  (error: unknown) => {
    const usage = error instanceof UsageError;
    process.stderr.write(`token: ${error instanceof Error ? error.message : String(error)}\n${usage ? USAGE : ''}`);
    process.exitCode = usage ? 2 : 1;
  },
);
