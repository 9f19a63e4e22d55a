import { afterAll } from 'vitest';
import { stopSharedEndpoint } from '../../local/saga.js';

// Each test file gets its own local Step Functions / Secrets Manager endpoint, stopped at its end.
afterAll(() => stopSharedEndpoint());
