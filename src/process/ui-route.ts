// GET /sluice/ui/ (CONTRACT §7): the status page's files, served from the admin listener with no key (the page asks
// for the key and sends it with its own API requests). A fixed list of names, read once when the gateway starts:
// nothing from the request path ever reaches the file system. The files sit in src/ui/, and `npm run build` copies
// them to dist/ui/, so they are `../ui/` from this module in both layouts. A build without them (tsc alone) still
// starts, with a warning naming where they were looked for: the page's paths then answer 404.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ExtraRoute } from '../controlplane/admin/routes.ts';
import { adminError } from '../controlplane/admin/errors.ts';
import type { Logger } from '../observe/log.ts';

export const UI_PATH = '/sluice/ui';

/** The files the page is made of, by the name in the URL ('' = the page itself). */
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '': { file: 'index.html', type: 'text/html; charset=utf-8' },
  'index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  'app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  'style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

export const UI_DIR = fileURLToPath(new URL('../ui/', import.meta.url));

export function uiRoute(log: Logger, dir: string = UI_DIR): ExtraRoute {
  const loaded = new Map<string, { body: Buffer; type: string }>();
  const missing: string[] = [];
  for (const [name, { file, type }] of Object.entries(FILES)) {
    try {
      loaded.set(name, { body: readFileSync(dir + file), type });
    } catch {
      if (!missing.includes(file)) missing.push(file);
    }
  }
  if (missing.length > 0) log.warn({ dir, missing }, 'status page files not found (npm run build copies src/ui to dist/ui): GET /sluice/ui/ answers 404');
  return {
    method: 'GET',
    path: UI_PATH,
    prefix: true,
    public: true,
    handle(req) {
      const p = req.url.pathname;
      const name = p === UI_PATH ? '' : p.slice(UI_PATH.length + 1);
      const hit = Object.hasOwn(FILES, name) ? loaded.get(name) : undefined;
      if (hit === undefined) throw adminError('NOT_FOUND');
      return Promise.resolve({ status: 200, body: hit.body, contentType: hit.type });
    },
  };
}
