// Every fuzz target, by name, loaded on demand (the fuzz script runs each in a worker of its own).
import type { FuzzTarget } from '../harness.ts';

// FuzzTarget<unknown>: its methods take their input bivariantly, so every target is one
type Loader = () => Promise<{ target: FuzzTarget<unknown> }>;

export const TARGETS: Readonly<Record<string, Loader>> = {
  'proxy-protocol': () => import('./proxy-protocol.ts'),
  'clienthello': () => import('./clienthello.ts'),
  'mqtt-connect': () => import('./mqtt.ts'),
  'admin-json': () => import('./admin-json.ts'),
  'config-yaml': () => import('./config-yaml.ts'),
  'apisix-yaml': () => import('./apisix-yaml.ts'),
  'log-formats': () => import('./log-formats.ts'),
  'traffic-split-expr': () => import('./expr.ts'),
};
