import { randomUUID } from 'node:crypto';

/**
 * SNS as the local endpoint plays it: `Publish` to a topic the stack was given
 * (`notificationTopicArn`), kept in memory so tests read what subscribers would get. The query
 * protocol, as the SDK's AwsQueryProtocol writes and reads it: a form body (`Action=Publish`,
 * `TopicArn`, `Message`, `Subject`, `MessageAttributes.entry.N.Name` / `.Value.DataType` /
 * `.Value.StringValue`) and XML answers, errors as `<ErrorResponse><Error><Code>`.
 */
export interface PublishedMessage {
  messageId: string;
  subject?: string;
  message: string;
  attributes: Record<string, string>;
}

export class LocalTopic {
  readonly messages: PublishedMessage[] = [];
  constructor(
    readonly arn: string,
    /** The customer-managed key SNS would encrypt with: publishers need to be allowed to use it. */
    readonly keyArn?: string,
  ) {}
}

export type LocalTopicRegistry = Map<string /* topic ARN */, LocalTopic>;

/** SNS's limits on a message (256 KiB) and a subject (100 printable ASCII characters, one line). */
const MAX_MESSAGE_BYTES = 256 * 1024;
const SUBJECT = /^[\x20-\x7E]{1,100}$/;

const xml = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const NS = 'http://sns.amazonaws.com/doc/2010-03-31/';

/** An SNS error as the query protocol answers it (the SDK throws the exception named by `code`). */
export function snsError(status: number, code: string, message: string): { status: number; body: string } {
  return {
    status,
    body:
      `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code>` +
      `<Message>${xml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  };
}

/** Answer one SNS request (its form parameters) against `topics`. */
export function answerSns(topics: LocalTopicRegistry, params: URLSearchParams): { status: number; body: string } {
  const action = params.get('Action');
  if (action !== 'Publish') return snsError(400, 'InvalidAction', `The action ${action ?? '(none)'} is not valid`);
  const topicArn = params.get('TopicArn') ?? params.get('TargetArn') ?? '';
  const topic = topics.get(topicArn);
  if (!topic) return snsError(404, 'NotFound', 'Topic does not exist');
  const message = params.get('Message') ?? '';
  if (message === '') return snsError(400, 'InvalidParameter', 'Invalid parameter: Empty message');
  if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES)
    return snsError(400, 'InvalidParameter', 'Invalid parameter: Message too long');
  const subject = params.get('Subject') ?? undefined;
  if (subject !== undefined && !SUBJECT.test(subject))
    return snsError(400, 'InvalidParameter', 'Invalid parameter: Subject');
  const attributes: Record<string, string> = {};
  for (let n = 1; params.has(`MessageAttributes.entry.${n}.Name`); n++) {
    const name = params.get(`MessageAttributes.entry.${n}.Name`) ?? '';
    attributes[name] = params.get(`MessageAttributes.entry.${n}.Value.StringValue`) ?? '';
  }
  const messageId = randomUUID();
  topic.messages.push({ messageId, message, attributes, ...(subject !== undefined ? { subject } : {}) });
  return {
    status: 200,
    body:
      `<PublishResponse xmlns="${NS}"><PublishResult><MessageId>${messageId}</MessageId></PublishResult>` +
      `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
  };
}
