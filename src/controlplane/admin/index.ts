// Assembles the Admin API: the resource declarations, the generic handler, the listener.
import type { AdminContext } from './context.ts';
import { ResourceHandler, type ResourceDef } from './resource.ts';
import { services } from './resources/services.ts';
import { streamRoutes } from './resources/stream-routes.ts';
import { upstreams } from './resources/upstreams.ts';
import type { AdminRoutes, ExtraRoute } from './routes.ts';
import { startAdminServer, type AdminServer, type AdminServerOptions } from './server.ts';

export const RESOURCES: readonly ResourceDef[] = [streamRoutes, upstreams, services];

export function startAdmin(ctx: AdminContext, opts: AdminServerOptions, extra: readonly ExtraRoute[] = []): Promise<AdminServer> {
  const resources = new Map(RESOURCES.map((d) => [d.name, new ResourceHandler(ctx, d)]));
  const routes: AdminRoutes = { resources, pluginNames: () => ctx.plugins().names(), extra };
  return startAdminServer(ctx, routes, opts);
}
