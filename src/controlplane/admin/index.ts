// Assembles the Admin API: the resource declarations, the generic handler, the listener.
import type { AdminContext } from './context.ts';
import { ResourceHandler, type ResourceDef } from './resource.ts';
import { services } from './resources/services.ts';
import { pluginMetadata } from './resources/plugin-metadata.ts';
import { streamRoutes } from './resources/stream-routes.ts';
import { upstreams } from './resources/upstreams.ts';
import { sslsResource, upstreamKeyHooks } from './resources/ssls.ts';
import type { Keyring } from '../../lib/keyring.ts';
import type { AdminRoutes, ExtraRoute } from './routes.ts';
import { startAdminServer, type AdminServer, type AdminServerOptions } from './server.ts';

/** The resources, with private keys encrypted before they are stored and removed from every answer. */
export function resourceDefs(keyring: Keyring): readonly ResourceDef[] {
  return [
    { ...streamRoutes, ...upstreamKeyHooks(keyring, true) },
    { ...upstreams, ...upstreamKeyHooks(keyring, false) },
    { ...services, ...upstreamKeyHooks(keyring, true) },
    sslsResource(keyring),
    pluginMetadata,
  ];
}

export function startAdmin(ctx: AdminContext, opts: AdminServerOptions, extra: readonly ExtraRoute[] = []): Promise<AdminServer> {
  const resources = new Map(resourceDefs(ctx.keyring).map((d) => [d.name, new ResourceHandler(ctx, d)]));
  const routes: AdminRoutes = { resources, plugins: () => ctx.plugins(), extra };
  return startAdminServer(ctx, routes, opts);
}
