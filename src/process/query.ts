// Query-string checks shared by Sluice's own list endpoints (connections.ts, history.ts).

/**
 * A `limit` parameter: `def` when absent, at most `max` (more is the most there is, not an error); a problem when it
 * is not a positive integer.
 */
export function queryLimit(q: URLSearchParams, def: number, max: number): number | { problem: string } {
  const v = q.get('limit');
  if (v === null) return def;
  if (!/^\d{1,9}$/.test(v) || Number(v) < 1) return { problem: 'limit must be a positive integer' };
  return Math.min(Number(v), max);
}

/** Parameters other than `known` (and the Admin API's own `api_key`): a typo must not widen what a request means. */
export function unknownParam(q: URLSearchParams, known: readonly string[]): string | undefined {
  for (const name of q.keys()) if (name !== 'api_key' && !known.includes(name)) return name;
  return undefined;
}
