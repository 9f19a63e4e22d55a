import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { z } from 'zod';
import { SOURCE_METADATA } from '../infra/catalog.js';
import { PurchaseSagaStack, type PurchaseSagaStackProps } from '../infra/stack.js';

/**
 * The local stand-in is derived from the synthesized CloudFormation template, so tables, Lambda
 * environments and the state machine's substitutions are described once, by the CDK stack.
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ASL_FILE = resolve(REPO_ROOT, 'statemachine/purchase.asl.json');

export type CfnTemplate = {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }>;
};

/** Synthesize the stack in-process, skipping esbuild bundling (the local stand-in runs the sources). */
export function synthTemplate(props: PurchaseSagaStackProps = {}): CfnTemplate {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new PurchaseSagaStack(app, 'PurchaseSaga', props);
  return app.synth().getStackByName(stack.stackName).template as CfnTemplate;
}

const AttributeDefinition = z.object({ AttributeName: z.string(), AttributeType: z.enum(['S', 'N', 'B']) });
const KeySchemaElement = z.object({ AttributeName: z.string(), KeyType: z.enum(['HASH', 'RANGE']) });
const TableProperties = z.object({
  KeySchema: z.array(KeySchemaElement),
  AttributeDefinitions: z.array(AttributeDefinition),
  GlobalSecondaryIndexes: z
    .array(
      z.object({
        IndexName: z.string(),
        KeySchema: z.array(KeySchemaElement),
        Projection: z.object({
          ProjectionType: z.enum(['ALL', 'KEYS_ONLY', 'INCLUDE']),
          NonKeyAttributes: z.array(z.string()).optional(),
        }),
      }),
    )
    .optional(),
  StreamSpecification: z
    .object({ StreamViewType: z.enum(['NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES', 'KEYS_ONLY']) })
    .optional(),
  TimeToLiveSpecification: z.object({ AttributeName: z.string(), Enabled: z.boolean() }).optional(),
});
export type TableSpec = z.infer<typeof TableProperties> & { logicalId: string };

export interface FunctionSpec {
  logicalId: string;
  /** Source folder, e.g. `lambdas/deduct-balance`, from the stack's metadata. */
  source: string;
  timeoutSeconds: number;
  /** MemorySize (MB): what Lambda bills duration by (the benchmark's cost model reads it). */
  memoryMb: number;
  /** Environment with `Ref`s resolved by `resolveRef`. */
  env: Record<string, string>;
}

export interface StateMachineSpec {
  logicalId: string;
  type: 'EXPRESS' | 'STANDARD';
  /** Substitution name -> logical id of the Lambda it points to. */
  substitutions: Record<string, string>;
}

const Ref = z.object({ Ref: z.string() });
const GetAttArn = z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) });

export function tablesOf(template: CfnTemplate): TableSpec[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::DynamoDB::Table')
    .map(([logicalId, r]) => ({ logicalId, ...TableProperties.parse(r.Properties) }));
}

export function functionsOf(template: CfnTemplate, resolveRef: (logicalId: string) => string): FunctionSpec[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && typeof r.Metadata?.[SOURCE_METADATA] === 'string')
    .map(([logicalId, r]) => {
      const props = z
        .object({
          Timeout: z.number().optional(),
          MemorySize: z.number().optional(),
          Environment: z.object({ Variables: z.record(z.string(), z.unknown()) }).optional(),
        })
        .parse(r.Properties);
      const env: Record<string, string> = {};
      for (const [name, value] of Object.entries(props.Environment?.Variables ?? {})) {
        if (typeof value === 'string') env[name] = value;
        else if (Ref.safeParse(value).success) env[name] = resolveRef(Ref.parse(value).Ref);
        else throw new Error(`${logicalId}: cannot resolve env ${name}=${JSON.stringify(value)} locally`);
      }
      return {
        logicalId,
        source: String(r.Metadata?.[SOURCE_METADATA]),
        timeoutSeconds: props.Timeout ?? 3,
        memoryMb: props.MemorySize ?? 128,
        env,
      };
    });
}

export function stateMachineOf(template: CfnTemplate): StateMachineSpec {
  const found = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (found.length !== 1 || !found[0])
    throw new Error(`Expected one state machine in the template, found ${found.length}`);
  const [logicalId, resource] = found[0];
  const props = z
    .object({
      StateMachineType: z.enum(['EXPRESS', 'STANDARD']).optional(),
      DefinitionSubstitutions: z.record(z.string(), GetAttArn),
    })
    .parse(resource.Properties);
  const substitutions = Object.fromEntries(
    Object.entries(props.DefinitionSubstitutions).map(([name, v]) => [name, v['Fn::GetAtt'][0]]),
  );
  return { logicalId, type: props.StateMachineType ?? 'STANDARD', substitutions };
}

/** The deployed definition, `${...}` substitutions resolved the way CloudFormation does. */
export function resolvedDefinition(substitutions: Record<string, string>): unknown {
  const text = readFileSync(ASL_FILE, 'utf8').replace(/\$\{([A-Za-z0-9_]+)\}/g, (_m, name: string) => {
    const value = substitutions[name];
    if (value === undefined) throw new Error(`No substitution for \${${name}} in ${ASL_FILE}`);
    return value;
  });
  return JSON.parse(text);
}
