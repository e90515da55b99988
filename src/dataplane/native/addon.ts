// Loads the native relay addon (native/, built by `npm ci`). Missing or broken → the reason, and the TypeScript relay
// runs; GET /sluice/v1/status shows it.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** native/src/addon.c's exports (its header comment says what each does). */
export interface NativeAddon {
  init(onEnd: (n: number) => void, records: Float64Array,
    onAccept: (listenerId: number, fd: number, remoteAddr: string, remotePort: number, localAddr: string, localPort: number) => void,
    onDial: (id: number, code: number) => void,
    onUdp: (listenerId: number, sessionId: number, remoteAddr: string, remotePort: number, localAddr: string, localPort: number) => void): void;
  relay(id: number, clientFd: number, upstreamFd: number, idleMs: number, toUpstream: Buffer | undefined, clientEnded: boolean,
    toClient: Buffer | undefined, baseFromClient: number, baseToClient: number): number;
  listen(listenerId: number, fd: number): number;
  unlisten(listenerId: number): number;
  dial(id: number, clientFd: number, ip: string, port: number, connectTimeoutMs: number, idleMs: number, toUpstream: Buffer | undefined): number;
  redial(id: number, ip: string, port: number, connectTimeoutMs: number): number;
  closeFd(fd: number): number;
  endAll(reason: number): number;
  udpListen(listenerId: number, fd: number): number;
  udpUnlisten(listenerId: number): number;
  udpOpen(sessionId: number, ip: string, port: number, idleMs: number): number;
  udpEnd(sessionId: number): [number, number] | null;
  udpDrops(): [number, number, number];
  udpBytes(sessionId: number): [number, number] | null;
  relayCounts(out: Float64Array): number;
  relayEnd(id: number, reason: number): number;
}

export type Loaded = { readonly ok: true; readonly addon: NativeAddon } | { readonly ok: false; readonly why: string };

const DIR = fileURLToPath(new URL('../../../native/', import.meta.url));
export const ADDON_PATH = `${DIR}build/Release/sluice_native.node`;
/** Written by native/build.sh when the build fails (npm ci goes on without the addon). */
const FAILED_PATH = `${DIR}build/FAILED`;

/** The addon (an instance per thread: require caches it), or why not. A worker asks once (worker/native-loader.ts). */
export function loadAddon(): Loaded {
  if (!existsSync(ADDON_PATH)) {
    const why = existsSync(FAILED_PATH) ? readFileSync(FAILED_PATH, 'utf8').trim().split('\n')[0] ?? 'the build failed' : 'not built (npm ci builds it)';
    return { ok: false, why };
  }
  try {
    return { ok: true, addon: createRequire(import.meta.url)(ADDON_PATH) as NativeAddon };
  } catch (err) {
    return { ok: false, why: `cannot load ${ADDON_PATH}: ${(err as Error).message}` };
  }
}
