// Refuses configurations that are unsafe to start with (security by default).
import { BlockList, isIP } from 'node:net';
import type { LoadedConfig } from '../../model/config.ts';
import { lineOfKey } from './load.ts';
import { DEFAULT_ADMIN_KEY } from './schema.ts';

// Every spelling of a loopback address (0:0:0:0:0:0:0:1 and ::ffff:7f00:1 too), not only the usual text forms.
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addSubnet('::1', 128, 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

export function isLoopback(ip: string): boolean {
  const fam = isIP(ip);
  if (fam === 4) return LOOPBACK.check(ip, 'ipv4');
  if (fam === 6) return LOOPBACK.check(ip, 'ipv6');
  return ip === 'localhost';
}

/** Returns why `start` must refuse, or undefined when it may go on: `FILE:LINE: key.path: refusing to start: why`. */
export function checkStartSafety(loaded: LoadedConfig): string | undefined {
  const admin = loaded.config.deployment.admin;
  if (!admin.enable_admin || isLoopback(admin.admin_listen.ip)) return undefined;
  const i = admin.admin_key.findIndex((k) => k.key === DEFAULT_ADMIN_KEY);
  if (admin.admin_key_required && i >= 0) {
    const line = lineOfKey(loaded, ['deployment', 'admin', 'admin_key', i, 'key']);
    return `${loaded.file}:${line}: deployment.admin.admin_key[${i}].key: refusing to start: the Admin API listens on ` +
      `${admin.admin_listen.ip} (not loopback) with the well-known default admin key ${DEFAULT_ADMIN_KEY}, which anyone ` +
      `can use to take over the gateway; set deployment.admin.admin_key[${i}].key to a secret of your own`;
  }
  if (!admin.admin_key_required) {
    const line = lineOfKey(loaded, ['deployment', 'admin', 'admin_key_required']);
    return `${loaded.file}:${line}: deployment.admin.admin_key_required: refusing to start: the Admin API listens on ` +
      `${admin.admin_listen.ip} (not loopback) without requiring a key; set admin_key_required: true with a key of your own`;
  }
  return undefined;
}
