// Fuzzes the MQTT CONNECT reader (src/lib/mqtt.ts): random bytes and mutations of valid CONNECTs (bit flips,
// truncation, length corruption, splicing, insertion). Every input must return within a bound, never throw, give
// every rejection a reason, and an 'ok' must be self-consistent (its length within the input, the packet alone
// parses the same). Run: `npx node test/fuzz/mqtt.fuzz.ts [count] [seed]` (default 1,000,000); exits 1 on a failure.
import { parseConnect, type ConnectParse } from '../../src/lib/mqtt.ts';
import { pick, prng } from './prng.ts';

const str = (s: string): Buffer => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]); };
function varint(n: number): Buffer {
  const out: number[] = [];
  do { let b = n % 128; n = Math.floor(n / 128); if (n > 0) b |= 128; out.push(b); } while (n > 0);
  return Buffer.from(out);
}
function connect(r: () => number): Buffer {
  const level = pick(r, [3, 4, 5]);
  const props = level === 5 ? Buffer.from(Array.from({ length: Math.floor(r() * 8) }, () => Math.floor(r() * 256))) : Buffer.alloc(0);
  const vh = Buffer.concat([str(level === 3 ? 'MQIsdp' : 'MQTT'), Buffer.from([level, pick(r, [0, 2, 0xc6, 0x06]), 0, 60]), level === 5 ? Buffer.concat([varint(props.length), props]) : Buffer.alloc(0)]);
  const body = Buffer.concat([vh, str('c'.repeat(Math.floor(r() * 40))), Buffer.alloc(Math.floor(r() * 300) * (r() < 0.1 ? 1 : 0))]);
  return Buffer.concat([Buffer.from([0x10]), varint(body.length), body]);
}

function mutate(r: () => number, b: Buffer): Buffer {
  const x = Buffer.from(b);
  switch (Math.floor(r() * 6)) {
    case 0: { const n = 1 + Math.floor(r() * 4); for (let i = 0; i < n && x.length > 0; i++) { const j = Math.floor(r() * x.length); x[j] = (x[j] as number) ^ (1 << Math.floor(r() * 8)); } return x; }
    case 1: return x.subarray(0, Math.floor(r() * x.length));
    case 2: if (x.length > 2) x[1 + Math.floor(r() * Math.min(4, x.length - 1))] = Math.floor(r() * 256); return x;
    case 3: return Buffer.concat([x.subarray(0, Math.floor(r() * x.length)), connect(r)]);
    case 4: { const j = Math.floor(r() * (x.length + 1)); return Buffer.concat([x.subarray(0, j), Buffer.from([Math.floor(r() * 256)]), x.subarray(j)]); }
    default: if (x.length > 8) { const j = 2 + Math.floor(r() * (x.length - 3)); x[j] = 0xff; x[j + 1] = 0xff; } return x;
  }
}

export interface MqttFuzzResult { inputs: number; ok: number; bad: number; needMore: number; slowestMs: number; failures: string[] }

/** boundMs: the slowest one input may take (looser inside `npm test`, where other suites load the machine). */
export function fuzzMqtt(count: number, seed: number, boundMs = 50): MqttFuzzResult {
  const r = prng(seed);
  const res: MqttFuzzResult = { inputs: 0, ok: 0, bad: 0, needMore: 0, slowestMs: 0, failures: [] };
  for (let i = 0; i < count && res.failures.length < 10; i++) {
    const input = r() < 0.2 ? Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256))) : r() < 0.15 ? connect(r) : mutate(r, connect(r));
    res.inputs++;
    const t0 = performance.now();
    let out: ConnectParse;
    try {
      out = parseConnect(input);
    } catch (err) {
      res.failures.push(`seed ${seed} input ${i} threw ${String(err)}: ${input.toString('hex')}`);
      continue;
    }
    const ms = performance.now() - t0;
    if (ms > res.slowestMs) res.slowestMs = ms;
    if (ms > boundMs) res.failures.push(`seed ${seed} input ${i} took ${ms.toFixed(1)} ms: ${input.toString('hex')}`);
    if (out.kind === 'ok') {
      res.ok++;
      const again = parseConnect(input.subarray(0, out.length));
      if (out.length > input.length || JSON.stringify(again) !== JSON.stringify(out)) res.failures.push(`seed ${seed} input ${i}: inconsistent ok: ${input.toString('hex')}`);
    } else if (out.kind === 'bad') {
      res.bad++;
      if (out.reason === '') res.failures.push(`seed ${seed} input ${i}: a rejection without a reason: ${input.toString('hex')}`);
    } else res.needMore++;
  }
  return res;
}

if (import.meta.main) {
  const count = Number(process.argv[2] ?? 1_000_000);
  const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
  const t0 = performance.now();
  const res = fuzzMqtt(count, seed);
  console.log(JSON.stringify({ ...res, seed, seconds: ((performance.now() - t0) / 1000).toFixed(1) }));
  if (res.failures.length > 0) process.exit(1);
}
