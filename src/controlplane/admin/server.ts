// The Admin API listener (node:http): allow_admin, key check, body limits, then the path table in routes.ts.
// Every answer carries `X-API-VERSION: v3` and a JSON body, as APISIX 3.x's.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminKey } from '../../model/config.ts';
import { CidrSet } from '../../lib/cidr.ts';
import { AdminAuth, type AuthCounters } from './auth.ts';
import { AdminError, adminError } from './errors.ts';
import type { AdminContext } from './context.ts';
import { dispatch, extraRoute, type AdminRequest, type AdminRoutes, type ParsedBody } from './routes.ts';

/** APISIX's limit on an Admin API request body. */
export const MAX_BODY = 1.5 * 1024 * 1024;

export interface AdminServerOptions {
  readonly host: string;
  readonly port: number;
  readonly keys: readonly AdminKey[];
  readonly keyRequired: boolean;
  readonly allow: readonly string[];
  /** deployment.admin.enable_admin_cors (read at start). */
  readonly cors?: boolean;
}

export interface AdminServer {
  readonly server: Server;
  readonly port: number;
  /** Wrong keys seen so far (metrics). */
  authCounters(): AuthCounters;
  /** SIGHUP: new keys, key requirement and allow list apply to the next request (the address stays). */
  update(opts: Pick<AdminServerOptions, 'keys' | 'keyRequired' | 'allow'>): void;
  close(): Promise<void>;
}

/** APISIX's admin CORS headers (admin/init.lua cors_admin), on every answer when enable_admin_cors is on. */
const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, GET, PUT, OPTIONS, DELETE, PATCH',
  'Access-Control-Max-Age': '3600',
  'Access-Control-Allow-Headers': '*',
  'Access-Control-Allow-Credentials': 'true',
} as const;

function send(res: ServerResponse, status: number, body: unknown, contentType?: string): void {
  // a route that names its content type sends its body as text or bytes (the metrics exposition, the status page's
  // files); the rest is JSON
  const text = body === undefined ? '' : contentType !== undefined && (typeof body === 'string' || Buffer.isBuffer(body)) ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': contentType ?? 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'X-API-VERSION': 'v3',
    'Server': 'sluice',
  });
  res.end(text);
}

/** nginx's $cookie_<name>: the raw value, not URL-decoded. */
function cookie(req: IncomingMessage, name: string): string | undefined {
  const h = req.headers.cookie;
  if (h === undefined) return undefined;
  for (const part of h.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * APISIX's token check: ?api_key=, then X-API-KEY, then the x_api_key cookie (only the first present one counts);
 * viewers may only GET. A present but empty key is a wrong key, as in Lua, where "" is true. Passed: the key's role.
 */
function checkToken(req: IncomingMessage, url: URL, opts: AdminServerOptions, auth: AdminAuth): AdminError | AdminKey['role'] {
  if (!opts.keyRequired) return 'admin';
  const header = req.headers['x-api-key'];
  const token = url.searchParams.get('api_key') ?? (Array.isArray(header) ? header[0] : header) ?? cookie(req, 'x_api_key');
  if (token === undefined) return adminError('TOKEN_MISSING');
  const key = auth.find(token);
  if (key === undefined) return adminError('TOKEN_WRONG');
  auth.succeeded(req.socket.remoteAddress ?? '');
  if (key.role === 'viewer' && req.method !== 'GET' && req.method !== 'HEAD') return adminError('TOKEN_VIEWER');
  return key.role;
}

/** Reads the body up to MAX_BODY; resolves undefined for an empty body. */
function readBody(req: IncomingMessage): Promise<Buffer | undefined | AdminError> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > MAX_BODY) {
    req.resume();
    return Promise.resolve(adminError('BODY_TOO_LARGE', { size: declared }));
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > MAX_BODY) {
        done = true;
        chunks.length = 0;
        resolve(adminError('BODY_TOO_LARGE', { size }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(size === 0 ? undefined : Buffer.concat(chunks));
    });
    req.on('error', () => {
      if (done) return;
      done = true;
      resolve(adminError('BODY_READ_FAILED'));
    });
  });
}

/** cjson's decode_max_depth: deeper bodies are refused before parsing, so nothing below recurses without bound. */
const MAX_DEPTH = 1000;

