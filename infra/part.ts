import type { Stack } from 'aws-cdk-lib';

/**
 * A part of the stack (its data, workflow, HTTP API, reconciler): the code of one concern, which
 * builds its resources as the stack's own children. Not a construct node of its own on purpose:
 * a node in their path would change every resource's logical id (and the ids CDK derives from
 * paths, such as Lambda permissions and event source mappings), and a deployed stack would
 * replace them on its next update — a table replaced starts empty. The parts were split out of
 * one stack class without renaming anything, and test/infra/logical-ids.test.ts keeps it so.
 */
export abstract class StackPart {
  constructor(protected readonly stack: Stack) {}
}
