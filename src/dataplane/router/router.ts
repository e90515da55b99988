// Compiles a snapshot's routes into match tables, once per snapshot; per connection only look-ups (CONTRACT §4):
// SNI routes first (exact > `*.x` at any depth > `*`), then the routes without SNI. Among the routes whose filters
// all match, the winner has (1) more of server_port, server_addr, remote_addr(s) set, (2) the longer matching remote
// prefix, (3) the longer server_addr prefix, (4) the earlier creation.
import { cidrHas, compileCidr, type CompiledCidr, type IpNum } from '../../lib/ip.ts';
import type { RouteConf } from '../../model/snapshot.ts';
import type { PluginChain } from '../phases/plugins.ts';

/** How the connection's SNI (if any) was learned: none, a terminated handshake, or a peeked ClientHello. */
export type SniMode = 'none' | 'tls' | 'peek';

export interface MatchQuery {
  readonly remote: IpNum | undefined;
  readonly server: IpNum | undefined;
  readonly serverPort: number;
  readonly sni: string | undefined;
  readonly sniMode: SniMode;
}

export class CompiledRoute {
  readonly conf: RouteConf;
  readonly id: string;
  readonly createdIndex: number;
  readonly remote: readonly CompiledCidr[];
  readonly server: CompiledCidr | undefined;
  readonly port: number;
  /** How many of server_port, server_addr, remote set (rule 1). */
  readonly specificity: number;
  /** The route's compiled stream plugins; undefined when it has none in force. */
  readonly plugins: PluginChain | undefined;

  constructor(conf: RouteConf, plugins?: PluginChain) {
    this.conf = conf;
    this.plugins = plugins;
    this.id = conf.id;
    this.createdIndex = conf.createdIndex;
    const remote: CompiledCidr[] = [];
    for (const r of conf.remoteAddrs) {
      const c = compileCidr(r);
      if (c !== undefined) remote.push(c);
    }
    this.remote = remote;
    this.server = conf.serverAddr !== undefined ? compileCidr(conf.serverAddr) : undefined;
    this.port = conf.serverPort ?? 0;
    this.specificity = (this.port !== 0 ? 1 : 0) + (conf.serverAddr !== undefined ? 1 : 0) + (conf.remoteAddrs.length > 0 ? 1 : 0);
  }

  /** Longest matching remote prefix: -1 = no match; 0 = matches with no remote filter. */
  remotePrefix(ip: IpNum | undefined): number {
    if (this.conf.remoteAddrs.length === 0) return 0;
    if (ip === undefined) return -1;
    let best = -1;
    for (const c of this.remote) if (c.prefix > best && cidrHas(c, ip)) best = c.prefix;
    return best;
  }

  serverPrefix(ip: IpNum | undefined): number {
    if (this.conf.serverAddr === undefined) return 0;
    if (this.server === undefined || ip === undefined) return -1;
    return cidrHas(this.server, ip) ? this.server.prefix : -1;
  }
}

interface Scored { route: CompiledRoute; remote: number; server: number }

function better(a: Scored, b: Scored | undefined): boolean {
  if (b === undefined) return true;
  if (a.route.specificity !== b.route.specificity) return a.route.specificity > b.route.specificity;
  if (a.remote !== b.remote) return a.remote > b.remote;
  if (a.server !== b.server) return a.server > b.server;
  return a.route.createdIndex < b.route.createdIndex;
}

const bySpecificity = (a: CompiledRoute, b: CompiledRoute): number =>
  b.specificity - a.specificity || a.createdIndex - b.createdIndex;

/** The routes of one candidate group, bucketed by server_port. */
class Group {
  readonly #byPort = new Map<number, CompiledRoute[]>();
  readonly #anyPort: CompiledRoute[];

  constructor(routes: readonly CompiledRoute[]) {
    const anyPort = routes.filter((r) => r.port === 0).sort(bySpecificity);
    for (const r of routes) {
      if (r.port === 0) continue;
      let list = this.#byPort.get(r.port);
      if (list === undefined) {
        list = [...anyPort];
        this.#byPort.set(r.port, list);
      }
      list.push(r);
    }
    for (const list of this.#byPort.values()) list.sort(bySpecificity);
    this.#anyPort = anyPort;
  }

  candidates(port: number): readonly CompiledRoute[] {
    return this.#byPort.get(port) ?? this.#anyPort;
  }

  /**
   * The winner among this group's candidates for the query. `trace` (explain) hears each candidate's verdict:
   * undefined = its filters match, else why not. Without it the walk stops at the first candidate less specific than
   * the winner; with it the rest are judged too, for the answer only (the winner is already decided).
   */
  best(q: MatchQuery, trace?: Tracer): CompiledRoute | undefined {
    let best: Scored | undefined;
    for (const r of this.candidates(q.serverPort)) {
      // candidates are sorted by specificity: once below the winner's, nothing later can win
      const late = best !== undefined && r.specificity < best.route.specificity;
      if (late && trace === undefined) break;
      const remote = r.remotePrefix(q.remote);
      const server = remote < 0 ? -1 : r.serverPrefix(q.server);
      trace?.(r, remote < 0 ? `remote_addr not in [${r.conf.remoteAddrs.join(', ')}]` : server < 0 ? `server_addr does not match ${r.conf.serverAddr ?? ''}` : undefined);
      if (late || server < 0) continue;
      const s: Scored = { route: r, remote, server };
      if (better(s, best)) best = s;
    }
    return best?.route;
  }
}

/** A candidate's verdict in a walk of the index: undefined = its filters match, else why not. */
type Tracer = (r: CompiledRoute, why: string | undefined) => void;

export interface ExplainResult {
  route_id: string | null;
  reason: string;
  candidates: { route_id: string; matched: boolean; why: string }[];
}

export class Router {
  readonly routes: readonly CompiledRoute[];
  readonly #plain: Group;
  /** SNI groups by mode: exact names, wildcard suffixes (`.x.com`), and `*`. */
  readonly #sni: Record<'tls' | 'peek', { exact: Map<string, Group>; wild: Map<string, Group>; any: Group | undefined }>;