/** The cjson error for a body nested deeper than MAX_DEPTH (depth and 1-based offset of the opener), if any. */
function tooDeep(text: string): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 91 || c === 123) {
      if (++depth > MAX_DEPTH) return `Found too many nested data structures (${depth}) at character ${i + 1}`;
    } else if (c === 93 || c === 125) {
      depth--;
    }
  }
  return undefined;
}

function hasNonFinite(v: unknown): boolean {
  if (typeof v === 'number') return !Number.isFinite(v);
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v as Record<string, unknown>)) if (hasNonFinite(x)) return true;
  }
  return false;
}

export async function startAdminServer(ctx: AdminContext, routes: AdminRoutes, initial: AdminServerOptions): Promise<AdminServer> {
  let opts = initial;
  let allow = CidrSet.parse(opts.allow);
  const auth = new AdminAuth(opts.keys);
  const held = new Set<NodeJS.Timeout>();
  /** A wrong key's 401, held back when its address keeps guessing (auth.ts); never a good key's answer. */
  const refuse = (req: IncomingMessage, res: ServerResponse, e: AdminError): void => {
    const wait = e.code === 'TOKEN_WRONG' ? auth.failed(req.socket.remoteAddress ?? '') : 0;
    if (wait === 0) {
      send(res, e.status, e.body);
      return;
    }
    const timer = setTimeout(() => {
      held.delete(timer);
      auth.done();
      if (!res.destroyed) send(res, e.status, e.body);
    }, wait);
    held.add(timer);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin');
    } catch {
      url = new URL('http://admin/');
    }
    if (allow.size > 0 && !allow.has(req.socket.remoteAddress ?? '')) {
      req.resume();
      const e = adminError('CLIENT_NOT_ALLOWED', { addr: req.socket.remoteAddress ?? '?' });
      send(res, e.status, e.body);
      return;
    }
    if (initial.cors === true) {
      for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
      // a browser's preflight carries no key: answered before the key check, as APISIX does
      if (req.method === 'OPTIONS') {
        req.resume();
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 0, 'X-API-VERSION': 'v3', 'Server': 'sluice' });
        res.end();
        return;
      }
    }
    if (req.method === 'HEAD' && (url.pathname === '/apisix/admin' || url.pathname === '/apisix/admin/')) {
      req.resume();
      send(res, 200, undefined);
      return;
    }
    const role = extraRoute(routes.extra, req.method ?? 'GET', url.pathname)?.public === true ? undefined : checkToken(req, url, opts, auth);
    if (role instanceof AdminError) {
      req.resume();
      refuse(req, res, role);
      return;
    }
    const parseBody = async (): Promise<ParsedBody> => {
      const raw = await readBody(req);
      if (raw instanceof AdminError) throw raw;
      if (raw === undefined) return { body: undefined, hasBody: false };
      const text = raw.toString('utf8');
      if (text.trim() === '') return { body: undefined, hasBody: false };
      const deep = tooDeep(text);
      if (deep !== undefined) throw adminError('BODY_INVALID_JSON', { reason: deep });
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (err) {
        const e = adminError('BODY_INVALID_JSON', { reason: (err as Error).message });
        // APISIX echoes the body back; not when it holds a private key (no answer ever returns one).
        throw new AdminError(e.code, e.status, /PRIVATE KEY/.test(text) ? e.body : { ...e.body, req_body: text });
      }
      if (hasNonFinite(body)) throw adminError('BODY_NON_FINITE');
      return { body, hasBody: true };
    };
    const areq: AdminRequest = { method: req.method ?? 'GET', url, readBody: parseBody, role };
    try {
      const out = await dispatch(ctx, routes, areq);
      send(res, out.status, req.method === 'HEAD' ? undefined : out.body, out.contentType);
    } catch (err) {
      if (err instanceof AdminError) {
        send(res, err.status, err.body);
        return;
      }
      ctx.log.error({ err }, 'admin api: internal error while handling %s %s', req.method, url.pathname);
      const e = adminError('INTERNAL');
      send(res, e.status, e.body);
    }
  };
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, maxHeaderSize: 16 * 1024 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      ctx.log.error({ err }, 'admin api: unhandled error');
      const e = adminError('INTERNAL');
      if (!res.headersSent) send(res, e.status, e.body);
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    authCounters: () => auth.counters(),
    update(next) {
      const nextAllow = CidrSet.parse(next.allow);
      opts = { ...opts, ...next };
      allow = nextAllow;
      auth.setKeys(opts.keys);
    },
    close: () => new Promise<void>((resolve) => {
      for (const timer of held) clearTimeout(timer);
      held.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
