// The Node-API face of the native data path: one instance per worker (napi_set_instance_data), torn down with the
// worker (an async cleanup hook closes every listener's and relay's handles and fds before the loop goes away).
//   init(onEnd, records, onAccept, onDial, onUdp)
//                          onEnd(n) is called once per loop turn with n records in `records` (Float64Array,
//                          RECORD_FIELDS doubles each: id, code, a, b). Code 0: the dial of session id connected,
//                          a = connect time in ms; else the session ended: code = END_*, a = bytes from the client,
//                          b = bytes to the client.
//                          onAccept(listenerId, fd, remoteAddr, remotePort, localAddr, localPort): a connection
//                          accepted on a listener of listen(); the fd is the callee's (dial it, close it, or wrap it).
//                          onDial(id, code): the dial of session id failed (END_CONNECT_FAILED / _TIMEOUT); redial()
//                          from inside it tries another node, else the session ends with that code.
//   relay(id, clientFd, upstreamFd, idleMs, toUpstream, clientEnded, toClient, baseFromClient, baseToClient) → 0 | -errno
//                          (toUpstream / toClient: bytes JavaScript read and not yet passed on, or undefined)
//   listen(listenerId, fd) → 0 | -errno     accept on a dup of this listening socket from now on
//   unlisten(listenerId) → 0 | -ENOENT
//   dial(id, clientFd, ip, port, connectTimeoutMs, idleMs, toUpstream) → 0 | -errno (then the fd is the relay's)
//   redial(id, ip, port, connectTimeoutMs) → 0 | -errno    only from inside onDial(id)
//   closeFd(fd) → 0 | -errno   (after init)
//   udpListen(listenerId, fd) → 0 | -errno   datagrams on a dup of this bound UDP socket from now on (udp.c); a new
//                          client's first datagram calls onUdp(listenerId, sessionId, remoteAddr, remotePort,
//                          localAddr, localPort), which answers (then or later) with
//   udpOpen(sessionId, ip, port, idleMs) → 0 | -errno   or   udpEnd(sessionId) → [bytes from, bytes to] | null
//                          a session the addon ends (idle, ICMP refused, unlisten) sends a record, as TCP's do
//   udpUnlisten(listenerId) → 0 | -ENOENT  (its sessions end with END_SHUTDOWN)
//   udpDrops() → [queue full, send queue full, table full]
//   udpBytes(sessionId) → [bytes from, bytes to] | null   a live session's counts, without ending it
//   endAll(reason) → how many relays (dialing or relaying) it ended
//   relayEnd(id, reason) → 0 | -ENOENT   ends one relay now (its record carries reason)
//   relayCounts(out: Float64Array) → n   (id, bytes from, bytes to) of n live relays, at most out.length / 3
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sluice.h"

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "sluice native: " #call " failed"); return NULL; } } while (0)

static void on_flush_closed(uv_handle_t *h) { env_handle_closed(h->data); }

// The worker is going away: end every relay (no more callbacks into JS), close the pool; the hook is removed once
// the last handle has closed (relay.c's on_closed or on_flush_closed).
static void on_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  relay_env_t *e = arg;
  (void)handle;
  e->closing = 1;
  listen_close_all(e);
  udp_close_all(e);
  relay_end_all(e, END_SHUTDOWN);
  events_close(e);
  pipe_pool_close(&e->pipes);
  free(e->scratch);
  e->scratch = NULL;
  free(e->queue);
  e->queue = NULL;
  e->queue_len = e->queue_cap = 0;
  if (e->flush_active) uv_check_stop(&e->flush);
  uv_close((uv_handle_t *)&e->flush, on_flush_closed);
}

static void on_env_gone(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  // Freed here if every handle has closed, else by the last close (env_handle_closed).
  relay_env_t *e = data;
  if (e->closing && e->handles_open == 0) free(e);
  else e->gone = 1;
}

static relay_env_t *get_env(napi_env env) {
  void *d = NULL;
  if (napi_get_instance_data(env, &d) != napi_ok) return NULL;
  return d;
}