  constructor(confs: readonly RouteConf[], chainOf?: (c: RouteConf) => PluginChain | undefined) {
    this.routes = confs.map((c) => new CompiledRoute(c, chainOf?.(c)));
    this.#plain = new Group(this.routes.filter((r) => r.conf.snis.length === 0));
    const build = (passthrough: boolean): { exact: Map<string, Group>; wild: Map<string, Group>; any: Group | undefined } => {
      const exact = new Map<string, CompiledRoute[]>();
      const wild = new Map<string, CompiledRoute[]>();
      const any: CompiledRoute[] = [];
      for (const r of this.routes) {
        if (r.conf.snis.length === 0 || r.conf.tlsPassthrough !== passthrough) continue;
        for (const sni of r.conf.snis) {
          if (sni === '*') any.push(r);
          else if (sni.startsWith('*.')) push(wild, sni.slice(1), r);
          else push(exact, sni, r);
        }
      }
      return {
        exact: new Map([...exact].map(([k, v]) => [k, new Group(v)])),
        wild: new Map([...wild].map(([k, v]) => [k, new Group(v)])),
        any: any.length > 0 ? new Group(any) : undefined,
      };
    };
    this.#sni = { tls: build(false), peek: build(true) };
  }

  /** SNI groups to try for a name, most specific first: exact, then `*.suffix` longest first, then `*`. */
  #sniGroups(q: MatchQuery): Group[] {
    if (q.sni === undefined || q.sniMode === 'none') return [];
    const t = this.#sni[q.sniMode];
    const out: Group[] = [];
    const name = q.sni.toLowerCase();
    const e = t.exact.get(name);
    if (e !== undefined) out.push(e);
    for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) {
      const w = t.wild.get(name.slice(i));
      if (w !== undefined) out.push(w);
    }
    if (t.any !== undefined) out.push(t.any);
    return out;
  }

  match(q: MatchQuery): CompiledRoute | undefined {
    return this.#walk(q, undefined);
  }

  /** SNI groups most specific first, then the plain routes: the first group with a winner decides. */
  #walk(q: MatchQuery, trace: Tracer | undefined): CompiledRoute | undefined {
    for (const g of this.#sniGroups(q)) {
      const r = g.best(q, trace);
      if (r !== undefined) return r;
    }
    return this.#plain.best(q, trace);
  }

  /**
   * The same decision as match(), from the same walk of the same index (POST /sluice/v1/explain), with every route's
   * verdict: the walk's for the routes it looked at; for the others, why the index did not offer them.
   */
  explain(q: MatchQuery): ExplainResult {
    const seen = new Map<CompiledRoute, string | undefined>();
    const winner = this.#walk(q, (r, why) => { if (!seen.has(r)) seen.set(r, why); });
    const candidates = this.routes.map((r) => {
      const why = seen.has(r) ? seen.get(r) : this.#notOffered(r, q, winner);
      return { route_id: r.id, matched: why === undefined, why: why ?? (r === winner ? 'matched: selected' : 'matched: a more specific or older route won') };
    });
    let reason: string;
    if (winner === undefined) reason = this.routes.length === 0 ? 'no routes' : 'no route matched';
    else reason = winner.conf.snis.length > 0 ? `matched SNI route (sni ${q.sni ?? ''})` : 'matched route';
    return { route_id: winner?.id ?? null, reason, candidates };
  }

  /** Why the walk never looked at `r`: its SNI group was not tried, its server_port bucket was not, or it came later. */
  #notOffered(r: CompiledRoute, q: MatchQuery, winner: CompiledRoute | undefined): string {
    if (r.conf.snis.length > 0) {
      if (q.sni === undefined || q.sniMode === 'none') return 'route needs an SNI and the connection has none';
      if (r.conf.tlsPassthrough !== (q.sniMode === 'peek')) {
        return r.conf.tlsPassthrough ? 'tls_passthrough route: only for a peeked ClientHello on a plain listener' : 'SNI route for terminated TLS only';
      }
    }
    if (r.port !== 0 && r.port !== q.serverPort) return `server_port ${q.serverPort} != ${r.port}`;
    if (r.conf.snis.length > 0 && !this.#sniGroups(q).some((g) => g.candidates(q.serverPort).includes(r))) {
      return `sni ${(q.sni ?? '').toLowerCase()} not in [${r.conf.snis.join(', ')}]`;
    }
    return `not tried: route ${winner?.id ?? '?'} won in a group tried before this one`;
  }
}

function push(m: Map<string, CompiledRoute[]>, k: string, r: CompiledRoute): void {
  const l = m.get(k);
  if (l === undefined) m.set(k, [r]);
  else l.push(r);
}
