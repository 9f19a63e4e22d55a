import { readFileSync } from 'node:fs';
import { RemovalPolicy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { SAGA_FUNCTIONS } from '../../infra/catalog.js';
import { ASL_PATH } from '../../infra/function.js';
import { Workflow, type WorkflowType } from '../../infra/workflow.js';
import { asArray, render } from '../support/cfn.js';
import { resources, stackWithData } from './parts.js';

/** The workflow part alone: the saga's functions and the state machine that runs them. */
function workflow(workflowType: WorkflowType) {
  const { stack, data } = stackWithData();
  const part = new Workflow(stack, {
    tables: data.tables,
    workflowType,
    paymentProvider: 'simulated',
    paymentProviderUrl: undefined,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  return { stack, part };
}

describe('Stack part: Workflow', () => {
  const express = workflow('EXPRESS');
  const [[, machine] = ['', { Type: '' }]] = resources(express.stack, 'AWS::StepFunctions::StateMachine');

  it('builds one function per step, compensation and outcome of the step table, and no other', () => {
    expect([...express.part.functions.keys()].sort()).toEqual(SAGA_FUNCTIONS.map((f) => f.id).sort());
    expect(resources(express.stack, 'AWS::Lambda::Function')).toHaveLength(SAGA_FUNCTIONS.length);
  });

  it('runs statemachine/purchase.asl.json with every function ARN substituted', () => {
    const placeholders = [...readFileSync(ASL_PATH, 'utf8').matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]);
    const substitutions = (machine.Properties?.['DefinitionSubstitutions'] ?? {}) as Record<string, unknown>;
    expect(Object.keys(substitutions).sort()).toEqual([...new Set(placeholders)].sort());
    for (const f of SAGA_FUNCTIONS) {
      expect(render(substitutions[`${f.id}FunctionArn`]), f.id).toMatch(
        new RegExp(`^\\$\\{${f.id}Function\\w+\\.Arn\\}$`),
      );
    }
  });

  it('lets the state machine invoke exactly its functions', () => {
    const roleId = render(machine.Properties?.['RoleArn']).replace(/^\$\{(\w+)\.Arn\}$/, '$1');
    const invoked = resources(express.stack, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties?.['Roles']).includes(roleId))
      .flatMap(
        ([, p]) =>
          (p.Properties?.['PolicyDocument'] as { Statement: { Action: unknown; Resource: unknown }[] }).Statement,
      )
      .filter((s) => asArray(s.Action).includes('lambda:InvokeFunction'))
      .flatMap((s) => asArray(s.Resource).map(render))
      .filter((r) => !r.endsWith(':*'));
    expect(invoked).toHaveLength(SAGA_FUNCTIONS.length);
    for (const f of SAGA_FUNCTIONS) {
      const arn = new RegExp(`^\\$\\{${f.id}Function\\w+\\.Arn\\}$`);
      expect(
        invoked.filter((r) => arn.test(r)),
        f.id,
      ).toHaveLength(1);
    }
  });

  it('is EXPRESS with every execution logged in full, or STANDARD logging errors; traced either way', () => {
    expect(machine.Properties).toMatchObject({
      StateMachineType: 'EXPRESS',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true },
    });
    const [[, standard] = ['', { Type: '' }]] = resources(
      workflow('STANDARD').stack,
      'AWS::StepFunctions::StateMachine',
    );
    expect(standard.Properties).toMatchObject({
      StateMachineType: 'STANDARD',
      LoggingConfiguration: { Level: 'ERROR', IncludeExecutionData: true },
    });
  });

  it('gives the payment functions the provider settings and more time', () => {
    for (const f of SAGA_FUNCTIONS) {
      const [, fn] =
        resources(express.stack, 'AWS::Lambda::Function').find(([id]) => id.startsWith(`${f.id}Function`)) ?? [];
      const env =
        (fn?.Properties?.['Environment'] as { Variables?: Record<string, string> } | undefined)?.Variables ?? {};
      expect(env['PAYMENT_PROVIDER'], f.id).toBe('payments' in f && f.payments ? 'simulated' : undefined);
      expect(fn?.Properties?.['Timeout'], f.id).toBe('payments' in f && f.payments ? 30 : 20);
    }
  });
});
