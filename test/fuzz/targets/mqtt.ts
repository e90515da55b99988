// Fuzzes the MQTT CONNECT reader (src/lib/mqtt.ts) that mqtt-proxy runs on a client's first bytes: random bytes and
// mutations of valid CONNECTs of levels 3, 4 and 5 (bit flips, truncation, length corruption, splicing, insertion).
// fast-check draws a seed per input; the MQTT-aware generators below build the input from it (they know the
// packet's layout, which blind byte arbitraries would rarely get right). Checked: no throw, within the bound, every
// rejection with a reason, and an `ok` self-consistent (its length within the input, the packet alone parses the same).
import fc from 'fast-check';
import { parseConnect } from '../../../src/lib/mqtt.ts';
import { hex, type FuzzTarget } from '../harness.ts';
import { pick, prng } from '../prng.ts';

const str = (s: string): Buffer => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]); };
function varint(n: number): Buffer {
  const out: number[] = [];
  do { let b = n % 128; n = Math.floor(n / 128); if (n > 0) b |= 128; out.push(b); } while (n > 0);
  return Buffer.from(out);
}
function connectPacket(r: () => number): Buffer {
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
    case 3: return Buffer.concat([x.subarray(0, Math.floor(r() * x.length)), connectPacket(r)]);
    case 4: { const j = Math.floor(r() * (x.length + 1)); return Buffer.concat([x.subarray(0, j), Buffer.from([Math.floor(r() * 256)]), x.subarray(j)]); }
    default: if (x.length > 8) { const j = 2 + Math.floor(r() * (x.length - 3)); x[j] = 0xff; x[j + 1] = 0xff; } return x;
  }
}

const input = fc.integer().map((seed) => {
  const r = prng(seed);
  return r() < 0.2 ? Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256))) : r() < 0.15 ? connectPacket(r) : mutate(r, connectPacket(r));
});

export const target: FuzzTarget<Buffer> = {
  name: 'mqtt-connect',
  arbitrary: input,
  show: hex,
  boundMs: 25,
  mustReach: ['ok', 'bad', 'need_more'],
  check(buf) {
    const out = parseConnect(buf);
    if (out.kind === 'ok') {
      const again = parseConnect(buf.subarray(0, out.length));
      if (out.length > buf.length || JSON.stringify(again) !== JSON.stringify(out)) return { fail: `inconsistent ok: ${JSON.stringify(out)}` };
    } else if (out.kind === 'bad' && out.reason === '') {
      return { fail: 'a rejection without a reason' };
    }
    return { kind: out.kind };
  },
};
