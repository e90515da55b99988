// Every stream plugin Sluice knows. A plugin is usable when it is also listed in config.yaml's `stream_plugins`.
import type { AnyPlugin } from './plugin.ts';
import { ipRestriction } from './ip-restriction.ts';
import { limitConn } from './limit-conn.ts';
import { mqttProxy } from './mqtt-proxy.ts';
import { prometheus } from './prometheus.ts';
import { syslog } from './syslog.ts';
import { trafficSplit } from './traffic-split.ts';

export const ALL_PLUGINS: readonly AnyPlugin[] = [ipRestriction, limitConn, mqttProxy, trafficSplit, prometheus, syslog];
