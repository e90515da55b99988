// Sluice's native relay: the hot path of plain TCP sessions, on the worker's own libuv loop (no threads).
// It holds no policy: TypeScript decides everything and hands over two connected fds; this moves bytes between
// them and reports how the session ended. See native/README.md.
#ifndef SLUICE_H
#define SLUICE_H

#include <stdint.h>
#include <uv.h>
#include <node_api.h>

// End reasons, as TypeScript's EndReason (src/dataplane/native/relay-native.ts maps them back).
enum {
  END_DONE = 1,          // both FINs passed on
  END_CLIENT_CLOSED = 2, // the client reset or errored
  END_UPSTREAM_RESET = 3,// the upstream reset or errored
  END_IDLE_TIMEOUT = 4,  // no byte either way for the idle time
  END_SHUTDOWN = 5,      // ended on demand (stop, kill)
  END_INTERNAL = 6,      // out of memory and such
};

// Copy buffer per direction while data waits for a slow writer; also the most one read takes.
#define CHUNK (64 * 1024)
// A read that filled CHUNK marks the direction bulk: it then moves through a pipe with splice(2).
// A splice read under SMALL_READ gives the pipe back (the stream slowed to request/response).
#define SMALL_READ (16 * 1024)
// Per-worker cap of pooled pipes (2 fds and up to 64 KiB of kernel memory each).
#define PIPE_POOL_MAX 256
// End records batched back to JavaScript per flush: 4 doubles each (id, reason, from client, to client).
#define RECORD_FIELDS 4

typedef struct pipe_pool_s {
  int fds[PIPE_POOL_MAX][2];
  int count;     // pooled and idle
  int live;      // created and not closed (pooled + in use)
} pipe_pool_t;

struct relay_s;

typedef struct relay_env_s {
  napi_env env;
  uv_loop_t *loop;
  napi_ref on_end;          // JS function(count): reads `records`
  napi_ref receiver;        // a real object as `this` (undefined silently does nothing with napi_make_callback)
  napi_async_context async_ctx;
  napi_ref records_ref;     // Float64Array shared with JS
  double *records;
  size_t records_cap;       // in records
  double *queue;            // records waiting for the flush (bounded by the sessions that ended this turn)
  size_t queue_len, queue_cap;
  uv_check_t flush;         // runs once per loop turn while records wait
  int flush_active;
  struct relay_s *head;     // live relays (doubly linked)
  size_t live;
  char *scratch;            // one CHUNK shared by every copy read of this worker
  pipe_pool_t pipes;
  // teardown
  napi_async_cleanup_hook_handle cleanup;
  int closing;              // the environment is going away: no more callbacks into JS
  int handles_open;         // relays not yet freed + the flush handle
  int gone;                 // the env's instance data was finalized: the last close frees this struct
} relay_env_t;

// relay.c
int relay_start(relay_env_t *e, double id, int client_fd, int upstream_fd, uint64_t idle_ms,
                const char *to_upstream, size_t to_upstream_len, int client_ended,
                const char *to_client, size_t to_client_len, double base_from_client, double base_to_client);
size_t relay_end_all(relay_env_t *e, int reason);
void relay_flush_records(uv_check_t *h);
void env_handle_closed(relay_env_t *e);

// pipes.c
int pipe_get(pipe_pool_t *p, int out[2]);
void pipe_put(pipe_pool_t *p, int fds[2], int empty);
void pipe_pool_close(pipe_pool_t *p);

#endif