static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], recv;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &recv, NULL));
  if (get_env(env) != NULL) {
    napi_throw_error(env, NULL, "sluice native: init called twice in one worker");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length;
  void *data;
  napi_value ab;
  size_t offset;
  if (argc < 5 || napi_get_typedarray_info(env, argv[1], &type, &length, &data, &ab, &offset) != napi_ok || type != napi_float64_array
      || length < RECORD_FIELDS) {
    napi_throw_type_error(env, NULL, "init(onEnd, records: Float64Array, onAccept, onDial, onUdp)");
    return NULL;
  }
  relay_env_t *e = calloc(1, sizeof(relay_env_t));
  if (e == NULL) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  e->scratch = malloc(CHUNK);
  if (e->scratch == NULL) { free(e); napi_throw_error(env, NULL, "out of memory"); return NULL; }
  e->env = env;
  e->records = data;
  e->records_cap = length / RECORD_FIELDS;
  CHECK(napi_get_uv_event_loop(env, &e->loop));
  CHECK(napi_create_reference(env, argv[0], 1, &e->on_end));
  CHECK(napi_create_reference(env, argv[1], 1, &e->records_ref));
  CHECK(napi_create_reference(env, argv[2], 1, &e->on_accept));
  CHECK(napi_create_reference(env, argv[3], 1, &e->on_dial));
  CHECK(napi_create_reference(env, argv[4], 1, &e->on_udp));
  napi_value obj, name;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_reference(env, obj, 1, &e->receiver));
  CHECK(napi_create_string_utf8(env, "sluice.relay", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, obj, name, &e->async_ctx));
  uv_check_init(e->loop, &e->flush);
  e->flush.data = e;
  e->handles_open = 1;

  CHECK(napi_set_instance_data(env, e, on_env_gone, NULL));
  CHECK(napi_add_async_cleanup_hook(env, on_cleanup, e, &e->cleanup));
  if (events_init(e) != 0) {
    // no relay can start (relay_create refuses while epfd < 0); what did open closes with the worker (on_cleanup)
    napi_throw_error(env, NULL, "sluice native: cannot create the epoll set");
  }
  return NULL;
}

static int arg_double(napi_env env, napi_value v, double *out) { return napi_get_value_double(env, v, out) == napi_ok; }

static int arg_buffer(napi_env env, napi_value v, const char **p, size_t *n) {
  bool is_buf = false;
  *p = NULL;
  *n = 0;
  if (napi_is_buffer(env, v, &is_buf) != napi_ok || !is_buf) return 1;
  void *d;
  if (napi_get_buffer_info(env, v, &d, n) != napi_ok) return 0;
  *p = d;
  return 1;
}

// The call's first `n` arguments and this worker's instance: NULL before init or with fewer arguments (the caller
// then throws its usage).
static relay_env_t *call_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) return NULL;
  return get_env(env);
}

static napi_value usage(napi_env env, const char *text) {
  napi_throw_type_error(env, NULL, text);
  return NULL;
}

static napi_value int_result(napi_env env, int rc) {
  napi_value out;
  CHECK(napi_create_int32(env, rc, &out));
  return out;
}

// An IP literal, at most INET6_ADDRSTRLEN long.
static int arg_ip(napi_env env, napi_value v, char *out, size_t cap) {
  size_t n = 0;
  return napi_get_value_string_latin1(env, v, out, cap, &n) == napi_ok && n > 0 && n < cap - 1;
}

static inline uint64_t at_least_1ms(double ms) { return ms < 1 ? 1 : (uint64_t)ms; }

static napi_value js_relay(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  relay_env_t *e = call_args(env, info, 9, argv);
  double id, cfd, ufd, idle, from, to;
  bool ended = false;
  const char *up = NULL, *cl = NULL;
  size_t up_len = 0, cl_len = 0;
  if (e == NULL || !arg_double(env, argv[0], &id) || !arg_double(env, argv[1], &cfd) || !arg_double(env, argv[2], &ufd)
      || !arg_double(env, argv[3], &idle) || !arg_buffer(env, argv[4], &up, &up_len) || napi_get_value_bool(env, argv[5], &ended) != napi_ok
      || !arg_buffer(env, argv[6], &cl, &cl_len) || !arg_double(env, argv[7], &from) || !arg_double(env, argv[8], &to)) {
    return usage(env, "relay(id, clientFd, upstreamFd, idleMs, toUpstream, clientEnded, toClient, baseFrom, baseTo) after init");
  }
  return int_result(env, relay_start(e, id, (int)cfd, (int)ufd, at_least_1ms(idle), up, up_len, ended, cl, cl_len, from, to));
}

