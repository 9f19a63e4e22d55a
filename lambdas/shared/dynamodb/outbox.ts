import * as z from 'zod/mini';
import { EVENT_TYPES, outboxEvent, type OutboxEvent } from '../../domain/events.js';
import { Id, IsoTimestamp } from '../../domain/model.js';

/**
 * The outbox, stored on the items whose change the events describe.
 *
 * An item of the Orders table carries the events its writes emitted in a map attribute
 * `events`, keyed by type (and qualifier): the order carries ORDER_CREATED from its insert and
 * ORDER_FAILED from the write that ends it; a step record carries its forward event from the
 * insert that commits the step and its compensation's event from the update that undoes it; the
 * Notifier's delivery record (beside the order) carries NOTIFICATION_SENT from the update that
 * records the notification sent. So
 * the event is written by the very write it describes, in the same item — no second item, no
 * transaction just to add it. The Publisher reads the stream and publishes every entry a record
 * adds to `events` (new image minus old image).
 *
 * Stored compactly: `orderId`, `userId` and the timestamp are the item's and the entry's own,
 * and the event id follows from them, so an entry holds only its time and its payload fields.
 * `eventsOf` rebuilds the exact OutboxEvent with the same `outboxEvent` the writer used.
 */
export const EVENTS_ATTRIBUTE = 'events';

const PayloadValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** One entry of an item's `events` map. */
const StoredEvent = z.strictObject({ at: IsoTimestamp, payload: z.record(z.string(), PayloadValue) });
type StoredEvent = z.infer<typeof StoredEvent>;

/** What an item must hold for its events to be read: the order's id and buyer, and the map. */
const EventCarrier = z.looseObject({
  orderId: Id,
  userId: Id,
  [EVENTS_ATTRIBUTE]: z.optional(z.record(z.string().check(z.regex(/^[A-Z_]+(#.+)?$/)), StoredEvent)),
});

/** The entry key of an event in its item's map: its type, and `#qualifier` when it has one. */
export function entryKey(event: Pick<OutboxEvent, 'type' | 'qualifier'>): string {
  return event.qualifier ? `${event.type}#${event.qualifier}` : event.type;
}

function stored(event: OutboxEvent): StoredEvent {
  const { orderId: _orderId, userId: _userId, timestamp: _timestamp, ...payload } = event.payload;
  return { at: event.timestamp, payload };
}

/** Attributes of a new item that carries `event` (merge into the item of a Put). */
export function carrying(event: OutboxEvent): { userId: string; [EVENTS_ATTRIBUTE]: Record<string, StoredEvent> } {
  return { userId: event.userId, [EVENTS_ATTRIBUTE]: { [entryKey(event)]: stored(event) } };
}

export interface AddingEvent {
  set: string;
  names: Record<string, string>;
  values: Record<string, StoredEvent | Record<string, StoredEvent>>;
}

/**
 * The update clause that adds `event` to an existing item's map, with its names and values
 * (`#ev…`, `:ev`, apart from the caller's own placeholders). `into: 'new map'` is for an item
 * written before items carried their events: it has no map, and DynamoDB refuses a path into a
 * map that is not there, so the clause sets a map holding just this event.
 */
export function addingEvent(event: OutboxEvent, into: 'map' | 'new map' = 'map'): AddingEvent {
  return into === 'map'
    ? {
        set: '#evmap.#evkey = :ev',
        names: { '#evmap': EVENTS_ATTRIBUTE, '#evkey': entryKey(event) },
        values: { ':ev': stored(event) },
      }
    : {
        set: '#evmap = :ev',
        names: { '#evmap': EVENTS_ATTRIBUTE },
        values: { ':ev': { [entryKey(event)]: stored(event) } },
      };
}

/** Whether an item read from the table has an `events` map to add to. */
export const hasEventsMap = (item: object): boolean => EVENTS_ATTRIBUTE in item;

/**
 * Runs an update that adds `event` to an item not read first: into its map, or, when DynamoDB
 * answers that the item has none (written before items carried their events), as a new map.
 */
export async function addingEventTo<T>(event: OutboxEvent, update: (adding: AddingEvent) => Promise<T>): Promise<T> {
  try {
    return await update(addingEvent(event));
  } catch (err) {
    if (!(err instanceof Error && err.name === 'ValidationException' && /document path/i.test(err.message))) throw err;
    return update(addingEvent(event, 'new map'));
  }
}

export class MalformedEvents extends Error {
  override readonly name = 'MalformedEvents';
}

/** Every event an item carries, oldest first. Throws MalformedEvents when the item cannot carry them. */
export function eventsOf(item: Record<string, unknown>): OutboxEvent[] {
  if (item[EVENTS_ATTRIBUTE] === undefined) return [];
  const parsed = EventCarrier.safeParse(item);
  if (!parsed.success) {
    throw new MalformedEvents(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  return Object.entries(parsed.data[EVENTS_ATTRIBUTE] ?? {})
    .map(([key, entry]) => {
      const [type, ...rest] = key.split('#');
      const known = EVENT_TYPES.find((t) => t === type);
      if (!known) throw new MalformedEvents(`${EVENTS_ATTRIBUTE}.${key}: not an event type`);
      const qualifier = rest.length > 0 ? rest.join('#') : undefined;
      return outboxEvent(known, parsed.data, entry.at, entry.payload, qualifier);
    })
    .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
}

/** The events `newImage` carries that `oldImage` did not: what one stream record publishes. */
export function addedEvents(newImage: Record<string, unknown>, oldImage?: Record<string, unknown>): OutboxEvent[] {
  const before = new Set(oldImage ? eventsOf(oldImage).map((e) => e.eventId) : []);
  return eventsOf(newImage).filter((e) => !before.has(e.eventId));
}
