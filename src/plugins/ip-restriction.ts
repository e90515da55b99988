// ip-restriction: allow (whitelist) or deny (blacklist) client CIDRs. Schema and check as APISIX's
// (plugins/ip-restriction/init.lua, which the stream subsystem reuses). The client is $remote_addr: the PROXY
// protocol header's source when the peer is trusted by real_ip_from, else the peer. A refusal is 403 (Forbidden).
import type { Schema } from '../lib/jsonschema.ts';
import { compileCidr } from '../lib/ip.ts';
import { CidrSet } from '../lib/cidr.ts';
import type { Plugin } from './plugin.ts';

const ipv4Seg = '([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])';
const ipv4Def = [ipv4Seg, ipv4Seg, ipv4Seg, ipv4Seg].join('\\.');
const ipv6Def = '([a-fA-F0-9]{0,4}:){1,8}(:[a-fA-F0-9]{0,4}){0,8}([a-fA-F0-9]{0,4})?';

/** APISIX's core.schema.ip_def (the same list as schema/apisix.ts ipDef; plugins may not import the control plane). */
const ipDef: readonly Schema[] = [
  { title: 'IPv4', type: 'string', format: 'ipv4' },
  { title: 'IPv4/CIDR', type: 'string', pattern: `^${ipv4Def}/([12]?[0-9]|3[0-2])$` },
  { title: 'IPv6', type: 'string', format: 'ipv6' },
  { title: 'IPv6/CIDR', type: 'string', pattern: `^${ipv6Def}/[0-9]{1,3}$` },
];

type Conf = { whitelist?: string[]; blacklist?: string[] };

interface Rule {
  readonly allow: boolean;
  readonly cidrs: CidrSet;
}

export const ipRestriction: Plugin<Conf, Rule> = {
  name: 'ip-restriction',
  priority: 3000,
  schema: {
    type: 'object',
    properties: {
      message: { type: 'string', minLength: 1, maxLength: 1024, default: 'Your IP address is not allowed' },
      whitelist: { type: 'array', items: { anyOf: ipDef }, minItems: 1 },
      blacklist: { type: 'array', items: { anyOf: ipDef }, minItems: 1 },
    },
    oneOf: [{ required: ['whitelist'] }, { required: ['blacklist'] }],
  },
  // The IPv6/CIDR pattern lets through strings such as `:/8`; APISIX parses every entry after the schema.
  check(conf) {
    const c = conf as Conf;
    for (const cidr of [...(c.whitelist ?? []), ...(c.blacklist ?? [])]) {
      if (compileCidr(cidr) === undefined) return `invalid ip address: ${cidr}`;
    }
    return undefined;
  },
  // the lists become compiled CIDRs once per snapshot; per session, one parse and a compare per entry
  compile: (c) => ({ allow: c.whitelist !== undefined, cidrs: CidrSet.parse(c.whitelist ?? c.blacklist ?? []) }),
  preread: (rule, s) => (rule.cidrs.has(s.remoteAddr) === rule.allow ? 'continue' : { end: 'Forbidden' }),
};
