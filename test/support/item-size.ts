/**
 * The size DynamoDB bills an item by (developer guide, "Item sizes and formats"): each
 * attribute's name in UTF-8 bytes plus its value — strings in UTF-8 bytes, numbers about one byte
 * per two significant digits plus one, booleans and null one byte, and maps and lists 3 bytes
 * plus one per element on top of their contents.
 */
export function itemSize(item: Record<string, unknown>): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + valueSize(value), 0);
}

function valueSize(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number') {
    const digits = String(Math.abs(value))
      .replace(/[.\-e+]/g, '')
      .replace(/^0+/, '').length;
    return Math.ceil(Math.max(digits, 1) / 2) + 1;
  }
  if (typeof value === 'boolean' || value === null) return 1;
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, v) => sum + 1 + valueSize(v), 0);
  if (typeof value === 'object') {
    return 3 + Object.entries(value).reduce((sum, [k, v]) => sum + 1 + Buffer.byteLength(k) + valueSize(v), 0);
  }
  throw new Error(`itemSize: cannot size a ${typeof value}`);
}
