// The Admin API path table: /apisix/admin/<resource>[/<id>[/<sub path>]], plugins (plugins-info.ts), schema/validate,
// and Sluice's own /sluice/v1/*. Order of checks as APISIX's run(): stream mode, resource, method, body, ttl.
import type { AdminKey } from '../../model/config.ts';
import type { AdminContext } from './context.ts';
import { adminError } from './errors.ts';
import { pluginsAnswer } from './plugins-info.ts';
import { luaNumber, type HandlerResult, type Method, type ResourceHandler } from './resource.ts';
import type { PluginRegistry } from '../../plugins/plugin.ts';
import { notAnObject } from '../../lib/jsonschema.ts';

export interface ParsedBody {
  readonly body: unknown;
  readonly hasBody: boolean;
}

export interface AdminRequest {
  readonly method: string;
  readonly url: URL;
  /** Reads and parses the body; throws AdminError for an oversized or malformed one. */
  readBody(): Promise<ParsedBody>;
  /** The role of the request's key ('admin' when no key is required); undefined on a public route. */
  readonly role?: AdminKey['role'];
}

export interface ExtraRoute {
  readonly method: string;
  readonly path: string;
  /** Also answers the paths below `path` (`path/...`): the handler reads the rest from req.url. */
  readonly prefix?: boolean;
  /** Answered without a key (the OpenAPI document, the status page's files); allow_admin still applies. */
  readonly public?: boolean;
  handle(req: AdminRequest, ctx: AdminContext): Promise<HandlerResult>;
}

/** The extra route for a request, if one answers it. */
export function extraRoute(extra: readonly ExtraRoute[], method: string, path: string): ExtraRoute | undefined {
  for (const r of extra) {
    if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) continue;
    if (r.path === path || (r.prefix === true && path.startsWith(r.path.endsWith('/') ? r.path : `${r.path}/`))) return r;
  }
  return undefined;
}

export interface AdminRoutes {
  readonly resources: ReadonlyMap<string, ResourceHandler>;
  /** The enabled stream plugins (plugins/list, plugins/{name}). */
  readonly plugins: () => PluginRegistry;
  readonly extra: readonly ExtraRoute[];
}

const METHODS = new Set<string>(['GET', 'PUT', 'POST', 'DELETE', 'PATCH']);

function segments(pathname: string): string[] {
  return pathname.split('/').filter((s) => s !== '').map((s) => {
    try { return decodeURIComponent(s); } catch { return s; }
  });
}

export async function dispatch(ctx: AdminContext, routes: AdminRoutes, req: AdminRequest): Promise<HandlerResult> {
  const path = req.url.pathname;
  const extra = extraRoute(routes.extra, req.method, path);
  if (extra !== undefined) return extra.handle(req, ctx);
  const segs = segments(path);
  if (segs[0] !== 'apisix' || segs[1] !== 'admin') throw adminError('NOT_FOUND');
  const res = segs[2];

  if (res === 'plugins' && segs.length <= 4) {
    if (req.method !== 'GET') throw adminError('NOT_FOUND');
    return pluginsAnswer(routes.plugins(), segs[3], req.url.searchParams);
  }

  if (res === 'schema' && segs[3] === 'validate' && segs.length === 5) {
    if (req.method !== 'POST') throw adminError('NOT_FOUND');
    const name = segs[4] as string;
    const handler = routes.resources.get(name);
    if (handler === undefined) throw adminError('UNSUPPORTED_RESOURCE', { res: name });
    // APISIX validates whatever was sent; no body is Lua nil ("wrong type: expected object, got nil").
    const { body } = await req.readBody();
    // an array is refused as a body (`[]` too, which the schema would read as the empty table); the rest by the schema
    const problem = (Array.isArray(body) ? notAnObject(body) : undefined) ?? handler.def.validate(structuredClone(body));
    if (problem !== undefined) throw adminError('SCHEMA_INVALID', { reason: problem });
    return { status: 200, body: undefined };
  }

  if (res === undefined) throw adminError('UNSUPPORTED_RESOURCE', { res: '' });
  const handler = routes.resources.get(res);
  if (handler?.def.requiresStream === true && !ctx.streamEnabled()) throw adminError('STREAM_DISABLED');
  if (handler === undefined) throw adminError('UNSUPPORTED_RESOURCE', { res });
  if (!METHODS.has(req.method)) throw adminError('NOT_FOUND');
  const { body, hasBody } = await req.readBody();
  // APISIX checks ttl here, for every method, before the resource sees the request (even before its 405).
  const ttl = req.url.searchParams.get('ttl');
  if (ttl !== null && luaNumber(ttl) === undefined) throw adminError('TTL_NOT_NUMBER');
  return handler.handle({
    method: req.method as Method,
    id: segs[3],
    subPath: segs.slice(4).join('/'),
    body,
    hasBody,
    query: req.url.searchParams,
  });
}
