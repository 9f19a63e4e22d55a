/**
 * AWS list prices the cost model uses: us-east-1, on demand, first pricing tier, no free tier,
 * as published on the pages cited (read 2026-11; check them before relying on a figure).
 */
export interface Price {
  usd: number;
  per: string;
  source: string;
}

export const PRICES = {
  apiGatewayRest: {
    usd: 3.5,
    per: 'million REST API requests (first 333 million a month)',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
  },
  lambdaRequests: { usd: 0.2, per: 'million requests', source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    per: 'GB-second, arm64 (first 7.5 billion GB-s a month)',
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  sfnStandardTransition: {
    usd: 0.000025,
    per: 'state transition, STANDARD ($25 per million, retries included)',
    source: 'https://aws.amazon.com/step-functions/pricing/',
  },
  sfnExpressRequests: {
    usd: 1.0,
    per: 'million EXPRESS executions',
    source: 'https://aws.amazon.com/step-functions/pricing/',
  },
  sfnExpressGbSecond: {
    usd: 0.00001667,
    per: 'GB-second, EXPRESS (100 ms steps, 64 MB chunks; first 1,000 GB-hours)',
    source: 'https://aws.amazon.com/step-functions/pricing/',
  },
  dynamoWriteUnits: {
    usd: 0.625,
    per: 'million write request units, on demand',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  dynamoReadUnits: {
    usd: 0.125,
    per: 'million read request units, on demand',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  eventBridgeEvents: {
    usd: 1.0,
    per: 'million custom events published',
    source: 'https://aws.amazon.com/eventbridge/pricing/',
  },
  logsIngestion: {
    usd: 0.5,
    per: 'GB of CloudWatch Logs ingested (standard class)',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
} as const satisfies Record<string, Price>;

/** An EXPRESS execution's memory is billed in 64 MB chunks; this definition and its payloads fit in one. */
export const EXPRESS_MEMORY_GB = 64 / 1024;
