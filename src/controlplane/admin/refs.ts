// Reference look-ups for resource checks: they read the store (CONTRACT §3), never a cached snapshot.
import type { PluginRegistry } from '../../plugins/plugin.ts';
import type { Keyring } from '../../lib/keyring.ts';
import type { JsonObject } from '../store/store.ts';
import type { AdminContext } from './context.ts';

export class Refs {
  readonly #ctx: AdminContext;
  constructor(ctx: AdminContext) {
    this.#ctx = ctx;
  }

  async get(resource: string, id: string | number): Promise<JsonObject | undefined> {
    const item = await this.#ctx.store.get(`${this.#ctx.prefix}/${resource}/${String(id)}`);
    return item?.value;
  }

  async exists(resource: string, id: string | number): Promise<boolean> {
    return (await this.get(resource, id)) !== undefined;
  }

  /** Ids of the items of `resource` whose `field` equals `id` (e.g. stream routes with service_id 1), by key order. */
  async users(resource: string, field: string, id: string): Promise<string[]> {
    const { items } = await this.#ctx.store.list(`${this.#ctx.prefix}/${resource}/`);
    const out: string[] = [];
    for (const it of items) {
      const v = it.value[field];
      if ((typeof v === "string" || typeof v === "number") && String(v) === id) out.push(it.key.slice(it.key.lastIndexOf('/') + 1));
    }
    return out;
  }

  /** Every item of a resource as [id, value], by key order. */
  async all(resource: string): Promise<[string, JsonObject][]> {
    const { items } = await this.#ctx.store.list(`${this.#ctx.prefix}/${resource}/`);
    return items.map((it) => [it.key.slice(it.key.lastIndexOf('/') + 1), it.value]);
  }

  keyring(): Keyring {
    return this.#ctx.keyring;
  }

  streamEnabled(): boolean {
    return this.#ctx.streamEnabled();
  }

  plugins(): PluginRegistry {
    return this.#ctx.plugins();
  }
}
