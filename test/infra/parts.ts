import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Data } from '../../infra/data.js';
import { projectContext } from '../support/cfn.js';

/** A bare stack to build one part of PurchaseSagaStack in, alone (no bundling: fast, offline). */
export function bareStack(): Stack {
  const app = new App({ context: { ...projectContext(), 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'Part');
}

/** A bare stack with the data part in it, for the parts that need tables. */
export function stackWithData(removalPolicy = RemovalPolicy.RETAIN) {
  const stack = bareStack();
  return { stack, data: new Data(stack, { removalPolicy }) };
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

/** The template's resources of one type, by logical id. */
export function resources(stack: Stack, type: string): [string, CfnResource][] {
  const json = Template.fromStack(stack).toJSON() as { Resources: Record<string, CfnResource> };
  return Object.entries(json.Resources).filter(([, r]) => r.Type === type);
}
