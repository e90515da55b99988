// Fuzzes the standalone conf/apisix.yaml parser, parseStandalone (src/controlplane/store/yaml.ts): files of the five
// sections (stream_routes, upstreams, services, ssls, plugin_metadata) whose items are built like the Admin API
// bodies of the admin-json target, with valid, wrong and duplicate ids, sections that are not stream resources or
// not lists, items that share objects (written with YAML anchors and aliases), the `#END` line; then text mutations
// of those, random text and alias bombs. Checked: never throws; every log line and the refusal are non-empty and
// start with the file name; items are stored only under `<prefix>/<one of the five sections>/<id>`; and aliases are
// transparent: the file written with anchors and aliases gives the same items and the same log lines (but for
// their line numbers) as the same data written out in full.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseStandalone, type StandaloneParse } from '../../../src/controlplane/store/yaml.ts';
import { mutatedText, type FuzzTarget } from '../harness.ts';
import { pick, prng } from '../prng.ts';
import { BODIES, type Gen } from './admin-json.ts';

const SHOWN = 'conf/apisix.yaml';
const PREFIX = '/apisix';
const SECTIONS = ['stream_routes', 'upstreams', 'services', 'ssls', 'plugin_metadata'];
const ODD_SECTIONS = ['routes', 'consumers', 'constructor', 'toString', '__proto__', ''];
const IDS: readonly unknown[] = ['1', '2', 'r1', 'a.b-c_d', 3, 'x'.repeat(64), '', 'has space', 'x'.repeat(65), null, 1.5, { a: 1 }];

interface Input { readonly text: string; readonly expanded: string | undefined }

/** A file's data: each section a list of items; some items reuse another item or its upstream (the same object). */
function file(r: () => number, junk: readonly unknown[]): { data: Record<string, unknown>; shared: boolean } {
  const out: Record<string, unknown> = {};
  const made: Record<string, unknown>[] = [];
  let shared = false;
  for (const section of SECTIONS) {
    if (r() < 0.5) continue;
    const items: unknown[] = [];
    for (let n = Math.floor(r() * 3); n > 0; n--) {
      const prev = made.length > 0 && r() < 0.25 ? pick(r, made) : undefined;
      shared ||= prev !== undefined;
      if (prev !== undefined && r() < 0.5) { items.push(prev); continue; }
      const body = (BODIES[section] as Gen)(r, junk);
      if (body === null || typeof body !== 'object' || Array.isArray(body)) { items.push(body); continue; }
      const item = body as Record<string, unknown>;
      if (r() < 0.9) item[section === 'plugin_metadata' && r() < 0.5 ? 'name' : 'id'] = pick(r, IDS);
      if (prev?.upstream !== undefined && section !== 'upstreams') item.upstream = prev.upstream;
      made.push(item);
      items.push(item);
    }
    out[section] = items;
  }
  if (r() < 0.2) out[pick(r, ODD_SECTIONS)] = r() < 0.5 ? [{ id: 1 }] : 'x';
  if (r() < 0.1) out[pick(r, SECTIONS)] = pick(r, [null, 1, 'x', { id: 1 }]);
  return { data: out, shared };
}

const END = (r: () => number): string => pick(r, ['#END\n', '#END\n', '#END  \n', '# no end\n', '']);

const built = fc.tuple(fc.integer(), fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 2 }), fc.boolean()).map(([seed, junk, full]): Input => {
  const r = prng(seed);
  const { data, shared } = file(r, junk);
  const end = END(r);
  const text = `${stringify(data)}${end}`; // an object met twice is written once, with an anchor, then as aliases
  return { text, expanded: shared && full ? `${stringify(data, { aliasDuplicateObjects: false })}${end}` : undefined };
});

const bomb = fc.integer({ min: 1, max: 9 }).map((n): Input => {
  const lines = ['upstreams:', '  - id: u0', '    nodes: &a0 {"127.0.0.1:1": 1}', '    labels: &l0 {a: b}'];
  for (let i = 1; i <= n; i++) lines.push(`  - {id: u${i}, nodes: {"127.0.0.1:1": 1}, desc: &l${i} [${Array(9).fill(`*l${i - 1}`).join(', ')}]}`);
  return { text: `${lines.join('\n')}\n#END\n`, expanded: undefined };
});

const arbitrary: fc.Arbitrary<Input> = fc.oneof(
  { weight: 10, arbitrary: built },
  { weight: 8, arbitrary: mutatedText(built.map((x) => x.text)).map((text): Input => ({ text, expanded: undefined })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((text): Input => ({ text, expanded: undefined })) },
  { weight: 1, arbitrary: bomb },
);

const KEY = new RegExp(`^${PREFIX}/(${SECTIONS.join('|')})/[a-zA-Z0-9-_.]{1,64}$`);

/** Why the answer is malformed, or undefined. */
function malformed(p: StandaloneParse): string | undefined {
  if ('error' in p) return p.error.startsWith(`${SHOWN}:`) && p.error.length > SHOWN.length + 3 ? undefined : `refusal ${JSON.stringify(p.error)}`;
  const line = p.lines.find((l) => !l.text.startsWith(`${SHOWN}:`) || l.text.length <= SHOWN.length + 2);
  if (line !== undefined) return `log line ${JSON.stringify(line)}`;
  for (const [key, value] of p.items) {
    if (!KEY.test(key)) return `item stored under ${key}`;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return `item ${key} is ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** The answer without line numbers, for comparing two writings of the same data. */
function essence(p: StandaloneParse): string {
  if ('error' in p) return `error ${p.error.replace(/^[^:]*:\d+:/, '')}`;
  return JSON.stringify([[...p.items], p.lines.map((l) => `${l.level} ${l.text.replace(/^[^:]*:\d+:/, '')}`)]);
}

export const target: FuzzTarget<Input> = {
  name: 'apisix-yaml',
  arbitrary,
  show: (x) => JSON.stringify(x.text),
  boundMs: 100, // most files take under 1 ms, the largest about 10 ms (two parses); GC pauses and cold JIT add more
  mustReach: ['parsed', 'refused'],
  check({ text, expanded }) {
    const p = parseStandalone(text, SHOWN, PREFIX, true);
    const bad = malformed(p);
    if (bad !== undefined) return { fail: bad };
    if (expanded !== undefined && expanded !== text) {
      const q = parseStandalone(expanded, SHOWN, PREFIX, true);
      if (essence(p) !== essence(q)) return { fail: `aliases are not transparent:\n${essence(p)}\n${essence(q)}` };
    }
    return { kind: 'error' in p ? 'refused' : 'parsed' };
  },
};
