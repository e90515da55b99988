// Sluice's native data path: the hot path of plain TCP sessions, on the worker's own libuv loop (no threads).
// It holds no policy: TypeScript decides everything. Either it hands over two connected fds (relay), or the addon
// accepts on a listener, asks TypeScript once per connection where to go, dials there (asking again on a failure)
// and relays; it reports how each session ended. See native/README.md.
#ifndef SLUICE_H
#define SLUICE_H

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <uv.h>
#include <node_api.h>

// Record codes: 0 = connected (field 2: connect time in ms); else an end reason, as TypeScript's EndReason
// (src/dataplane/native/relay-native.ts maps them back).
enum {
  EV_CONNECTED = 0,
  END_DONE = 1,          // both FINs passed on
  END_CLIENT_CLOSED = 2, // the client reset or errored
  END_UPSTREAM_RESET = 3,// the upstream reset or errored
  END_IDLE_TIMEOUT = 4,  // no byte either way for the idle time
  END_SHUTDOWN = 5,      // ended on demand (stop, kill)
  END_INTERNAL = 6,      // out of memory and such
  END_CONNECT_FAILED = 7,// a dial failed and TypeScript tried no other node
  END_CONNECT_TIMEOUT = 8,
  END_KILLED = 9,        // ended from the connections API (DELETE /sluice/v1/connections)
};

// Connections accepted per wakeup of a listener (libuv's own accept takes one per loop turn).
#define ACCEPT_BATCH 32
// A listener out of fds (EMFILE) stops accepting this long, instead of spinning on a readable socket.
#define ACCEPT_PAUSE_MS 100

// Copy buffer per direction while data waits for a slow writer; also the most one read takes.
#define CHUNK (64 * 1024)
// A read that filled CHUNK marks the direction bulk: it then moves through a pipe with splice(2).
// A splice read under SMALL_READ gives the pipe back (the stream slowed to request/response).
#define SMALL_READ (16 * 1024)
// Per-worker cap of pooled pipes (2 fds and up to 64 KiB of kernel memory each).
#define PIPE_POOL_MAX 256
// End records batched back to JavaScript per flush: 4 doubles each (id, reason, from client, to client).
#define RECORD_FIELDS 4

// slots.c: objects by (slot, generation)
#define SLOTS_MAX (1u << 24)
#define SLOT_GEN_MASK 0x7fffffffu
typedef struct slot_table_s {
  void **items;
  uint32_t *gens, *free_slots;
  uint32_t n, nfree;
} slot_table_t;

typedef struct pipe_pool_s {
  int fds[PIPE_POOL_MAX][2];
  int count;     // pooled and idle
  int live;      // created and not closed (pooled + in use)
} pipe_pool_t;

struct relay_s;
struct listener_s;

typedef struct relay_env_s {
  napi_env env;
  uv_loop_t *loop;
  napi_ref on_end;          // JS function(count): reads `records`
  napi_ref on_accept;       // JS function(listenerId, fd, remoteAddr, remotePort, localAddr, localPort)
  napi_ref on_dial;         // JS function(id, code): a dial failed; may call redial(id, ...) before it returns
  napi_ref on_udp;          // JS function(listenerId, sessionId, remoteAddr, remotePort, localAddr, localPort)
  napi_ref receiver;        // a real object as `this` (undefined silently does nothing with napi_make_callback)
  napi_async_context async_ctx;
  napi_ref records_ref;     // Float64Array shared with JS
  double *records;
  size_t records_cap;       // in records
  double *queue;            // records waiting for the flush (bounded by the sessions that ended this turn)
  size_t queue_len, queue_cap;
  uv_check_t flush;         // runs once per loop turn while records wait
  int flush_active;
  // events.c: the relays' sockets in one epoll set, and the relays that run again next turn
  int epfd;
  uv_poll_t events_h;
  uv_idle_t again_h;
  struct relay_s *again_head;
  slot_table_t relays;      // by slot: the relay an event names, with its generation
  // udp.c
  struct udp_listener_s *udp_listeners;
  slot_table_t udp;         // sessions by id
  char *udp_buf;            // one batch of datagrams
  double udp_drops[3];      // UDP_DROP_*
  struct relay_s *head;     // live relays, dialing or relaying (doubly linked)
  size_t live;
  struct listener_s *listeners;
  struct relay_s *dialing_now; // the relay whose failure JavaScript is being told of (redial acts on it)
  int redialed;
  char *scratch;            // one CHUNK shared by every copy read of this worker
  pipe_pool_t pipes;
  // teardown
  napi_async_cleanup_hook_handle cleanup;
  int closing;              // the environment is going away: no more callbacks into JS
  int js_gone;              // a call into JS could not run (the worker is dying): accept nothing more
  int handles_open;         // relays not yet freed + the flush handle
  int gone;                 // the env's instance data was finalized: the last close frees this struct
} relay_env_t;

typedef struct dir_s {       // one direction: fd[i] → fd[1 - i]
  char *buf;                 // bytes read but not yet written (copy mode), malloc'd to their size
  uint32_t off, len;
  int pipe[2];               // splice mode when pipe[0] >= 0
  uint32_t in_pipe;
  uint8_t eof;               // the source sent its FIN
  uint8_t shut;              // the FIN was passed on
  uint8_t bulk;              // the last read filled CHUNK: splice next
  uint64_t read, written;
} dir_t;