static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  relay_env_t *e = call_args(env, info, 2, argv);
  double id, fd;
  if (e == NULL || !arg_double(env, argv[0], &id) || !arg_double(env, argv[1], &fd)) return usage(env, "listen(listenerId, fd) after init");
  return int_result(env, listen_start(e, id, (int)fd));
}

static napi_value js_unlisten(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  relay_env_t *e = call_args(env, info, 1, argv);
  double id;
  if (e == NULL || !arg_double(env, argv[0], &id)) return usage(env, "unlisten(listenerId) after init");
  return int_result(env, listen_stop(e, id));
}

static napi_value js_dial(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  relay_env_t *e = call_args(env, info, 7, argv);
  double id, fd, port, timeout, idle;
  char ip[64];
  const char *up = NULL;
  size_t up_len = 0;
  if (e == NULL || !arg_double(env, argv[0], &id) || !arg_double(env, argv[1], &fd) || !arg_ip(env, argv[2], ip, sizeof ip)
      || !arg_double(env, argv[3], &port) || !arg_double(env, argv[4], &timeout) || !arg_double(env, argv[5], &idle)
      || !arg_buffer(env, argv[6], &up, &up_len)) {
    return usage(env, "dial(id, clientFd, ip, port, connectTimeoutMs, idleMs, toUpstream) after init");
  }
  return int_result(env, dial_start(e, id, (int)fd, ip, (int)port, at_least_1ms(timeout), at_least_1ms(idle), up, up_len));
}

static napi_value js_redial(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  relay_env_t *e = call_args(env, info, 4, argv);
  double id, port, timeout;
  char ip[64];
  if (e == NULL || !arg_double(env, argv[0], &id) || !arg_ip(env, argv[1], ip, sizeof ip) || !arg_double(env, argv[2], &port)
      || !arg_double(env, argv[3], &timeout)) {
    return usage(env, "redial(id, ip, port, connectTimeoutMs) after init");
  }
  return int_result(env, dial_again(e, id, ip, (int)port, at_least_1ms(timeout)));
}

// A fd JavaScript holds and will not hand over (a refused or unroutable connection).
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  double fd;
  if (call_args(env, info, 1, argv) == NULL || !arg_double(env, argv[0], &fd) || fd < 0) return usage(env, "closeFd(fd) after init");
  return int_result(env, close((int)fd) == 0 ? 0 : -errno);
}

static napi_value js_end_all(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  relay_env_t *e = call_args(env, info, 1, argv);
  double reason;
  if (e == NULL || !arg_double(env, argv[0], &reason)) return usage(env, "endAll(reason) after init");
  return int_result(env, (int)relay_end_all(e, (int)reason));
}

static napi_value js_relay_counts(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  relay_env_t *e = call_args(env, info, 1, argv);
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (e == NULL || napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_float64_array) {
    return usage(env, "relayCounts(out: Float64Array) after init");
  }
  return int_result(env, (int)relay_counts(e, data, length / 3));
}

static napi_value js_relay_end(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  relay_env_t *e = call_args(env, info, 2, argv);
  double id, reason;
  if (e == NULL || !arg_double(env, argv[0], &id) || !arg_double(env, argv[1], &reason)) return usage(env, "relayEnd(id, reason) after init");
  return int_result(env, relay_end(e, id, (int)reason));
}

static napi_value js_udp_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  relay_env_t *e = call_args(env, info, 2, argv);
  double id, fd;
  if (e == NULL || !arg_double(env, argv[0], &id) || !arg_double(env, argv[1], &fd)) return usage(env, "udpListen(listenerId, fd) after init");
  return int_result(env, udp_listen(e, id, (int)fd));
}

