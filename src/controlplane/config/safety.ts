// Refuses configurations that are unsafe to start with (security by default).
import { isIP } from 'node:net';
import type { LoadedConfig } from '../../model/config.ts';
import { DEFAULT_ADMIN_KEY } from './schema.ts';

export function isLoopback(ip: string): boolean {
  if (isIP(ip) === 4) return ip.startsWith('127.');
  if (isIP(ip) === 6) return ip === '::1' || /^::ffff:127\./i.test(ip);
  return ip === 'localhost';
}

/** Returns why `start` must refuse, or undefined when it may go on. */
export function checkStartSafety(loaded: LoadedConfig): string | undefined {
  const admin = loaded.config.deployment.admin;
  if (!admin.enable_admin || isLoopback(admin.admin_listen.ip)) return undefined;
  const i = admin.admin_key.findIndex((k) => k.key === DEFAULT_ADMIN_KEY);
  if (admin.admin_key_required && i >= 0) {
    return `${loaded.file}: deployment.admin.admin_key[${i}].key: refusing to start: the Admin API listens on ` +
      `${admin.admin_listen.ip} (not loopback) with the well-known default admin key ${DEFAULT_ADMIN_KEY}, which anyone ` +
      `can use to take over the gateway; set deployment.admin.admin_key[${i}].key to a secret of your own`;
  }
  if (!admin.admin_key_required) {
    return `${loaded.file}: deployment.admin.admin_key_required: refusing to start: the Admin API listens on ` +
      `${admin.admin_listen.ip} (not loopback) without requiring a key; set admin_key_required: true with a key of your own`;
  }
  return undefined;
}
