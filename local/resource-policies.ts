import { matches, type intrinsicResolver } from './iam.js';
import type { CfnTemplate } from './template.js';

/**
 * What the services may do to a function or a queue by its resource policy: the template's
 * Lambda permissions (AWS::Lambda::Permission) and queue policies (AWS::SQS::QueuePolicy), as
 * the local EventBridge asks them before it invokes a target or sends to a queue. The evaluator
 * knows the condition operators these policies use — ArnEquals and ArnLike on aws:SourceArn,
 * Bool on aws:SecureTransport — and refuses to read any other, so an unknown condition never
 * passes for a met one.
 */
export interface ServiceRequest {
  /** e.g. events.amazonaws.com */
  service: string;
  action: string;
  /** ARN of the function or queue. */
  resource: string;
  /** The ARN of what acts (a rule): aws:SourceArn. */
  sourceArn: string;
}

interface ResourceStatement {
  effect: 'Allow' | 'Deny';
  /** Service principals, or `*` for any principal. */
  principals: string[];
  actions: string[];
  resources: string[];
  conditions: { operator: string; key: string; values: string[] }[];
}

export class ResourcePolicies {
  private readonly byResource = new Map<string, ResourceStatement[]>();

  /** Reads the queue policies, and the Lambda permissions granted to `service`. */
  constructor(template: CfnTemplate, service: string, { one: resolve, list }: ReturnType<typeof intrinsicResolver>) {
    for (const r of Object.values(template.Resources)) {
      const p = r.Properties ?? {};
      if (r.Type === 'AWS::Lambda::Permission') {
        if (p['Principal'] !== service) continue;
        const fn = resolve(p['FunctionName']);
        this.add(fn, {
          effect: 'Allow',
          principals: [service],
          actions: [String(p['Action'])],
          resources: [fn],
          conditions:
            p['SourceArn'] === undefined
              ? []
              : [{ operator: 'ArnLike', key: 'aws:SourceArn', values: list(p['SourceArn']) }],
        });
      } else if (r.Type === 'AWS::SQS::QueuePolicy') {
        const doc = p['PolicyDocument'] as { Statement: Record<string, unknown>[] };
        for (const s of doc.Statement) {
          const principal = s['Principal'] as { Service?: unknown; AWS?: unknown } | string;
          const principals =
            principal === '*' ? ['*'] : typeof principal === 'object' ? list(principal.Service ?? principal.AWS) : [];
          const conditions = Object.entries((s['Condition'] ?? {}) as Record<string, Record<string, unknown>>).flatMap(
            ([operator, byKey]) => Object.entries(byKey).map(([key, v]) => ({ operator, key, values: list(v) })),
          );
          const statement: ResourceStatement = {
            effect: s['Effect'] === 'Deny' ? 'Deny' : 'Allow',
            principals,
            actions: list(s['Action']),
            resources: list(s['Resource']),
            conditions,
          };
          for (const queue of list(p['Queues'])) this.add(queue, statement);
        }
      }
    }
  }

  private add(resource: string, statement: ResourceStatement): void {
    this.byResource.set(resource, [...(this.byResource.get(resource) ?? []), statement]);
  }

  /** Whether the resource's policy lets the service do this: an explicit Deny wins, then some Allow must apply. */
  allows(request: ServiceRequest): boolean {
    const applicable = (this.byResource.get(request.resource) ?? []).filter(
      (s) =>
        s.principals.some((p) => p === '*' || p === request.service) &&
        s.actions.some((a) => matches(a, request.action, true)) &&
        s.resources.some((r) => matches(r, request.resource)) &&
        s.conditions.every((c) => met(c, request)),
    );
    return applicable.some((s) => s.effect === 'Allow') && !applicable.some((s) => s.effect === 'Deny');
  }
}

function met(c: ResourceStatement['conditions'][number], request: ServiceRequest): boolean {
  // The services call over TLS: aws:SecureTransport is true.
  const context: Record<string, string> = { 'aws:SourceArn': request.sourceArn, 'aws:SecureTransport': 'true' };
  const value = context[c.key];
  if (value === undefined)
    throw new Error(`A resource policy condition on ${c.key}, which the local evaluator does not know`);
  switch (c.operator) {
    case 'ArnEquals':
      return c.values.includes(value);
    case 'ArnLike':
      return c.values.some((v) => matches(v, value));
    case 'Bool':
      return c.values.some((v) => v.toLowerCase() === value);
    default:
      throw new Error(`A resource policy condition operator the local evaluator does not know: ${c.operator}`);
  }
}