static napi_value js_udp_unlisten(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  relay_env_t *e = call_args(env, info, 1, argv);
  double id;
  if (e == NULL || !arg_double(env, argv[0], &id)) return usage(env, "udpUnlisten(listenerId) after init");
  return int_result(env, udp_unlisten(e, id));
}

static napi_value js_udp_open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  relay_env_t *e = call_args(env, info, 4, argv);
  double id, port, idle;
  char ip[64];
  if (e == NULL || !arg_double(env, argv[0], &id) || !arg_ip(env, argv[1], ip, sizeof ip) || !arg_double(env, argv[2], &port)
      || !arg_double(env, argv[3], &idle)) {
    return usage(env, "udpOpen(sessionId, ip, port, idleMs) after init");
  }
  return int_result(env, udp_open(e, id, ip, (int)port, at_least_1ms(idle)));
}

// [from client, to client] of UDP session `id` through `read` (udp_end or udp_bytes), or null if it is not live.
static napi_value udp_counts_answer(napi_env env, napi_callback_info info, const char *what,
                                    int (*read)(relay_env_t *, double, double *, double *)) {
  napi_value argv[1], out, v;
  relay_env_t *e = call_args(env, info, 1, argv);
  double id, from = 0, to = 0;
  if (e == NULL || !arg_double(env, argv[0], &id)) return usage(env, what);
  if (read(e, id, &from, &to) != 0) {
    CHECK(napi_get_null(env, &out));
    return out;
  }
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_create_double(env, from, &v));
  CHECK(napi_set_element(env, out, 0, v));
  CHECK(napi_create_double(env, to, &v));
  CHECK(napi_set_element(env, out, 1, v));
  return out;
}

static napi_value js_udp_end(napi_env env, napi_callback_info info) {
  return udp_counts_answer(env, info, "udpEnd(sessionId) after init", udp_end);
}

static napi_value js_udp_bytes(napi_env env, napi_callback_info info) {
  return udp_counts_answer(env, info, "udpBytes(sessionId) after init", udp_bytes);
}

// [queue full, send queue full, table full]: datagrams dropped natively since init.
static napi_value js_udp_drops(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, v;
  relay_env_t *e = call_args(env, info, 0, argv);
  if (e == NULL) return usage(env, "udpDrops() after init");
  CHECK(napi_create_array_with_length(env, 3, &out));
  for (uint32_t i = 0; i < 3; i++) {
    CHECK(napi_create_double(env, e->udp_drops[i], &v));
    CHECK(napi_set_element(env, out, i, v));
  }
  return out;
}

static napi_value module_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "init", NULL, js_init, NULL, NULL, NULL, napi_enumerable, NULL },
    { "relay", NULL, js_relay, NULL, NULL, NULL, napi_enumerable, NULL },
    { "endAll", NULL, js_end_all, NULL, NULL, NULL, napi_enumerable, NULL },
    { "listen", NULL, js_listen, NULL, NULL, NULL, napi_enumerable, NULL },
    { "unlisten", NULL, js_unlisten, NULL, NULL, NULL, napi_enumerable, NULL },
    { "dial", NULL, js_dial, NULL, NULL, NULL, napi_enumerable, NULL },
    { "redial", NULL, js_redial, NULL, NULL, NULL, napi_enumerable, NULL },
    { "closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpListen", NULL, js_udp_listen, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpUnlisten", NULL, js_udp_unlisten, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpOpen", NULL, js_udp_open, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpEnd", NULL, js_udp_end, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpDrops", NULL, js_udp_drops, NULL, NULL, NULL, napi_enumerable, NULL },
    { "udpBytes", NULL, js_udp_bytes, NULL, NULL, NULL, napi_enumerable, NULL },
    { "relayCounts", NULL, js_relay_counts, NULL, NULL, NULL, napi_enumerable, NULL },
    { "relayEnd", NULL, js_relay_end, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

NAPI_MODULE_INIT() { return module_init(env, exports); }
