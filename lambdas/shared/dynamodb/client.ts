import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * One document client per Lambda, created at module level. Endpoint, region and credentials
 * come from the standard AWS SDK environment (AWS_ENDPOINT_URL_DYNAMODB points it at
 * DynamoDB Local or LocalStack).
 */
export function documentClient(client: DynamoDBClient = new DynamoDBClient({})): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}
