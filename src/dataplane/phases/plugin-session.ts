// The TCP session as the plugins' preread hooks see it (plugins/plugin.ts PrereadSession): its variables, bounded
// reads of client bytes (kept as the prefix the relay sends upstream first, unchanged), mqtt_client_id, the upstream
// choice (traffic-split) and end hooks.
import type { PrereadSession } from '../../plugins/plugin.ts';
import { liveVariable, type LiveVars } from '../session/vars.ts';
import type { Session } from '../session/session.ts';
import type { PluginRun } from './plugins.ts';
import { preread } from './preread.ts';

export class TcpPrereadSession implements PrereadSession, LiveVars {
  readonly protocol = 'TCP';
  readonly #s: Session;
  readonly #run: PluginRun;
  /** Client bytes read before the relay (a peeked ClientHello, an MQTT CONNECT), and whether the client ended. */
  prefix: Buffer | undefined;
  ended: boolean;

  constructor(s: Session, run: PluginRun, prefix: Buffer | undefined, ended: boolean) {
    this.#s = s;
    this.#run = run;
    this.prefix = prefix;
    this.ended = ended;
  }

  get remoteAddr(): string { return this.#s.remoteAddr; }
  get remotePort(): number { return this.#s.remotePort; }
  get peerAddr(): string { return this.#s.peerAddr; }
  get serverAddr(): string { return this.#s.serverAddr; }
  get serverPort(): number { return this.#s.serverPort; }
  get routeId(): string { return this.#s.route?.id ?? ''; }
  get serviceId(): string | undefined { return this.#s.route?.conf.serviceId; }
  get sni(): string | undefined { return this.#s.sni; }
  get mqttClientId(): string | undefined { return this.#s.mqttClientId; }

  variable(name: string): string | undefined {
    return liveVariable(this, name);
  }

  async readClient(enough: (buf: Buffer) => boolean, maxBytes: number, timeoutMs: number): Promise<Buffer | undefined> {
    const have = this.prefix ?? Buffer.alloc(0);
    if (enough(have) || this.ended || have.length >= maxBytes) return have;
    this.#s.action = 'reading the client\'s first bytes';
    const whole = (b: Buffer): Buffer => (have.length === 0 ? b : Buffer.concat([have, b]));
    const r = await preread(this.#s.client, (b) => enough(whole(b)), maxBytes - have.length, timeoutMs);
    if (r.kind === 'closed') return undefined;
    this.prefix = whole(r.buf);
    this.ended = r.ended;
    return this.prefix;
  }

  setMqttClientId(id: string): void {
    this.#s.mqttClientId = id;
  }

  useUpstream(key: string | undefined): boolean {
    const s = this.#s;
    const k = key ?? s.route?.conf.upstreamKey;
    const up = k !== undefined ? s.snapshot.upstreams.get(k) : undefined;
    if (key !== undefined && up === undefined) return false;
    s.upstream = up;
    return true;
  }

  onEnd(fn: () => void): void {
    this.#run.onEnd(fn);
  }
}
