import { Id } from '../../domain/model.js';
import type { Deps } from '../../saga/deps.js';
import { getItem, listItems, me } from '../../saga/queries.js';
import { HttpProblem, json, validate } from '../http.js';
import { ListItemsQuery, NoQuery } from '../schemas.js';
import type { Route } from './types.js';

type ReadDeps = Deps<'CATALOG_TABLE' | 'ACCOUNTS_TABLE' | 'INVENTORY_TABLE' | 'COUPONS_TABLE'>;

export function catalogRoutes(data: ReadDeps): Route[] {
  return [
    {
      method: 'GET',
      resource: '/items',
      async handle({ event }) {
        const query = validate(ListItemsQuery, event.queryStringParameters ?? {});
        return json(200, await listItems(data, query));
      },
    },
    {
      method: 'GET',
      resource: '/items/{itemId}',
      async handle({ event, params }) {
        const itemId = validate(Id, params['itemId']);
        validate(NoQuery, event.queryStringParameters ?? {});
        const item = await getItem(data, itemId);
        if (!item) throw new HttpProblem('item-not-found', `No item ${itemId}`);
        return json(200, item);
      },
    },
    {
      method: 'GET',
      resource: '/me',
      async handle({ event, principal }) {
        validate(NoQuery, event.queryStringParameters ?? {});
        return json(200, await me(data, principal.userId));
      },
    },
  ];
}
