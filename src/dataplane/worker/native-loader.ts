// sluice.native_relay in one worker: the addon is loaded the first time it is wanted, once; a missing addon or one
// that cannot start is said once in the log and the TypeScript relay runs.
import type { Logger } from '../../observe/log.ts';
import { loadAddon } from '../native/addon.ts';
import { Native } from '../native/native.ts';
import { NativeRelay } from '../native/relay-native.ts';

export class NativeLoader {
  /** sluice.native_relay is auto (a SIGHUP can change it; loaded parts stay loaded). */
  wanted: boolean;
  #native: Native | undefined;
  #relay: NativeRelay | undefined;
  #why = '';
  readonly #log: Logger;
  constructor(wanted: boolean, log: Logger) {
    this.wanted = wanted;
    this.#log = log;
  }

  /** The addon if it loaded, whether or not it is wanted now (its listeners and sessions run on). */
  get loaded(): Native | undefined {
    return this.#native;
  }

  /** The addon when it is wanted and could be loaded. */
  native(): Native | undefined {
    return this.wanted ? this.#load() : undefined;
  }

  /** The native relay when it is wanted and could be loaded. */
  relay(): NativeRelay | undefined {
    if (!this.wanted) return undefined;
    this.#load();
    return this.#relay;
  }

  /** What GET /sluice/v1/status says (CONTRACT §7). */
  state(): string {
    if (!this.wanted) return 'off';
    return this.#load() !== undefined ? 'on' : `unavailable: ${this.#why}`;
  }

  #load(): Native | undefined {
    if (this.#native !== undefined || this.#why !== '') return this.#native;
    const l = loadAddon();
    let why = l.ok ? '' : l.why;
    if (l.ok) {
      try {
        this.#native = new Native(l.addon);
        this.#relay = new NativeRelay(this.#native);
      } catch (err) {
        why = `the addon did not start: ${(err as Error).message}`; // e.g. no epoll set (out of fds)
        this.#native = undefined;
      }
    }
    if (why !== '') {
      this.#why = why;
      this.#log.warn({ why }, 'native relay unavailable; the TypeScript relay runs');
    }
    return this.#native;
  }
}