typedef struct relay_s {
  relay_env_t *e;
  struct relay_s *prev, *next;
  double id;
  int fd[2];                 // 0 client, 1 upstream (owned: dups of Node's, or accepted and dialed here)
  uv_timer_t timer;          // the connect timeout while dialing, then the idle timer
  // What each socket last reported (edge-triggered: kept until a read or write says otherwise)
  uint8_t can_read[2], can_write[2];
  uint8_t hup[2];            // its FIN or error is known: read on until recv says 0 or fails
  uint8_t out_watched[2];    // EPOLLOUT is in its interest (the client's is added at its first full send buffer)
  uint8_t shared_fds;        // dups of Node's fds (relay_start): taken out of the set explicitly
  uint8_t slotted, queued;
  uint32_t slot;
  struct relay_s *again_next;
  uint64_t idle_ms, last_active;
  dir_t d[2];                // d[0] client → upstream, d[1] upstream → client
  double base_from, base_to; // bytes JavaScript moved before the hand-over
  int reason;
  uint8_t dialing;           // fd[1] is connecting (dial.c)
  uint8_t quiet;             // ends without a record (JavaScript never saw it start)
  uint64_t dial_started;     // uv_hrtime() of this attempt
} relay_t;

typedef struct listener_s {
  relay_env_t *e;
  struct listener_s *prev, *next;
  double id;
  int fd;                    // our dup of the listening socket Node bound
  struct sockaddr_storage local; // its address, when it is one address (a wildcard one asks each connection)
  uint8_t wildcard;
  uv_poll_t poll;
  uv_timer_t pause;          // out of fds: accepting resumes when it fires
  int closes;
} listener_t;

// relay.c
relay_t *relay_create(relay_env_t *e, double id, int client_fd, int upstream_fd, uint64_t idle_ms, int *rc);
int relay_keep(dir_t *d, const char *p, size_t n);
void relay_run(relay_t *r);
void relay_step(relay_t *r);
void relay_on_event(relay_t *r, int k, uint32_t events);
void relay_finish(relay_t *r, int reason);
void relay_on_timer(uv_timer_t *t);
int relay_start(relay_env_t *e, double id, int client_fd, int upstream_fd, uint64_t idle_ms,
                const char *to_upstream, size_t to_upstream_len, int client_ended,
                const char *to_client, size_t to_client_len, double base_from_client, double base_to_client);
size_t relay_end_all(relay_env_t *e, int reason);
size_t relay_counts(relay_env_t *e, double *out, size_t cap);
int relay_end(relay_env_t *e, double id, int reason);
void relay_push_record(relay_env_t *e, double id, int code, double a, double b);
void relay_flush_records(uv_check_t *h);
void env_handle_closed(relay_env_t *e);
int env_call(relay_env_t *e, napi_ref fn, size_t argc, napi_value *argv);

// dial.c
int dial_start(relay_env_t *e, double id, int client_fd, const char *ip, int port, uint64_t timeout_ms, uint64_t idle_ms,
               const char *to_upstream, size_t to_upstream_len);
int dial_again(relay_env_t *e, double id, const char *ip, int port, uint64_t timeout_ms);
void dial_on_event(relay_t *r, int k, uint32_t events);
void dial_on_timer(relay_t *r);

// listen.c
int listen_start(relay_env_t *e, double id, int fd);
int listen_stop(relay_env_t *e, double id);
void listen_close_all(relay_env_t *e);

// events.c
// What a socket is watched for: the client while dialing and relaying until its send buffer first fills, and the
// rest (the upstream from its connect on).
#define WATCH_IN (EPOLLIN | EPOLLRDHUP | EPOLLET)
#define WATCH_ALL (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
int events_init(relay_env_t *e);
void events_close(relay_env_t *e);
int events_slot_take(relay_t *r);
void events_slot_release(relay_t *r);
int events_watch(relay_t *r, int k, uint32_t interest, int op);
void events_unwatch(relay_t *r, int k);
void events_again(relay_t *r);
void events_forget(relay_t *r);

// udp.c
enum { UDP_DROP_QUEUE_FULL = 0, UDP_DROP_SEND_FULL = 1, UDP_DROP_TABLE_FULL = 2 };
int udp_listen(relay_env_t *e, double id, int fd);
int udp_unlisten(relay_env_t *e, double id);
int udp_open(relay_env_t *e, double id, const char *ip, int port, uint64_t idle_ms);
int udp_end(relay_env_t *e, double id, double *from, double *to);
int udp_bytes(relay_env_t *e, double id, double *from, double *to);
void udp_close_all(relay_env_t *e);

// addr.c
int addr_format(const struct sockaddr_storage *ss, char *out, size_t cap);
int addr_parse(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len);

// slots.c
int slots_take(slot_table_t *t, void *item, uint32_t *slot);
void slots_release(slot_table_t *t, uint32_t slot);
void *slots_get(const slot_table_t *t, uint32_t slot, uint32_t gen);
void slots_free(slot_table_t *t);

// pipes.c
int pipe_get(pipe_pool_t *p, int out[2]);
void pipe_put(pipe_pool_t *p, int fds[2], int empty);
void pipe_pool_close(pipe_pool_t *p);

#endif
