// The Node-API face of the relay: one instance per worker (napi_set_instance_data), torn down with the worker
// (an async cleanup hook closes every relay's handles and fds before the loop goes away).
//   init(onEnd, records)   onEnd(n) is called once per loop turn with n end records in `records` (Float64Array,
//                          RECORD_FIELDS doubles each: id, reason, bytes from client, bytes to client)
//   relay(id, clientFd, upstreamFd, idleMs, toUpstream, clientEnded, toClient, baseFromClient, baseToClient) → 0 | -errno
//                          (toUpstream / toClient: bytes JavaScript read and not yet passed on, or undefined)
//   endAll(reason) → how many relays it ended
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sluice.h"

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "sluice native: " #call " failed"); return NULL; } } while (0)

static void on_flush_closed(uv_handle_t *h) { env_handle_closed(h->data); }

// The worker is going away: end every relay (no more callbacks into JS), close the pool; the hook is removed once
// the last handle has closed (relay.c's on_closed or on_flush_closed).
static void on_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  relay_env_t *e = arg;
  (void)handle;
  e->closing = 1;
  relay_end_all(e, END_SHUTDOWN);
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
  size_t argc = 2;
  napi_value argv[2], recv;
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
  if (argc < 2 || napi_get_typedarray_info(env, argv[1], &type, &length, &data, &ab, &offset) != napi_ok || type != napi_float64_array
      || length < RECORD_FIELDS) {
    napi_throw_type_error(env, NULL, "init(onEnd, records: Float64Array)");
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

static napi_value js_relay(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  relay_env_t *e = get_env(env);
  double id, cfd, ufd, idle, from, to;
  bool ended = false;
  const char *up = NULL, *cl = NULL;
  size_t up_len = 0, cl_len = 0;
  if (e == NULL || argc < 9 || !arg_double(env, argv[0], &id) || !arg_double(env, argv[1], &cfd) || !arg_double(env, argv[2], &ufd)
      || !arg_double(env, argv[3], &idle) || !arg_buffer(env, argv[4], &up, &up_len) || napi_get_value_bool(env, argv[5], &ended) != napi_ok
      || !arg_buffer(env, argv[6], &cl, &cl_len) || !arg_double(env, argv[7], &from) || !arg_double(env, argv[8], &to)) {
    napi_throw_type_error(env, NULL, "relay(id, clientFd, upstreamFd, idleMs, toUpstream, clientEnded, toClient, baseFrom, baseTo) after init");
    return NULL;
  }
  int rc = relay_start(e, id, (int)cfd, (int)ufd, idle < 1 ? 1 : (uint64_t)idle, up, up_len, ended, cl, cl_len, from, to);
  napi_value out;
  CHECK(napi_create_int32(env, rc, &out));
  return out;
}

static napi_value js_end_all(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  relay_env_t *e = get_env(env);
  double reason;
  if (e == NULL || argc < 1 || !arg_double(env, argv[0], &reason)) {
    napi_throw_type_error(env, NULL, "endAll(reason) after init");
    return NULL;
  }
  napi_value out;
  CHECK(napi_create_uint32(env, (uint32_t)relay_end_all(e, (int)reason), &out));
  return out;
}

static napi_value module_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "init", NULL, js_init, NULL, NULL, NULL, napi_enumerable, NULL },
    { "relay", NULL, js_relay, NULL, NULL, NULL, napi_enumerable, NULL },
    { "endAll", NULL, js_end_all, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

NAPI_MODULE_INIT() { return module_init(env, exports); }
